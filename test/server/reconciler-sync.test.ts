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
  SyncResult,
} from "../../src/server/backends/types";
import { Reconciler } from "../../src/server/reconciler";
import { openStore, type Store } from "../../src/server/store";
import { registryOf } from "../helpers/backend-job";
import { seedEmbeddedStore } from "../helpers/store-template";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The reconciler against the real embedded store, with a backend whose list sync each test scripts
// (a stand-in: which jobs a list settles is what is under test here, not a cloud's answer).

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };
let dataDir: string;
let store: Store;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trainkit-reconciler-sync-"));
  await seedEmbeddedStore(dataDir);
  store = await openStore({ dataDir });
});

afterAll(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A backend that reports by list what `listed` says, and records every call it gets. */
class ListingBackend implements Backend<"vertex-ai"> {
  readonly name = "vertex-ai" as const;
  readonly syncs: { ids: string[]; since: Date | undefined }[] = [];
  readonly polled: string[] = [];
  readonly canceled: string[] = [];
  listed = new Map<string, PollResult | "unchanged">();

  async submit(job: BackendJob<"vertex-ai">): Promise<SubmitResult> {
    return { cloudJobIdentifier: { job_name: `native-${job.id}` }, status: "PENDING" };
  }
  async sync(jobs: readonly BackendJob<"vertex-ai">[], since: Date | undefined): Promise<SyncResult> {
    this.syncs.push({ ids: jobs.map((j) => j.id), since });
    return new Map([...this.listed].filter(([id]) => jobs.some((j) => j.id === id)));
  }
  async poll(job: BackendJob<"vertex-ai">): Promise<PollResult> {
    this.polled.push(job.id);
    return { status: "COMPLETED" };
  }
  async cancel(job: BackendJob<"vertex-ai">): Promise<void> {
    this.canceled.push(job.id);
  }
}

async function submittedJob(reconciler: Reconciler) {
  const id = randomUUID();
  const { job } = await store.insertJob({
    id,
    accountId: "acct-1",
    backend: "vertex-ai",
    name: "job",
    request: VALID_REQUESTS["vertex-ai"] as never,
    requestHash: id,
    idempotencyKey: null,
    createdAt: new Date(),
  });
  return reconciler.submit(job);
}

async function until(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

const statusOf = async (id: string) => (await store.getJobById(id))?.status;

describe("the reconciler with a backend that reads its jobs by list", () => {
  it("records what the list settled, polls only the jobs it left out, and leaves unchanged ones alone", async () => {
    const backend = new ListingBackend();
    const reconciler = new Reconciler(store, registryOf(backend), {
      intervalMs: 20,
      syncIntervalMs: 150,
      log: quiet,
    });
    const running = await submittedJob(reconciler);
    const unchanged = await submittedJob(reconciler);
    const finished = await submittedJob(reconciler);
    backend.listed.set(running.id, { status: "IN_PROGRESS" });
    backend.listed.set(unchanged.id, "unchanged");

    reconciler.start();
    await until(
      async () =>
        (await statusOf(running.id)) === "IN_PROGRESS" && (await statusOf(finished.id)) === "COMPLETED",
    );
    await new Promise((r) => setTimeout(r, 400));
    await reconciler.stop();

    expect(await statusOf(running.id)).toBe("IN_PROGRESS");
    expect(await statusOf(finished.id)).toBe("COMPLETED");
    expect(await statusOf(unchanged.id)).toBe("PENDING");
    expect([...new Set(backend.polled)]).toEqual([finished.id]);
    // The first sync has no previous one to count from; later ones get when it started.
    expect(backend.syncs[0]!.since).toBeUndefined();
    expect(backend.syncs.at(-1)!.since).toBeInstanceOf(Date);
    // Finished jobs drop out of what later syncs are asked about.
    expect(backend.syncs.at(-1)!.ids).not.toContain(finished.id);
  });

  it("syncs once per sync interval however often the passes run", async () => {
    const backend = new ListingBackend();
    const reconciler = new Reconciler(store, registryOf(backend), {
      intervalMs: 10,
      syncIntervalMs: 60_000,
      log: quiet,
    });
    const job = await submittedJob(reconciler);
    backend.listed.set(job.id, "unchanged");
    reconciler.start();
    await new Promise((r) => setTimeout(r, 500));
    await reconciler.stop();
    expect(backend.syncs).toHaveLength(1);
    // (Jobs the earlier tests left active are not in this list, so they are polled: not this one.)
    expect(backend.polled).not.toContain(job.id);
  });

  it("still sends a cancel that did not go out, for a job the list settles", async () => {
    const backend = new ListingBackend();
    const reconciler = new Reconciler(store, registryOf(backend), {
      intervalMs: 20,
      syncIntervalMs: 100,
      log: quiet,
    });
    const job = await submittedJob(reconciler);
    backend.listed.set(job.id, { status: "IN_PROGRESS" });
    await store.requestCancel(job.id);
    reconciler.start();
    await until(async () => backend.canceled.includes(job.id));
    await reconciler.stop();
    expect(backend.canceled).toEqual([job.id]);
  });
});
