import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS, openPgliteStore, openPostgresStore, type SqlStore } from "../../src/server/store";
import type { NewJob } from "../../src/server/store/types";

interface Engine {
  name: string;
  open(): Promise<SqlStore>;
  cleanup(): Promise<void>;
}

const pgliteDir = mkdtempSync(join(tmpdir(), "trainkit-store-"));
const engines: Engine[] = [
  {
    name: "PGlite",
    open: () => openPgliteStore(pgliteDir),
    cleanup: async () => rmSync(pgliteDir, { recursive: true, force: true }),
  },
];

// CI sets DATABASE_URL; every run gets its own schema so parallel runs never see each other's rows.
const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  const schema = `trainkit_test_${randomBytes(6).toString("hex")}`;
  engines.push({
    name: "Postgres",
    open: () => openPostgresStore(databaseUrl, { schema }),
    cleanup: async () => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  });
}

const account = () => `acct-${randomBytes(4).toString("hex")}`;

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

describe.each(engines)("the $name store", (engine) => {
  let store: SqlStore;
  beforeAll(async () => {
    store = await engine.open();
  });
  afterAll(async () => {
    await store?.close();
    await engine.cleanup();
  });

  it("records a new job as PENDING and reads it back for its account only", async () => {
    const job = newJob({ accountId: account() });
    const { job: stored, created } = await store.insertJob(job);
    expect(created).toBe(true);
    expect(stored).toMatchObject({
      id: job.id,
      status: "PENDING",
      submitAttempts: 0,
      submittedAt: null,
      result: null,
    });
    expect((await store.getJob(job.accountId, job.id))?.request).toEqual(job.request);
    expect(await store.getJob("someone-else", job.id)).toBeNull();
  });

  it("returns the first job for a repeated idempotency key instead of inserting another", async () => {
    const accountId = account();
    const first = await store.insertJob(newJob({ accountId, idempotencyKey: "k" }));
    const second = await store.insertJob(newJob({ accountId, idempotencyKey: "k", requestHash: "other" }));
    expect(second.created).toBe(false);
    expect(second.job.id).toBe(first.job.id);
    expect(second.job.requestHash).toBe("hash-1");
  });

  it("creates exactly one job from concurrent inserts with one idempotency key", async () => {
    const accountId = account();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.insertJob(newJob({ accountId, idempotencyKey: "race" }))),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(await store.listJobs(accountId, { limit: 100 })).toHaveLength(1);
  });

  it("never moves a terminal job to another state", async () => {
    const { job } = await store.insertJob(newJob());
    expect((await store.transition(job.id, { status: "IN_PROGRESS" }))?.status).toBe("IN_PROGRESS");
    expect((await store.transition(job.id, { status: "COMPLETED", result: { exit_code: 0 } }))?.status).toBe(
      "COMPLETED",
    );
    expect(await store.transition(job.id, { status: "IN_PROGRESS" })).toBeNull();
    expect(
      await store.transition(job.id, { status: "FAILED", result: { failure_reason: "late" } }),
    ).toBeNull();
    expect(await store.requestCancel(job.id)).toBeNull();
    expect(await store.getJobById(job.id)).toMatchObject({ status: "COMPLETED", result: { exit_code: 0 } });
  });

  it("lets only one of two concurrent claimers submit a job", async () => {
    const { job } = await store.insertJob(newJob());
    const claims = await Promise.all([store.claimSubmit(job.id, 60_000), store.claimSubmit(job.id, 60_000)]);
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    expect((await store.getJobById(job.id))?.submitAttempts).toBe(1);
  });

  it("lets a claim be taken again once its lease ran out, as after a crash mid-submit", async () => {
    const { job } = await store.insertJob(newJob());
    expect(await store.claimSubmit(job.id, 60_000)).not.toBeNull();
    expect(await store.claimSubmit(job.id, 60_000)).toBeNull();
    await new Promise((r) => setTimeout(r, 30));
    expect((await store.claimSubmit(job.id, 10))?.submitAttempts).toBe(2);
  });

  it("does not claim a submitted job again", async () => {
    const { job } = await store.insertJob(newJob());
    await store.claimSubmit(job.id, 60_000);
    const submitted = await store.recordSubmitted(job.id, {
      cloudJobIdentifier: { job_name: "native-1" },
      backendState: { pid: 1 },
      status: "IN_PROGRESS",
    });
    expect(submitted).toMatchObject({
      status: "IN_PROGRESS",
      cloudJobIdentifier: { job_name: "native-1" },
      submitClaimedAt: null,
    });
    expect(await store.claimSubmit(job.id, 0)).toBeNull();
    expect((await store.listActive()).map((j) => j.id)).toContain(job.id);
  });

  it("gives a claim back after a retryable failure, keeping the job PENDING and unsubmitted", async () => {
    const { job } = await store.insertJob(newJob());
    await store.claimSubmit(job.id, 60_000);
    await store.releaseClaim(job.id, "cloud busy");
    const after = await store.getJobById(job.id);
    expect(after).toMatchObject({ status: "PENDING", submitClaimedAt: null, lastError: "cloud busy" });
    expect((await store.listUnsubmitted(1000)).map((j) => j.id)).toContain(job.id);
  });

  it("cancels an unclaimed job at once but leaves a claimed one to its submitter", async () => {
    const { job: free } = await store.insertJob(newJob());
    const { job: claimed } = await store.insertJob(newJob());
    await store.claimSubmit(claimed.id, 60_000);
    expect((await store.cancelUnsubmitted(free.id))?.status).toBe("CANCELED");
    expect(await store.cancelUnsubmitted(claimed.id)).toBeNull();
    expect((await store.requestCancel(claimed.id))?.cancelRequestedAt).toBeInstanceOf(Date);
    expect(await store.claimSubmit(claimed.id, 60_000)).toBeNull();
    expect((await store.getJobById(claimed.id))?.status).toBe("PENDING");
  });

  it("ends a job CANCELED when its submit is given up after a cancel arrived during it", async () => {
    const { job } = await store.insertJob(newJob());
    await store.claimSubmit(job.id, 60_000);
    await store.requestCancel(job.id);
    await store.releaseClaim(job.id, "cloud busy");
    expect(await store.getJobById(job.id)).toMatchObject({ status: "CANCELED", submitClaimedAt: null });
    expect((await store.listUnsubmitted(1000)).map((j) => j.id)).not.toContain(job.id);
  });

  it("lets an abandoned claim on a job asked to cancel be taken again, so the cancel reaches what it started", async () => {
    const { job } = await store.insertJob(newJob());
    await store.claimSubmit(job.id, 60_000);
    await store.requestCancel(job.id);
    expect((await store.listUnsubmitted(1000)).map((j) => j.id)).toContain(job.id);
    await new Promise((r) => setTimeout(r, 30));
    expect((await store.claimSubmit(job.id, 10))?.submitAttempts).toBe(2);
  });

  it("leaves the named backends out of the waiting jobs it lists", async () => {
    const { job: local } = await store.insertJob(newJob({ backend: "local" }));
    const { job: cloud } = await store.insertJob(newJob({ backend: "sagemaker" }));
    const ids = (await store.listUnsubmitted(1000, ["local"])).map((j) => j.id);
    expect(ids).toContain(cloud.id);
    expect(ids).not.toContain(local.id);
  });

  it("tells whether an older job of the same backend still waits to be submitted", async () => {
    const backend = "kubernetes" as const;
    const base = Date.now() + 3_600_000;
    const { job: older } = await store.insertJob(newJob({ backend, createdAt: new Date(base) }));
    const { job: newer } = await store.insertJob(newJob({ backend, createdAt: new Date(base + 1) }));
    expect(await store.hasOlderUnsubmitted(newer)).toBe(true);
    expect(await store.hasOlderUnsubmitted(older)).toBe(false);
    await store.claimSubmit(older.id, 60_000);
    await store.recordSubmitted(older.id, {
      cloudJobIdentifier: { job_name: "k" },
      backendState: null,
      status: "PENDING",
    });
    expect(await store.hasOlderUnsubmitted(newer)).toBe(false);
  });

  it("pages an account's jobs newest first over (created_at, id), filtered by status", async () => {
    const accountId = account();
    const base = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { job } = await store.insertJob(
        newJob({ accountId, createdAt: new Date(base + (i % 3) * 1000) }),
      );
      ids.push(job.id);
    }
    const all = await store.listJobs(accountId, { limit: 100 });
    const firstPage = await store.listJobs(accountId, { limit: 2 });
    const last = firstPage[1]!;
    const rest = await store.listJobs(accountId, {
      limit: 100,
      after: { createdAt: last.createdAt, id: last.id },
    });
    expect([...firstPage, ...rest].map((j) => j.id)).toEqual(all.map((j) => j.id));
    expect(all.map((j) => j.createdAt.getTime())).toEqual(
      [...all.map((j) => j.createdAt.getTime())].sort((a, b) => b - a),
    );
    await store.transition(ids[0]!, { status: "FAILED" });
    expect((await store.listJobs(accountId, { limit: 100, status: "FAILED" })).map((j) => j.id)).toEqual([
      ids[0],
    ]);
  });

  if (engine.name === "PGlite") {
    it("refuses to open a data directory another open store is using", async () => {
      await expect(openPgliteStore(pgliteDir)).rejects.toThrow(
        `the embedded store in ${pgliteDir} is in use by process ${process.pid}`,
      );
    });
  }

  it("opens again on the same database without reapplying its migrations", async () => {
    const { job } = await store.insertJob(newJob());
    await store.close();
    store = await engine.open();
    expect((await store.getJobById(job.id))?.id).toBe(job.id);
    expect(await store.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
  });
});

describe("the PGlite data directory lock", () => {
  it("is taken over when the process that left it is gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trainkit-lock-"));
    try {
      const dead = spawnSync(process.execPath, [
        "-e",
        "process.stdout.write(String(process.pid))",
      ]).stdout.toString();
      writeFileSync(join(dir, "trainkit.lock"), dead);
      const store = await openPgliteStore(dir);
      expect(readFileSync(join(dir, "trainkit.lock"), "utf8")).toBe(String(process.pid));
      await store.close();
      expect(existsSync(join(dir, "trainkit.lock"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is taken over when it names this process's pid but this process does not hold it, as in a restarted container", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trainkit-lock-"));
    try {
      writeFileSync(join(dir, "trainkit.lock"), String(process.pid));
      const store = await openPgliteStore(dir);
      expect(await store.appliedMigrations()).toEqual(MIGRATIONS.map((m) => m.version));
      await store.close();
      expect(existsSync(join(dir, "trainkit.lock"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
