import { type JobStatus, storageMountEnvName } from "../../spec";
import { BackendError, NO_CAPACITY_ERROR_CODE } from "./types";

// What the three cloud backends share: reading their settings, naming native jobs after the API's
// job id, turning a cloud's error into a `BackendError`, keeping the last status a job had when the
// cloud reports one that carries no news, and spacing out status reads.

/** One setting of a cloud backend: its variable, whether it is required, and how a value must look. */
export interface SettingRule {
  readonly name: string;
  readonly required: boolean;
  /** Returns a sentence describing the fix when the value is malformed, or undefined when it is fine. */
  readonly check?: (value: string) => string | undefined;
}

/**
 * Reads a backend's settings from the environment. Missing required ones are returned by name (the
 * server answers 503 naming them); a value that is present but malformed throws, naming the variable,
 * the value and the fix, because the operator has to correct it before the backend can work at all.
 */
export function readCloudSettings(
  env: NodeJS.ProcessEnv,
  rules: readonly SettingRule[],
): { values: Record<string, string | undefined> } | { missing: string[] } {
  const values: Record<string, string | undefined> = {};
  const missing: string[] = [];
  for (const rule of rules) {
    const raw = env[rule.name]?.trim();
    if (raw === undefined || raw === "") {
      if (rule.required) missing.push(rule.name);
      values[rule.name] = undefined;
      continue;
    }
    const problem = rule.check?.(raw);
    if (problem) throw new Error(`${rule.name} ${problem}; got ${JSON.stringify(raw)}.`);
    values[rule.name] = raw;
  }
  return missing.length > 0 ? { missing } : { values };
}

/** A check for `*_ENDPOINT` settings: an absolute http(s) URL. */
export function checkEndpoint(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol === "https:" || url.protocol === "http:") return undefined;
  } catch {
    // falls through to the sentence below
  }
  return "must be an absolute http(s) URL such as https://private-endpoint.example.com";
}

/**
 * A native job name derived from the API job: a readable prefix from the job's name and the job id
 * without dashes. The same job always gets the same name, which is what makes a resubmission after
 * a lost response find the first native job instead of starting a second one.
 */
export function nativeJobName(jobId: string, jobName: string, maxLength: number): string {
  const id = jobId.replace(/-/g, "").toLowerCase();
  const room = maxLength - id.length - 1;
  const prefix = jobName
    .replace(/[^A-Za-z0-9-]+/g, "-")
    .slice(0, Math.max(room, 0))
    .replace(/^-+|-+$/g, "");
  return prefix === "" ? id : `${prefix}-${id}`;
}

/** The kinds of cloud failure a caller can act on differently. */
export type CloudFailureKind =
  | "quota"
  | "permission"
  | "invalid"
  | "not_found"
  | "conflict"
  | "throttled"
  | "upstream";

const KIND_STATUS: Record<CloudFailureKind, number> = {
  quota: 429,
  permission: 403,
  invalid: 400,
  not_found: 404,
  conflict: 409,
  throttled: 429,
  upstream: 502,
};

const KIND_CODE: Record<CloudFailureKind, string> = {
  quota: NO_CAPACITY_ERROR_CODE,
  permission: "cloud_permission_denied",
  invalid: "cloud_rejected_request",
  not_found: "cloud_resource_not_found",
  conflict: "cloud_conflict",
  throttled: "cloud_throttled",
  upstream: "cloud_unavailable",
};

const KIND_HINT: Record<CloudFailureKind, string> = {
  quota: "request a quota increase or pick a smaller or different machine type",
  permission: "grant the Train API's identity the permission named above",
  invalid: "fix the job_config field the message names",
  not_found: "check that the resource named above exists",
  conflict: "retry once the conflicting operation has finished",
  throttled:
    "the cloud's request rate is exceeded; a submit is tried again at a lower pace and never counts as a failed attempt, while other calls are retried on later passes; check the cloud's API rate quotas",
  upstream:
    "the request was retried and still failed; a submit is tried again on later passes until TRAINKIT_SUBMIT_MAX_ATTEMPTS or TRAINKIT_SUBMIT_TIMEOUT_MS is used up; check the cloud's service health and the server's network path to it",
};

/** Error codes each cloud uses for a kind of failure, whatever HTTP status carries them. */
const KIND_BY_CODE: Record<string, CloudFailureKind> = {
  // Google (google.rpc.Code names in `error.status`)
  RESOURCE_EXHAUSTED: "quota",
  RATE_LIMIT_EXCEEDED: "throttled",
  PERMISSION_DENIED: "permission",
  UNAUTHENTICATED: "permission",
  INVALID_ARGUMENT: "invalid",
  FAILED_PRECONDITION: "invalid",
  OUT_OF_RANGE: "invalid",
  NOT_FOUND: "not_found",
  ALREADY_EXISTS: "conflict",
  ABORTED: "conflict",
  UNAVAILABLE: "upstream",
  INTERNAL: "upstream",
  DEADLINE_EXCEEDED: "upstream",
  // AWS (`__type` / error name)
  ResourceLimitExceeded: "quota",
  ServiceQuotaExceededException: "quota",
  AccessDeniedException: "permission",
  AccessDenied: "permission",
  UnrecognizedClientException: "permission",
  InvalidSignatureException: "permission",
  ExpiredTokenException: "permission",
  ValidationException: "invalid",
  ResourceNotFound: "not_found",
  ResourceInUse: "conflict",
  ThrottlingException: "throttled",
  Throttling: "throttled",
  TooManyRequestsException: "throttled",
  InternalFailure: "upstream",
  ServiceUnavailable: "upstream",
  // Azure Resource Manager (`error.code`)
  QuotaExceeded: "quota",
  AuthorizationFailed: "permission",
  AuthenticationFailed: "permission",
  InvalidAuthenticationToken: "permission",
  LinkedAuthorizationFailed: "permission",
  BadRequest: "invalid",
  UserError: "invalid",
  ValidationError: "invalid",
  InvalidRequestContent: "invalid",
  ResourceNotFoundError: "not_found",
  NotFound: "not_found",
  Conflict: "conflict",
  TooManyRequests: "throttled",
  InternalServerError: "upstream",
  SystemError: "upstream",
};

/** The kind of a cloud failure from its error code, or from its HTTP status when the code is unknown. */
export function classifyCloudFailure(status: number | undefined, code: string | undefined): CloudFailureKind {
  const byCode = code ? KIND_BY_CODE[code] : undefined;
  if (byCode) return byCode;
  if (status === undefined) return "upstream";
  if (status === 429) return "throttled";
  if (status === 401 || status === 403) return "permission";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status >= 400 && status < 500) return "invalid";
  return "upstream";
}

/**
 * A cloud's refusal as the Train API reports it: the status a caller can act on, a stable code, and
 * a sentence holding the cloud's own message. Quota, permission and validation failures are final
 * (the job is marked FAILED); throttling and upstream failures are retryable (the claim is given
 * back and a later pass tries again, idempotently).
 */
export function cloudError(
  cloud: string,
  action: string,
  failure: { status?: number; code?: string; message: string },
): BackendError {
  const kind = classifyCloudFailure(failure.status, failure.code);
  const retryable = kind === "throttled" || kind === "upstream";
  const origin = [failure.code, failure.status].filter((x) => x !== undefined).join(", ");
  const message = `${cloud} refused ${action}${origin ? ` (${origin})` : ""}: ${failure.message.trim()}; ${KIND_HINT[kind]}.`;
  return new BackendError(KIND_STATUS[kind], KIND_CODE[kind], message, retryable);
}

/** The status to report when the cloud answers with a state that says nothing new (unspecified, unknown). */
export function lastKnownStatus(backendState: Readonly<Record<string, unknown>> | null): JobStatus {
  const last = backendState?.lastStatus;
  return typeof last === "string" && ["PENDING", "IN_PROGRESS"].includes(last)
    ? (last as JobStatus)
    : "PENDING";
}

/** Retry settings the cloud SDKs are given. Tests shorten the delays; the counts stay the same. */
export interface CloudRetryOptions {
  /** Attempts per call, the first included. Defaults to 5. */
  maxAttempts?: number;
  /** Delay before the first retry, in milliseconds. Defaults to 1000 (AWS uses its own base delays). */
  initialDelayMs?: number;
  /** Longest delay between two attempts, in milliseconds. Defaults to 30000. */
  maxDelayMs?: number;
}

export const DEFAULT_CLOUD_RETRY: Required<CloudRetryOptions> = {
  maxAttempts: 5,
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
};

/** The message of anything thrown, without the request configuration some SDK errors carry. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `STORAGE_MOUNT_<i>_PATH` for each mount, at the path the cloud mounts it (which the cloud chooses,
 * not `mount_path`, except where the cloud lets the job pick the path).
 */
export function storageMountEnvironment<M>(
  mounts: readonly M[],
  pathOf: (mount: M, index: number) => string,
): Record<string, string> {
  return Object.fromEntries(mounts.map((mount, i) => [storageMountEnvName(i), pathOf(mount, i)]));
}

/** `TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS` when unset. */
export const DEFAULT_MIN_POLL_INTERVAL_SECONDS = 30;

/** The setting every cloud backend reads: how often, at most, one job's native state is read. */
export const MIN_POLL_INTERVAL_SETTING: SettingRule = {
  name: "TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS",
  required: false,
  check: (v) =>
    /^\d+(\.\d+)?$/.test(v)
      ? undefined
      : `must be a number of seconds of 0 or more (unset it for ${DEFAULT_MIN_POLL_INTERVAL_SECONDS})`,
};

/** The minimum poll interval in milliseconds from the value `readCloudSettings` returned. */
export function minPollIntervalMs(value: string | undefined): number {
  return (value === undefined ? DEFAULT_MIN_POLL_INTERVAL_SECONDS : Number(value)) * 1000;
}

/**
 * Spaces out the native status reads of each job. The reconciler polls every active job every
 * interval (2 s by default), which for cloud jobs that run for hours is mostly reads that change
 * nothing, billed against the cloud's API quotas; between two reads a job keeps the status it was
 * last stored with. A cancel lifts the wait so the next poll sees its effect.
 */
export class PollGate {
  private readonly lastRead = new Map<string, number>();

  constructor(
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether to read the job's native state now; when it is, the read is recorded. */
  shouldRead(jobId: string): boolean {
    if (this.minIntervalMs <= 0) return true;
    const at = this.now();
    const previous = this.lastRead.get(jobId);
    if (previous !== undefined && at - previous < this.minIntervalMs) return false;
    this.lastRead.set(jobId, at);
    return true;
  }

  /** Lets the next poll of the job read its native state, and drops what was kept for it. */
  forget(jobId: string): void {
    this.lastRead.delete(jobId);
  }
}

/** `TRAINKIT_BACKEND_CALL_TIMEOUT_MS` when unset. */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/**
 * The setting every cloud backend reads, as the server does for its reconciler: the longest one
 * cloud call may take, its SDK retries and credential look-up included.
 */
export const CALL_TIMEOUT_SETTING: SettingRule = {
  name: "TRAINKIT_BACKEND_CALL_TIMEOUT_MS",
  required: false,
  check: (v) =>
    /^\d+$/.test(v) && Number(v) >= 100
      ? undefined
      : `must be a whole number of milliseconds of 100 or more (unset it for ${DEFAULT_CALL_TIMEOUT_MS})`,
};

/** The call timeout in milliseconds from the value `readCloudSettings` returned. */
export function callTimeoutMs(value: string | undefined): number {
  return value === undefined ? DEFAULT_CALL_TIMEOUT_MS : Number(value);
}

/**
 * Runs one cloud call with an abort signal that fires after `timeoutMs`, and fails it then with a
 * retryable 504 naming the cloud, the action and what to check, even when the SDK does not honour
 * the signal (a credential provider waiting on a metadata endpoint that never answers). The SDKs'
 * own socket timeouts end such an abandoned call later.
 */
export async function withDeadline<T>(
  cloud: string,
  action: string,
  timeoutMs: number,
  check: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        new BackendError(
          504,
          "cloud_timeout",
          `${cloud} did not answer ${action} within ${timeoutMs / 1000} s; check ${check}`,
          true,
        ),
      );
    }, timeoutMs);
  });
  const call = work(controller.signal);
  call.catch(() => {});
  try {
    return await Promise.race([call, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A cloud log position as the API hands it out, opaque to callers: `fields` (an empty list for "the
 * start") as base64url JSON. `read` takes back the fields of a cursor this server issued, or
 * undefined for any other, which is answered with a 400 saying to pass next_cursor unchanged.
 */
export function logCursor<P>(
  fieldsOf: (position: P) => (string | number)[],
  read: (fields: unknown[]) => P | undefined,
): { encode(position: P | null): string; decode(cursor: string): P | null } {
  return {
    encode: (position) =>
      Buffer.from(JSON.stringify(position ? fieldsOf(position) : [])).toString("base64url"),
    decode(cursor) {
      let value: unknown;
      try {
        value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
      } catch {
        // Not base64url JSON: answered below like any other cursor this server did not issue.
      }
      if (Array.isArray(value)) {
        if (value.length === 0) return null;
        const position = read(value);
        if (position !== undefined) return position;
      }
      throw new BackendError(
        400,
        "invalid_request",
        "cursor is not one this server issued for this job's logs; pass next_cursor from the previous answer unchanged",
      );
    },
  };
}

/** The setting that overrides each paced backend's submissions per minute. */
export const SUBMIT_RATE_VARIABLES: Readonly<Record<string, string>> = {
  "vertex-ai": "TRAINKIT_VERTEX_SUBMIT_PER_MINUTE",
  sagemaker: "TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE",
  "azure-ml": "TRAINKIT_AZUREML_SUBMIT_PER_MINUTE",
  kubernetes: "TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE",
};

/** A check for `TRAINKIT_<BACKEND>_SUBMIT_PER_MINUTE` settings. */
export function submitRateSetting(name: string, publishedDefault: number | undefined): SettingRule {
  const unset = publishedDefault === undefined ? "no pace" : `the default of ${publishedDefault}`;
  return {
    name,
    required: false,
    check: (v) =>
      /^\d+(\.\d+)?$/.test(v) && Number(v) > 0
        ? undefined
        : `must be a number of job submissions per minute above 0 (unset it for ${unset})`,
  };
}

/** The submissions per minute from the value `readCloudSettings` returned. */
export function submitsPerMinute(value: string | undefined, publishedDefault: number): number {
  return value === undefined ? publishedDefault : Number(value);
}

/** Rounding a slot's worth of elapsed time may leave short of 1 by. */
const SLOT_EPSILON = 1e-9;

/**
 * Paces one backend's submissions to a rate per minute: a token bucket holding at most one
 * second's worth (at least one token), so a burst of jobs goes out evenly instead of all at once.
 * A throttling answer from the cloud halves the rate (down to a tenth of the configured one); each
 * minute without one gives back a quarter of what was taken, up to the configured rate.
 */
export class SubmitPacer {
  private tokens: number;
  private rate: number;
  private last: number;
  private lastSlowdown = Number.NEGATIVE_INFINITY;

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.rate = perMinute;
    this.last = now();
    this.tokens = this.capacity();
  }

  /** The pace in force now, in submissions per minute. */
  get currentPerMinute(): number {
    this.refill();
    return this.rate;
  }

  /** Takes one submission slot when there is one; returns false when the job has to wait. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1 - SLOT_EPSILON) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next slot frees up. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 - SLOT_EPSILON ? 0 : Math.ceil(((1 - this.tokens) * 60_000) / this.rate);
  }

  /** The cloud answered a submission with a throttling error: halve the pace. */
  slowDown(): void {
    this.refill();
    this.rate = Math.max(this.rate / 2, this.perMinute / 10);
    this.tokens = Math.min(this.tokens, 0);
    this.lastSlowdown = this.now();
  }

  private capacity(): number {
    return Math.max(1, this.rate / 60);
  }

  private refill(): void {
    const at = this.now();
    const elapsed = at - this.last;
    this.last = at;
    if (this.rate < this.perMinute && at - this.lastSlowdown >= 60_000) {
      const minutes = Math.floor((at - this.lastSlowdown) / 60_000);
      const taken = this.perMinute - this.rate;
      this.rate = Math.min(this.perMinute, this.rate + (taken / 4) * minutes);
      this.lastSlowdown = at;
    }
    this.tokens = Math.min(this.capacity(), this.tokens + (elapsed * this.rate) / 60_000);
  }
}
