import { describeDetails, ErrorBody, Job } from "../../spec";
import { googleIdTokenHeaders } from "./google-id-token";
import { type Answer, describeBody, HttpClient, type RetryPolicy } from "./http";
import {
  type ApiSettings,
  type CancelOutcome,
  JobApiError,
  type JobClient,
  type SubmitRequest,
} from "./types";

export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryAfterMs } from "./http";

/** Client of the Train API: `POST /v1/{backend}/jobs`, `GET /v1/jobs/{id}`, `POST /v1/jobs/{id}/cancel`. */
export class TrainApiClient implements JobClient {
  private readonly http: HttpClient;

  constructor(settings: ApiSettings, policy: Partial<RetryPolicy> = {}) {
    this.http = new HttpClient(
      settings.url,
      "the Train API URL",
      { "x-api-key": settings.apiKey, "x-selected-account-id": settings.accountId },
      policy,
      settings.googleIdToken ? googleIdTokenHeaders(settings.url) : undefined,
    );
  }

  /**
   * The Idempotency-Key is the same on every attempt, so a create the server already performed is
   * answered from its record instead of being performed again; every failure may be retried.
   */
  async submit(request: SubmitRequest, idempotencyKey: string): Promise<Job> {
    const path = `v1/${request.backend}/jobs`;
    const answer = await this.http.request("POST", path, {
      json: { name: request.name, job_config: request.jobConfig, storage_mounts: request.storageMounts },
      headers: { "idempotency-key": idempotencyKey },
    });
    if (answer.status !== 200 && answer.status !== 201) throw this.failure("POST", path, answer);
    return this.job("POST", path, answer.body);
  }

  async get(jobId: string): Promise<Job | undefined> {
    const path = `v1/jobs/${encodeURIComponent(jobId)}`;
    const answer = await this.http.request("GET", path);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw this.failure("GET", path, answer);
    return this.job("GET", path, answer.body);
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const path = `v1/jobs/${encodeURIComponent(jobId)}/cancel`;
    const answer = await this.http.request("POST", path);
    if (answer.status === 404) return "not-found";
    if (answer.status === 409) return "already-terminal";
    if (answer.status < 200 || answer.status > 299) throw this.failure("POST", path, answer);
    return "canceled";
  }

  private failure(method: string, path: string, answer: Answer): JobApiError {
    const parsed = ErrorBody.safeParse(answer.body);
    const where = this.http.where(method, path);
    if (!parsed.success) {
      return new JobApiError(
        `${where} answered ${answer.status}: ${describeBody(answer.body)}`,
        answer.status,
        "http_error",
      );
    }
    const { code, message, details = [] } = parsed.data.error;
    const suffix = details.length > 0 ? ` (${describeDetails(details)})` : "";
    return new JobApiError(
      `${where} answered ${answer.status} ${code}: ${message}${suffix}`,
      answer.status,
      code,
      details,
    );
  }

  private job(method: string, path: string, body: unknown): Job {
    const parsed = Job.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new JobApiError(
      `${this.http.where(method, path)} answered with something that is not a job object: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".") || "(root)"} ${i.message}`)
        .join("; ")}`,
      200,
      "bad_response",
    );
  }
}
