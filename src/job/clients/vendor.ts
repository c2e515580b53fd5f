import { isTerminal, type JobStatus } from "../../spec";
import { type Answer, describeBody, HttpClient, type RetryPolicy } from "./http";
import {
  type CancelOutcome,
  JobApiError,
  type JobClient,
  type JobSnapshot,
  type VendorSettings,
  type VendorSubmitRequest,
} from "./types";

/**
 * A job created this long before its submission started still counts as the one that submission
 * made, to allow for the vendor's clock running behind ours.
 */
const CLOCK_SKEW_MS = 60_000;

/** What every vendor client shares: its HTTP client, cancel by stopping, and error messages. */
export abstract class VendorClient implements JobClient<VendorSubmitRequest> {
  protected readonly http: HttpClient;

  constructor(
    /** The vendor's name in messages: "Baseten". */
    protected readonly vendor: string,
    settings: VendorSettings,
    authorization: string,
    policy: Partial<RetryPolicy>,
  ) {
    this.http = new HttpClient(settings.url, `the ${vendor} API URL`, { authorization }, policy);
  }

  abstract submit(request: VendorSubmitRequest, idempotencyKey: string): Promise<JobSnapshot>;
  abstract get(jobId: string): Promise<JobSnapshot | undefined>;
  /** The request that stops the job. */
  protected abstract stopRequest(jobId: string): { path: string; json?: unknown };

  /**
   * Vendors answer a stop of a finished job in their own ways, so the job is read first: a job
   * already gone or ended is reported as such without a stop being sent.
   */
  async cancel(jobId: string): Promise<CancelOutcome> {
    const job = await this.get(jobId);
    if (!job) return "not-found";
    if (isTerminal(job.status)) return "already-terminal";
    const { path, json } = this.stopRequest(jobId);
    const answer = await this.http.request("POST", path, json === undefined ? {} : { json });
    if (answer.status === 404) return "not-found";
    if (answer.status === 409) return "already-terminal";
    if (answer.status < 200 || answer.status > 299) throw this.failure("POST", path, answer);
    return "canceled";
  }

  /** A failure naming the request, the vendor's status, code and message, and what to do; never the key. */
  protected failure(method: string, path: string, answer: Answer): JobApiError {
    const hint = this.hint(answer);
    return new JobApiError(
      `${this.http.where(method, path)} answered ${answer.status} ${this.describe(answer.body)}${hint ? `; ${hint}` : ""}`,
      answer.status,
      errorCode(answer.body) ?? "http_error",
    );
  }

  /** What an error body says. */
  protected describe(body: unknown): string {
    return describeBody(body);
  }

  /** What the user can do about a refused request, when the vendor's answer tells. */
  protected hint(_answer: Answer): string | undefined {
    return undefined;
  }

  /** The body of a 2xx answer as `parse` reads it, or a clear error naming what was wrong. */
  protected parsed<T>(
    method: string,
    path: string,
    answer: Answer,
    parse: (body: unknown) => { success: true; data: T } | { success: false; error: { message: string } },
  ): T {
    if (answer.status < 200 || answer.status > 299) throw this.failure(method, path, answer);
    const result = parse(answer.body);
    if (result.success) return result.data;
    throw new JobApiError(
      `${this.http.where(method, path)} answered with something that is not a ${this.vendor} job: ${describeBody(answer.body)}`,
      answer.status,
      "bad_response",
    );
  }
}

/**
 * The job a submission started at `since` (ms) made, among those the vendor lists: the newest of
 * that name created since then, allowing for clock skew. A job whose creation time the vendor does
 * not give cannot be told from an older run of the same name, so it is never taken for ours.
 */
export function newestMadeBy<T>(
  jobs: readonly T[],
  name: string,
  since: number,
  describe: (job: T) => { name?: string | null; created?: string | null },
): T | undefined {
  let newest: { job: T; created: number } | undefined;
  for (const job of jobs) {
    const seen = describe(job);
    const created = seen.created ? Date.parse(seen.created) : Number.NaN;
    if (seen.name !== name || Number.isNaN(created) || created < since - CLOCK_SKEW_MS) continue;
    if (!newest || created > newest.created) newest = { job, created };
  }
  return newest?.job;
}

/**
 * Maps a vendor's status with `table`. A status the table does not know is taken for a job still
 * running: the watch then goes on until it ends or times out, rather than failing a deployment on a
 * status the vendor added later.
 */
export function mapStatus(table: Record<string, JobStatus>, status: string): JobStatus {
  return table[status] ?? table[status.toLowerCase()] ?? "IN_PROGRESS";
}

/** The job body with `name` written at `path`, the place the vendor reads the job's name. */
export function withName(
  jobConfig: Record<string, unknown>,
  path: readonly string[],
  name: string,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return jobConfig;
  if (rest.length === 0) return { ...jobConfig, [head]: jobConfig[head] ?? name };
  const inner = jobConfig[head];
  const child = inner && typeof inner === "object" ? (inner as Record<string, unknown>) : {};
  return { ...jobConfig, [head]: withName(child, rest, name) };
}

/** Everything but `keys`: the job body without its path parameters. */
export function without(value: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !keys.includes(k)));
}

function errorCode(body: unknown): string | undefined {
  if (!body || typeof body !== "object") return undefined;
  const error = (body as Record<string, unknown>).error;
  if (typeof error === "string") return error;
  if (error && typeof error === "object" && typeof (error as { code?: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return undefined;
}
