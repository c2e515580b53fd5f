import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CachedStore,
  type ChangeFeed,
  openPgliteStore,
  openPostgresStore,
  type SqlStore,
} from "../../src/server/store";
import type { JobRecord, NewJob, Store } from "../../src/server/store/types";
import { seedEmbeddedStore } from "../helpers/store-template";

// Real stores only: PGlite always, and Postgres when DATABASE_URL is set (each run in a schema of
// its own). No stand-ins.
const WRITER = resolve(__dirname, "../helpers/group-commit-writer.ts");
const databaseUrl = process.env.DATABASE_URL;
const dirs: string[] = [];
const schemas: string[] = [];

async function newPgliteDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-scale-"));
  dirs.push(dir);
  await seedEmbeddedStore(dir);
  return join(dir, "db");
}

function newSchema(): string {
  const schema = `trainkit_test_${randomBytes(6).toString("hex")}`;
  schemas.push(schema);
  return schema;
}

afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  if (databaseUrl && schemas.length > 0) {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
});

interface Engine {
  name: "pglite" | "postgres";
  open(): Promise<SqlStore>;
  /** Arguments for the writer process over a fresh store, and how to open that store afterwards. */
  writerTarget(): Promise<{ args: string[]; reopen(): Promise<SqlStore> }>;
}

const engines: Engine[] = [
  {
    name: "pglite",
    open: async () => openPgliteStore(await newPgliteDir()),
    writerTarget: async () => {
      const dir = await newPgliteDir();
      return { args: ["pglite", dir], reopen: () => openPgliteStore(dir) };
    },
  },
];
if (databaseUrl) {
  engines.push({
    name: "postgres",
    open: () => openPostgresStore(databaseUrl, { schema: newSchema() }),
    writerTarget: async () => {
      const schema = newSchema();
      return {
        args: ["postgres", databaseUrl, schema],
        reopen: () => openPostgresStore(databaseUrl, { schema }),
      };
    },
  });
}

function newJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: randomUUID(),
    accountId: "acct-1",
    backend: "local",
    name: "job",
    request: { name: "job", job_config: { command: ["true"] }, storage_mounts: [] },
    requestHash: "hash-1",
    idempotencyKey: null,
    createdAt: new Date(),
    ...overrides,
  };
}

const account = () => `acct-${randomBytes(4).toString("hex")}`;

describe.each(engines)("group commit on $name", (engine) => {
  let store: SqlStore;
  beforeAll(async () => {
    store = await engine.open();
  });
  afterAll(async () => {
    await store?.close();
  });

  it("commits concurrent writes together and answers each caller with its own row", async () => {
    const before = store.writeStats();
    const jobs = Array.from({ length: 40 }, () => newJob({ accountId: account() }));
    const inserted = await Promise.all(jobs.map((j) => store.insertJob(j)));
    expect(inserted.map((r) => [r.job.id, r.job.accountId, r.created, r.job.version])).toEqual(
      jobs.map((j) => [j.id, j.accountId, true, 1]),
    );
    const moved = await Promise.all(jobs.map((j) => store.transition(j.id, { status: "IN_PROGRESS" })));
    expect(moved.map((j) => [j?.id, j?.status, j?.version])).toEqual(
      jobs.map((j) => [j.id, "IN_PROGRESS", 2]),
    );
    const after = store.writeStats();
    expect(after.writes - before.writes).toBe(80);
    // Shared commits: far fewer than one per write.
    expect(after.commits - before.commits).toBeLessThan(40);
    for (const j of jobs) expect((await store.getJobById(j.id))?.status).toBe("IN_PROGRESS");
  });

  it("fails only the bad write of a batch; the others commit", async () => {
    const { job: taken } = await store.insertJob(newJob());
    const good = Array.from({ length: 10 }, () => newJob());
    const results = await Promise.allSettled([
      ...good.map((j) => store.insertJob(j)),
      // The same id again: the primary key refuses it.
      store.insertJob(newJob({ id: taken.id })),
      // Not a status: the table's check refuses it.
      store.transition(taken.id, { status: "BOGUS" as JobRecord["status"] }),
    ]);
    expect(results.slice(0, 10).every((r) => r.status === "fulfilled")).toBe(true);
    expect(results[10]?.status).toBe("rejected");
    expect(results[11]?.status).toBe("rejected");
    for (const j of good) expect(await store.getJobById(j.id)).not.toBeNull();
    expect((await store.getJobById(taken.id))?.status).toBe("PENDING");
  });

  it("creates one job from concurrent inserts with one idempotency key in one batch", async () => {
    const accountId = account();
    const results = await Promise.all(
      Array.from({ length: 12 }, () => store.insertJob(newJob({ accountId, idempotencyKey: "same" }))),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
  });

  it("loses no acknowledged write when its process is killed with SIGKILL mid-stream", async () => {
    const target = await engine.writerTarget();
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", WRITER, ...target.args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const inserted = new Set<string>();
    const moved = new Map<string, number>();
    let stats = { writes: 0, commits: 0 };
    const exited = new Promise((r) => child.once("exit", r));
    await new Promise<void>((done, fail) => {
      child.once("exit", () => fail(new Error(`the writer exited early: ${stderr}`)));
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const [what, id, n] = line.split(" ");
        if (what === "inserted") inserted.add(id!);
        if (what === "moved") moved.set(id!, Number(n));
        if (what === "stats") stats = { writes: Number(id), commits: Number(n) };
        if (moved.size >= 400 && child.exitCode === null) {
          child.kill("SIGKILL");
          done();
        }
      });
    });
    await exited;
    // The writes shared commits, so the kill fell among batches, not single writes.
    expect(stats.commits).toBeLessThan(stats.writes / 2);

    const reopened = await target.reopen();
    try {
      const lost: string[] = [];
      for (const id of inserted) if (!(await reopened.getJobById(id))) lost.push(id);
      const unmoved: string[] = [];
      for (const [id, version] of moved) {
        const job = await reopened.getJobById(id);
        if (job?.status !== "IN_PROGRESS" || job.version < version) unmoved.push(id);
      }
      expect({ lost, unmoved }).toEqual({ lost: [], unmoved: [] });
      expect(inserted.size).toBeGreaterThanOrEqual(400);
    } finally {
      await reopened.close();
    }
  }, 120_000);
});

describe.each(engines)("the change cursor on $name", (engine) => {
  let store: SqlStore;
  beforeAll(async () => {
    store = await engine.open();
  });
  afterAll(async () => {
    await store?.close();
  });

  it("returns the jobs written since the cursor, terminal ones included, and none before it", async () => {
    const { job: old } = await store.insertJob(newJob());
    const { job: quiet } = await store.insertJob(newJob());
    const cursor = await store.changeCursor();
    const { job: fresh } = await store.insertJob(newJob());
    await store.transition(old.id, { status: "FAILED", result: { failure_reason: "x" } });

    const first = await store.changesSince(cursor);
    const ids = first.jobs.map((j) => j.id);
    expect(ids).toContain(fresh.id);
    expect(ids).toContain(old.id);
    expect(ids).not.toContain(quiet.id);
    expect(first.jobs.find((j) => j.id === old.id)?.status).toBe("FAILED");

    const { job: later } = await store.insertJob(newJob());
    const second = await store.changesSince(first.cursor);
    expect(second.jobs.map((j) => j.id)).toContain(later.id);
    expect(second.jobs.map((j) => j.id)).not.toContain(quiet.id);
  });

  it("refuses a cursor it did not issue, saying what to pass", async () => {
    await expect(store.changesSince("42")).rejects.toThrow(/change cursor "42" is not one this store issued/);
  });
});

if (databaseUrl) {
  describe("the change cursor on Postgres with a write still in flight", () => {
    it("returns a change committed after a call that could not see it yet in the next call", async () => {
      const schema = newSchema();
      const store = await openPostgresStore(databaseUrl, { schema });
      const other = new Client({ connectionString: databaseUrl, options: `-c search_path=${schema}` });
      await other.connect();
      try {
        const { job } = await store.insertJob(newJob());
        const start = await store.changeCursor();
        // Another writer starts changing the job and holds its transaction open.
        await other.query("BEGIN");
        await other.query("UPDATE jobs SET status = 'IN_PROGRESS', updated_at = now() WHERE id = $1", [
          job.id,
        ]);
        const { job: meanwhile } = await store.insertJob(newJob());
        const during = await store.changesSince(start);
        expect(during.jobs.map((j) => j.id)).toContain(meanwhile.id);
        expect(during.jobs.find((j) => j.id === job.id)?.status ?? "unseen").not.toBe("IN_PROGRESS");
        await other.query("COMMIT");
        const after = await store.changesSince(during.cursor);
        expect(after.jobs.find((j) => j.id === job.id)?.status).toBe("IN_PROGRESS");
      } finally {
        await other.end();
        await store.close();
      }
    });
  });
}

/** The store with a count of the reads that reached it. */
function counting(inner: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (["getJob", "getJobById", "listJobs", "hasOlderUnsubmitted", "listQueued"].includes(String(key)))
          reads += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, reads: () => reads };
}

describe("the cache on the embedded store", () => {
  let sql: SqlStore;
  let cache: CachedStore;
  let reads: () => number;
  beforeAll(async () => {
    sql = await openPgliteStore(await newPgliteDir());
    const counted = counting(sql);
    reads = counted.reads;
    cache = new CachedStore(counted.store);
  });
  afterAll(async () => {
    await cache?.close();
  });

  it("answers reads of written jobs from memory, each with the latest write", async () => {
    const accountId = account();
    const { job } = await cache.insertJob(newJob({ accountId }));
    const before = reads();
    expect((await cache.getJob(accountId, job.id))?.status).toBe("PENDING");
    await cache.transition(job.id, { status: "IN_PROGRESS" });
    expect((await cache.getJob(accountId, job.id))?.status).toBe("IN_PROGRESS");
    await cache.requestCancel(job.id);
    expect((await cache.getJob(accountId, job.id))?.cancelRequestedAt).toBeInstanceOf(Date);
    await cache.transition(job.id, { status: "CANCELED" });
    expect(await cache.getJob(accountId, job.id)).toMatchObject({ status: "CANCELED", version: 4 });
    expect(await cache.getJob("someone-else", job.id)).toBeNull();
    expect(reads()).toBe(before);
  });

  it("answers an account's lists from memory exactly as the store does, through pages and filters", async () => {
    const accountId = account();
    const base = Date.now();
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 30; i++) {
      // Some share a creation time, so pages turn on the id as well.
      const { job } = await cache.insertJob(
        newJob({ accountId, createdAt: new Date(base + Math.floor(i / 3)) }),
      );
      jobs.push(job);
    }
    expect((await cache.listJobs(accountId, { limit: 100 })).length).toBe(30);
    for (const [i, job] of jobs.entries()) {
      if (i % 4 === 0) await cache.transition(job.id, { status: "IN_PROGRESS" });
    }
    // Inserted after the account was read into memory.
    await cache.insertJob(newJob({ accountId, createdAt: new Date(base + 5) }));
    const before = reads();
    for (const status of [undefined, "PENDING", "IN_PROGRESS"] as const) {
      let after: { createdAt: Date; id: string } | undefined;
      for (;;) {
        const options = { limit: 7, ...(status ? { status } : {}), ...(after ? { after } : {}) };
        const cached = await cache.listJobs(accountId, options);
        const stored = await sql.listJobs(accountId, options);
        expect(cached.map((j) => [j.id, j.status])).toEqual(stored.map((j) => [j.id, j.status]));
        const last = cached.at(-1);
        if (!last) break;
        after = { createdAt: last.createdAt, id: last.id };
      }
    }
    expect(reads()).toBe(before);
  });

  it("tells from memory, exactly as the store does, whether an older job of a backend still waits", async () => {
    const backend = "vertex-ai" as const;
    const base = Date.now() + 7_200_000;
    const jobs: JobRecord[] = [];
    for (let i = 0; i < 4; i++)
      jobs.push((await cache.insertJob(newJob({ backend, createdAt: new Date(base + i) }))).job);
    const [first, second, third, fourth] = jobs as [JobRecord, JobRecord, JobRecord, JobRecord];
    const agree = async () => {
      for (const job of jobs)
        expect(await cache.hasOlderUnsubmitted(job)).toBe(await sql.hasOlderUnsubmitted(job));
    };
    // The first question reads the waiting jobs once; every later one is answered from memory.
    await cache.hasOlderUnsubmitted(first);
    const before = reads();
    expect(await cache.hasOlderUnsubmitted(first)).toBe(false);
    expect(await cache.hasOlderUnsubmitted(second)).toBe(true);
    await cache.claimSubmit(first.id, 60_000);
    await cache.recordSubmitted(first.id, {
      cloudJobIdentifier: { job_name: "a" },
      backendState: null,
      status: "PENDING",
    });
    expect(await cache.hasOlderUnsubmitted(second)).toBe(false);
    expect(await cache.hasOlderUnsubmitted(third)).toBe(true);
    await cache.cancelUnsubmitted(second.id);
    await cache.transition(third.id, { status: "FAILED", result: { failure_reason: "refused" } });
    expect(await cache.hasOlderUnsubmitted(fourth)).toBe(false);
    const { job: fifth } = await cache.insertJob(newJob({ backend, createdAt: new Date(base + 9) }));
    jobs.push(fifth);
    expect(await cache.hasOlderUnsubmitted(fifth)).toBe(true);
    expect(reads()).toBe(before);
    await agree();
  });
});

if (databaseUrl) {
  describe("the cache on Postgres with two replicas", () => {
    const schema = newSchema();
    let a: { sql: SqlStore; cache: CachedStore; feed: ChangeFeed };
    let b: { sql: SqlStore; cache: CachedStore; feed: ChangeFeed };
    const replica = async () => {
      const sql = await openPostgresStore(databaseUrl, { schema, heartbeatMs: 200 });
      const feed = sql.changeFeed!;
      const cache = new CachedStore(sql, { feed });
      const deadline = Date.now() + 10_000;
      while (!feed.live() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      if (!feed.live()) throw new Error("the change feed did not connect within 10 s");
      return { sql, cache, feed };
    };
    beforeAll(async () => {
      a = await replica();
      b = await replica();
    });
    afterAll(async () => {
      await a?.cache.close();
      await b?.cache.close();
    });

    it("never answers a status older than a transition another replica acknowledged", async () => {
      const accountId = account();
      const { job } = await a.cache.insertJob(newJob({ accountId }));
      await a.cache.listJobs(accountId, { limit: 10 });
      const steps = ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"] as const;
      for (const status of steps) {
        expect((await a.cache.getJob(accountId, job.id))?.version).toBeGreaterThan(0);
        const moved = await b.cache.transition(job.id, { status });
        // Changes arrive ahead of any later answer on the listening connection.
        await a.feed.sync();
        expect(await a.cache.getJob(accountId, job.id)).toMatchObject({ status, version: moved?.version });
        expect((await a.cache.listJobs(accountId, { limit: 10 }))[0]).toMatchObject({ status });
      }
      // A job another replica created shows in this replica's lists.
      const { job: other } = await b.cache.insertJob(newJob({ accountId }));
      await a.feed.sync();
      expect((await a.cache.listJobs(accountId, { limit: 10 })).map((j) => j.id)).toEqual([other.id, job.id]);
    });

    it("never tells a job it may go first while another replica's older job waits", async () => {
      const backend = "sagemaker" as const;
      const base = Date.now() + 3_600_000;
      const { job: mine } = await a.cache.insertJob(newJob({ backend, createdAt: new Date(base + 10) }));
      expect(await a.cache.hasOlderUnsubmitted(mine)).toBe(false);
      const { job: older } = await b.cache.insertJob(newJob({ backend, createdAt: new Date(base) }));
      await a.feed.sync();
      expect(await a.cache.hasOlderUnsubmitted(mine)).toBe(true);
      await b.cache.cancelUnsubmitted(older.id);
      await a.feed.sync();
      expect(await a.cache.hasOlderUnsubmitted(mine)).toBe(false);
    });

    it("reads from the store while its listening connection is gone, and starts empty once back", async () => {
      const accountId = account();
      const { job } = await a.cache.insertJob(newJob({ accountId }));
      expect((await a.cache.getJob(accountId, job.id))?.status).toBe("PENDING");
      const admin = new Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
          [a.feed.connectionName],
        );
      } finally {
        await admin.end();
      }
      await expect.poll(() => a.feed.live(), { timeout: 10_000 }).toBe(false);
      // Changed while A hears nothing: A must not answer its cached PENDING.
      await b.sql.transition(job.id, { status: "IN_PROGRESS" });
      expect((await a.cache.getJob(accountId, job.id))?.status).toBe("IN_PROGRESS");
      await expect.poll(() => a.feed.live(), { timeout: 10_000 }).toBe(true);
      await b.sql.transition(job.id, { status: "FAILED", result: { failure_reason: "x" } });
      await a.feed.sync();
      expect((await a.cache.getJob(accountId, job.id))?.status).toBe("FAILED");
    });
  });
}
