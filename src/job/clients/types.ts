import type { Backend, ErrorDetail, Job, StorageMountInput } from "../../spec";

/** Where a training API lives and who is calling it. */
export interface ApiSettings {
  /** Base URL such as `http://127.0.0.1:8080`, without a trailing `/v1`. */
  readonly url: string;
  readonly apiKey: string;
  readonly accountId: string;
}

/** What one job submission asks for, in the Train API's own words. */
export interface SubmitRequest {
  readonly backend: Backend;
  readonly name: string;
  readonly jobConfig: Record<string, unknown>;
  readonly storageMounts: readonly StorageMountInput[];
}

/** What `cancel` found: the job was asked to stop, had already stopped, or does not exist. */
export type CancelOutcome = "canceled" | "already-terminal" | "not-found";

/**
 * One training API as the `TrainingJob` provider uses it. Each vendor's API gets an adapter that
 * speaks its own HTTP and maps its job into the Train API's job object.
 */
export interface JobClient {
  /**
   * Submits one job. `idempotencyKey` is sent with every retry of this call so the API creates the
   * job at most once however many times the request reaches it.
   */
  submit(request: SubmitRequest, idempotencyKey: string): Promise<Job>;
  /** The job as the API sees it now, or `undefined` when the API does not know it. */
  get(jobId: string): Promise<Job | undefined>;
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
    readonly code: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "JobApiError";
  }
}
