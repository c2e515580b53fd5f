import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CachedStore, type ChangeFeed, openPgliteStore, type SqlStore } from "../../src/server/store";
import type { ChangeHandlers } from "../../src/server/store/cached";
import type { JobRecord, NewJob, Store } from "../../src/server/store/types";
import type { Job, JobStatus } from "../../src/spec";
import { seedEmbeddedStore } from "../helpers/store-template";
import { newApiKey, startTrainApi, TEST_ACCOUNT_ID, type TrainApi } from "../helpers/train-api";

// Two real Train API servers on loopback, each its own app, reconciler and in-memory cache
// (CachedStore), sharing one Postgres: the way replicas are deployed. Selected by DATABASE_URL like
// the store's other Postgres tests, in a schema of its own per run. Jobs run on the local backend
// (real processes), so the status changes are the reconcilers' own.

const databaseUrl = process.env.DATABASE_URL;

/** How far along a job is: a replica may answer a newer status than another did, never an older one. */
const RANK: Record<JobStatus, number> = {
  PENDING: 0,
  IN_PROGRESS: 1,
  COMPLETED: 2,
  FAILED: 2,
  CANCELED: 2,
  EXPIRED: 2,
};

if (databaseUrl) {
  describe("two Train API replicas on one Postgres, each serving reads from its own cache", () => {
    const schema = `trainkit_test_${randomBytes(6).toString("hex")}`;
    const key = newApiKey();
    const headers = { "x-api-key": key, "x-selected-account-id": TEST_ACCOUNT_ID };
    let a: TrainApi;
    let b: TrainApi;

    beforeAll(async () => {
      const admin = new Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
      const url = new URL(databaseUrl);
      url.searchParams.set("options", `-c search_path=${schema}`);
      const options = { databaseUrl: url.toString(), apiKeys: { [key]: [TEST_ACCOUNT_ID] } };
      a = await startTrainApi(options);
      b = await startTrainApi(options);
    }, 120_000);

    afterAll(async () => {
      await a?.close();
      await b?.close();
      const admin = new Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    const read = async (api: TrainApi, id: string): Promise<Job> => {
      const res = await fetch(`${api.url}/v1/jobs/${id}`, { headers });
      expect(res.status).toBe(200);
      return (await res.json()) as Job;
    };
    const list = async (api: TrainApi): Promise<Job[]> => {
      const res = await fetch(`${api.url}/v1/jobs?limit=100`, { headers });
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: Job[] }).items;
    };
    const create = async (api: TrainApi, name: string, command: string[]): Promise<Job> => {
      const res = await fetch(`${api.url}/v1/local/jobs`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ name, job_config: { command } }),
      });
      expect(res.status).toBe(201);
      return (await res.json()) as Job;
    };

    /**
     * Reads the job from one replica, then at once from the other (alternating which goes first)
     * until `done`; the second answer is never older than the first.
     */
    async function readBothUntil(id: string, done: (job: Job) => boolean): Promise<Job> {
      const deadline = Date.now() + 60_000;
      for (let turn = 0; Date.now() < deadline; turn++) {
        const [first, second] = turn % 2 === 0 ? [a, b] : [b, a];
        const seen = await read(first, id);
        const after = await read(second, id);
        expect(
          RANK[after.status],
          `${JSON.stringify(after)} after ${JSON.stringify(seen)}`,
        ).toBeGreaterThanOrEqual(RANK[seen.status]);
        if (isFinal(seen.status)) expect(after.status).toBe(seen.status);
        if (done(after)) return after;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`job ${id} did not reach the expected state within 60 s`);
    }
    const isFinal = (status: JobStatus) => RANK[status] === 2;

    it("answers a job created on one replica at once on the other, in reads and in lists it had cached", async () => {
      // B has the account's list in memory before A creates the job.
      const before = (await list(b)).map((j) => j.id);
      const job = await create(a, "read-after-write", ["sh", "-c", "exit 0"]);
      expect(before).not.toContain(job.id);
      expect((await read(b, job.id)).id).toBe(job.id);
      expect((await list(b)).map((j) => j.id)).toContain(job.id);
      await readBothUntil(job.id, (j) => isFinal(j.status));
    });

    it("never answers a status older than one the other replica answered, as the reconcilers move a job to COMPLETED", async () => {
      const job = await create(b, "moves", ["sh", "-c", "sleep 1"]);
      const done = await readBothUntil(job.id, (j) => isFinal(j.status));
      expect(done.status).toBe("COMPLETED");
    });

    it("shows a cancel acknowledged by one replica on the other's next read, and its end on both", async () => {
      const job = await create(b, "canceled", ["sleep", "60"]);
      await readBothUntil(job.id, (j) => j.status === "IN_PROGRESS");
      const res = await fetch(`${a.url}/v1/jobs/${job.id}/cancel`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
      });
      expect(res.status).toBe(200);
      const answered = (await res.json()) as Job;
      const next = await read(b, job.id);
      expect(RANK[next.status]).toBeGreaterThanOrEqual(RANK[answered.status]);
      expect(Date.parse(next.updated_at)).toBeGreaterThanOrEqual(Date.parse(answered.updated_at));
      const ended = await readBothUntil(job.id, (j) => isFinal(j.status));
      expect(ended.status).toBe("CANCELED");
    });
  });
}

// The same property in one process on the embedded store: two caches over one PGlite store, with a
// stand-in for the change feed between them that delivers each change as late as a feed may (only
// when the reader syncs). It proves how the cache reacts to late changes, not how Postgres delivers them.

/** Another replica's changes, held back until the reader asks for them. */
class LateFeed implements ChangeFeed {
  readonly connectionName = "late-feed";
  private handlers: ChangeHandlers | undefined;
  private readonly held: JobRecord[] = [];
  start(handlers: ChangeHandlers): void {
    this.handlers = handlers;
  }
  live(): boolean {
    return true;
  }
  async sync(): Promise<void> {
    for (const job of this.held.splice(0)) this.handlers?.change(job.id, job.version, job.accountId);
  }
  hold(job: JobRecord): void {
    this.held.push(job);
  }
  async close(): Promise<void> {}
}

/** `store`, announcing every job it writes to `feed` (the other replica's). */
function announcing(store: Store, feed: LateFeed): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (key === "close") return async () => {};
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const written = answer && typeof answer === "object" && "job" in answer ? answer.job : answer;
        if (String(key) !== "getJobById" && written && typeof written === "object" && "version" in written)
          feed.hold(written as JobRecord);
        return answer;
      };
    },
  });
}

describe("two caches over one embedded store, with changes delivered as late as allowed", () => {
  let dir: string;
  let sql: SqlStore;
  let a: CachedStore;
  let b: CachedStore;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "trainkit-replicas-"));
    await seedEmbeddedStore(dir);
    sql = await openPgliteStore(join(dir, "db"));
    const toA = new LateFeed();
    const toB = new LateFeed();
    a = new CachedStore(announcing(sql, toB), { feed: toA });
    b = new CachedStore(announcing(sql, toA), { feed: toB });
  });
  afterAll(async () => {
    await sql?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const newJob = (accountId: string, overrides: Partial<NewJob> = {}): NewJob => ({
    id: randomUUID(),
    accountId,
    backend: "local",
    name: "job",
    request: { name: "job", job_config: { command: ["true"] }, storage_mounts: [] },
    requestHash: "hash",
    idempotencyKey: null,
    createdAt: new Date(),
    ...overrides,
  });

  it("answers each transition the other cache acknowledged on the next read and list, never the status it held", async () => {
    const accountId = `acct-${randomBytes(4).toString("hex")}`;
    const { job } = await a.insertJob(newJob(accountId));
    expect((await b.getJob(accountId, job.id))?.status).toBe("PENDING");
    expect((await b.listJobs(accountId, { limit: 10 })).map((j) => j.status)).toEqual(["PENDING"]);
    for (const status of ["IN_PROGRESS", "COMPLETED"] as const) {
      await a.transition(job.id, { status });
      expect((await b.getJob(accountId, job.id))?.status).toBe(status);
      expect((await b.listJobs(accountId, { limit: 10 })).map((j) => j.status)).toEqual([status]);
    }
    const { job: second } = await a.insertJob(newJob(accountId));
    expect((await b.listJobs(accountId, { limit: 10 })).map((j) => j.id)).toEqual([second.id, job.id]);
    await b.cancelUnsubmitted(second.id);
    expect((await a.getJob(accountId, second.id))?.status).toBe("CANCELED");
  });

  it("never lets a job go first while a job the other cache created earlier waits", async () => {
    const accountId = `acct-${randomBytes(4).toString("hex")}`;
    const base = Date.now() + 86_400_000;
    const backend = "sagemaker" as const;
    const { job: mine } = await b.insertJob(newJob(accountId, { backend, createdAt: new Date(base + 10) }));
    expect(await b.hasOlderUnsubmitted(mine)).toBe(false);
    const { job: older } = await a.insertJob(newJob(accountId, { backend, createdAt: new Date(base) }));
    expect(await b.hasOlderUnsubmitted(mine)).toBe(true);
    await a.cancelUnsubmitted(older.id);
    expect(await b.hasOlderUnsubmitted(mine)).toBe(false);
  });
});
