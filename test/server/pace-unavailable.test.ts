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
import { StoreUnavailableError } from "../../src/server/store/types";
import { registryOf } from "../helpers/backend-job";
import { seedEmbeddedStore } from "../helpers/store-template";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The reconciler over the real embedded store, shown to it as a shared (Postgres) store whose
// submission pace cannot be read while `down`: how a server reacts when the database holding the
// pace every replica shares stops answering. The store's own failure is simulated; the rest is real.

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };
let dataDir: string;
let inner: Store;
let down = false;
let store: Store;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trainkit-pace-unavailable-"));
  await seedEmbeddedStore(dataDir);
  inner = await openStore({ dataDir });
  const unavailable = () => Promise.reject(new StoreUnavailableError("the database did not answer"));
  store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "kind") return "postgres";
      if ((prop === "takeSubmitSlot" || prop === "readSubmitPace" || prop === "slowSubmitPace") && down)
        return unavailable;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
});

afterAll(async () => {
  await inner.close();
  rmSync(dataDir, { recursive: true, force: true });
});

class CountingBackend implements Backend<"azure-ml"> {
  readonly name = "azure-ml" as const;
  readonly submitted: string[] = [];
  async submit(job: BackendJob<"azure-ml">): Promise<SubmitResult> {
    this.submitted.push(job.id);
    return { cloudJobIdentifier: { job_name: `native-${job.id}` }, status: "PENDING" };
  }
  async poll(): Promise<PollResult> {
    return { status: "IN_PROGRESS" };
  }
  async cancel(): Promise<void> {}
}

describe("a shared submission pace the store cannot answer for", () => {
  it("keeps the job PENDING for a later pass instead of failing its request or the pass, and submits it once the store answers", async () => {
    const backend = new CountingBackend();
    const reconciler = new Reconciler(store, registryOf(backend), {
      intervalMs: 20,
      log: quiet,
      submitsPerMinute: { "azure-ml": 600 },
    });
    const id = randomUUID();
    const { job } = await store.insertJob({
      id,
      accountId: "acct-1",
      backend: "azure-ml",
      name: "paced",
      request: VALID_REQUESTS["azure-ml"] as never,
      requestHash: id,
      idempotencyKey: null,
      createdAt: new Date(),
    });
    down = true;
    // What the create request asks before answering: it answers the stored job, not an error.
    await expect(reconciler.maySubmitNow(job)).resolves.toBe(false);

    reconciler.start();
    const passes = async (n: number) => {
      let seen = reconciler.health().lastPassAt?.getTime() ?? 0;
      for (let done = 0; done < n; ) {
        await new Promise((r) => setTimeout(r, 10));
        const at = reconciler.health().lastPassAt?.getTime() ?? 0;
        if (at > seen) [seen, done] = [at, done + 1];
      }
    };
    await passes(3);
    expect(backend.submitted).toEqual([]);
    expect(reconciler.health().lastPassError).toBeUndefined();
    expect((await store.getJobById(id))?.status).toBe("PENDING");

    down = false;
    const deadline = Date.now() + 10_000;
    while (backend.submitted.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await reconciler.stop();
    expect(backend.submitted).toEqual([id]);
  });
});
