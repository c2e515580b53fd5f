import type {
  Backend,
  ErrorDetail,
  JobAttempt,
  JobStatus,
  RetryPolicyInput,
  StorageMountInput,
} from "../../spec";

/** Where a training API lives and who is calling it. */
export interface ApiSettings {
  /** Base URL such as `http://127.0.0.1:8080`, without a trailing `/v1`. */
  readonly url: string;
  /** The Train API key, sent as `x-api-key`. Secret: never logged or put in an error. */
  readonly apiKey: string;
  /** The account the jobs belong to, sent as `x-selected-account-id`; the key must be allowed it. */
  readonly accountId: string;
  /** Send a Google ID token for the URL's service as `Authorization: Bearer` (a Train API on Cloud Run). */
  readonly googleIdToken?: boolean;
}

/** What one job submission asks for, in the Train API's own words. */
export interface SubmitRequest {
  /** The backend the job runs on; the request goes to `POST /v1/{backend}/jobs`. */
  readonly backend: Backend;
  /** The job's name. */
  readonly name: string;
  /** The backend's job body, sent as `job_config`. */
  readonly jobConfig: Record<string, unknown>;
  /** Storage mounted into the job, sent as `storage_mounts`; empty for none. */
  readonly storageMounts: readonly StorageMountInput[];
  /** When the job is restarted, sent as `retry_policy`; undefined for never. */
  readonly retryPolicy?: RetryPolicyInput;
}

/** Where a vendor's training API lives and the key it takes. */
export interface VendorSettings {
  /** Base URL such as `https://api.baseten.co`. */
  readonly url: string;
  /** The vendor's API key, sent in its Authorization header. Secret: never logged or put in an error. */
  readonly apiKey: string;
}

/** What one submission to a vendor's API asks for: the job's name and the vendor's own job body. */
export interface VendorSubmitRequest {
  /** The job's name, written into the body's name field with the submission's mark appended. */
  readonly name: string;
  /** The vendor's job body in its own field names, with any path parameter (`training_project_id`). */
  readonly jobConfig: Record<string, unknown>;
}

/**
 * A job as the provider needs to see it. The Train API's job object is one; vendor clients build
 * one from their API's job, leaving out what that API does not report.
 */
export interface JobSnapshot {
  /** The API's id of the job. */
  readonly id: string;
  /** The job's name on the API; empty where a vendor's answer leaves it out. */
  readonly name: string;
  /** The job's status, a vendor's own word mapped to the Train API's. */
  readonly status: JobStatus;
  /** The cloud's or vendor's identifiers of the job; null or undefined until there are any. */
  readonly cloud_job_identifier?: Record<string, string> | null;
  /** When the job was created (ISO 8601); undefined where the API does not say. */
  readonly created_at?: string;
  /** When the job last changed (ISO 8601); undefined where the API does not say. */
  readonly updated_at?: string;
  /** How the job ended; null or undefined while it runs or when it ended without a reason. */
  readonly result?: {
    /** Why the job failed, expired or was canceled. */
    readonly failure_reason?: string;
  } | null;
  /** The vendor's own status word (`stopped`, `TRAINING_JOB_RUNNING`), where `status` maps it. */
  readonly native_status?: string;
  /** Restarts under the job's retry policy, where the API reports them (the Train API does). */
  readonly restarts?: number;
  /** The job's runs on its backend, oldest first, where the API reports them. */
  readonly attempts?: readonly JobAttempt[];
}

/**
 * An answer that proves nothing about the job: an endpoint the vendor does not document (trainkit
 * infers it) answered 404, 405 or 501, which may mean the job is gone or that the endpoint does not
 * exist. The job is then neither dropped from the stack nor taken as stopped.
 */
export class UnconfirmedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnconfirmedError";
  }
}

/** What `cancel` found: the job was asked to stop, had already stopped, or does not exist. */
export type CancelOutcome = "canceled" | "already-terminal" | "not-found";

/**
 * One training API as the `TrainingJob` provider uses it. Each vendor's API gets an adapter that
 * speaks its own HTTP and maps its job into the Train API's job object.
 */
export interface JobClient<Request = SubmitRequest> {
  /**
   * Submits one job, creating it at most once however many times the request is sent: with
   * `idempotencyKey` where the API takes one, by looking the job up before sending again where not.
   */
  submit(request: Request, idempotencyKey: string): Promise<JobSnapshot>;
  /** The job as the API sees it now, or `undefined` when the API does not know it. */
  get(jobId: string): Promise<JobSnapshot | undefined>;
  /** Asks the API to stop the job; says whether it was stopped, had already ended, or is unknown. */
  cancel(jobId: string): Promise<CancelOutcome>;
}

/**
 * A failure a training API reported, or the last failure before the client gave up. The message
 * names the request and the server's reason, never the credentials.
 */
export class JobApiError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when no response arrived (network error, timeout). */
    readonly status: number | undefined,
    /** The API's error code (`invalid_request`, `job_not_found`), or trainkit's own (`http_error`, `bad_response`, `outcome_unknown`). */
    readonly code: string,
    /** The fields the API found wrong, each with its path and message; empty when it named none. */
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "JobApiError";
  }
}
