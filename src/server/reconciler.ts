import { isTerminal } from "../spec";
import type { BackendRegistry } from "./backends";
import { type Backend, BackendError, type BackendLogger } from "./backends/types";
import { toBackendJob } from "./jobs";
import type { JobRecord, Store } from "./store/types";

export interface ReconcilerOptions {
  intervalMs: number;
  /** How long a submit claim holds before another server may take the job. Defaults to 60 s. */
  submitLeaseMs?: number;
  log: BackendLogger;
}

/** How many waiting jobs one pass looks at. */
const SUBMIT_BATCH = 100;

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Moves jobs between states. It keeps nothing that matters in memory: after a restart it reads the
 * store and carries on, relying on every backend call being idempotent per job id.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Jobs this process already asked its backend to cancel; after a restart the request is repeated once. */
  private readonly cancelSent = new Set<string>();
  private readonly submitLeaseMs: number;

  constructor(
    private readonly store: Store,
    private readonly backends: BackendRegistry,
    private readonly options: ReconcilerOptions,
  ) {
    this.submitLeaseMs = options.submitLeaseMs ?? 60_000;
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Runs a pass now, or right after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick()
      .catch((err) => this.options.log.error({ err: errorMessage(err) }, "reconcile pass failed"))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** What backends call through `ctx.notify` when one of their jobs changed. */
  notify = (_jobId: string): void => {
    this.kick();
  };

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private backendOf(job: JobRecord): Backend | undefined {
    const slot = this.backends[job.backend];
    return "backend" in slot ? (slot.backend as Backend) : undefined;
  }

  /** Whether the job's backend can take another job now. */
  hasCapacity(job: JobRecord): boolean {
    const backend = this.backendOf(job);
    return backend !== undefined && (backend.hasCapacity?.() ?? true);
  }

  /**
   * Whether a new job may be submitted right away: its backend has room and, for a backend that
   * limits concurrency, no older job is still waiting for that room (those go first).
   */
  async maySubmitNow(job: JobRecord): Promise<boolean> {
    const backend = this.backendOf(job);
    if (!backend) return false;
    if (!backend.hasCapacity) return true;
    if (!backend.hasCapacity()) return false;
    if (await this.store.hasOlderUnsubmitted(job)) {
      this.kick();
      return false;
    }
    return true;
  }

  /**
   * Submits one PENDING job, guarded by a claim in the store so no job is submitted twice. A
   * retryable failure gives the claim back for a later pass; a final one marks the job FAILED and
   * is rethrown for the API caller. Returns the job as it stands afterwards.
   */
  async submit(job: JobRecord): Promise<JobRecord> {
    const backend = this.backendOf(job);
    if (!backend) return job;
    const claimed = await this.store.claimSubmit(job.id, this.submitLeaseMs);
    if (!claimed) return (await this.store.getJobById(job.id)) ?? job;
    try {
      const submitted = await backend.submit(toBackendJob(claimed));
      const recorded = await this.store.recordSubmitted(job.id, {
        cloudJobIdentifier: submitted.cloudJobIdentifier,
        backendState: submitted.backendState ?? null,
        status: submitted.status ?? "PENDING",
      });
      // A cancel that arrived while the submit was in flight is carried out by the next pass.
      if (recorded?.cancelRequestedAt) this.kick();
      return recorded ?? (await this.store.getJobById(job.id)) ?? claimed;
    } catch (err) {
      if (err instanceof BackendError && !err.retryable) {
        const failed = await this.store.transition(job.id, {
          status: "FAILED",
          result: { failure_reason: err.message },
        });
        this.options.log.warn({ jobId: job.id, code: err.code }, "backend refused job");
        throw Object.assign(err, { job: failed ?? claimed });
      }
      await this.store.releaseClaim(job.id, errorMessage(err));
      this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "submit failed; will retry");
      return (await this.store.getJobById(job.id)) ?? claimed;
    }
  }

  /** Sends the job's cancel to its backend; a failure is retried by a later pass. */
  async cancel(job: JobRecord): Promise<void> {
    const backend = this.backendOf(job);
    if (!backend) return;
    try {
      await backend.cancel(toBackendJob(job));
      this.cancelSent.add(job.id);
    } catch (err) {
      this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "cancel failed; will retry");
    }
  }

  private async tick(): Promise<void> {
    await this.submitWaiting();
    await this.pollActive();
  }

  private async submitWaiting(): Promise<void> {
    const full = new Set<string>();
    const seen = new Set<string>();
    const pass = async (jobs: JobRecord[]) => {
      for (const job of jobs) {
        if (this.stopped || seen.has(job.id)) continue;
        seen.add(job.id);
        if (full.has(job.backend)) continue;
        if (!this.hasCapacity(job)) {
          // Oldest first: a later job of the same backend must not overtake this one.
          full.add(job.backend);
          continue;
        }
        await this.submit(job).catch(() => {});
      }
    };
    const first = await this.store.listUnsubmitted(SUBMIT_BATCH);
    await pass(first);
    // A long queue of one backend waiting for room must not hide the other backends' jobs behind it.
    if (first.length === SUBMIT_BATCH && full.size > 0) {
      await pass(await this.store.listUnsubmitted(SUBMIT_BATCH, [...full]));
    }
  }

  private async pollActive(): Promise<void> {
    for (const job of await this.store.listActive()) {
      if (this.stopped) return;
      const backend = this.backendOf(job);
      if (!backend) continue;
      if (job.cancelRequestedAt && !this.cancelSent.has(job.id)) await this.cancel(job);
      let polled: Awaited<ReturnType<Backend["poll"]>>;
      try {
        polled = await backend.poll(toBackendJob(job));
      } catch (err) {
        this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "poll failed; will retry");
        continue;
      }
      const stateChanged =
        polled.backendState !== undefined &&
        JSON.stringify(polled.backendState) !== JSON.stringify(job.backendState);
      if (polled.status === job.status && !stateChanged) continue;
      const updated = await this.store.transition(job.id, {
        status: polled.status,
        ...(polled.result !== undefined ? { result: polled.result } : {}),
        ...(polled.backendState !== undefined ? { backendState: polled.backendState } : {}),
      });
      if (updated && isTerminal(updated.status)) this.cancelSent.delete(job.id);
    }
  }
}
