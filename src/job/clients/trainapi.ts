import { setTimeout as sleep } from "node:timers/promises";
import { describeDetails, ErrorBody, Job } from "../../spec";
import {
  type ApiSettings,
  type CancelOutcome,
  JobApiError,
  type JobClient,
  type SubmitRequest,
} from "./types";

/** How hard the client tries before it reports a failure. */
export interface RetryPolicy {
  /** Attempts per call, the first included. */
  readonly attempts: number;
  /** Upper bound of the first backoff; each later attempt doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A `Retry-After` longer than this is cut to it, so one busy answer cannot stall a deployment. */
  readonly maxRetryAfterMs: number;
  /** Time allowed for one request, response body included. */
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  timeoutMs: 30_000,
};

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

/** Client of the Train API (seed 000): `POST /v1/{backend}/jobs`, `GET /v1/jobs/{id}`, `POST /v1/jobs/{id}/cancel`. */
export class TrainApiClient implements JobClient {
  private readonly base: URL;
  private readonly policy: RetryPolicy;

  constructor(
    private readonly settings: ApiSettings,
    policy: Partial<RetryPolicy> = {},
  ) {
    this.base = new URL(settings.url.endsWith("/") ? settings.url : `${settings.url}/`);
    if (this.base.username !== "" || this.base.password !== "") {
      // fetch refuses such URLs anyway, and its message would repeat the password.
      throw new JobApiError(
        `the Train API URL ${redact(this.base)} must not carry credentials (user:password@); the key goes in apiKey`,
        undefined,
        "invalid_url",
      );
    }
    this.policy = { ...DEFAULT_RETRY_POLICY, ...policy };
  }

  async submit(request: SubmitRequest, idempotencyKey: string): Promise<Job> {
    const path = `v1/${request.backend}/jobs`;
    const answer = await this.call("POST", path, {
      body: { name: request.name, job_config: request.jobConfig, storage_mounts: request.storageMounts },
      headers: { "idempotency-key": idempotencyKey },
    });
    if (answer.status !== 200 && answer.status !== 201) throw this.failure("POST", path, answer);
    return this.job("POST", path, answer.body);
  }

  async get(jobId: string): Promise<Job | undefined> {
    const path = `v1/jobs/${encodeURIComponent(jobId)}`;
    const answer = await this.call("GET", path);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw this.failure("GET", path, answer);
    return this.job("GET", path, answer.body);
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const path = `v1/jobs/${encodeURIComponent(jobId)}/cancel`;
    const answer = await this.call("POST", path);
    if (answer.status === 404) return "not-found";
    if (answer.status === 409) return "already-terminal";
    if (answer.status < 200 || answer.status > 299) throw this.failure("POST", path, answer);
    return "canceled";
  }

  /**
   * Sends one request, retrying what may succeed on a second try: no answer at all (refused, reset,
   * timed out), 429 and 5xx. The headers, the Idempotency-Key included, are the same on every
   * attempt, so a create the server already performed is answered from its record instead of
   * being performed again.
   */
  private async call(
    method: "GET" | "POST",
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = {
      accept: "application/json",
      "x-api-key": this.settings.apiKey,
      "x-selected-account-id": this.settings.accountId,
      ...init.headers,
    };
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const body = init.body === undefined ? undefined : JSON.stringify(init.body);

    let lastProblem = "";
    let lastRetryAfterMs: number | undefined;
    for (let attempt = 0; attempt < this.policy.attempts; attempt++) {
      if (attempt > 0) await sleep(this.backoff(attempt - 1, lastRetryAfterMs));
      lastRetryAfterMs = undefined;
      try {
        const response = await fetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.policy.timeoutMs),
        });
        const text = await response.text();
        const answer = { status: response.status, body: parseJson(text) };
        if (response.status !== 429 && response.status < 500) return answer;
        lastProblem = `${response.status} ${describeAnswer(answer)}`;
        lastRetryAfterMs = retryAfterMs(response.headers.get("retry-after"));
      } catch (err) {
        lastProblem = describeNetworkError(err, this.policy.timeoutMs);
      }
    }
    throw new JobApiError(
      `${method} ${redact(url)} failed after ${this.policy.attempts} attempts; last: ${lastProblem}`,
      undefined,
      "unavailable",
    );
  }

  /** Full jitter (a random wait up to the exponential bound), but never shorter than the server asked. */
  private backoff(retry: number, retryAfter: number | undefined): number {
    const bound = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** retry);
    const jittered = Math.random() * bound;
    if (retryAfter === undefined) return jittered;
    return Math.max(jittered, Math.min(retryAfter, this.policy.maxRetryAfterMs));
  }

  private failure(method: string, path: string, answer: Answer): JobApiError {
    const parsed = ErrorBody.safeParse(answer.body);
    const where = `${method} ${redact(new URL(path, this.base))}`;
    if (!parsed.success) {
      return new JobApiError(
        `${where} answered ${answer.status}: ${describeAnswer(answer)}`,
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
      `${method} ${redact(new URL(path, this.base))} answered with something that is not a job object: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join(".") || "(root)"} ${i.message}`)
        .join("; ")}`,
      200,
      "bad_response",
    );
  }
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeAnswer(answer: Answer): string {
  const parsed = ErrorBody.safeParse(answer.body);
  if (parsed.success) return `${parsed.data.error.code}: ${parsed.data.error.message}`;
  const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
  return text.length > 200 ? `${text.slice(0, 200)}...` : text || "(empty body)";
}

/** `Retry-After` as seconds or an HTTP date (RFC 9110 section 10.2.3). */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  const cause =
    err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ""}`;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** The URL without user info or query, which are the parts that may carry credentials. */
function redact(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
