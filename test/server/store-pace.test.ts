import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPgliteStore, openPostgresStore, type SqlStore } from "../../src/server/store";

// The submission pace the store keeps per backend (`takeSubmitSlot`, `slowSubmitPace`,
// `readSubmitPace`): on Postgres, where every server of a deployment shares it, two stores on one
// schema stand for two servers. Selected by DATABASE_URL like the store's other Postgres tests, in a
// schema of its own per run. The embedded store runs the same statements.

const databaseUrl = process.env.DATABASE_URL;

/** A backend name of its own per test, so each starts with a full bucket. */
const backendName = () => `backend-${randomBytes(4).toString("hex")}`;

/** Takes slots through every store at once, as fast as each answers, until `ms` have passed; answers how many were taken and over how long. */
async function takeFor(
  stores: SqlStore[],
  backend: string,
  perMinute: number,
  ms: number,
): Promise<{ taken: number; seconds: number }> {
  const started = Date.now();
  let taken = 0;
  await Promise.all(
    stores.map(async (store) => {
      while (Date.now() - started < ms) {
        if ((await store.takeSubmitSlot(backend, perMinute)).taken) taken += 1;
      }
    }),
  );
  return { taken, seconds: (Date.now() - started) / 1000 };
}

if (databaseUrl) {
  describe("the submission pace two servers share on one Postgres", () => {
    const schema = `trainkit_test_${randomBytes(6).toString("hex")}`;
    let a: SqlStore;
    let b: SqlStore;
    let admin: Client;

    beforeAll(async () => {
      a = await openPostgresStore(databaseUrl, { schema });
      b = await openPostgresStore(databaseUrl, { schema });
      admin = new Client({ connectionString: databaseUrl });
      await admin.connect();
    });

    afterAll(async () => {
      await a?.close();
      await b?.close();
      await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin?.end();
    });

    it("hands out one slot to forty requests arriving together from both servers, at 60 a minute", async () => {
      const backend = backendName();
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).takeSubmitSlot(backend, 60)),
      );
      expect(answers.filter((x) => x.taken)).toHaveLength(1);
      expect(answers.every((x) => x.perMinute === 60)).toBe(true);
    });

    it("hands out a second's worth at once for a faster pace, and no more", async () => {
      const backend = backendName();
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).takeSubmitSlot(backend, 600)),
      );
      const seconds = (Date.now() - started) / 1000;
      const taken = answers.filter((x) => x.taken).length;
      // Ten at once, plus what refilled (10 a second) while the forty were answered.
      expect(taken).toBeGreaterThanOrEqual(10);
      expect(taken).toBeLessThanOrEqual(10 + Math.ceil(seconds * 10));
    });

    it("keeps both servers together to the pace under steady demand", async () => {
      const backend = backendName();
      const { taken, seconds } = await takeFor([a, b], backend, 600, 2_000);
      // A full bucket of ten, then ten a second between the two of them; one slot of slack.
      expect(taken).toBeLessThanOrEqual(10 + Math.floor(seconds * 10) + 1);
      expect(taken).toBeGreaterThanOrEqual(10 + Math.floor(seconds * 10) - 1);
    });

    it("halves the pace for both servers when one of them is throttled, and empties the bucket", async () => {
      const backend = backendName();
      expect((await a.takeSubmitSlot(backend, 60)).taken).toBe(true);
      expect(await a.slowSubmitPace(backend, 60)).toBe(30);
      expect(await b.readSubmitPace(backend, 60)).toBe(30);
      expect(await b.takeSubmitSlot(backend, 60)).toEqual({ taken: false, perMinute: 30 });
      expect(await b.slowSubmitPace(backend, 60)).toBe(15);
      expect(await a.readSubmitPace(backend, 60)).toBe(15);
    });

    it("never slows below a tenth of the configured pace", async () => {
      const backend = backendName();
      let pace = 0;
      for (let i = 0; i < 20; i += 1) pace = await (i % 2 === 0 ? a : b).slowSubmitPace(backend, 60);
      expect(pace).toBe(6);
    });

    it("gives back a quarter of what was taken for each quiet minute, by the database's clock", async () => {
      const backend = backendName();
      await a.slowSubmitPace(backend, 60);
      expect(await b.slowSubmitPace(backend, 60)).toBe(15);
      // A quiet minute, as the row sees it: its times moved a minute into the past.
      await admin.query(
        `UPDATE ${schema}.submit_pace SET recovered_at = recovered_at - interval '1 minute',
                                          refilled_at = refilled_at - interval '1 minute'
         WHERE backend = $1`,
        [backend],
      );
      expect(await a.readSubmitPace(backend, 60)).toBeCloseTo(15 + 45 / 4);
      // The minute refilled the bucket, up to its one slot.
      expect((await b.takeSubmitSlot(backend, 60)).taken).toBe(true);
      expect((await a.takeSubmitSlot(backend, 60)).taken).toBe(false);
      await admin.query(
        `UPDATE ${schema}.submit_pace SET recovered_at = recovered_at - interval '10 minutes' WHERE backend = $1`,
        [backend],
      );
      expect(await b.readSubmitPace(backend, 60)).toBe(60);
    });

    it("applies the shared slowdown to each server's own configured pace", async () => {
      const backend = backendName();
      expect(await a.slowSubmitPace(backend, 60)).toBe(30);
      expect(await b.readSubmitPace(backend, 120)).toBe(60);
    });

    it("keeps each backend's pace apart", async () => {
      const slowed = backendName();
      const other = backendName();
      await a.slowSubmitPace(slowed, 60);
      expect(await b.takeSubmitSlot(other, 60)).toEqual({ taken: true, perMinute: 60 });
    });
  });
}

describe("the submission pace on the embedded store", () => {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-pace-"));
  let store: SqlStore;

  beforeAll(async () => {
    store = await openPgliteStore(dir);
  });

  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the same arithmetic: one slot at once, halved on throttling down to a tenth", async () => {
    const backend = backendName();
    const answers = await Promise.all(Array.from({ length: 20 }, () => store.takeSubmitSlot(backend, 60)));
    expect(answers.filter((x) => x.taken)).toHaveLength(1);
    expect(await store.slowSubmitPace(backend, 60)).toBe(30);
    let pace = 0;
    for (let i = 0; i < 10; i += 1) pace = await store.slowSubmitPace(backend, 60);
    expect(pace).toBe(6);
  });
});
