import type { z } from "zod";
import { describeDetails, ErrorBody, Job, JobList, JobLogs, type JobStatus } from "../../spec";
import { googleIdTokenHeaders } from "./google-id-token";
import { type Answer, describeBody, HttpClient, parseJson, type RetryPolicy } from "./http";
import {
  type ApiSettings,
  type CancelOutcome,
  JobApiError,
  type JobClient,
  type SubmitRequest,
} from "./types";

export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryAfterMs } from "./http";

/** Which jobs `list` asks for: one page, newest first. */
export interface ListOptions {
  readonly status?: JobStatus;
  /** 1 to 100; the server's default is 20. */
  readonly limit?: number;
  /** `next_cursor` of the previous page. */
  readonly cursor?: string;
}

/** Which lines `logs` asks for. */
export interface LogsOptions {
  readonly stream?: "stdout" | "stderr";
  /** The last `tail` lines, or with `cursor` at most `tail` lines written since it. */
  readonly tail?: number;
  /** `next_cursor` of an earlier answer. */
  readonly cursor?: string;
}

/**
 * Client of the Train API: `POST /v1/{backend}/jobs`, `GET /v1/jobs`, `GET /v1/jobs/{id}`,
 * `POST /v1/jobs/{id}/cancel` and `GET /v1/jobs/{id}/logs`.
 */
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
      json: {
        name: request.name,
        job_config: request.jobConfig,
        storage_mounts: request.storageMounts,
        ...(request.retryPolicy ? { retry_policy: request.retryPolicy } : {}),
      },
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

  /** One page of the account's jobs, newest first. */
  async list(options: ListOptions = {}): Promise<JobList> {
    const query = new URLSearchParams();
    if (options.status) query.set("status", options.status);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    if (options.cursor) query.set("cursor", options.cursor);
    const path = `v1/jobs${query.size > 0 ? `?${query}` : ""}`;
    const answer = await this.http.request("GET", path);
    if (answer.status !== 200) throw this.failure("GET", "v1/jobs", answer);
    return this.parsed(JobList, "a job list", "GET", "v1/jobs", answer.body);
  }

  /**
   * Lines of a job's output, or `undefined` when the API does not know the job. A backend that keeps
   * no logs the server can read is a `JobApiError` with status 501.
   */
  async logs(jobId: string, options: LogsOptions = {}): Promise<JobLogs | undefined> {
    const base = `v1/jobs/${encodeURIComponent(jobId)}/logs`;
    const query = new URLSearchParams();
    if (options.stream) query.set("stream", options.stream);
    if (options.tail !== undefined) query.set("tail", String(options.tail));
    if (options.cursor) query.set("cursor", options.cursor);
    const answer = await this.http.request("GET", query.size > 0 ? `${base}?${query}` : base);
    if (answer.status === 404 && ErrorBody.safeParse(answer.body).data?.error.code === "job_not_found") {
      return undefined;
    }
    if (answer.status !== 200) throw this.failure("GET", base, answer);
    return this.parsed(JobLogs, "a logs answer", "GET", base, answer.body);
  }

  /**
   * Follows a job's log as Server-Sent Events (`logs?follow=true`) until the job ends or the stream
   * closes: `lines` gets each batch once, in order. Resolves to how it stopped; a job the server
   * cannot follow yet (not started) or at all (its backend keeps no cursor) is said so, not thrown.
   */
  async follow(
    jobId: string,
    options: { stream?: "stdout" | "stderr"; tail?: number },
    onLines: (logs: JobLogs) => void,
  ): Promise<{ ended: Job } | "not-started" | "not-followable" | "not-found" | "closed"> {
    const base = `v1/jobs/${encodeURIComponent(jobId)}/logs`;
    const query = new URLSearchParams({ follow: "true" });
    if (options.stream) query.set("stream", options.stream);
    if (options.tail !== undefined) query.set("tail", String(options.tail));
    const response = await this.http.open(`${base}?${query}`, "text/event-stream");
    if (response.status !== 200) {
      const answer = { status: response.status, body: parseJson(await response.text()) };
      const code = ErrorBody.safeParse(answer.body).data?.error.code;
      if (response.status === 404 && code === "job_not_found") return "not-found";
      if (code === "job_not_started") return "not-started";
      if (code === "logs_not_followable" || code === "logs_not_supported") return "not-followable";
      throw this.failure("GET", base, answer);
    }
    let ended: Job | undefined;
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of response.body ?? []) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let split = buffer.indexOf("\n\n");
      while (split !== -1) {
        const block = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        split = buffer.indexOf("\n\n");
        const event = /^event: (\w+)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === "lines" && data)
          onLines(this.parsed(JobLogs, "a logs answer", "GET", base, JSON.parse(data)));
        if (event === "end" && data) ended = this.job("GET", base, JSON.parse(data));
        // The server gave up on the stream (a log that never appeared): its error, as a refusal.
        if (event === "error" && data)
          throw this.failure("GET", base, { status: 409, body: JSON.parse(data) });
      }
    }
    return ended ? { ended } : "closed";
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
    return this.parsed(Job, "a job object", method, path, body);
  }

  private parsed<T>(
    schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError } },
    what: string,
    method: string,
    path: string,
    body: unknown,
  ): T {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new JobApiError(
      `${this.http.where(method, path)} answered with something that is not ${what}: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".") || "(root)"} ${i.message}`)
        .join("; ")}`,
      200,
      "bad_response",
    );
  }
}
