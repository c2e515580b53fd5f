import { AzureMachineLearningWorkspaces, type JobBase } from "@azure/arm-machinelearning";
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type Pipeline,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { isTerminal, type JobLogs, type LogLine, type LogsQuery } from "../../../spec";
import {
  CALL_TIMEOUT_SETTING,
  type CloudRetryOptions,
  callTimeoutMs,
  checkEndpoint,
  classifyCloudFailure,
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
  AZURE_ML_DATA_PLANE_SCOPE,
  DEFAULT_EXPERIMENT,
  DEFAULT_LOG_READ_BYTES,
  type FileOffsets,
  fileCursor,
  logLine,
  logsNotYetAvailable,
  runDetailsPath,
  runHistoryOrigin,
  stdLogFiles,
  wholeLines,
} from "./logs";
import {
  type AzureMlSettings,
  azureJobName,
  ENVIRONMENT_VERSION,
  environmentId,
  environmentName,
  JOB_ID_TAG,
  statusOfAzureJob,
  toCommandJob,
  toEnvironmentVersion,
  workspaceId,
} from "./translate";

export {
  AZURE_STATUS_TO_STATUS,
  type AzureMlSettings,
  azureJobName,
  environmentName,
  JOB_ID_TAG,
  mountBindingName,
  statusOfAzureJob,
  toCommandJob,
  toEnvironmentVersion,
} from "./translate";

const CLOUD = "Azure ML";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ARM_SCOPE = "https://management.azure.com/.default";
/**
 * The SDK's default API version (2022-10-01) predates serverless compute; the command-job body this
 * backend sends is the same in this later GA version, which also accepts jobs without a computeId.
 */
export const AZURE_ML_API_VERSION = "2024-04-01";

/**
 * Job submissions per minute the reconciler paces to when `TRAINKIT_AZUREML_SUBMIT_PER_MINUTE` is
 * unset. Azure ML publishes no job-submission rate of its own; Azure Resource Manager's published
 * write limit (a bucket of 200 writes refilled at 10 a second, per subscription, service principal
 * and region; test/fixtures/published/azure-docs/arm-throttling.json) is 600 writes a minute, and a
 * submission is two writes (the environment version and the job), so 300 a minute.
 */
export const AZURE_ML_SUBMITS_PER_MINUTE = 300;

/**
 * The `Jobs_List` filters `sync` sends (api-version 2024-04-01 offers `jobType`, `tag`, `listViewType`,
 * `properties` and `$skipToken`, nothing on status or time): command jobs carrying the tag every job
 * this server submits carries, archived ones left out.
 */
export const JOBS_LIST_FILTER = { jobType: "Command", tag: JOB_ID_TAG, listViewType: "ActiveOnly" } as const;

export interface AzureMlBackendOptions {
  retry?: CloudRetryOptions;
  /** The credential; defaults to `DefaultAzureCredential`. */
  credential?: TokenCredential;
  /** Extra CA certificates the ARM client trusts (a TLS-inspecting proxy, a test endpoint). */
  tlsCa?: string;
  /**
   * Least time between two reads of one job's native state; polls in between report the stored
   * status. Defaults to `DEFAULT_MIN_POLL_INTERVAL_SECONDS` (30 s); the factory reads
   * `TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS`.
   */
  minPollIntervalMs?: number;
  /**
   * The longest one call may take, retries and the token request included; each HTTP attempt also
   * gets it as its timeout. Defaults to `DEFAULT_CALL_TIMEOUT_MS` (60 s); the factory reads
   * `TRAINKIT_BACKEND_CALL_TIMEOUT_MS`.
   */
  callTimeoutMs?: number;
  /** Bytes one ranged read of a log file asks for. Defaults to `DEFAULT_LOG_READ_BYTES` (4 MiB). */
  logReadBytes?: number;
  /** Submissions per minute the reconciler paces to. Defaults to `AZURE_ML_SUBMITS_PER_MINUTE`. */
  submitsPerMinute?: number;
}

/** Run history's RunDetails, the fields read here. */
interface RunDetails {
  status?: string;
  logFiles?: Record<string, string>;
}

const RUN_ENDED = new Set(["Completed", "Failed", "Canceled"]);

/**
 * Runs jobs as Azure ML command jobs through `@azure/arm-machinelearning`, authenticated by
 * `@azure/identity` (`DefaultAzureCredential`: environment, workload identity, managed identity,
 * Azure CLI). Throttling (429 with Retry-After), 5xx answers and dropped connections are retried by
 * the Azure core pipeline's retry policy, configured here.
 */
/** What a read or a listed page says of a job: its status, result and, for a failure, what ended it. */
function pollResultOf(found: JobBase, job: BackendJob<"azure-ml">, jobName: string): PollResult {
  const { status, result } = statusOfAzureJob(found, job.backendState);
  const end = status === "FAILED" ? endReason(found) : undefined;
  return {
    status,
    ...(result ? { result } : {}),
    ...(end ? { end } : {}),
    backendState: { jobName, lastStatus: status },
  };
}

export class AzureMlBackend implements Backend<"azure-ml"> {
  readonly name = "azure-ml" as const;
  private readonly client: AzureMachineLearningWorkspaces;
  private readonly host: string;
  private readonly gate: PollGate;
  private readonly timeoutMs: number;
  /** Run history requests: the credential's token for the Azure ML data plane, retries, TLS. */
  private readonly dataPlane: Pipeline;
  /** Log blob reads: authorized by the SAS in each URL run history hands out, so no token is sent. */
  private readonly blobs: Pipeline;
  private readonly http: HttpClient = createDefaultHttpClient();
  private readonly logReadBytes: number;
  private runHistory: string | undefined;
  private readonly experiments = new Map<string, string>();
  readonly submitsPerMinute: number;

  constructor(
    readonly settings: AzureMlSettings,
    private readonly ctx: BackendContext,
    options: AzureMlBackendOptions = {},
  ) {
    this.timeoutMs = options.callTimeoutMs ?? callTimeoutMs(undefined);
    this.submitsPerMinute = options.submitsPerMinute ?? AZURE_ML_SUBMITS_PER_MINUTE;
    const retry = { ...DEFAULT_CLOUD_RETRY, ...options.retry };
    this.gate = new PollGate(options.minPollIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000);
    const endpoint = settings.endpoint?.replace(/\/+$/, "");
    this.host = endpoint ?? "https://management.azure.com";
    this.client = new AzureMachineLearningWorkspaces(
      options.credential ?? new DefaultAzureCredential(),
      settings.subscriptionId,
      {
        apiVersion: AZURE_ML_API_VERSION,
        ...(endpoint ? { endpoint, $host: endpoint } : {}),
        // Tokens are for Azure Resource Manager whatever host serves it, not for the endpoint's URL.
        credentialScopes: [ARM_SCOPE],
        retryOptions: {
          maxRetries: retry.maxAttempts - 1,
          retryDelayInMs: retry.initialDelayMs,
          maxRetryDelayInMs: retry.maxDelayMs,
        },
        ...(options.tlsCa ? { tlsOptions: { ca: options.tlsCa } } : {}),
      },
    );
    const pipelineOptions = {
      retryOptions: {
        maxRetries: retry.maxAttempts - 1,
        retryDelayInMs: retry.initialDelayMs,
        maxRetryDelayInMs: retry.maxDelayMs,
      },
      ...(options.tlsCa ? { tlsOptions: { ca: options.tlsCa } } : {}),
    };
    this.dataPlane = createPipelineFromOptions(pipelineOptions);
    this.dataPlane.addPolicy(
      bearerTokenAuthenticationPolicy({
        credential: options.credential ?? new DefaultAzureCredential(),
        scopes: AZURE_ML_DATA_PLANE_SCOPE,
      }),
    );
    this.blobs = createPipelineFromOptions(pipelineOptions);
    this.logReadBytes = options.logReadBytes ?? DEFAULT_LOG_READ_BYTES;
  }

  async submit(job: BackendJob<"azure-ml">): Promise<SubmitResult> {
    const { resourceGroup, workspace } = this.settings;
    const image = job.request.job_config.environment.image;
    const env = await this.arm("environmentVersions.createOrUpdate", (abortSignal) =>
      this.client.environmentVersions.createOrUpdate(
        resourceGroup,
        workspace,
        environmentName(image),
        ENVIRONMENT_VERSION,
        toEnvironmentVersion(image),
        { abortSignal },
      ),
    );
    const name = azureJobName(job.id, job.request.name);
    const body = toCommandJob(
      job.id,
      job.request,
      this.settings,
      env.id ?? environmentId(this.settings, image),
    );
    let created: JobBase;
    try {
      created = await this.putJob(name, body);
    } catch (err) {
      // The PUT is idempotent for identical bodies; a conflict means the job exists and has moved
      // on, which only an earlier submit of this same job (same derived name) can have caused.
      if (!(err instanceof BackendError && err.status === 409)) throw err;
      created = await this.getJob(name);
      this.ctx.log.info({ jobId: job.id, azureJob: name }, "adopted existing Azure ML job");
    }
    const { status } = statusOfAzureJob(created, null);
    return {
      cloudJobIdentifier: { job_name: name },
      backendState: { jobName: name, lastStatus: status },
      status,
    };
  }

  async poll(job: BackendJob<"azure-ml">): Promise<PollResult> {
    if (!this.gate.shouldRead(job.id)) return { status: lastKnownStatus(job.backendState) };
    const name = this.jobNameOf(job);
    let found: JobBase;
    try {
      found = await this.getJob(name);
    } catch (err) {
      // A failed read must not hold the next one back for the poll interval.
      this.gate.forget(job.id);
      throw err;
    }
    const polled = pollResultOf(found, job, name);
    if (isTerminal(polled.status)) this.gate.forget(job.id);
    return polled;
  }

  /**
   * Settles the tracked jobs from the pages of one `Jobs_List` (the SDK's pager, following each
   * page's `nextLink`), filtered to the command jobs this server tagged. The list cannot filter by
   * status or time, so it holds finished jobs too; paging stops once every tracked job has been
   * seen, and a tracked job the pages never name (deleted, archived, or made after the list began)
   * is left out for `poll`.
   */
  async sync(jobs: readonly BackendJob<"azure-ml">[]): Promise<SyncResult> {
    const byName = new Map<string, BackendJob<"azure-ml">>();
    for (const job of jobs) byName.set(this.jobNameOf(job), job);
    const settled: SyncResult = new Map();
    if (byName.size === 0) return settled;
    await this.arm("jobs.list", async (abortSignal) => {
      const pages = this.client.jobs
        .list(this.settings.resourceGroup, this.settings.workspace, { ...JOBS_LIST_FILTER, abortSignal })
        .byPage();
      for await (const page of pages) {
        for (const found of page) {
          const job = found.name ? byName.get(found.name) : undefined;
          // A job under the name that was not made for this one is for `poll` to explain.
          if (!job || found.properties.tags?.[JOB_ID_TAG] !== job.id) continue;
          settled.set(job.id, pollResultOf(found, job, this.jobNameOf(job)));
        }
        if (settled.size === byName.size) break;
      }
    });
    return settled;
  }

  async cancel(job: BackendJob<"azure-ml">): Promise<void> {
    const name = this.jobNameOf(job);
    this.gate.forget(job.id);
    try {
      // Only the cancel request is sent; poll follows the job to Canceled.
      await this.arm("jobs.beginCancel", (abortSignal) =>
        this.client.jobs.beginCancel(this.settings.resourceGroup, this.settings.workspace, name, {
          abortSignal,
        }),
      );
    } catch (err) {
      // A job that already ended cannot be canceled: there is nothing left to stop.
      if (err instanceof BackendError && (err.status === 400 || err.status === 409)) {
        const { status } = statusOfAzureJob(await this.getJob(name), null);
        if (["COMPLETED", "FAILED", "CANCELED", "EXPIRED"].includes(status)) return;
      }
      throw err;
    }
  }

  /** The cursor of a log's very start: a follower moving on to a restart's log reads it whole. */
  logStart(): string {
    return fileCursor.encode(null);
  }

  /**
   * The job's own output, as `az ml job stream` reads it: the files `user_logs/std_log*.txt` that
   * run history lists for the job's run, read with ranged requests. Without `cursor`, the last
   * `tail` lines; with it, at most `tail` lines written after it. Each file holds one process's
   * stdout and stderr together, so only `stdout` is served; each line says which process wrote it
   * where several did (`process_1`). The files carry no time per line, so lines have none.
   */
  async logs(job: BackendJob<"azure-ml">, query: LogsQuery): Promise<JobLogs> {
    if (query.stream !== "stdout") {
      throw new BackendError(
        400,
        "stream_not_separated",
        "Azure ML keeps a job's stdout and stderr as one log file per process; ask for stream=stdout to read both",
      );
    }
    const name = this.jobNameOf(job);
    const after = query.cursor === undefined ? undefined : fileCursor.decode(query.cursor);
    const details = await this.runDetails(job, name);
    const files = stdLogFiles(details.logFiles);
    if (files.length === 0) throw logsNotYetAvailable(name);
    const final = RUN_ENDED.has(details.status ?? "");
    const offsets: FileOffsets = { ...(after ?? {}) };
    let lines: LogLine[] = [];
    for (const file of files) {
      const url = details.logFiles![file]!;
      if (after === undefined) {
        const last = await this.lastLines(url, file, query.tail, final);
        lines.push(...last.lines.map((text) => logLine(text, file)));
        offsets[file] = last.end;
        continue;
      }
      let offset = offsets[file] ?? 0;
      // Reads on from the cursor until `tail` lines are in hand or the file's end is reached.
      while (lines.length < query.tail) {
        const read = await this.readRange(url, file, offset, this.logReadBytes);
        const got = wholeLines(read.bytes, offset, {
          final: final && offset + read.bytes.length >= read.size,
          fromMiddle: false,
        });
        const taken = got.lines.slice(0, query.tail - lines.length);
        lines.push(...taken.map((l) => logLine(l.text, file)));
        const next = taken.at(-1)?.end ?? offset;
        const atEnd = offset + read.bytes.length >= read.size;
        if (next === offset || taken.length < got.lines.length || atEnd) {
          offset = next;
          break;
        }
        offset = next;
      }
      offsets[file] = offset;
    }
    if (after === undefined) lines = lines.slice(-query.tail);
    return {
      job_id: job.id,
      stream: query.stream,
      lines: lines.map((l) => l.text),
      entries: lines,
      next_cursor: fileCursor.encode(offsets),
    };
  }

  /** The last `tail` whole lines of one file, and the offset after them (the file's end). */
  private async lastLines(
    url: string,
    file: string,
    tail: number,
    final: boolean,
  ): Promise<{ lines: string[]; end: number }> {
    const head = await this.readRange(url, file, 0, this.logReadBytes);
    let read = head;
    let start = 0;
    if (head.size > head.bytes.length) {
      start = head.size - this.logReadBytes;
      read = await this.readRange(url, file, start, this.logReadBytes);
    }
    const got = wholeLines(read.bytes, start, { final, fromMiddle: start > 0 });
    return { lines: got.lines.slice(-tail).map((l) => l.text), end: got.end };
  }

  /** One ranged Get Blob of a log file; past the end it answers no bytes. */
  private async readRange(
    url: string,
    file: string,
    start: number,
    count: number,
  ): Promise<{ bytes: Buffer; size: number }> {
    const response = await this.send("Get Blob", this.blobs, `the blob of ${file}`, {
      url,
      headers: { "x-ms-range": `bytes=${start}-${start + count - 1}` },
      stream: true,
    });
    if (response.status === 416) return { bytes: Buffer.alloc(0), size: start };
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody ?? []) chunks.push(Buffer.from(chunk as Buffer));
    const bytes = Buffer.concat(chunks);
    const range = /\/(\d+)$/.exec(response.headers.get("content-range") ?? "");
    const size = range ? Number(range[1]) : start + bytes.length;
    return { bytes, size };
  }

  /** The job's run in run history: its status and the files it has logged, each with a SAS URL. */
  private async runDetails(job: BackendJob<"azure-ml">, name: string): Promise<RunDetails> {
    if (!this.runHistory) {
      const workspace = await this.arm("workspaces.get", (abortSignal) =>
        this.client.workspaces.get(this.settings.resourceGroup, this.settings.workspace, { abortSignal }),
      );
      this.runHistory = runHistoryOrigin(workspace.discoveryUrl, this.settings.workspace);
    }
    let experiment = this.experiments.get(name);
    if (!experiment) {
      const found = await this.getJob(name);
      experiment =
        (found.properties as { experimentName?: string } | undefined)?.experimentName ??
        job.request.job_config.experiment_name ??
        DEFAULT_EXPERIMENT;
      this.experiments.set(name, experiment);
    }
    const url = `${this.runHistory}${runDetailsPath(workspaceId(this.settings), experiment, name)}`;
    const response = await this.send("Runs_GetDetails", this.dataPlane, this.runHistory, {
      url,
      headers: { accept: "application/json" },
    });
    if (response.status === 404) throw logsNotYetAvailable(name);
    return JSON.parse(response.bodyAsText ?? "{}") as RunDetails;
  }

  /**
   * One data-plane request, bounded by the call timeout; a refusal other than 404 and 416 becomes
   * a `BackendError` naming `target` (never a blob's URL, whose query holds a SAS).
   */
  private async send(
    action: string,
    pipeline: Pipeline,
    target: string,
    request: { url: string; headers: Record<string, string>; stream?: boolean },
  ): Promise<PipelineResponse> {
    const response = await withDeadline(
      CLOUD,
      action,
      this.timeoutMs,
      `that the server reaches ${target} and that DefaultAzureCredential obtains a token`,
      (abortSignal) =>
        pipeline.sendRequest(
          this.http,
          createPipelineRequest({
            url: request.url,
            method: "GET",
            headers: createHttpHeaders(request.headers),
            timeout: this.timeoutMs,
            abortSignal,
            ...(request.stream ? { streamResponseStatusCodes: new Set([200, 206]) } : {}),
          }),
        ),
    ).catch((err: unknown) => {
      throw toBackendError(action, err);
    });
    if (response.status < 300 || response.status === 404 || response.status === 416) return response;
    let error: { code?: string; message?: string } | undefined;
    try {
      error = (JSON.parse(response.bodyAsText ?? "") as { error?: typeof error }).error;
    } catch {
      // A blob error answers XML; its status and error-code header are enough.
    }
    const code = error?.code ?? response.headers.get("x-ms-error-code");
    throw toBackendError(`${action} (${target})`, {
      statusCode: response.status,
      ...(code ? { code } : {}),
      message: error?.message ?? `HTTP ${response.status}`,
    });
  }

  private jobNameOf(job: BackendJob<"azure-ml">): string {
    const name = job.backendState?.jobName ?? job.cloudJobIdentifier?.job_name;
    return typeof name === "string" ? name : azureJobName(job.id, job.request.name);
  }

  /**
   * The job PUT (jobs.createOrUpdate) sent through the client's own pipeline (credential, retry
   * policy, TLS settings) with the body exactly as the REST API defines it. The SDK's operation
   * cannot be used for it: version 2.1.1 serializes `inputs`/`outputs` through the JobInput base
   * mapper (its discriminator table files `uri_folder` under AssetJobInput only), which drops each
   * mount's `uri` and `mode`.
   */
  private async putJob(name: string, body: JobBase): Promise<JobBase> {
    const url = `${this.host}${workspaceId(this.settings)}/jobs/${encodeURIComponent(name)}?api-version=${AZURE_ML_API_VERSION}`;
    const response = await this.arm("jobs.createOrUpdate", (abortSignal) =>
      this.client.sendRequest(
        createPipelineRequest({
          url,
          method: "PUT",
          body: JSON.stringify(body),
          headers: createHttpHeaders({ "content-type": "application/json", accept: "application/json" }),
          timeout: this.timeoutMs,
          abortSignal,
        }),
      ),
    );
    let parsed: unknown;
    try {
      parsed = response.bodyAsText ? JSON.parse(response.bodyAsText) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status === 200 || response.status === 201) return parsed as JobBase;
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw toBackendError("jobs.createOrUpdate", {
      statusCode: response.status,
      ...(error?.code ? { code: error.code } : {}),
      message: error?.message ?? (response.bodyAsText || `HTTP ${response.status}`),
    });
  }

  private getJob(name: string): Promise<JobBase> {
    return this.arm("jobs.get", (abortSignal) =>
      this.client.jobs.get(this.settings.resourceGroup, this.settings.workspace, name, { abortSignal }),
    );
  }

  /** One ARM call, bounded by the call timeout (the token request included). */
  private async arm<T>(action: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(
        CLOUD,
        action,
        this.timeoutMs,
        `that the server reaches ${this.host} and that DefaultAzureCredential obtains a token (a managed-identity endpoint that does not answer stalls it)`,
        call,
      );
    } catch (err) {
      throw toBackendError(action, err);
    }
  }
}

const CREDENTIAL_ERRORS = new Set([
  "CredentialUnavailableError",
  "AggregateAuthenticationError",
  "AuthenticationError",
]);

/** A `RestError` (ARM's `{error: {code, message}}`) or an identity failure as a `BackendError`. */
function toBackendError(action: string, err: unknown): BackendError {
  if (err instanceof BackendError) return err;
  const e = err as { name?: string; statusCode?: number; code?: string; message?: string };
  if (e.name && CREDENTIAL_ERRORS.has(e.name)) {
    return new BackendError(
      503,
      "cloud_credentials_unavailable",
      `${CLOUD} credentials could not be obtained: ${messageOf(err)}; provide them to DefaultAzureCredential (AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload or managed identity, or az login)`,
    );
  }
  const failure = {
    ...(e.statusCode !== undefined ? { status: e.statusCode } : {}),
    ...(e.code && e.statusCode !== undefined ? { code: e.code } : {}),
    message: e.message ?? messageOf(err),
  };
  // ARM answers some quota refusals with a generic code and the word in the message only.
  if (classifyCloudFailure(failure.status, failure.code) === "invalid" && /quota/i.test(failure.message)) {
    return cloudError(CLOUD, action, { ...failure, code: "QuotaExceeded" });
  }
  return cloudError(CLOUD, action, failure);
}

/**
 * The `azure-ml` backend. Needs `TRAINKIT_AZUREML_SUBSCRIPTION_ID`, `TRAINKIT_AZUREML_RESOURCE_GROUP`
 * and `TRAINKIT_AZUREML_WORKSPACE`; reads `TRAINKIT_AZUREML_ENDPOINT` and
 * `TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID` (the identity jobs run as).
 */
export const azureMlBackend: BackendFactory<"azure-ml"> = (env, ctx) => {
  const read = readCloudSettings(env, [
    {
      name: "TRAINKIT_AZUREML_SUBSCRIPTION_ID",
      required: true,
      check: (v) =>
        GUID.test(v)
          ? undefined
          : "must be a subscription id (a GUID such as 00000000-1111-2222-3333-444444444444)",
    },
    { name: "TRAINKIT_AZUREML_RESOURCE_GROUP", required: true },
    { name: "TRAINKIT_AZUREML_WORKSPACE", required: true },
    { name: "TRAINKIT_AZUREML_ENDPOINT", required: false, check: checkEndpoint },
    {
      name: "TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID",
      required: false,
      check: (v) =>
        GUID.test(v)
          ? undefined
          : "must be the client id (a GUID) of the user-assigned managed identity jobs run as, attached to the workspace and its compute clusters",
    },
    MIN_POLL_INTERVAL_SETTING,
    CALL_TIMEOUT_SETTING,
    submitRateSetting("TRAINKIT_AZUREML_SUBMIT_PER_MINUTE", AZURE_ML_SUBMITS_PER_MINUTE),
  ]);
  if ("missing" in read) return read;
  const v = read.values;
  return {
    backend: new AzureMlBackend(
      {
        subscriptionId: v.TRAINKIT_AZUREML_SUBSCRIPTION_ID!,
        resourceGroup: v.TRAINKIT_AZUREML_RESOURCE_GROUP!,
        workspace: v.TRAINKIT_AZUREML_WORKSPACE!,
        ...(v.TRAINKIT_AZUREML_ENDPOINT ? { endpoint: v.TRAINKIT_AZUREML_ENDPOINT } : {}),
        ...(v.TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID
          ? { jobIdentityClientId: v.TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID }
          : {}),
      },
      ctx,
      {
        minPollIntervalMs: minPollIntervalMs(v.TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS),
        callTimeoutMs: callTimeoutMs(v.TRAINKIT_BACKEND_CALL_TIMEOUT_MS),
        submitsPerMinute: submitsPerMinute(v.TRAINKIT_AZUREML_SUBMIT_PER_MINUTE, AZURE_ML_SUBMITS_PER_MINUTE),
      },
    ),
  };
};
