import { isTerminal } from "../spec";
import type { BackendRegistry } from "./backends";
import { SUBMIT_RATE_VARIABLES } from "./backends/cloud-common";
import { type Backend, BackendError, type BackendLogger, type PollResult } from "./backends/types";
import { toBackendJob } from "./jobs";
import { asRecovering, refusedSubmit, settle } from "./recovery";
import type { JobRecord, Store } from "./store/types";
import { type SubmitPace, submitPace } from "./submit-pace";

export interface ReconcilerOptions {
  intervalMs: number;
  /** How long a submit claim holds before another server may take the job. Defaults to 60 s. */
  submitLeaseMs?: number;
  /**
   * The longest wait for one backend call (submit, poll, cancel): past it the call counts as failed
   * and the job is tried again on a later pass. Defaults to 60 s.
   */
  callTimeoutMs?: number;
  /** Backend calls in flight at once per backend, for submissions and for polls each. Defaults to 8. */
  concurrency?: number;
  /** Submit attempts after which a job whose submit keeps failing ends FAILED. Defaults to 5. */
  submitMaxAttempts?: number;
  /** Time from the first submit attempt after which a failing submit ends the job FAILED. Defaults to 15 min. */
  submitTimeoutMs?: number;
  /**
   * How often a backend that reads its jobs by list (`sync`) does so; its jobs are not read one by
   * one in between. Defaults to 30 s.
   */
  syncIntervalMs?: number;
  /**
   * Submissions per minute per backend, overriding what each backend states (its cloud's published
   * quota). A backend named in neither is not paced.
   */
  submitsPerMinute?: Partial<Record<string, number>>;
  log: BackendLogger;
}

/** What readiness reports about the reconciler. */
export interface ReconcilerHealth {
  /** When the last pass finished reading the store and handing out its work; undefined before the first. */
  lastPassAt: Date | undefined;
  /** Why the last pass failed, when it did. */
  lastPassError: string | undefined;
  /** Backend calls in flight now. */
  inFlight: number;
}

/**
 * Whether a submit failed because the cloud refused it for its request rate (HTTP 429,
 * `ThrottlingException`, Vertex AI's `RATE_LIMIT_EXCEEDED`), as opposed to a used-up resource quota,
 * which is final and not retryable.
 */
function isThrottled(err: unknown): err is BackendError {
  return err instanceof BackendError && err.retryable && err.status === 429;
}

/** A throttled job's `status_reason`: the cloud's answer and the pace it waits at now. */
function throttledReason(job: JobRecord, err: BackendError, pacer: SubmitPace | null): string {
  const setting = SUBMIT_RATE_VARIABLES[job.backend];
  const pace = pacer
    ? ` The ${job.backend} backend now submits at most ${Math.round(pacer.currentPerMinute * 10) / 10} jobs a minute (from ${pacer.perMinute}${setting ? `, set by ${setting}` : ""}), recovering as the cloud stops throttling.`
    : "";
  return `throttled: ${err.message.trim()}${pace} The job stays PENDING and is submitted again when its turn comes.`;
}

/** How many waiting jobs one pass looks at. */
const SUBMIT_BATCH = 100;

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Calls of one kind to one backend, at most `limit` at a time; the rest wait in order. Submissions
 * and polls have lanes of their own, so new jobs never queue behind status reads.
 */
class Lane {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await work();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Moves jobs between states. It keeps nothing that matters in memory: after a restart it reads the
 * store and carries on, relying on every backend call being idempotent per job id.
 *
 * A pass reads the store and hands each job that needs a call to its backend's lane; it does not
 * wait for the calls. Every call is bounded by `callTimeoutMs`, and a job has at most one call in
 * flight, so a hung cloud delays only its own jobs and never the pass, another backend, or the
 * submissions of the same backend.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** Jobs this process already asked its backend to cancel; after a restart the request is repeated once. */
  private readonly cancelSent = new Set<string>();
  /** Jobs with a submit or poll handed out and not finished. */
  private readonly busy = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly lanes = new Map<string, Lane>();
  private readonly submitLeaseMs: number;
  private readonly callTimeoutMs: number;
  private readonly concurrency: number;
  private readonly submitMaxAttempts: number;
  private readonly submitTimeoutMs: number;
  private readonly syncIntervalMs: number;
  /** Per backend: when its last list sync started, and when its last successful one did. */
  private readonly syncs = new Map<
    string,
    { startedAt: number; since: Date | undefined; running: boolean }
  >();
  private readonly pacers = new Map<string, SubmitPace | null>();
  /** Backends that read by list and told of a change to one of their jobs: synced at the next pass. */
  private readonly syncSoon = new Set<string>();
  /** The waiting reason last recorded per queued job, so each is written once. */
  private readonly noted = new Map<string, string>();
  private lastPassAt: Date | undefined;
  private lastPassError: string | undefined;
  /** Submitted, unfinished jobs by id, as of `changes` (see `activeJobs`). */
  private active = new Map<string, JobRecord>();
  /** Where the store's change stream was last read; undefined until the first full read. */
  private changes: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly backends: BackendRegistry,
    private readonly options: ReconcilerOptions,
  ) {
    this.submitLeaseMs = options.submitLeaseMs ?? 60_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.concurrency = options.concurrency ?? 8;
    this.submitMaxAttempts = options.submitMaxAttempts ?? 5;
    this.submitTimeoutMs = options.submitTimeoutMs ?? 15 * 60_000;
    this.syncIntervalMs = options.syncIntervalMs ?? 30_000;
    // A claim must outlive the call it guards, or another replica could submit the job meanwhile.
    if (this.submitLeaseMs <= this.callTimeoutMs) this.submitLeaseMs = this.callTimeoutMs + 10_000;
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
      .then(() => {
        this.lastPassAt = new Date();
        this.lastPassError = undefined;
      })
      .catch((err) => {
        this.lastPassError = errorMessage(err);
        this.options.log.error({ err: errorMessage(err) }, "reconcile pass failed");
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /**
   * What backends call through `ctx.notify` when one of their jobs changed. A backend that reads
   * its jobs by list (and learns of the change from a watch) is synced at the next pass, before
   * its interval is up.
   */
  notify = (jobId: string): void => {
    const job = this.active.get(jobId);
    if (job && this.backendOf(job)?.sync) this.syncSoon.add(job.backend);
    this.kick();
  };

  health(): ReconcilerHealth {
    return { lastPassAt: this.lastPassAt, lastPassError: this.lastPassError, inFlight: this.busy.size };
  }

  /** Stops passes and waits for the calls in flight, each of which is bounded by `callTimeoutMs`. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await Promise.allSettled([...this.tasks]);
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
    try {
      return await this.submitAllowedNow(job);
    } catch (err) {
      // The job is stored already: it stays PENDING for a pass to submit, and the caller is
      // answered with it rather than with an error that would make a client create it again.
      this.options.log.warn(
        { jobId: job.id, err: errorMessage(err) },
        "could not tell whether the job may be submitted at once; a pass submits it",
      );
      this.kick();
      return false;
    }
  }

  private async submitAllowedNow(job: JobRecord): Promise<boolean> {
    const backend = this.backendOf(job);
    if (!backend) return false;
    const pacer = this.pacer(job.backend, backend);
    if (!backend.hasCapacity && !pacer) return true;
    if (backend.hasCapacity && !backend.hasCapacity()) return false;
    if (await this.store.hasOlderUnsubmitted(job)) {
      if (pacer) {
        // Another server may have changed a shared pace since this one last asked.
        await pacer.read();
        await this.noteQueued(job, pacer);
      }
      this.kick();
      return false;
    }
    if (pacer && !(await pacer.tryTake())) {
      await this.noteQueued(job, pacer);
      this.kick();
      return false;
    }
    return true;
  }

  /**
   * One submission slot of the pass, or none when the shared pace cannot be read (the store is
   * unreachable): the backend's jobs wait for a later pass, and the other backends go on.
   */
  private async takeSlot(job: JobRecord, pacer: SubmitPace): Promise<boolean> {
    try {
      return await pacer.tryTake();
    } catch (err) {
      this.options.log.warn(
        { backend: job.backend, err: errorMessage(err) },
        "could not take a submission slot; the backend's jobs wait for a later pass",
      );
      return false;
    }
  }

  /**
   * The backend's submission pace, or null for a backend that is not paced. On Postgres it is kept
   * in the store and shared with every server there; on the embedded store it stays in memory.
   */
  private pacer(name: string, backend: Backend): SubmitPace | null {
    let pacer = this.pacers.get(name);
    if (pacer === undefined) {
      const perMinute = this.options.submitsPerMinute?.[name] ?? backend.submitsPerMinute;
      pacer = perMinute === undefined ? null : submitPace(this.store, name, perMinute);
      this.pacers.set(name, pacer);
    }
    return pacer;
  }

  /** Shows on a job held back by its backend's pace why it waits (written once per reason). */
  private async noteQueued(job: JobRecord, pacer: SubmitPace): Promise<void> {
    const pace = Math.round(pacer.currentPerMinute * 10) / 10;
    const slowed =
      pace < pacer.perMinute ? `, slowed from ${pacer.perMinute} after the cloud throttled a submission` : "";
    const reason = `queued: the ${job.backend} backend submits at most ${pace} jobs a minute${slowed}; this job is submitted when its turn comes (${SUBMIT_RATE_VARIABLES[job.backend] ?? "the server's settings"} sets the pace)`;
    if (this.noted.get(job.id) === reason) return;
    this.noted.set(job.id, reason);
    await this.store
      .noteWaiting(job.id, reason)
      .catch((err) =>
        this.options.log.warn(
          { jobId: job.id, err: errorMessage(err) },
          "could not record why the job waits",
        ),
      );
  }

  /**
   * One backend call, bounded: past `callTimeoutMs` it fails with a retryable `BackendError` even if
   * the backend never answers (the backends' own SDK timeouts end the abandoned call later).
   */
  private async call<T>(job: JobRecord, action: string, work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const pending = work();
    pending.catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BackendError(
              504,
              "backend_timeout",
              `the ${job.backend} backend did not answer ${action} within ${this.callTimeoutMs / 1000} s; check that the server reaches the cloud's endpoint and that its credentials provider answers (TRAINKIT_BACKEND_CALL_TIMEOUT_MS sets the wait)`,
              true,
            ),
          ),
        this.callTimeoutMs,
      );
    });
    try {
      return await Promise.race([pending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Submits one PENDING job, guarded by a claim in the store so no job is submitted twice. A
   * retryable failure gives the claim back for a later pass, until the job has used up its attempts
   * or its time: then the job ends FAILED with the backend's last message. A final failure marks the
   * job FAILED and is rethrown for the API caller. Returns the job as it stands afterwards.
   */
  async submit(job: JobRecord): Promise<JobRecord> {
    const backend = this.backendOf(job);
    if (!backend) return job;
    const claimed = await this.store.claimSubmit(job.id, this.submitLeaseMs);
    if (!claimed) return (await this.store.getJobById(job.id)) ?? job;
    this.noted.delete(job.id);
    try {
      const submitted = await this.call(claimed, "submit", () => backend.submit(toBackendJob(claimed)));
      const recorded = await this.store.recordSubmitted(job.id, {
        cloudJobIdentifier: submitted.cloudJobIdentifier,
        backendState: submitted.backendState ?? null,
        status: submitted.status ?? "PENDING",
      });
      // A cancel that arrived while the submit was in flight is carried out by the next pass.
      if (recorded?.cancelRequestedAt) this.kick();
      return recorded ?? (await this.store.getJobById(job.id)) ?? claimed;
    } catch (err) {
      const noCapacity = refusedSubmit(err);
      if (noCapacity) {
        // A quota or capacity refusal ends this attempt `no_capacity`; the retry policy decides
        // whether the job waits for its next attempt or ends FAILED with the cloud's reason.
        const settled = await settle(this.store, claimed, noCapacity);
        if (settled.kind === "restarted") {
          this.options.log.warn(
            { jobId: job.id, code: (err as BackendError).code },
            "no capacity; restarting",
          );
          setTimeout(() => this.kick(), settled.delayMs).unref();
          return settled.job;
        }
        const failed = await this.store.transition(job.id, settled.change);
        this.options.log.warn({ jobId: job.id, code: (err as BackendError).code }, "backend refused job");
        throw Object.assign(err as BackendError, { job: failed ?? claimed });
      }
      if (err instanceof BackendError && !err.retryable) {
        const failed = await this.store.transition(job.id, {
          status: "FAILED",
          result: { failure_reason: err.message },
        });
        this.options.log.warn({ jobId: job.id, code: err.code }, "backend refused job");
        throw Object.assign(err, { job: failed ?? claimed });
      }
      // A throttled submit slows the backend's pace and waits its turn again; it never ends the job,
      // and it does not count as an attempt. The retry finds the native job by the same name, so
      // a create that went through after all is adopted, not made twice.
      if (isThrottled(err)) {
        const pacer = this.pacer(job.backend, backend);
        await pacer
          ?.slowDown()
          .catch((slowErr) =>
            this.options.log.warn(
              { backend: job.backend, err: errorMessage(slowErr) },
              "could not lower the submission pace",
            ),
          );
        await this.store.releaseClaim(job.id, throttledReason(job, err, pacer), { throttled: true });
        this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "submit throttled; pace lowered");
        return (await this.store.getJobById(job.id)) ?? claimed;
      }
      if (this.submitExhausted(claimed) && !claimed.cancelRequestedAt)
        return this.giveUp(claimed, backend, err);
      await this.store.releaseClaim(job.id, errorMessage(err));
      this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "submit failed; will retry");
      return (await this.store.getJobById(job.id)) ?? claimed;
    }
  }

  /** Whether a server holds the job's submit claim and its lease has not run out (checked by this server's clock). */
  private claimedElsewhere(job: JobRecord): boolean {
    const claimedAt = job.submitClaimedAt?.getTime();
    return claimedAt !== undefined && Date.now() - claimedAt < this.submitLeaseMs;
  }

  private submitExhausted(job: JobRecord): boolean {
    const started = job.submitStartedAt?.getTime() ?? Date.now();
    return job.submitAttempts >= this.submitMaxAttempts || Date.now() - started >= this.submitTimeoutMs;
  }

  /**
   * Ends a job whose submit kept failing. The last attempt may have created the native job with its
   * answer lost, so a cancel is sent for it first (every backend names the native job after the
   * API's job id); what happened to it is part of the failure reason.
   */
  private async giveUp(job: JobRecord, backend: Backend, err: unknown): Promise<JobRecord> {
    const seconds = Math.round((Date.now() - (job.submitStartedAt?.getTime() ?? Date.now())) / 1000);
    let cleanup: string;
    try {
      await this.call(job, "cancel", () => backend.cancel(toBackendJob(job)));
      cleanup = "A cancel was sent for the native job an attempt created.";
    } catch (cancelErr) {
      const notFound = cancelErr instanceof BackendError && cancelErr.status === 404;
      cleanup = notFound
        ? "No native job was created."
        : `A native job an attempt may have created could not be canceled (${errorMessage(cancelErr)}); look for it in the cloud's console under the job id ${job.id}.`;
    }
    const last = errorMessage(err)
      .trim()
      .replace(/[.;]?$/, ".");
    const reason = `the ${job.backend} backend did not accept the job after ${job.submitAttempts} submit attempt(s) over ${seconds} s; last error: ${last} ${cleanup} Check the cloud's service health, the server's network path to it and its credentials, then submit the job again (TRAINKIT_SUBMIT_MAX_ATTEMPTS and TRAINKIT_SUBMIT_TIMEOUT_MS set the bounds).`;
    const failed = await this.store.transition(job.id, {
      status: "FAILED",
      result: { failure_reason: reason },
    });
    this.options.log.error({ jobId: job.id, err: errorMessage(err) }, "submit gave up; job FAILED");
    return failed ?? (await this.store.getJobById(job.id)) ?? job;
  }

  /** Sends the job's cancel to its backend; a failure is retried by a later pass. */
  async cancel(job: JobRecord): Promise<void> {
    const backend = this.backendOf(job);
    if (!backend) return;
    try {
      await this.call(job, "cancel", () => backend.cancel(toBackendJob(job)));
      this.cancelSent.add(job.id);
    } catch (err) {
      this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "cancel failed; will retry");
    }
  }

  private lane(backend: string, kind: "submit" | "poll", limit: number): Lane {
    const key = `${backend}:${kind}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = new Lane(limit);
      this.lanes.set(key, lane);
    }
    return lane;
  }

  /** Hands one job's work to a lane, unless the job already has work handed out. */
  private dispatch(job: JobRecord, lane: Lane, work: () => Promise<void>): void {
    if (this.busy.has(job.id)) return;
    this.busy.add(job.id);
    const task: Promise<void> = lane
      .run(async () => {
        if (!this.stopped) await work();
      })
      .catch((err) => this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "job work failed"))
      .finally(() => {
        this.busy.delete(job.id);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
  }

  private async tick(): Promise<void> {
    await this.submitWaiting();
    await this.pollActive();
  }

  private async submitWaiting(): Promise<void> {
    const full = new Set<string>();
    const paced = new Set<string>();
    const seen = new Set<string>();
    const pass = async (jobs: JobRecord[]) => {
      for (const job of jobs) {
        if (this.stopped || seen.has(job.id)) continue;
        seen.add(job.id);
        const backend = this.backendOf(job);
        if (full.has(job.backend)) {
          const pacer = paced.has(job.backend) && backend ? this.pacer(job.backend, backend) : null;
          if (pacer) void this.noteQueued(job, pacer);
          continue;
        }
        // Jobs of a backend this server does not run (any longer) wait like those of a full one,
        // and never hide the other backends' jobs behind them.
        if (!backend || !this.hasCapacity(job)) {
          // Oldest first: a later job of the same backend must not overtake this one.
          full.add(job.backend);
          continue;
        }
        // A backend that limits how many jobs it runs submits one at a time, so each submit sees
        // the room the previous one left; the others submit in parallel up to the lane's bound.
        const limited = backend.hasCapacity !== undefined;
        const pacer = this.pacer(job.backend, backend);
        // A job another server holds the claim of took its slot there. It is only tried, which
        // takes the claim over once that server is gone, and never spends a second slot.
        const claimedElsewhere = this.claimedElsewhere(job);
        if (pacer && !this.busy.has(job.id) && !claimedElsewhere && !(await this.takeSlot(job, pacer))) {
          full.add(job.backend);
          paced.add(job.backend);
          void this.noteQueued(job, pacer);
          continue;
        }
        const lane = this.lane(job.backend, "submit", limited ? 1 : this.concurrency);
        this.dispatch(job, lane, async () => {
          if (limited && !backend.hasCapacity?.()) return;
          await this.submit(job).catch(() => {});
        });
      }
    };
    const first = await this.store.listUnsubmitted(SUBMIT_BATCH);
    await pass(first);
    // A long queue of one backend waiting for room must not hide the other backends' jobs behind it.
    if (first.length === SUBMIT_BATCH && full.size > 0) {
      await pass(await this.store.listUnsubmitted(SUBMIT_BATCH, [...full]));
    }
  }

  /**
   * Reads the active jobs of the backends due: every pass for those read job by job, every
   * `syncIntervalMs` for those that read their jobs by list. A pass in between reads nothing of
   * the latter from the store.
   */
  private async pollActive(): Promise<void> {
    const now = Date.now();
    const perJob: string[] = [];
    const due: string[] = [];
    for (const [name, slot] of Object.entries(this.backends)) {
      if (!("backend" in slot)) continue;
      const backend = slot.backend as Backend;
      if (!backend.sync) {
        perJob.push(name);
        continue;
      }
      const sync = this.syncs.get(name);
      if (sync?.running) continue;
      if (
        this.syncSoon.delete(name) ||
        now - (sync?.startedAt ?? Number.NEGATIVE_INFINITY) >= this.syncIntervalMs
      )
        due.push(name);
    }
    if (perJob.length === 0 && due.length === 0) return;
    const jobs = await this.activeJobs([...perJob, ...due]);
    const byBackend = new Map<string, JobRecord[]>(due.map((name) => [name, []]));
    for (const job of jobs) {
      if (this.stopped) return;
      const backend = this.backendOf(job);
      if (!backend) continue;
      const listed = byBackend.get(job.backend);
      if (listed) listed.push(job);
      else
        this.dispatch(job, this.lane(job.backend, "poll", this.concurrency), () =>
          this.pollOne(job, backend),
        );
    }
    for (const [name, listed] of byBackend) this.startSync(name, listed);
  }

  /**
   * The submitted, unfinished jobs of `backends`, oldest first, from the set this process keeps:
   * filled by one full read of the store (at the first pass, and again after the change stream
   * failed) and kept current from the store's changes since, so a pass reads what changed, not
   * what exists. Nothing in it needs to survive a restart: the next process reads the store again.
   */
  private async activeJobs(backends: readonly string[]): Promise<JobRecord[]> {
    try {
      if (this.changes === undefined) {
        // The cursor is taken first, so a write during the full read is seen again, not lost.
        const cursor = await this.store.changeCursor();
        this.active = new Map((await this.store.listActive()).map((job) => [job.id, job]));
        this.changes = cursor;
      } else {
        const { jobs, cursor } = await this.store.changesSince(this.changes);
        for (const job of jobs) {
          if (job.submittedAt !== null && !isTerminal(job.status)) this.active.set(job.id, job);
          else this.active.delete(job.id);
        }
        this.changes = cursor;
      }
    } catch (err) {
      this.changes = undefined;
      throw err;
    }
    const wanted = new Set(backends);
    return [...this.active.values()]
      .filter((job) => wanted.has(job.backend))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  /**
   * One list sync of a backend, in the background: the jobs it settles are recorded; the others
   * (and any whose cancel has not gone out) get a poll of their own.
   */
  private startSync(name: string, jobs: JobRecord[]): void {
    const backend = this.backends[name as keyof BackendRegistry];
    if (!backend || !("backend" in backend)) return;
    const target = backend.backend as Backend;
    const previous = this.syncs.get(name);
    const startedAt = Date.now();
    const state = { startedAt, since: previous?.since, running: true };
    this.syncs.set(name, state);
    const fallback = (job: JobRecord) =>
      this.dispatch(job, this.lane(name, "poll", this.concurrency), () => this.pollOne(job, target));
    const task: Promise<void> = (async () => {
      if (jobs.length === 0) {
        state.since = new Date(startedAt);
        return;
      }
      let settled: Awaited<ReturnType<NonNullable<Backend["sync"]>>>;
      try {
        settled = await target.sync!(jobs.map(toBackendJob), state.since);
        state.since = new Date(startedAt);
      } catch (err) {
        this.options.log.warn(
          { backend: name, err: errorMessage(err) },
          "list sync failed; reading jobs one by one",
        );
        settled = new Map();
      }
      for (const job of jobs) {
        if (this.stopped) return;
        const reading = settled.get(job.id);
        if (reading === undefined || (job.cancelRequestedAt && !this.cancelSent.has(job.id))) fallback(job);
        else if (reading !== "unchanged" && !this.busy.has(job.id)) await this.record(job, reading);
      }
    })()
      .catch((err) => this.options.log.warn({ backend: name, err: errorMessage(err) }, "list sync failed"))
      .finally(() => {
        state.running = false;
        this.tasks.delete(task);
        // A change told while this sync ran is read by the next one, now.
        if (this.syncSoon.has(name)) this.kick();
      });
    this.tasks.add(task);
  }

  private async pollOne(job: JobRecord, backend: Backend): Promise<void> {
    if (job.cancelRequestedAt && !this.cancelSent.has(job.id)) await this.cancel(job);
    let polled: PollResult;
    try {
      polled = await this.call(job, "poll", () => backend.poll(toBackendJob(job)));
    } catch (err) {
      this.options.log.warn({ jobId: job.id, err: errorMessage(err) }, "poll failed; will retry");
      return;
    }
    await this.record(job, polled);
  }

  /** Stores what a poll or a sync read of the job, when it says something new. */
  private async record(job: JobRecord, reading: PollResult): Promise<void> {
    const polled = asRecovering(job, reading);
    const stateChanged =
      polled.backendState !== undefined &&
      JSON.stringify(polled.backendState) !== JSON.stringify(job.backendState);
    if (polled.status === job.status && !stateChanged) return;
    // The job's retry policy decides whether an ending is final (see recovery.ts).
    const settled = await settle(this.store, job, polled);
    if (settled.kind === "restarted") {
      this.cancelSent.delete(job.id);
      setTimeout(() => this.kick(), settled.delayMs).unref();
      return;
    }
    const updated = await this.store.transition(job.id, settled.change);
    if (updated && isTerminal(updated.status)) this.cancelSent.delete(job.id);
  }
}
