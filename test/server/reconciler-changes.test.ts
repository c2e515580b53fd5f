import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  Backend,
  BackendJob,
  BackendLogger,
  PollResult,
  SubmitResult,
} from "../../src/server/backends/types";
import { Reconciler } from "../../src/server/reconciler";
import { openStore, type Store } from "../../src/server/store";
import { registryOf } from "../helpers/backend-job";
import { seedEmbeddedStore } from "../helpers/store-template";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The reconciler against the real embedded store (wrapped only to count its reads and, in one
// test, to fail the change stream once), with a stand-in backend read job by job whose answers
// each test scripts.

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };
let dataDir: string;
let store: Store;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trainkit-reconciler-changes-"));
  await seedEmbeddedStore(dataDir);
  store = await openStore({ dataDir });
});

afterAll(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The store, counting full reads of active jobs and change-stream reads; `failChanges` fails the next ones. */
function counted(inner: Store) {
  const counts = { listActive: 0, changesSince: 0, changesAnswered: 0, failChanges: 0 };
  const wrapped = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop === "listActive")
        return (...args: Parameters<Store["listActive"]>) => {
          counts.listActive += 1;
          return target.listActive(...args);
        };
      if (prop === "changesSince")
        return (cursor: string) => {
          counts.changesSince += 1;
          if (counts.failChanges > 0) {
            counts.failChanges -= 1;
            return Promise.reject(new Error("connection lost"));
          }
          return target.changesSince(cursor).then((answer) => {
            counts.changesAnswered += 1;
            return answer;
          });
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store: wrapped, counts };
}

/** A backend read job by job: answers `answers` (default IN_PROGRESS) and records each poll. */
class PerJobBackend implements Backend<"azure-ml"> {
  readonly name = "azure-ml" as const;
  readonly polled: string[] = [];
  readonly answers = new Map<string, PollResult>();
  async submit(job: BackendJob<"azure-ml">): Promise<SubmitResult> {
    return { cloudJobIdentifier: { job_name: `native-${job.id}` }, status: "PENDING" };
  }
  async poll(job: BackendJob<"azure-ml">): Promise<PollResult> {
    this.polled.push(job.id);
    return this.answers.get(job.id) ?? { status: "IN_PROGRESS" };
  }
  async cancel(): Promise<void> {}
}

async function submittedJob(reconciler: Reconciler) {
  const id = randomUUID();
  const { job } = await store.insertJob({
    id,
    accountId: "acct-1",
    backend: "azure-ml",
    name: "job",
    request: VALID_REQUESTS["azure-ml"] as never,
    requestHash: id,
    idempotencyKey: null,
    createdAt: new Date(),
  });
  return reconciler.submit(job);
}

async function until(done: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

const statusOf = async (id: string) => (await store.getJobById(id))?.status;

describe("the reconciler's pass over active jobs", () => {
  it("reads the store in full once, then follows its changes: new jobs are polled, ended ones no longer", async () => {
    const backend = new PerJobBackend();
    const { store: watched, counts } = counted(store);
    const reconciler = new Reconciler(watched, registryOf(backend), { intervalMs: 20, log: quiet });
    const before = await submittedJob(reconciler);
    reconciler.start();
    await until(() => backend.polled.includes(before.id));
    const later = await submittedJob(reconciler);
    backend.answers.set(before.id, { status: "COMPLETED" });
    await until(async () => backend.polled.includes(later.id) && (await statusOf(before.id)) === "COMPLETED");
    const pollsAfterEnd = backend.polled.length;
    await new Promise((r) => setTimeout(r, 300));
    await reconciler.stop();

    expect(await statusOf(later.id)).toBe("IN_PROGRESS");
    expect(counts.listActive).toBe(1);
    expect(counts.changesSince).toBeGreaterThan(5);
    expect(backend.polled.slice(pollsAfterEnd)).not.toContain(before.id);
    expect(backend.polled.slice(pollsAfterEnd)).toContain(later.id);
  });

  it("reads the store in full again after the change stream failed, losing no job written meanwhile", async () => {
    const backend = new PerJobBackend();
    const { store: watched, counts } = counted(store);
    const reconciler = new Reconciler(watched, registryOf(backend), { intervalMs: 20, log: quiet });
    reconciler.start();
    await until(() => counts.changesSince > 0);
    // The stream fails on every read until the job below is written: each pass meanwhile falls back
    // to a full read (how many depends on the passes that fit in, so none is counted exactly).
    counts.failChanges = Number.POSITIVE_INFINITY;
    await until(() => counts.listActive >= 2);
    const during = await submittedJob(reconciler);
    const answered = counts.changesAnswered;
    counts.failChanges = 0;
    await until(() => backend.polled.includes(during.id) && counts.changesAnswered > answered);
    // Once the stream answers again, passes read what changed and never the whole store.
    const fullReads = counts.listActive;
    await until(() => counts.changesAnswered >= answered + 4);
    await reconciler.stop();
    expect(backend.polled).toContain(during.id);
    expect(counts.listActive).toBe(fullReads);
    expect(reconciler.health().lastPassError).toBeUndefined();
  });

  it("after a restart reads the store once and carries on with the jobs a stopped reconciler left", async () => {
    const first = new PerJobBackend();
    const old = new Reconciler(store, registryOf(first), { intervalMs: 20, log: quiet });
    const left = await submittedJob(old);
    await old.stop();

    const backend = new PerJobBackend();
    backend.answers.set(left.id, { status: "COMPLETED" });
    const { store: watched, counts } = counted(store);
    const restarted = new Reconciler(watched, registryOf(backend), { intervalMs: 20, log: quiet });
    restarted.start();
    await until(async () => (await statusOf(left.id)) === "COMPLETED");
    await restarted.stop();
    expect(await statusOf(left.id)).toBe("COMPLETED");
    expect(counts.listActive).toBe(1);
  });
});
