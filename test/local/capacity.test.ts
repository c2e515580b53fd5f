import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalHarness, nodeJob, pollUntil, waitUntil } from "../helpers/local-harness";

let h: LocalHarness;
beforeEach(() => {
  h = new LocalHarness();
});
afterEach(async () => {
  await h.dispose();
});

const LONG = "setInterval(() => {}, 1000)";

describe("local backend: concurrency limit", () => {
  it("has capacity until TRAINKIT_LOCAL_MAX_CONCURRENT jobs run", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "2" });
    expect(backend.hasCapacity()).toBe(true);
    await backend.submit(nodeJob(LONG));
    expect(backend.hasCapacity()).toBe(true);
    await backend.submit(nodeJob(LONG));
    expect(backend.hasCapacity()).toBe(false);
  });

  it("frees a slot as soon as a running job ends, without waiting for a poll", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "1" });
    const job = nodeJob("setTimeout(() => {}, 200)");
    await backend.submit(job);
    expect(backend.hasCapacity()).toBe(false);
    await waitUntil(() => backend.hasCapacity(), "the slot to free");
    expect(h.notified).toContain(job.id);
  });

  it("frees a slot when a canceled job is gone", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "1" });
    const job = nodeJob(LONG);
    await backend.submit(job);
    await backend.cancel(job);
    await pollUntil(backend, job, ["CANCELED"]);
    expect(backend.hasCapacity()).toBe(true);
  });

  it("counts the jobs a previous instance started that still run, and only those, after a restart", async () => {
    const first = h.backend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "3" });
    await first.submit(nodeJob(LONG));
    await first.submit(nodeJob(LONG));
    const finished = nodeJob("0");
    await first.submit(finished);
    await pollUntil(first, finished, ["COMPLETED"]);
    await first.close();
    expect(h.backend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "3" }).hasCapacity()).toBe(true);
    expect(h.backend({ TRAINKIT_LOCAL_MAX_CONCURRENT: "2" }).hasCapacity()).toBe(false);
  });
});
