import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BackendRegistry } from "../../src/server/backends";
import {
  type Backend,
  BackendError,
  type BackendLogger,
  type SubmitResult,
} from "../../src/server/backends/types";
import { Reconciler } from "../../src/server/reconciler";
import { openStore, type Store } from "../../src/server/store";
import type { Backend as BackendName, JobStatus } from "../../src/spec";
import { seedEmbeddedStore } from "../helpers/store-template";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The reconciler against the real embedded store, with backends whose answers each test scripts:
// the races below need a submit that is still in flight at a chosen moment, which no real backend
// here can be made to do on cue.

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };
let dataDir: string;
let store: Store;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "trainkit-reconciler-"));
  await seedEmbeddedStore(dataDir);
  store = await openStore({ dataDir });
});

afterAll(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A backend whose submits wait until the test settles them, and which records what it was asked. */
class ScriptedBackend<B extends BackendName> implements Backend<B> {
  readonly submitted: string[] = [];
  readonly canceled: string[] = [];
  private readonly pending = new Map<string, { resolve(r: SubmitResult): void; reject(e: Error): void }>();
  constructor(
    readonly name: B,
    private readonly capacity = true,
    private readonly holdSubmits = false,
  ) {}
  submit(job: { id: string }): Promise<SubmitResult> {
    this.submitted.push(job.id);
    if (!this.holdSubmits) return Promise.resolve({ cloudJobIdentifier: { job_name: job.id } });
    return new Promise((resolve, reject) => this.pending.set(job.id, { resolve, reject }));
  }
  settle(jobId: string, outcome: SubmitResult | Error): void {
    const p = this.pending.get(jobId)!;
    if (outcome instanceof Error) p.reject(outcome);
    else p.resolve(outcome);
  }
  async poll(job: { id: string }): Promise<{ status: JobStatus }> {
    return { status: this.canceled.includes(job.id) ? "CANCELED" : "IN_PROGRESS" };
  }
  async cancel(job: { id: string }): Promise<void> {
    this.canceled.push(job.id);
  }
  hasCapacity(): boolean {
    return this.capacity;
  }
}

function registry(backends: Partial<{ [B in BackendName]: Backend<B> }>): BackendRegistry {
  const slot = <B extends BackendName>(name: B) => {
    const backend = backends[name] as Backend<B> | undefined;
    return backend ? { backend } : { missing: [] };
  };
  return {
    "vertex-ai": slot("vertex-ai"),
    sagemaker: slot("sagemaker"),
    "azure-ml": slot("azure-ml"),
    kubernetes: slot("kubernetes"),
    local: slot("local"),
  };
}

async function insert(backend: BackendName, createdAt = new Date()) {
  const id = randomUUID();
  const { job } = await store.insertJob({
    id,
    accountId: "acct-1",
    backend,
    name: "job",
    request: VALID_REQUESTS[backend] as never,
    requestHash: id,
    idempotencyKey: null,
    createdAt,
  });
  return job;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the reconciler, when a cancel arrives while a submit is in flight", () => {
  it("ends the job CANCELED when the submit then fails with a retryable error, and never submits it again", async () => {
    const sagemaker = new ScriptedBackend("sagemaker", true, true);
    const reconciler = new Reconciler(store, registry({ sagemaker }), { intervalMs: 50, log: quiet });
    const job = await insert("sagemaker");
    const submitting = reconciler.submit(job);
    await until(
      async () => sagemaker.submitted.length,
      (n) => n === 1,
    );
    expect((await store.requestCancel(job.id))?.status).toBe("PENDING");
    sagemaker.settle(job.id, new BackendError(502, "cloud_unavailable", "SageMaker answered 503", true));
    expect((await submitting).status).toBe("CANCELED");

    reconciler.start();
    await new Promise((r) => setTimeout(r, 300));
    await reconciler.stop();
    expect(sagemaker.submitted).toEqual([job.id]);
    expect((await store.getJobById(job.id))?.status).toBe("CANCELED");
  });

  it("cancels what the submit started when the submit succeeds", async () => {
    const sagemaker = new ScriptedBackend("sagemaker", true, true);
    const reconciler = new Reconciler(store, registry({ sagemaker }), { intervalMs: 50, log: quiet });
    const job = await insert("sagemaker");
    const submitting = reconciler.submit(job);
    await until(
      async () => sagemaker.submitted.length,
      (n) => n === 1,
    );
    await store.requestCancel(job.id);
    sagemaker.settle(job.id, {
      cloudJobIdentifier: { training_job_name: "native-1" },
      status: "IN_PROGRESS",
    });
    await submitting;

    reconciler.start();
    const final = await until(
      () => store.getJobById(job.id),
      (j) => j?.status === "CANCELED",
    );
    await reconciler.stop();
    expect(sagemaker.canceled).toEqual([job.id]);
    expect(final?.status).toBe("CANCELED");
  });
});

describe("the reconciler's queue", () => {
  it("submits another backend's waiting job even behind more than a pass's worth of jobs waiting for room", async () => {
    const local = new ScriptedBackend("local", false);
    const sagemaker = new ScriptedBackend("sagemaker");
    const base = Date.now() - 3_600_000;
    for (let i = 0; i < 101; i++) await insert("local", new Date(base + i));
    const cloudJob = await insert("sagemaker", new Date(base + 1000));
    const reconciler = new Reconciler(store, registry({ local, sagemaker }), { intervalMs: 50, log: quiet });
    reconciler.start();
    const submitted = await until(
      async () => sagemaker.submitted,
      (ids) => ids.includes(cloudJob.id),
    );
    await reconciler.stop();
    expect(submitted).toContain(cloudJob.id);
    expect(local.submitted).toEqual([]);
  });
});

/** A backend whose every call waits forever, as a cloud behind a dead network path does. */
class HungBackend<B extends BackendName> implements Backend<B> {
  submits = 0;
  polls = 0;
  constructor(readonly name: B) {}
  submit(): Promise<SubmitResult> {
    this.submits += 1;
    return new Promise(() => {});
  }
  poll(): Promise<{ status: JobStatus }> {
    this.polls += 1;
    return new Promise(() => {});
  }
  cancel(): Promise<void> {
    return new Promise(() => {});
  }
}

describe("the reconciler with a backend that never answers", () => {
  it("submits and polls the other backends' jobs while the hung backend's calls are still waiting", async () => {
    const hung = new HungBackend("vertex-ai");
    const sagemaker = new ScriptedBackend("sagemaker");
    const hungJob = await insert("vertex-ai");
    await store.claimSubmit(hungJob.id, 0);
    await store.recordSubmitted(hungJob.id, {
      cloudJobIdentifier: {},
      backendState: null,
      status: "PENDING",
    });
    const reconciler = new Reconciler(store, registry({ "vertex-ai": hung, sagemaker }), {
      intervalMs: 50,
      callTimeoutMs: 3_000,
      log: quiet,
    });
    reconciler.start();
    await until(
      async () => hung.polls,
      (n) => n >= 1,
    );
    const other = await insert("sagemaker");
    reconciler.kick();
    const running = await until(
      () => store.getJobById(other.id),
      (j) => j?.status === "IN_PROGRESS",
    );
    const pollsMeanwhile = hung.polls;
    const lastPassAt = reconciler.health().lastPassAt;
    await store.transition(hungJob.id, { status: "CANCELED" });
    await store.transition(other.id, { status: "COMPLETED" });
    await reconciler.stop();
    expect(running?.status).toBe("IN_PROGRESS");
    // The hung poll was still in flight, so the job was not handed out a second time meanwhile.
    expect(pollsMeanwhile).toBe(1);
    expect(lastPassAt).toBeInstanceOf(Date);
  });

  it("gives up a hung poll at the call timeout and polls the job again", async () => {
    const hung = new HungBackend("vertex-ai");
    const job = await insert("vertex-ai");
    await store.claimSubmit(job.id, 0);
    await store.recordSubmitted(job.id, { cloudJobIdentifier: {}, backendState: null, status: "PENDING" });
    const reconciler = new Reconciler(store, registry({ "vertex-ai": hung }), {
      intervalMs: 50,
      callTimeoutMs: 200,
      log: quiet,
    });
    reconciler.start();
    const polls = await until(
      async () => hung.polls,
      (n) => n >= 3,
    );
    await store.transition(job.id, { status: "CANCELED" });
    await reconciler.stop();
    expect(polls).toBeGreaterThanOrEqual(3);
  });

  it("ends a job whose submit never answers FAILED after the bounded attempts, saying what to check", async () => {
    const hung = new HungBackend("vertex-ai");
    const job = await insert("vertex-ai");
    const reconciler = new Reconciler(store, registry({ "vertex-ai": hung }), {
      intervalMs: 50,
      callTimeoutMs: 100,
      submitMaxAttempts: 2,
      log: quiet,
    });
    reconciler.start();
    const failed = await until(
      () => store.getJobById(job.id),
      (j) => j?.status === "FAILED",
    );
    await reconciler.stop();
    expect(failed?.status).toBe("FAILED");
    expect(hung.submits).toBe(2);
    const reason = failed?.result?.failure_reason ?? "";
    expect(reason).toContain("did not accept the job after 2 submit attempt(s)");
    expect(reason).toContain("did not answer submit within 0.1 s");
    expect(reason).toContain("TRAINKIT_BACKEND_CALL_TIMEOUT_MS");
    // The cancel of whatever an attempt made hung too, which the reason says instead of claiming nothing was made.
    expect(reason).toContain("could not be canceled");
  });

  it("submits a backend's new job while every poll lane of that backend is taken by hung status calls", async () => {
    class HungPolls extends ScriptedBackend<"azure-ml"> {
      polls = 0;
      override poll(): Promise<{ status: JobStatus }> {
        this.polls += 1;
        return new Promise(() => {});
      }
    }
    const azure = new HungPolls("azure-ml");
    const active = [];
    for (let i = 0; i < 3; i++) {
      const job = await insert("azure-ml");
      await store.claimSubmit(job.id, 0);
      await store.recordSubmitted(job.id, { cloudJobIdentifier: {}, backendState: null, status: "PENDING" });
      active.push(job);
    }
    const reconciler = new Reconciler(store, registry({ "azure-ml": azure }), {
      intervalMs: 50,
      callTimeoutMs: 3_000,
      concurrency: 2,
      log: quiet,
    });
    reconciler.start();
    await until(
      async () => azure.polls,
      (n) => n >= 2,
    );
    const fresh = await insert("azure-ml");
    reconciler.kick();
    const submitted = await until(
      () => store.getJobById(fresh.id),
      (j) => j?.submittedAt !== null,
    );
    const pollsMeanwhile = azure.polls;
    for (const job of [...active, fresh]) await store.transition(job.id, { status: "CANCELED" });
    await reconciler.stop();
    expect(submitted?.submittedAt).toBeInstanceOf(Date);
    // Two polls in flight, the third job's poll waiting for a free place in the lane.
    expect(pollsMeanwhile).toBe(2);
  });
});

/** A backend that answers its first `throttles` submits with the throttling error `error()` gives. */
class ThrottlingBackend<B extends BackendName> extends ScriptedBackend<B> {
  attempts = 0;
  constructor(
    name: B,
    private throttles: number,
    private readonly error: () => BackendError,
  ) {
    super(name);
  }
  override submit(job: { id: string }): Promise<SubmitResult> {
    this.attempts += 1;
    if (this.throttles > 0) {
      this.throttles -= 1;
      return Promise.reject(this.error());
    }
    return super.submit(job);
  }
}

describe("the reconciler with a backend that throttles submits", () => {
  // What the azure-ml and kubernetes backends raise for ARM's TooManyRequests and a Kubernetes 429
  // (cloudError's throttled kind), scripted here: neither backend has a pace of its own.
  it.each([
    ["azure-ml", "Azure ML refused the job (TooManyRequests, 429): rate exceeded"],
    ["kubernetes", "the Kubernetes API answered 429: Too many requests"],
  ] as const)(
    "keeps a %s job PENDING with the throttle shown, past the attempts a failing submit gets, then submits it once",
    async (name, message) => {
      const backend = new ThrottlingBackend(
        name,
        4,
        () => new BackendError(429, "cloud_throttled", message, true),
      );
      const job = await insert(name);
      const reconciler = new Reconciler(store, registry({ [name]: backend }), {
        intervalMs: 50,
        submitMaxAttempts: 2,
        log: quiet,
      });
      const first = await reconciler.submit(job);
      expect(first.status).toBe("PENDING");
      expect(first.lastError).toBe(
        `throttled: ${message} The job stays PENDING and is submitted again when its turn comes.`,
      );
      expect(first.submitAttempts).toBe(0);
      reconciler.start();
      const submitted = await until(
        () => store.getJobById(job.id),
        (j) => j?.submittedAt !== null,
      );
      await reconciler.stop();
      expect(submitted?.status).toBe("PENDING");
      expect(submitted?.submittedAt).toBeInstanceOf(Date);
      expect(backend.attempts).toBe(5);
      expect(backend.submitted).toEqual([job.id]);
    },
  );

  it("does not retry a used-up resource quota (429, not retryable): the job ends FAILED with the cloud's message", async () => {
    const backend = new ThrottlingBackend(
      "azure-ml",
      1,
      () =>
        new BackendError(
          429,
          "cloud_quota_exceeded",
          "Azure ML refused the job (QuotaExceeded, 429): no GPUs left",
        ),
    );
    const job = await insert("azure-ml");
    const reconciler = new Reconciler(store, registry({ "azure-ml": backend }), {
      intervalMs: 50,
      log: quiet,
    });
    await expect(reconciler.submit(job)).rejects.toMatchObject({ code: "cloud_quota_exceeded" });
    expect((await store.getJobById(job.id))?.status).toBe("FAILED");
    expect(backend.attempts).toBe(1);
  });
});
