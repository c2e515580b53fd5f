import type { Backend, JobAttempt, JobResult, JobStatus, ParsedCreateJobRequest } from "../../spec";

/** One job as the store keeps it. `backendState` and `request` never leave the server. */
export interface JobRecord {
  id: string;
  accountId: string;
  backend: Backend;
  name: string;
  status: JobStatus;
  request: ParsedCreateJobRequest;
  cloudJobIdentifier: Record<string, string> | null;
  backendState: Record<string, unknown> | null;
  result: JobResult | null;
  idempotencyKey: string | null;
  /** SHA-256 of the canonical request, to tell a retried request from a different one reusing its key. */
  requestHash: string;
  cancelRequestedAt: Date | null;
  submitAttempts: number;
  /** When a server instance took the job to submit it; cleared once the backend answered. */
  submitClaimedAt: Date | null;
  /** When the first submit attempt started; null until one has. */
  submitStartedAt: Date | null;
  submittedAt: Date | null;
  lastError: string | null;
  /** The attempt now running or waiting to be submitted: 0 for the first submission, n for restart n. */
  attempt: number;
  /** The attempts that ended, oldest first. */
  attempts: JobAttempt[];
  /** When the pending restart may be submitted (its back-off); null when none waits. */
  restartAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** Counts the row's changes, starting at 1: of two reads of one job, the higher version is newer. */
  version: number;
}

export interface NewJob {
  id: string;
  accountId: string;
  backend: Backend;
  name: string;
  request: ParsedCreateJobRequest;
  requestHash: string;
  idempotencyKey: string | null;
  createdAt: Date;
}

export interface ListJobsOptions {
  status?: JobStatus;
  limit: number;
  /** The last job of the previous page, as `(created_at, id)`. */
  after?: { createdAt: Date; id: string };
}

export interface StatusChange {
  status: JobStatus;
  result?: JobResult | null;
  backendState?: Record<string, unknown> | null;
  /** The current attempt as it ended, appended to the job's attempts (for a terminal status). */
  endedAttempt?: JobAttempt;
}

/** A restart: the attempt that ended, and when the next may be submitted. */
export interface RestartChange {
  endedAttemptNumber: number;
  endedAttempt: JobAttempt;
  restartAt: Date;
}

export interface SubmittedChange {
  cloudJobIdentifier: Record<string, string>;
  backendState: Record<string, unknown> | null;
  status: JobStatus;
}

/**
 * Where jobs live. Every state change is conditional on the job not being terminal yet, so two
 * writers (two replicas, or the API and the reconciler) can never bring a finished job back.
 */
export interface Store {
  readonly kind: "pglite" | "postgres";
  /**
   * Records a PENDING job. When the account already has a job under the same idempotency key, that
   * job is returned instead and `created` is false.
   */
  insertJob(job: NewJob): Promise<{ job: JobRecord; created: boolean }>;
  /** The job, or null when it does not exist or belongs to another account. */
  getJob(accountId: string, id: string): Promise<JobRecord | null>;
  getJobById(id: string): Promise<JobRecord | null>;
  listJobs(accountId: string, options: ListJobsOptions): Promise<JobRecord[]>;
  /**
   * Takes an unsubmitted PENDING job for submission. Only one caller wins; a claim older than
   * `leaseMs` is considered abandoned (its server died) and may be taken again.
   */
  claimSubmit(id: string, leaseMs: number): Promise<JobRecord | null>;
  /** Records what the backend returned for a claimed job. */
  recordSubmitted(id: string, change: SubmittedChange): Promise<JobRecord | null>;
  /**
   * Gives a claim back after a retryable failure, keeping the error (shown as `status_reason`); a
   * job whose cancel arrived during the submit becomes CANCELED instead. A `throttled` attempt (the
   * cloud refused for its request rate) does not count toward `submitAttempts` or the submit's time.
   */
  releaseClaim(id: string, error: string, options?: { throttled?: boolean }): Promise<JobRecord | null>;
  /** Moves a non-terminal job to `status`; null when the job is already terminal. */
  transition(id: string, change: StatusChange): Promise<JobRecord | null>;
  /**
   * Ends attempt `endedAttemptNumber` and makes the job wait, IN_PROGRESS, for its next submission.
   * Null when that attempt is no longer the current one, the job was asked to stop, or it is terminal.
   */
  beginRestart(id: string, change: RestartChange): Promise<JobRecord | null>;
  /** Cancels a job nobody has claimed for submission yet; null otherwise. */
  cancelUnsubmitted(id: string): Promise<JobRecord | null>;
  /** Marks a non-terminal job as asked to stop; null when it is already terminal. */
  requestCancel(id: string): Promise<JobRecord | null>;
  /** Whether an unsubmitted PENDING job of the same backend was created before `job`. */
  hasOlderUnsubmitted(job: JobRecord): Promise<boolean>;
  /** Every unsubmitted PENDING job nobody asked to cancel (those `hasOlderUnsubmitted` looks for), oldest first. */
  listQueued(): Promise<JobRecord[]>;
  /** Unsubmitted PENDING jobs, oldest first, leaving out the backends named. */
  listUnsubmitted(limit: number, exceptBackends?: readonly string[]): Promise<JobRecord[]>;
  /** Submitted jobs that are not terminal yet; only those of `backends` when given. */
  listActive(backends?: readonly string[]): Promise<JobRecord[]>;
  /**
   * Records why an unsubmitted PENDING job is still waiting (shown as its `status_reason`), unless a
   * server holds its submit claim; the next submit clears it. Answers the job as written, or null
   * when it was not (claimed, submitted or ended meanwhile).
   */
  noteWaiting(id: string, reason: string): Promise<JobRecord | null>;
  /**
   * A position in the stream of job changes: `changesSince` it returns every job written after it.
   * Take one before a full read (`listActive`, `listUnsubmitted`), then follow with `changesSince`.
   */
  changeCursor(): Promise<string>;
  /**
   * The jobs written (inserted or changed, terminal ones included) since `cursor`, oldest change
   * first, and the cursor to pass next. Costs what changed, not what exists. A job may come back
   * again in a later call (a change still uncommitted at one call is looked for again in the next),
   * so handle each by its current state. Throws on a cursor this store did not issue.
   */
  changesSince(cursor: string): Promise<{ jobs: JobRecord[]; cursor: string }>;
  /**
   * Takes one submission slot from the backend's pace, shared by every server on the store: a token
   * bucket refilled at `perMinute` times the share the pace is at (lowered by `slowSubmitPace`),
   * holding at most one second's worth and at least one slot. Atomic across servers, timed by the
   * database's clock. Answers whether a slot was taken and the pace in force, per minute.
   */
  takeSubmitSlot(backend: string, perMinute: number): Promise<SubmitPaceAnswer>;
  /**
   * The cloud throttled a submission of the backend: halves its shared pace (down to a tenth of
   * `perMinute`) and empties its bucket. Each minute without another slowdown gives back a quarter
   * of what was taken. Answers the pace in force afterwards, per minute.
   */
  slowSubmitPace(backend: string, perMinute: number): Promise<number>;
  /** The backend's shared pace in force, per minute, taking no slot. */
  readSubmitPace(backend: string, perMinute: number): Promise<number>;
  /** Resolves once the database answered a trivial query; throws `StoreUnavailableError` otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What a backend's shared submission pace answered. */
export interface SubmitPaceAnswer {
  /** Whether a submission slot was taken. */
  taken: boolean;
  /** The pace in force, in submissions per minute. */
  perMinute: number;
}

/** Whether the job is one `hasOlderUnsubmitted` counts: PENDING, never submitted, no cancel asked. */
export function isQueued(job: JobRecord): boolean {
  return job.status === "PENDING" && job.submittedAt === null && job.cancelRequestedAt === null;
}

/**
 * The database could not be reached in time (connection refused, lost or silent, a timeout): the
 * API answers 503 with `reason`, and readiness reports it.
 */
export class StoreUnavailableError extends Error {
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`the job store is unavailable: ${reason}`, options);
    this.name = "StoreUnavailableError";
  }
}
