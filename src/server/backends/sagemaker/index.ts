import {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  type DescribeTrainingJobCommandOutput,
  ListTrainingJobsCommand,
  type ListTrainingJobsCommandOutput,
  SageMakerClient,
  type SageMakerClientConfig,
  StopTrainingJobCommand,
} from "@aws-sdk/client-sagemaker";
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
  EVENTS_MAX_PAGE_SIZE,
  type EventPosition,
  eventCursor,
  LOG_READ_ACTIONS,
  linesOf,
  logsNotYetAvailable,
  positionAfter,
  STREAMS_MAX_PAGE_SIZE,
  type StreamEvent,
  streamPrefix,
  TRAINING_JOB_LOG_GROUP,
} from "./logs";
import {
  type SageMakerSettings,
  statusOfTrainingJob,
  toCreateTrainingJob,
  trainingJobName,
} from "./translate";

export { LOG_READ_ACTIONS, TRAINING_JOB_LOG_GROUP } from "./logs";
export {
  channelName,
  channelPath,
  DEFAULT_MAX_RUNTIME_SECONDS,
  IN_PROGRESS_SECONDARY_TO_STATUS,
  JOB_ID_TAG,
  type SageMakerSettings,
  statusOfTrainingJob,
  toCreateTrainingJob,
  trainingJobName,
} from "./translate";

const CLOUD = "SageMaker";

/**
 * Training job creations per minute the reconciler paces to when `TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE`
 * is unset. AWS publishes no default rate for CreateTrainingJob (its management APIs are throttled
 * per account and region at rates it does not state), so this is a conservative one: a minute's
 * worth, one a second.
 */
export const SAGEMAKER_SUBMITS_PER_MINUTE = 60;

/** `MaxResults` of ListTrainingJobs: the service model's largest (1 to 100). */
export const TRAINING_JOBS_PAGE_SIZE = 100;

/**
 * How far before the previous sync's start a sync's `LastModifiedTimeAfter` reaches back, so a
 * change recorded while that sync ran, or under a clock a little apart from the server's, is not missed.
 */
export const MODIFIED_OVERLAP_MS = 60_000;
const LOGS_CLOUD = "CloudWatch Logs";

export interface SageMakerBackendOptions {
  /** Only `maxAttempts` applies: the SDK's standard retry mode sets its own backoff. */
  retry?: Pick<CloudRetryOptions, "maxAttempts">;
  /**
   * Least time between two reads of one job's native state; polls in between report the stored
   * status. Defaults to `DEFAULT_MIN_POLL_INTERVAL_SECONDS` (30 s); the factory reads
   * `TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS`.
   */
  minPollIntervalMs?: number;
  /**
   * The longest one call may take, SDK retries and the credential chain included; each HTTP attempt
   * also gets it as its connect and idle timeout. Defaults to `DEFAULT_CALL_TIMEOUT_MS` (60 s); the
   * factory reads `TRAINKIT_BACKEND_CALL_TIMEOUT_MS`.
   */
  callTimeoutMs?: number;
  /** Submissions per minute the reconciler paces to. Defaults to `SAGEMAKER_SUBMITS_PER_MINUTE`. */
  submitsPerMinute?: number;
}

/**
 * Runs jobs as SageMaker training jobs through `@aws-sdk/client-sagemaker`, with credentials from
 * the AWS default chain (environment, shared config, web identity, container or instance role).
 * Throttling, 5xx answers and dropped connections are retried by the SDK's standard retry mode,
 * except a throttled CreateTrainingJob: that fails at once, and the reconciler lowers the pace.
 */
export class SageMakerBackend implements Backend<"sagemaker"> {
  readonly name = "sagemaker" as const;
  private readonly client: SageMakerClient;
  /** CreateTrainingJob's client: the same, but a throttled create is not retried by the SDK. */
  private readonly creates: SageMakerClient;
  private readonly logsClient: CloudWatchLogsClient;
  private readonly gate: PollGate;
  private readonly timeoutMs: number;
  readonly submitsPerMinute: number;

  constructor(
    readonly settings: SageMakerSettings,
    private readonly ctx: BackendContext,
    options: SageMakerBackendOptions = {},
  ) {
    this.gate = new PollGate(options.minPollIntervalMs ?? DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000);
    this.timeoutMs = options.callTimeoutMs ?? callTimeoutMs(undefined);
    this.submitsPerMinute = options.submitsPerMinute ?? SAGEMAKER_SUBMITS_PER_MINUTE;
    const common = {
      region: settings.region,
      maxAttempts: options.retry?.maxAttempts ?? DEFAULT_CLOUD_RETRY.maxAttempts,
      retryMode: "standard",
      // Without these the SDK waits on a silent endpoint for as long as the socket stays open.
      requestHandler: { connectionTimeout: this.timeoutMs, requestTimeout: this.timeoutMs },
    };
    this.client = new SageMakerClient({
      ...common,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    });
    this.creates = new SageMakerClient({
      ...common,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      retryStrategy: withoutThrottlingRetries(() => this.client.config.retryStrategy()),
    });
    this.logsClient = new CloudWatchLogsClient({
      ...common,
      ...(settings.logsEndpoint ? { endpoint: settings.logsEndpoint } : {}),
    });
  }

  /** One SDK call, bounded by the call timeout (credential resolution included). */
  private send<T>(action: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(
      CLOUD,
      action,
      this.timeoutMs,
      `that the server reaches ${this.settings.endpoint ?? `the SageMaker endpoint of ${this.settings.region}`} and that the AWS credential chain answers (a container or instance metadata endpoint that does not answer stalls it)`,
      call,
    );
  }

  async submit(job: BackendJob<"sagemaker">): Promise<SubmitResult> {
    const input = toCreateTrainingJob(job.id, job.request, this.settings);
    const name = input.TrainingJobName!;
    try {
      await this.send("CreateTrainingJob", (abortSignal) =>
        this.creates.send(new CreateTrainingJobCommand(input), { abortSignal }),
      );
    } catch (err) {
      // The name is derived from the job id, so a training job already holding it is the one an
      // earlier submit of this very job started (its answer lost, or the SDK's own retry of it).
      if ((err as Error).name !== "ResourceInUse") throw toBackendError("CreateTrainingJob", err);
      const existing = await this.describe(name);
      this.ctx.log.info({ jobId: job.id, trainingJobName: name }, "adopted existing training job");
      const { status } = statusOfTrainingJob(existing, null);
      return this.submitted(name, status);
    }
    return this.submitted(name, "PENDING");
  }

  async poll(job: BackendJob<"sagemaker">): Promise<PollResult> {
    if (!this.gate.shouldRead(job.id)) return { status: lastKnownStatus(job.backendState) };
    const name = this.trainingJobNameOf(job);
    let described: DescribeTrainingJobCommandOutput;
    try {
      described = await this.describe(name);
    } catch (err) {
      // A failed read must not hold the next one back for the poll interval.
      this.gate.forget(job.id);
      throw err;
    }
    const { status, result } = statusOfTrainingJob(described, job.backendState);
    if (isTerminal(status)) this.gate.forget(job.id);
    const end = status === "FAILED" ? endReason(described) : undefined;
    return {
      status,
      ...(result ? { result } : {}),
      ...(end ? { end } : {}),
      backendState: { trainingJobName: name, lastStatus: status },
    };
  }

  /**
   * Lists the training jobs modified since the previous sync (`LastModifiedTimeAfter`, page by
   * page): a tracked job the pages leave out has not changed, one they name is settled from its
   * summary. A job that failed or ran out of time is left to `poll`, because only DescribeTrainingJob
   * carries the failure reason. The first sync has no `since` and settles nothing.
   */
  async sync(jobs: readonly BackendJob<"sagemaker">[], since: Date | undefined): Promise<SyncResult> {
    const settled: SyncResult = new Map();
    if (since === undefined) return settled;
    const byName = new Map<string, BackendJob<"sagemaker">>();
    for (const job of jobs) {
      const name = job.backendState?.trainingJobName ?? job.cloudJobIdentifier?.training_job_name;
      if (typeof name === "string") byName.set(name, job);
    }
    const changed = new Map<
      string,
      NonNullable<ListTrainingJobsCommandOutput["TrainingJobSummaries"]>[number]
    >();
    let token: string | undefined;
    do {
      const page = await this.send("ListTrainingJobs", (abortSignal) =>
        this.client
          .send(
            new ListTrainingJobsCommand({
              LastModifiedTimeAfter: new Date(since.getTime() - MODIFIED_OVERLAP_MS),
              MaxResults: TRAINING_JOBS_PAGE_SIZE,
              ...(token ? { NextToken: token } : {}),
            }),
            { abortSignal },
          )
          .catch((err) => {
            throw toBackendError("ListTrainingJobs", err);
          }),
      );
      for (const summary of page.TrainingJobSummaries ?? []) {
        if (summary.TrainingJobName) changed.set(summary.TrainingJobName, summary);
      }
      token = page.NextToken || undefined;
    } while (token);
    for (const [name, job] of byName) {
      const summary = changed.get(name);
      if (!summary) {
        settled.set(job.id, "unchanged");
        continue;
      }
      const { status, result } = statusOfTrainingJob(summary, job.backendState);
      // The summary has no FailureReason: the describe in `poll` gets it.
      if (result?.failure_reason !== undefined && (status === "FAILED" || status === "EXPIRED")) continue;
      settled.set(job.id, {
        status,
        ...(result ? { result } : {}),
        backendState: { trainingJobName: name, lastStatus: status },
      });
    }
    return settled;
  }

  async cancel(job: BackendJob<"sagemaker">): Promise<void> {
    const name = this.trainingJobNameOf(job);
    this.gate.forget(job.id);
    try {
      await this.send("StopTrainingJob", (abortSignal) =>
        this.client.send(new StopTrainingJobCommand({ TrainingJobName: name }), { abortSignal }),
      );
    } catch (err) {
      // StopTrainingJob refuses a job that is no longer InProgress (already stopping, stopped,
      // completed or failed): there is nothing left to stop, and poll reports how it ended.
      if ((err as Error).name === "ValidationException") {
        const described = await this.describe(name);
        if (described.TrainingJobStatus !== "InProgress") return;
      }
      throw toBackendError("StopTrainingJob", err);
    }
  }

  /** The cursor of a log's very start: a follower moving on to a restart's log reads it whole. */
  logStart(): string {
    return eventCursor.encode(null);
  }

  /**
   * The training job's output from CloudWatch Logs: the last `tail` lines of all its instances'
   * streams, or with `cursor` at most `tail` lines (whole events) logged after it. SageMaker writes
   * an instance's stdout and stderr to one stream, so only `stdout` is served, holding both; each
   * line says which instance (`algo-1`) wrote it.
   */
  async logs(job: BackendJob<"sagemaker">, query: LogsQuery): Promise<JobLogs> {
    if (query.stream !== "stdout") {
      throw new BackendError(
        400,
        "stream_not_separated",
        "CloudWatch Logs keeps a SageMaker training job's stdout and stderr as one log stream; ask for stream=stdout to read both",
      );
    }
    const name = this.trainingJobNameOf(job);
    const after = query.cursor === undefined ? undefined : eventCursor.decode(query.cursor);
    let events: StreamEvent[];
    let position: EventPosition | null;
    if (after === undefined) {
      events = await this.lastEvents(name, query.tail);
      position = positionAfter(events, null);
    } else {
      events = await this.eventsAfter(name, after, query.tail);
      position = positionAfter(events, after);
    }
    let lines: LogLine[] = events.flatMap(linesOf);
    if (after === undefined) lines = lines.slice(-query.tail);
    return {
      job_id: job.id,
      stream: query.stream,
      lines: lines.map((l) => l.text),
      entries: lines,
      next_cursor: eventCursor.encode(position),
    };
  }

  /** The newest events of each of the job's streams, merged oldest first: enough for `tail` lines. */
  private async lastEvents(name: string, tail: number): Promise<StreamEvent[]> {
    const streams = await this.streamsOf(name);
    if (streams.length === 0) throw logsNotYetAvailable(name);
    const merged: StreamEvent[] = [];
    for (const streamName of streams) {
      const events: StreamEvent[] = [];
      let lineCount = 0;
      let token: string | undefined;
      // Pages backwards from the stream's end until `tail` lines are in hand; a page may be partly
      // full or empty, and the end is reached when the token comes back unchanged.
      for (;;) {
        const page = await this.logsCall("GetLogEvents", (abortSignal) =>
          this.logsClient.send(
            new GetLogEventsCommand({
              logGroupName: TRAINING_JOB_LOG_GROUP,
              logStreamName: streamName,
              startFromHead: false,
              limit: Math.min(EVENTS_MAX_PAGE_SIZE, tail),
              ...(token ? { nextToken: token } : {}),
            }),
            { abortSignal },
          ),
        );
        const got = (page.events ?? []).map((e) => ({
          streamName,
          timestamp: e.timestamp ?? 0,
          message: e.message ?? "",
        }));
        events.unshift(...got);
        for (const e of got) lineCount += linesOf(e).length;
        const next = page.nextBackwardToken;
        if (lineCount >= tail || !next || next === token) break;
        token = next;
      }
      merged.push(...events);
    }
    // Stable: a stream's own order holds for events of the same millisecond.
    return merged.sort((a, b) => a.timestamp - b.timestamp);
  }

  /** Events of the job's streams after `after`, oldest first, whole events until `tail` lines. */
  private async eventsAfter(name: string, after: EventPosition | null, tail: number): Promise<StreamEvent[]> {
    const events: StreamEvent[] = [];
    let lineCount = 0;
    let skip = after?.seen ?? 0;
    let token: string | undefined;
    do {
      const page = await this.logsCall(
        "FilterLogEvents",
        (abortSignal) =>
          this.logsClient.send(
            new FilterLogEventsCommand({
              logGroupName: TRAINING_JOB_LOG_GROUP,
              logStreamNamePrefix: streamPrefix(name),
              startTime: after?.timestamp ?? 0,
              limit: Math.min(EVENTS_MAX_PAGE_SIZE, tail - lineCount + skip),
              ...(token ? { nextToken: token } : {}),
            }),
            { abortSignal },
          ),
        name,
      );
      for (const e of page.events ?? []) {
        if (lineCount >= tail) break;
        // Events of the cursor's millisecond that an earlier read already returned.
        if (skip > 0 && e.timestamp === after?.timestamp) {
          skip--;
          continue;
        }
        const event = {
          streamName: e.logStreamName ?? "",
          timestamp: e.timestamp ?? 0,
          message: e.message ?? "",
        };
        events.push(event);
        lineCount += linesOf(event).length;
      }
      token = page.nextToken || undefined;
    } while (token && lineCount < tail);
    return events;
  }

  /** The names of the job's log streams, one per instance. */
  private async streamsOf(name: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.logsCall(
        "DescribeLogStreams",
        (abortSignal) =>
          this.logsClient.send(
            new DescribeLogStreamsCommand({
              logGroupName: TRAINING_JOB_LOG_GROUP,
              logStreamNamePrefix: streamPrefix(name),
              limit: STREAMS_MAX_PAGE_SIZE,
              ...(token ? { nextToken: token } : {}),
            }),
            { abortSignal },
          ),
        name,
      );
      for (const s of page.logStreams ?? []) if (s.logStreamName) names.push(s.logStreamName);
      token = page.nextToken || undefined;
    } while (token);
    return names;
  }

  /**
   * One CloudWatch Logs call. A missing log group (no training job of this account and region has
   * logged yet) is, for the job named, logs not yet available.
   */
  private async logsCall<T>(
    action: string,
    call: (abortSignal: AbortSignal) => Promise<T>,
    trainingJobName?: string,
  ): Promise<T> {
    try {
      return await withDeadline(
        LOGS_CLOUD,
        action,
        this.timeoutMs,
        `that the server reaches ${this.settings.logsEndpoint ?? `the CloudWatch Logs endpoint of ${this.settings.region}`} and that the AWS credential chain answers`,
        call,
      );
    } catch (err) {
      if (trainingJobName && (err as Error).name === "ResourceNotFoundException") {
        throw logsNotYetAvailable(trainingJobName);
      }
      const failure = toBackendError(action, err, LOGS_CLOUD);
      if (failure.status !== 403) throw failure;
      throw new BackendError(
        403,
        failure.code,
        `${failure.message} Reading a training job's log needs ${LOG_READ_ACTIONS.join(", ")} on log group ${TRAINING_JOB_LOG_GROUP} (arn:aws:logs:${this.settings.region}:<account>:log-group:${TRAINING_JOB_LOG_GROUP}:*): grant them to the Train API's role (logs:${action} is the one refused here).`,
        failure.retryable,
      );
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
    this.creates.destroy();
    this.logsClient.destroy();
  }

  private submitted(name: string, status: SubmitResult["status"]): SubmitResult {
    return {
      cloudJobIdentifier: { training_job_name: name },
      backendState: { trainingJobName: name, lastStatus: status },
      ...(status ? { status } : {}),
    };
  }

  private trainingJobNameOf(job: BackendJob<"sagemaker">): string {
    const name = job.backendState?.trainingJobName ?? job.cloudJobIdentifier?.training_job_name;
    return typeof name === "string" ? name : trainingJobName(job.id, job.request.name);
  }

  private async describe(name: string): Promise<DescribeTrainingJobCommandOutput> {
    try {
      return await this.send("DescribeTrainingJob", (abortSignal) =>
        this.client.send(new DescribeTrainingJobCommand({ TrainingJobName: name }), { abortSignal }),
      );
    } catch (err) {
      throw toBackendError("DescribeTrainingJob", err);
    }
  }
}

type RetryStrategy = NonNullable<SageMakerClientConfig["retryStrategy"]>;
type RetryStrategyV2 = Extract<RetryStrategy, { acquireInitialRetryToken: unknown }>;

/**
 * The client's own retry strategy, except that an error the SDK classes as throttling is not
 * retried: the call fails with it at once. The SDK's retry middleware ends a call with its last
 * error when `refreshRetryTokenForRetry` throws (`@smithy/core` retry middleware).
 */
function withoutThrottlingRetries(standard: () => Promise<RetryStrategy>): RetryStrategyV2 {
  let inner: RetryStrategyV2 | undefined;
  return {
    async acquireInitialRetryToken(scope) {
      const strategy = await standard();
      if (!("acquireInitialRetryToken" in strategy))
        throw new Error("the AWS SDK's retry strategy is not the token-based one this backend wraps");
      inner = strategy;
      return inner.acquireInitialRetryToken(scope);
    },
    async refreshRetryTokenForRetry(token, errorInfo) {
      if (errorInfo.errorType === "THROTTLING" || !inner)
        throw new Error("a throttled create is paced by the reconciler, not retried by the SDK");
      return inner.refreshRetryTokenForRetry(token, errorInfo);
    },
    recordSuccess(token) {
      inner?.recordSuccess(token);
    },
  };
}

/** An AWS SDK error (`name` is the error code, `$metadata.httpStatusCode` the status) as a `BackendError`. */
function toBackendError(action: string, err: unknown, cloud = CLOUD): BackendError {
  if (err instanceof BackendError) return err;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === "CredentialsProviderError") {
    return new BackendError(
      503,
      "cloud_credentials_unavailable",
      `${cloud} credentials could not be loaded: ${messageOf(err)}; provide them through the AWS default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a task or instance role)`,
    );
  }
  const status = e.$metadata?.httpStatusCode;
  return cloudError(cloud, action, {
    ...(status !== undefined ? { status } : {}),
    // Errors that never reached the service (connection refused, DNS) carry a system error name.
    ...(status !== undefined && e.name ? { code: e.name } : {}),
    message: messageOf(err),
  });
}

/**
 * The `sagemaker` backend. Needs `TRAINKIT_SAGEMAKER_REGION`, `TRAINKIT_SAGEMAKER_ROLE_ARN` and
 * `TRAINKIT_SAGEMAKER_OUTPUT_S3_URI`; reads `TRAINKIT_SAGEMAKER_ENDPOINT` and
 * `TRAINKIT_SAGEMAKER_LOGS_ENDPOINT` (CloudWatch Logs).
 */
export const sagemakerBackend: BackendFactory<"sagemaker"> = (env, ctx) => {
  const read = readCloudSettings(env, [
    {
      name: "TRAINKIT_SAGEMAKER_REGION",
      required: true,
      check: (v) =>
        /^[a-z]{2}(-[a-z]+)+-\d+$/.test(v) ? undefined : "must be an AWS region such as us-east-1",
    },
    {
      name: "TRAINKIT_SAGEMAKER_ROLE_ARN",
      required: true,
      check: (v) =>
        /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(v)
          ? undefined
          : "must be an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerExecution",
    },
    {
      name: "TRAINKIT_SAGEMAKER_OUTPUT_S3_URI",
      required: true,
      check: (v) =>
        /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v)
          ? undefined
          : "must be an s3://<bucket>/<prefix> URI",
    },
    { name: "TRAINKIT_SAGEMAKER_ENDPOINT", required: false, check: checkEndpoint },
    { name: "TRAINKIT_SAGEMAKER_LOGS_ENDPOINT", required: false, check: checkEndpoint },
    MIN_POLL_INTERVAL_SETTING,
    CALL_TIMEOUT_SETTING,
    submitRateSetting("TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE", SAGEMAKER_SUBMITS_PER_MINUTE),
  ]);
  if ("missing" in read) return read;
  const v = read.values;
  return {
    backend: new SageMakerBackend(
      {
        region: v.TRAINKIT_SAGEMAKER_REGION!,
        roleArn: v.TRAINKIT_SAGEMAKER_ROLE_ARN!,
        outputS3Uri: v.TRAINKIT_SAGEMAKER_OUTPUT_S3_URI!,
        ...(v.TRAINKIT_SAGEMAKER_ENDPOINT ? { endpoint: v.TRAINKIT_SAGEMAKER_ENDPOINT } : {}),
        ...(v.TRAINKIT_SAGEMAKER_LOGS_ENDPOINT ? { logsEndpoint: v.TRAINKIT_SAGEMAKER_LOGS_ENDPOINT } : {}),
      },
      ctx,
      {
        minPollIntervalMs: minPollIntervalMs(v.TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS),
        callTimeoutMs: callTimeoutMs(v.TRAINKIT_BACKEND_CALL_TIMEOUT_MS),
        submitsPerMinute: submitsPerMinute(
          v.TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE,
          SAGEMAKER_SUBMITS_PER_MINUTE,
        ),
      },
    ),
  };
};
