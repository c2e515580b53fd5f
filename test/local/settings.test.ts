import { describe, expect, it } from "vitest";
import { localBackend, readLocalSettings } from "../../src/server/backends/local";
import { LocalHarness } from "../helpers/local-harness";

describe("local backend settings", () => {
  it("defaults to 2 concurrent jobs and a 10 second cancel grace period", () => {
    expect(readLocalSettings({})).toMatchObject({ maxConcurrent: 2, cancelGraceSeconds: 10 });
  });

  it("reads both variables, fractions of a second included", () => {
    expect(
      readLocalSettings({ TRAINKIT_LOCAL_MAX_CONCURRENT: "8", TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "0.25" }),
    ).toMatchObject({ maxConcurrent: 8, cancelGraceSeconds: 0.25 });
  });

  it.each([["0"], ["1.5"], ["two"], ["-3"]])(
    "refuses TRAINKIT_LOCAL_MAX_CONCURRENT=%s naming the variable",
    (raw) => {
      expect(() => readLocalSettings({ TRAINKIT_LOCAL_MAX_CONCURRENT: raw })).toThrow(
        `TRAINKIT_LOCAL_MAX_CONCURRENT must be a whole number of at least 1; got "${raw}". Unset it to use the default of 2.`,
      );
    },
  );

  it.each([["-1"], ["soon"], ["Infinity"]])(
    "refuses TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS=%s naming the variable",
    (raw) => {
      expect(() => readLocalSettings({ TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: raw })).toThrow(
        /^TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS must be a number of seconds of 0 or more/,
      );
    },
  );

  it("builds the backend through the factory the server registers, with no settings required", async () => {
    const h = new LocalHarness();
    try {
      const made = localBackend({}, h.ctx);
      expect("backend" in made && made.backend.name).toBe("local");
      if ("backend" in made) await made.backend.close?.();
    } finally {
      await h.dispose();
    }
  });

  it("makes the factory throw on a bad setting, so the server stops at start", () => {
    const h = new LocalHarness();
    try {
      expect(() => localBackend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "none" }, h.ctx)).toThrow(
        /TRAINKIT_LOCAL_MAX_CONCURRENT/,
      );
    } finally {
      void h.dispose();
    }
  });
});
