import type {
  AttemptEndKind,
  Backend as BackendName,
  JobLogs,
  JobResult,
  JobStatus,
  LogsQuery,
  ParsedCreateJobRequest,
} from "../../spec";

/** A job as a backend sees it: what was asked for, and what the backend recorded when it submitted it. */
export interface BackendJob<B extends BackendName = BackendName> {
  /**
   * The job's id for this attempt: the Train API's job id (a UUID) for the first submission,
   * `<job id>-r<n>` for restart n. Backends name the native job after it and use it to make
   * submission idempotent, so each restart gets a native job of its own, submitted once.
   */
  readonly id: string;
  readonly accountId: string;
  readonly backend: B;
  readonly request: ParsedCreateJobRequest<B>;
  /** What `submit` returned, once it has; null before. */
  readonly cloudJobIdentifier: Readonly<Record<string, string>> | null;
  /** Backend-private state saved with the job (a process id, a native resource name). */
  readonly backendState: Readonly<Record<string, unknown>> | null;
}

export interface SubmitResult {
  /** The native job's identifier as the job object reports it (`job_name`, `training_job_name`, ...). */
  cloudJobIdentifier: Record<string, string>;
  /** Private state the backend needs later (kept in the store, never returned by the API). */
  backendState?: Record<string, unknown>;
  /** Status right after submission, when the backend already knows it. Defaults to PENDING. */
  status?: JobStatus;
}

export interface PollResult {
  status: JobStatus;
  result?: JobResult;
  backendState?: Record<string, unknown>;
  /**
   * For a job that ended, what ended it, where the backend can tell (the cloud took the capacity
   * back, or the job's code failed). Left out, the status decides: FAILED counts as `failure`.
   */
  end?: AttemptEnd;
}

/** What ended one attempt of a job, and the reason as the backend reported it. */
export interface AttemptEnd {
  kind: AttemptEndKind;
  reason: string;
}

/** What `sync` settled, by job id. */
export type SyncResult = Map<string, PollResult | "unchanged">;

/**
 * One place jobs run. Every method may be called again after a crash, so each must be idempotent
 * for a given job id: a second `submit` of the same job must find the first native job rather than
 * start another one.
 */
export interface Backend<B extends BackendName = BackendName> {
  readonly name: B;
  /** Starts the job. Throws `BackendError` for failures the caller should see. */
  submit(job: BackendJob<B>): Promise<SubmitResult>;
  /** Reads the job's native state. */
  poll(job: BackendJob<B>): Promise<PollResult>;
  /** Asks the job to stop. Resolves once the request is accepted; `poll` reports CANCELED later. */
  cancel(job: BackendJob<B>): Promise<void>;
  /**
   * The last lines of the job's output, for `GET /v1/jobs/{id}/logs`. Backends without logs leave it
   * out and the API answers 501.
   */
  logs?(job: BackendJob<B>, query: LogsQuery): Promise<JobLogs>;
  /**
   * The cursor that reads a log from its very start. A follower of a restarted job moves on to the
   * new attempt's log with it; without it the follower starts from the new log's last lines.
   */
  logStart?(): string;
  /**
   * Learns the state of many of the backend's jobs at once from the cloud's list calls, instead of
   * one read per job. Returns what the lists settled, by job id: a new reading, or `"unchanged"`
   * for a job the lists show has not changed since `since`; the reconciler reads each job left out
   * with `poll`. `since` is when the previous successful sync of this backend started (undefined
   * on the first), for clouds whose lists filter on modification time.
   */
  sync?(jobs: readonly BackendJob<B>[], since: Date | undefined): Promise<SyncResult>;
  /**
   * Submissions per minute the cloud accepts by default, as its published quota says; the
   * reconciler paces submissions to it (an operator's `TRAINKIT_<BACKEND>_SUBMIT_PER_MINUTE`
   * overrides it). Left out by backends that need no pacing.
   */
  readonly submitsPerMinute?: number;
  /** Whether the backend can take another job now (the `local` backend limits concurrency). */
  hasCapacity?(): boolean;
  /** Releases timers, clients and child-process handles. */
  close?(): Promise<void>;
}

/**
 * A failure a backend reports to the API caller. `status` is the HTTP status the API answers with
 * (400 for a request the cloud refused, 403 for permission, 429 for quota, 502 for an upstream
 * failure, 503 for a backend that is not configured); `code` is a stable machine-readable word.
 */
export class BackendError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = "BackendError";
  }
}

/**
 * The `BackendError` code of a submission the cloud refused because a quota or its capacity ran
 * out (SageMaker ResourceLimitExceeded, Vertex AI RESOURCE_EXHAUSTED, Azure Resource Manager
 * QuotaExceeded): the attempt ends `no_capacity`, which a retry policy may restart.
 */
export const NO_CAPACITY_ERROR_CODE = "cloud_quota_exceeded";

/** What the server hands every backend when it builds it. */
export interface BackendContext {
  /** The server's data directory (`TRAINKIT_DATA_DIR`); a backend keeps its files under `<dataDir>/<backend>/`. */
  readonly dataDir: string;
  /** Tells the reconciler that a job changed, so it polls that job now instead of at the next tick. */
  readonly notify: (jobId: string) => void;
  readonly log: BackendLogger;
  /** The accounts the server's API keys act for; the `local` backend refuses several it cannot keep apart. */
  readonly accounts?: readonly string[];
  /** Files of the server that no job may reach or mount besides the data directory (API key files). */
  readonly protectedPaths?: readonly string[];
}

export interface BackendLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Builds a backend from the server's environment. A backend whose settings are missing is not an
 * error at start: the server keeps running and answers that backend's requests with a 503 that
 * names `missing` (the variables to set).
 */
export type BackendFactory<B extends BackendName = BackendName> = (
  env: NodeJS.ProcessEnv,
  ctx: BackendContext,
) => { backend: Backend<B> } | { missing: string[] };
