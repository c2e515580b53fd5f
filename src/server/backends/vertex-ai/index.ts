import { GoogleAuth } from "google-auth-library";
import { isTerminal, type JobLogs, type LogLine, type LogsQuery } from "../../../spec";
import {
  CALL_TIMEOUT_SETTING,
  type CloudRetryOptions,
  callTimeoutMs,
  checkEndpoint,
  cloudError,
  DEFAULT_CLOUD_RETRY,
  DEFAULT_MIN_POLL_INTERVAL_SECONDS,
  lastKnownStatus,
  MIN_POLL_INTERVAL_SETTING,
  messageOf,
  minPollIntervalMs,
  PollGate,
  readCloudSettings,
  submitRateSetting,
  submitsPerMinute,
  withDeadline,
} from "../cloud-common";
import {
  type Backend,
  type BackendContext,
  BackendError,
  type BackendFactory,
  type BackendJob,
  type PollResult,
  type SubmitResult,
  type SyncResult,
} from "../types";
import { endReason } from "./end-reason";
import {
  type CloudLogEntry,
  customJobFilter,
  type EntryPosition,
  entryCursor,
  LOGGING_MAX_PAGE_SIZE,
  linesOf,
  positionOf,
} from "./logs";
import {
  JOB_ID_LABEL,
  statusOfCustomJob,
  toCustomJob,
  type VertexCustomJob,
  type VertexSettings,
} from "./translate";

export {
  gcsFusePath,
  JOB_ID_LABEL,
  statusOfCustomJob,
  toCustomJob,
  VERTEX_STATE_TO_STATUS,
  type VertexCustomJob,
  type VertexSettings,
} from "./translate";

/**
 * Job or long-running-operation submission requests per minute per region: Vertex AI's published
 * default quota (test/fixtures/published/google-cloud-docs/vertex-ai-request-quotas.json).
 */
export const VERTEX_SUBMITS_PER_MINUTE = 60;

/** CustomJobs asked for per `customJobs.list` page; the proto states no largest size. */
export const CUSTOM_JOBS_PAGE_SIZE = 100;

/** JobState values after which a CustomJob no longer changes. */
const FINISHED_STATES = [
  "JOB_STATE_SUCCEEDED",
  "JOB_STATE_FAILED",
  "JOB_STATE_CANCELLED",
  "JOB_STATE_EXPIRED",
  "JOB_STATE_PARTIALLY_SUCCEEDED",
];

/**
 * The `customJobs.list` filter for every unfinished CustomJob this server made: the list filter
 * supports label existence and `state` (in)equality, not update time, so the unfinished ones are
 * listed and a tracked job missing from the list is one that finished (read once, with its error).
 */
export const UNFINISHED_FILTER = [
  `labels.${JOB_ID_LABEL}:*`,
  ...FINISHED_STATES.map((state) => `state!="${state}"`),
].join(" AND ");

const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const CLOUD = "Vertex AI";

export interface VertexAiBackendOptions {
  retry?: CloudRetryOptions;
  /**
   * Least time between two reads of one job's native state; polls in between report the stored
   * status. Defaults to `DEFAULT_MIN_POLL_INTERVAL_SECONDS` (30 s); the factory reads
   * `TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS`.
   */
  minPollIntervalMs?: number;
  /**
   * The longest one call may take, retries and the credential look-up included; each HTTP attempt
   * also gets it as its timeout. Defaults to `DEFAULT_CALL_TIMEOUT_MS` (60 s); the factory reads
   * `TRAINKIT_BACKEND_CALL_TIMEOUT_MS`.
   */
  callTimeoutMs?: number;
  /** Submissions per minute the reconciler paces to. Defaults to `VERTEX_SUBMITS_PER_MINUTE`. */
  submitsPerMinute?: number;
}

type Retry = NonNullable<Parameters<GoogleAuth["request"]>[0]["retryConfig"]>;

/**
 * Runs jobs as Vertex AI CustomJobs through the REST API v1, authenticated by `google-auth-library`
 * from the standard credential chain (`GOOGLE_APPLICATION_CREDENTIALS`, the metadata server, gcloud).
 */
export class VertexAiBackend implements Backend<"vertex-ai"> {
  readonly name = "vertex-ai" as const;
  private readonly auth: GoogleAuth;
  private readonly base: string;
  private readonly parent: string;
  private readonly reads: Retry;
  private readonly creates: Retry;
  private readonly gate: PollGate;
  private readonly timeoutMs: number;
  private readonly logging: string;
  readonly submitsPerMinute: number;

  constructor(
    readonly settings: VertexSettings,
    private readonly ctx: BackendContext,
    options: VertexAiBackendOptions = {},
  ) {
    this.gate = new PollGate(options.minPollIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000);
    this.timeoutMs = options.callTimeoutMs ?? callTimeoutMs(undefined);
    this.submitsPerMinute = options.submitsPerMinute ?? VERTEX_SUBMITS_PER_MINUTE;
    const host = `${settings.region}-aiplatform.googleapis.com`;
    this.auth = new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] });
    // Service-account keys sign their own scoped JWT instead of trading it at the token endpoint, as
    // Google's generated Vertex AI clients do: one round trip less, and no token endpoint to reach.
    this.auth.useJWTAccessWithScope = true;
    this.auth.defaultServicePath = host;
    this.base = (settings.endpoint ?? `https://${host}`).replace(/\/+$/, "");
    this.parent = `projects/${settings.project}/locations/${settings.region}`;
    this.logging = (settings.loggingEndpoint ?? "https://logging.googleapis.com").replace(/\/+$/, "");
    const retry = { ...DEFAULT_CLOUD_RETRY, ...options.retry };
    const common = {
      retry: retry.maxAttempts - 1,
      retryDelay: retry.initialDelayMs,
      maxRetryDelay: retry.maxDelayMs,
    };
    this.reads = {
      ...common,
      noResponseRetries: retry.maxAttempts - 1,
      httpMethodsToRetry: ["GET", "POST"],
      statusCodesToRetry: [
        [429, 429],
        [500, 599],
      ],
    };
    // customJobs.create has no request id: a create whose answer was lost may have made the job, so
    // only an answer that says nothing was done (503) is retried here. A throttled create (429) is
    // not: it fails at once so the reconciler lowers the pace. Anything else fails the submit as
    // retryable, and the next submit finds the job by its label before creating.
    this.creates = {
      ...common,
      noResponseRetries: 0,
      httpMethodsToRetry: ["POST"],
      statusCodesToRetry: [[503, 503]],
    };
  }

  async submit(job: BackendJob<"vertex-ai">): Promise<SubmitResult> {
    const found = await this.findByJobId(job.id);
    const customJob =
      found ??
      (await this.call<VertexCustomJob>("customJobs.create", this.creates, {
        method: "POST",
        url: `${this.base}/v1/${this.parent}/customJobs`,
        data: toCustomJob(job.id, job.request, this.settings),
      }));
    if (!customJob.name) {
      throw new BackendError(502, "cloud_bad_response", `${CLOUD} created a CustomJob without a name`, true);
    }
    if (found) this.ctx.log.info({ jobId: job.id, customJob: found.name }, "adopted existing CustomJob");
    const { status } = statusOfCustomJob(customJob, null);
    return {
      cloudJobIdentifier: { job_name: customJob.name },
      backendState: { customJobName: customJob.name, lastStatus: status },
      status,
    };
  }

  async poll(job: BackendJob<"vertex-ai">): Promise<PollResult> {
    if (!this.gate.shouldRead(job.id)) return { status: lastKnownStatus(job.backendState) };
    const name = this.customJobName(job);
    let customJob: VertexCustomJob;
    try {
      customJob = await this.call<VertexCustomJob>("customJobs.get", this.reads, {
        method: "GET",
        url: `${this.base}/v1/${name}`,
      });
    } catch (err) {
      // A failed read must not hold the next one back for the poll interval.
      this.gate.forget(job.id);
      throw err;
    }
    const { status, result } = statusOfCustomJob(customJob, job.backendState);
    if (isTerminal(status)) this.gate.forget(job.id);
    const end = status === "FAILED" ? endReason(customJob) : undefined;
    return {
      status,
      ...(result ? { result } : {}),
      ...(end ? { end } : {}),
      backendState: { customJobName: name, lastStatus: status },
    };
  }

  /**
   * Reads every unfinished CustomJob this server made, page by page, and settles the tracked jobs
   * the pages name. A tracked job the pages leave out has finished; `poll` reads it once.
   */
  async sync(jobs: readonly BackendJob<"vertex-ai">[]): Promise<SyncResult> {
    const byName = new Map<string, BackendJob<"vertex-ai">>();
    for (const job of jobs) if (this.hasCustomJobName(job)) byName.set(this.customJobName(job), job);
    const settled: SyncResult = new Map();
    let pageToken: string | undefined;
    do {
      const page = await this.call<{ customJobs?: VertexCustomJob[]; nextPageToken?: string }>(
        "customJobs.list",
        this.reads,
        {
          method: "GET",
          url: `${this.base}/v1/${this.parent}/customJobs`,
          params: {
            filter: UNFINISHED_FILTER,
            pageSize: CUSTOM_JOBS_PAGE_SIZE,
            ...(pageToken ? { pageToken } : {}),
          },
        },
      );
      for (const customJob of page.customJobs ?? []) {
        const job = customJob.name ? byName.get(customJob.name) : undefined;
        if (!job) continue;
        const { status, result } = statusOfCustomJob(customJob, job.backendState);
        // The list holds unfinished jobs only; a job that failed since is read by `poll`, which
        // tells preemption from the job's own failure. Should the list ever carry one, it is told here.
        const end = status === "FAILED" ? endReason(customJob) : undefined;
        settled.set(job.id, {
          status,
          ...(result ? { result } : {}),
          ...(end ? { end } : {}),
          backendState: { customJobName: customJob.name, lastStatus: status },
        });
      }
      pageToken = page.nextPageToken || undefined;
    } while (pageToken);
    return settled;
  }

  async cancel(job: BackendJob<"vertex-ai">): Promise<void> {
    // A job whose submit was given up has no recorded name; a CustomJob an attempt made is found by its label.
    const name = this.hasCustomJobName(job)
      ? this.customJobName(job)
      : (await this.findByJobId(job.id))?.name;
    if (!name) {
      throw new BackendError(
        404,
        "cloud_resource_not_found",
        `${CLOUD} holds no CustomJob for job ${job.id}`,
      );
    }
    this.gate.forget(job.id);
    // FAILED_PRECONDITION: the job already finished or is being cancelled; either way the cancel
    // has nothing left to do, and poll reports the final state.
    await this.call(
      "customJobs.cancel",
      this.reads,
      { method: "POST", url: `${this.base}/v1/${name}:cancel` },
      ["FAILED_PRECONDITION"],
    );
  }

  private hasCustomJobName(job: BackendJob<"vertex-ai">): boolean {
    return typeof (job.backendState?.customJobName ?? job.cloudJobIdentifier?.job_name) === "string";
  }

  /** The cursor of a log's very start: a follower moving on to a restart's log reads it whole. */
  logStart(): string {
    return entryCursor.encode(null);
  }

  /**
   * The CustomJob's output from Cloud Logging: the last `tail` lines, or with `cursor` at most `tail`
   * lines logged after it. Cloud Logging keeps a replica's stdout and stderr as one log, so only
   * `stdout` is served, holding both; each line says which replica (`workerpool0-0`) wrote it.
   */
  async logs(job: BackendJob<"vertex-ai">, query: LogsQuery): Promise<JobLogs> {
    if (query.stream !== "stdout") {
      throw new BackendError(
        400,
        "stream_not_separated",
        "Cloud Logging keeps a Vertex AI job's stdout and stderr as one log; ask for stream=stdout to read both",
      );
    }
    const name = this.customJobName(job);
    const after = query.cursor === undefined ? undefined : entryCursor.decode(query.cursor);
    const newestFirst = query.cursor === undefined;
    const filter = customJobFilter(name, after ?? undefined);
    const entries: CloudLogEntry[] = [];
    let lineCount = 0;
    let pageToken: string | undefined;
    // Pages until `tail` lines are in hand: an entry may hold several lines.
    do {
      const page = await this.call<{ entries?: CloudLogEntry[]; nextPageToken?: string }>(
        "entries.list",
        this.reads,
        {
          method: "POST",
          url: `${this.logging}/v2/entries:list`,
          data: {
            resourceNames: [`projects/${this.settings.project}`],
            filter,
            orderBy: newestFirst ? "timestamp desc" : "timestamp asc",
            pageSize: Math.min(LOGGING_MAX_PAGE_SIZE, query.tail - lineCount),
            ...(pageToken ? { pageToken } : {}),
          },
        },
      );
      for (const entry of page.entries ?? []) {
        if (lineCount >= query.tail) break;
        entries.push(entry);
        lineCount += linesOf(entry).length;
      }
      pageToken = page.nextPageToken || undefined;
    } while (pageToken && lineCount < query.tail);

    const ordered = newestFirst ? entries.reverse() : entries;
    let lines: LogLine[] = ordered.flatMap(linesOf);
    if (newestFirst) lines = lines.slice(-query.tail);
    const last = ordered
      .map(positionOf)
      .filter((p): p is EntryPosition => p !== undefined)
      .at(-1);
    return {
      job_id: job.id,
      stream: query.stream,
      lines: lines.map((l) => l.text),
      entries: lines,
      next_cursor: entryCursor.encode(last ?? after ?? null),
    };
  }

  private customJobName(job: BackendJob<"vertex-ai">): string {
    const name = job.backendState?.customJobName ?? job.cloudJobIdentifier?.job_name;
    if (typeof name !== "string") {
      throw new BackendError(409, "job_not_submitted", `job ${job.id} has no Vertex AI CustomJob yet`);
    }
    return name;
  }

  /** The CustomJob an earlier submit of this job made, found by its label. */
  private async findByJobId(jobId: string): Promise<VertexCustomJob | undefined> {
    const listed = await this.call<{ customJobs?: VertexCustomJob[] }>("customJobs.list", this.reads, {
      method: "GET",
      url: `${this.base}/v1/${this.parent}/customJobs`,
      params: { filter: `labels.${JOB_ID_LABEL}="${jobId}"`, pageSize: 10 },
    });
    // The label filter is the server's; checking the label here too keeps a filter the service
    // ignored from adopting someone else's job.
    return listed.customJobs?.find((j) => j.labels?.[JOB_ID_LABEL] === jobId);
  }

  private async call<T>(
    action: string,
    retryConfig: Retry,
    request: { method: "GET" | "POST"; url: string; data?: unknown; params?: Record<string, unknown> },
    tolerated: readonly string[] = [],
  ): Promise<T> {
    return withDeadline(
      CLOUD,
      action,
      this.timeoutMs,
      `that the server reaches ${this.base} and that the Google credentials (GOOGLE_APPLICATION_CREDENTIALS or the metadata server) answer`,
      (signal) => this.callOnce<T>(action, retryConfig, request, tolerated, signal),
    );
  }

  private async callOnce<T>(
    action: string,
    retryConfig: Retry,
    request: { method: "GET" | "POST"; url: string; data?: unknown; params?: Record<string, unknown> },
    tolerated: readonly string[],
    signal: AbortSignal,
  ): Promise<T> {
    let client: Awaited<ReturnType<GoogleAuth["getClient"]>>;
    try {
      client = await this.auth.getClient();
    } catch (err) {
      throw new BackendError(
        503,
        "cloud_credentials_unavailable",
        `${CLOUD} credentials could not be loaded: ${messageOf(err)}; set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file or run where a metadata server provides them`,
      );
    }
    try {
      const response = await client.request<T>({
        ...request,
        responseType: "json",
        retryConfig,
        timeout: this.timeoutMs,
        signal,
      });
      return response.data;
    } catch (err) {
      const failure = googleFailure(err);
      if (failure.code && tolerated.includes(failure.code)) return undefined as T;
      throw cloudError(CLOUD, action, failure);
    }
  }
}

/** Reads Google's error body (`{error: {code, status, message}}`) from a failed request. */
function googleFailure(err: unknown): { status?: number; code?: string; message: string } {
  const gaxios = err as { response?: { status?: number; data?: unknown } };
  const status = gaxios.response?.status;
  let data: unknown = gaxios.response?.data;
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      // a non-JSON body is reported as text below
    }
  }
  const body = (
    data as { error?: { status?: string; message?: string; details?: { reason?: unknown }[] } } | undefined
  )?.error;
  const message = body?.message ?? (typeof data === "string" && data ? data : messageOf(err));
  // RESOURCE_EXHAUSTED covers both a used-up resource quota (final) and a per-minute rate quota,
  // which google.rpc.ErrorInfo tells apart with the reason RATE_LIMIT_EXCEEDED (retry later).
  const rateLimited =
    Array.isArray(body?.details) && body.details.some((d) => d?.reason === "RATE_LIMIT_EXCEEDED");
  const code = rateLimited ? "RATE_LIMIT_EXCEEDED" : body?.status;
  return {
    ...(status !== undefined ? { status } : {}),
    ...(code ? { code } : {}),
    message,
  };
}

/**
 * The `vertex-ai` backend. Needs `TRAINKIT_VERTEX_PROJECT` and `TRAINKIT_VERTEX_REGION`; reads
 * `TRAINKIT_VERTEX_SERVICE_ACCOUNT`, `TRAINKIT_VERTEX_STAGING_BUCKET` and `TRAINKIT_VERTEX_ENDPOINT`.
 */
export const vertexAiBackend: BackendFactory<"vertex-ai"> = (env, ctx) => {
  const read = readCloudSettings(env, [
    { name: "TRAINKIT_VERTEX_PROJECT", required: true },
    {
      name: "TRAINKIT_VERTEX_REGION",
      required: true,
      check: (v) =>
        /^[a-z]+-[a-z]+\d+$/.test(v) ? undefined : "must be a Google Cloud region such as us-central1",
    },
    {
      name: "TRAINKIT_VERTEX_SERVICE_ACCOUNT",
      required: false,
      check: (v) => (/^[^@\s]+@[^@\s]+$/.test(v) ? undefined : "must be a service account email"),
    },
    {
      name: "TRAINKIT_VERTEX_STAGING_BUCKET",
      required: false,
      check: (v) =>
        /^gs:\/\/[a-z0-9][a-z0-9._-]+[a-z0-9](\/.*)?$/.test(v) ? undefined : "must be a gs://<bucket> URI",
    },
    { name: "TRAINKIT_VERTEX_ENDPOINT", required: false, check: checkEndpoint },
    { name: "TRAINKIT_VERTEX_LOGGING_ENDPOINT", required: false, check: checkEndpoint },
    MIN_POLL_INTERVAL_SETTING,
    CALL_TIMEOUT_SETTING,
    submitRateSetting("TRAINKIT_VERTEX_SUBMIT_PER_MINUTE", VERTEX_SUBMITS_PER_MINUTE),
  ]);
  if ("missing" in read) return read;
  const v = read.values;
  return {
    backend: new VertexAiBackend(
      {
        project: v.TRAINKIT_VERTEX_PROJECT!,
        region: v.TRAINKIT_VERTEX_REGION!,
        ...(v.TRAINKIT_VERTEX_SERVICE_ACCOUNT ? { serviceAccount: v.TRAINKIT_VERTEX_SERVICE_ACCOUNT } : {}),
        ...(v.TRAINKIT_VERTEX_STAGING_BUCKET ? { stagingBucket: v.TRAINKIT_VERTEX_STAGING_BUCKET } : {}),
        ...(v.TRAINKIT_VERTEX_ENDPOINT ? { endpoint: v.TRAINKIT_VERTEX_ENDPOINT } : {}),
        ...(v.TRAINKIT_VERTEX_LOGGING_ENDPOINT
          ? { loggingEndpoint: v.TRAINKIT_VERTEX_LOGGING_ENDPOINT }
          : {}),
      },
      ctx,
      {
        minPollIntervalMs: minPollIntervalMs(v.TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS),
        callTimeoutMs: callTimeoutMs(v.TRAINKIT_BACKEND_CALL_TIMEOUT_MS),
        submitsPerMinute: submitsPerMinute(v.TRAINKIT_VERTEX_SUBMIT_PER_MINUTE, VERTEX_SUBMITS_PER_MINUTE),
      },
    ),
  };
};
