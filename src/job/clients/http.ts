import { setTimeout as sleep } from "node:timers/promises";
import { ErrorBody } from "../../spec";
import { JobApiError } from "./types";

// The HTTP machinery every training API client shares: one request with a timeout, retries with
// jittered exponential backoff that honour Retry-After, and messages that name the request but
// never the credentials.

/** How hard a client tries before it reports a failure. */
export interface RetryPolicy {
  /** Attempts per call, the first included. */
  readonly attempts: number;
  /** Upper bound of the first backoff; each later attempt doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  /** Upper bound of any one backoff, in milliseconds. */
  readonly maxDelayMs: number;
  /** A `Retry-After` longer than this is cut to it, so one busy answer cannot stall a deployment. */
  readonly maxRetryAfterMs: number;
  /** Time allowed for one request, response body included. */
  readonly timeoutMs: number;
}

/** Six attempts, backoff from 250 ms up to 10 s, `Retry-After` cut to 60 s, 30 s per request. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  timeoutMs: 30_000,
};

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export interface RequestInit {
  /** Sent as JSON. */
  readonly json?: unknown;
  /** Sent as multipart/form-data; fetch writes the boundary into Content-Type itself. */
  readonly form?: FormData;
  readonly headers?: Record<string, string>;
  /**
   * The request creates something and the API takes no idempotency key, so a second copy would
   * create a second job. It is then repeated only when the first surely had no effect (429, or a
   * connection that was refused before anything was sent); any other failure raises
   * `OutcomeUnknownError` for the caller to look the job up before it submits again.
   */
  readonly once?: boolean;
}

/** A create whose answer was lost: the API may or may not have acted on it. */
export class OutcomeUnknownError extends JobApiError {
  constructor(message: string) {
    super(message, undefined, "outcome_unknown");
    this.name = "OutcomeUnknownError";
  }
}

/** One HTTP API at one base URL, called with the same credentials headers every time. */
export class HttpClient {
  readonly base: URL;
  readonly policy: RetryPolicy;

  constructor(
    url: string,
    /** What the URL is, for messages: "the Train API URL", "the Baseten API URL". */
    what: string,
    private readonly headers: Record<string, string>,
    policy: Partial<RetryPolicy> = {},
    /** Further headers fetched per request, such as a Google ID token that expires within the hour. */
    private readonly authorize?: () => Promise<Record<string, string>>,
  ) {
    this.base = new URL(url.endsWith("/") ? url : `${url}/`);
    if (this.base.username !== "" || this.base.password !== "") {
      // fetch refuses such URLs anyway, and its message would repeat the password.
      throw new JobApiError(
        `${what} ${redact(this.base)} must not carry credentials (user:password@); the key goes in apiKey`,
        undefined,
        "invalid_url",
      );
    }
    checkHeaderValues(headers);
    this.policy = { ...DEFAULT_RETRY_POLICY, ...policy };
  }

  /** `METHOD url` without credentials, for messages. */
  where(method: string, path: string): string {
    return `${method} ${redact(new URL(path, this.base))}`;
  }

  /**
   * Sends one request, retrying what may succeed on a second try: no answer at all (refused, reset,
   * timed out), 429 and 5xx; with `once`, only what surely had no effect. Returns the first other
   * answer, whatever its status.
   */
  async request(method: "GET" | "POST", path: string, init: RequestInit = {}): Promise<Answer> {
    const url = new URL(path, this.base);
    if (init.headers) checkHeaderValues(init.headers);
    const headers: Record<string, string> = { accept: "application/json", ...this.headers, ...init.headers };
    let body: string | FormData | undefined;
    if (init.form !== undefined) body = init.form;
    else if (init.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.json);
    }

    let lastProblem = "";
    let lastRetryAfterMs: number | undefined;
    for (let attempt = 0; attempt < this.policy.attempts; attempt++) {
      if (attempt > 0) await sleep(this.backoff(attempt - 1, lastRetryAfterMs));
      lastRetryAfterMs = undefined;
      let unsent = false;
      // Credentials that cannot be had are not a network failure: no retry would find them.
      const auth = this.authorize ? await this.authorize() : {};
      try {
        const response = await fetch(url, {
          method,
          headers: { ...headers, ...auth },
          body,
          signal: AbortSignal.timeout(this.policy.timeoutMs),
        });
        const text = await response.text();
        const answer = { status: response.status, body: parseJson(text) };
        if (response.status !== 429 && response.status < 500) return answer;
        lastProblem = `${response.status} ${describeBody(answer.body)}`;
        lastRetryAfterMs = retryAfterMs(response.headers.get("retry-after"));
        // 429 means the request was turned away before it was acted on.
        unsent = response.status === 429;
      } catch (err) {
        lastProblem = describeNetworkError(err, this.policy.timeoutMs);
        unsent = networkCode(err) === "ECONNREFUSED";
      }
      if (init.once && !unsent) {
        throw new OutcomeUnknownError(`${method} ${redact(url)} got no usable answer: ${lastProblem}`);
      }
    }
    throw new JobApiError(
      `${method} ${redact(url)} failed after ${this.policy.attempts} attempts; last: ${lastProblem}`,
      undefined,
      "unavailable",
    );
  }

  /**
   * Opens a long-lived GET (an event stream) with the client's headers: one attempt, no timeout
   * once the answer has started. The caller reads, and closes, the body.
   */
  async open(path: string, accept: string): Promise<Response> {
    const url = new URL(path, this.base);
    const auth = this.authorize ? await this.authorize() : {};
    try {
      return await fetch(url, { headers: { ...this.headers, accept, ...auth } });
    } catch (err) {
      throw new JobApiError(
        `GET ${redact(url)} failed: ${describeNetworkError(err, this.policy.timeoutMs)}`,
        undefined,
        "unavailable",
      );
    }
  }

  /**
   * Creates a job through an API without idempotency keys. When a submission's answer is lost,
   * `find` looks for the job that submission created before anything is sent again; only when it
   * answers that there is none is the job submitted again, and when it cannot tell, it throws. The
   * vendor clients find a job by a mark in its name that no other submission shares.
   */
  async createOnce<T>(submit: () => Promise<T>, find: () => Promise<T | undefined>): Promise<T> {
    let last: OutcomeUnknownError | undefined;
    for (let round = 0; round < this.policy.attempts; round++) {
      if (round > 0) await sleep(this.backoff(round - 1, undefined));
      try {
        return await submit();
      } catch (err) {
        if (!(err instanceof OutcomeUnknownError)) throw err;
        last = err;
      }
      const found = await find();
      if (found !== undefined) return found;
    }
    throw new JobApiError(
      `${last?.message ?? "the submission failed"}; gave up after ${this.policy.attempts} submissions, ` +
        "each followed by a look-up that found no job it created",
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
}

/** The option each credentials header carries, for messages that must name the option but not its value. */
const HEADER_OPTIONS: Record<string, { option: string; value: string }> = {
  authorization: { option: "apiKey", value: "the key" },
  "x-api-key": { option: "apiKey", value: "the key" },
  "x-selected-account-id": { option: "accountId", value: "the account id" },
};

// Line breaks, NUL and the other control characters but tab, and anything beyond Latin-1.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for
const NOT_IN_A_HEADER = /[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/;

/**
 * Refuses header values fetch would refuse, before anything is sent: fetch's own message quotes the
 * value, which is an API key, and its refusal would otherwise be retried as if the network failed.
 * fetch strips leading and trailing whitespace itself, so a key read with its file's final newline
 * still goes through.
 */
function checkHeaderValues(headers: Record<string, string>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!NOT_IN_A_HEADER.test(value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, ""))) continue;
    const what = HEADER_OPTIONS[name.toLowerCase()] ?? { option: `the ${name} header`, value: "its value" };
    throw new JobApiError(
      `${what.option} contains characters that cannot be sent in an HTTP header (line breaks, control characters or characters beyond Latin-1); check ${what.value}`,
      undefined,
      "invalid_header",
    );
  }
}

export function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * What an error body says, in whichever of the usual shapes it comes: the Train API's
 * `{error: {code, message}}`, `{error: CODE, message}` (TensorOne), `{detail}` or `{message}`.
 */
export function describeBody(body: unknown): string {
  const parsed = ErrorBody.safeParse(body);
  if (parsed.success) return `${parsed.data.error.code}: ${parsed.data.error.message}`;
  const fields = body && typeof body === "object" ? (body as Record<string, unknown>) : undefined;
  if (fields) {
    const code = typeof fields.error === "string" ? fields.error : undefined;
    const message = [fields.message, fields.detail].find((m) => typeof m === "string") as string | undefined;
    if (code && message) return `${code}: ${message}`;
    if (message ?? code) return (message ?? code) as string;
  }
  const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
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

function networkCode(err: unknown): string | undefined {
  return err instanceof Error ? (err.cause as { code?: string } | undefined)?.code : undefined;
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
export function redact(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
