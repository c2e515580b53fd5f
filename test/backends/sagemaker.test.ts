import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SageMakerBackend,
  sagemakerBackend,
  trainingJobName,
} from "../../src/server/backends/sagemaker";
import {
  EVENTS_MAX_PAGE_SIZE,
  STREAMS_MAX_PAGE_SIZE,
  TRAINING_JOB_LOG_GROUP,
} from "../../src/server/backends/sagemaker/logs";
import { BackendError } from "../../src/server/backends/types";
import { CREATE_JOB_REQUESTS, issuesToDetails } from "../../src/spec";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import { FakeCloudWatchLogs } from "../helpers/fake-cloudwatch-logs";
import {
  awsError,
  FAKE_ACCESS_KEY_ID,
  FAKE_SECRET_ACCESS_KEY,
  FakeSageMaker,
} from "../helpers/fake-sagemaker";
import { published } from "../helpers/published";
import { sagemakerExample } from "../helpers/sgp-examples";

let fake: FakeSageMaker;
let cloudWatch: FakeCloudWatchLogs;
let backend: SageMakerBackend;
const ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution";

beforeAll(async () => {
  fake = await FakeSageMaker.start();
  cloudWatch = await FakeCloudWatchLogs.start();
  process.env.AWS_ACCESS_KEY_ID = FAKE_ACCESS_KEY_ID;
  process.env.AWS_SECRET_ACCESS_KEY = FAKE_SECRET_ACCESS_KEY;
  // Keep the SDK from reading a developer's ~/.aws files.
  process.env.AWS_CONFIG_FILE = "/nonexistent/aws-config";
  process.env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/aws-credentials";
  const made = sagemakerBackend(
    {
      TRAINKIT_SAGEMAKER_REGION: "us-east-1",
      TRAINKIT_SAGEMAKER_ROLE_ARN: ROLE,
      TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://trainkit-output/models",
      TRAINKIT_SAGEMAKER_ENDPOINT: fake.url,
      TRAINKIT_SAGEMAKER_LOGS_ENDPOINT: cloudWatch.url,
      TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS: "0",
    },
    testContext(),
  );
  if (!("backend" in made)) throw new Error(`backend not built: ${made.missing.join(", ")}`);
  backend = made.backend as SageMakerBackend;
});

afterAll(async () => {
  await backend.close();
  await fake.close();
  await cloudWatch.close();
});

const isCreate = (r: { headers: Record<string, unknown> }) =>
  r.headers["x-amz-target"] === "SageMaker.CreateTrainingJob";

describe("the sagemaker backend", () => {
  it("turns the SGP Train API's SageMaker example into the CreateTrainingJob request the API documents", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const before = fake.calls("CreateTrainingJob").length;
    const result = await backend.submit(job);

    const calls = fake.calls("CreateTrainingJob").slice(before);
    expect(calls).toHaveLength(1);
    const name = `mnist-training-${job.id.replace(/-/g, "")}`;
    expect(calls[0]!.json).toEqual({
      TrainingJobName: name,
      AlgorithmSpecification: {
        TrainingImage: "docker-registry.your-sgp-deployment-url/pytorch-gpu:v1",
        TrainingInputMode: "FastFile",
        ContainerEntrypoint: ["python3", "/app/train.py"],
      },
      RoleArn: ROLE,
      OutputDataConfig: { S3OutputPath: "s3://trainkit-output/models" },
      ResourceConfig: { InstanceType: "ml.g4dn.xlarge", InstanceCount: 1, VolumeSizeInGB: 50 },
      StoppingCondition: { MaxRuntimeInSeconds: 86400 },
      HyperParameters: { learning_rate: "0.001" },
      Environment: {
        STORAGE_MOUNT_0_PATH: "/opt/ml/input/data/mount-0",
        STORAGE_MOUNT_1_PATH: "/mnt/output",
      },
      InputDataConfig: [
        {
          ChannelName: "mount-0",
          DataSource: {
            S3DataSource: {
              S3DataType: "S3Prefix",
              S3Uri: "s3://my-bucket/mnist-data",
              S3DataDistributionType: "FullyReplicated",
            },
          },
          InputMode: "FastFile",
        },
      ],
      CheckpointConfig: { S3Uri: "s3://my-bucket/output/run-1", LocalPath: "/mnt/output" },
      Tags: [{ Key: "trainkit-job-id", Value: job.id }],
    });
    expect(result.cloudJobIdentifier).toEqual({ training_job_name: name });
    expect(result.status).toBe("PENDING");
  });

  it("signs requests with SigV4 for the access key in the environment and sends the JSON 1.1 target", async () => {
    await backend.submit(backendJob("sagemaker", sagemakerExample));
    const call = fake.cloud.requests.filter(isCreate).at(-1)!;
    expect(call.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${FAKE_ACCESS_KEY_ID}/\\d{8}/us-east-1/sagemaker/aws4_request, `,
      ),
    );
    expect(call.headers["content-type"]).toBe("application/x-amz-json-1.1");
  });

  it("names training jobs within SageMaker's pattern and 63 characters, whatever the job's name", () => {
    const name = trainingJobName("3f2a1b9c-88de-4a12-b901-c2e5f7d04321", `${"very.long_name".repeat(10)}`);
    expect(name).toMatch(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.endsWith("3f2a1b9c88de4a12b901c2e5f7d04321")).toBe(true);
  });

  it.each([
    ["InProgress", "Starting", "PENDING"],
    ["InProgress", "Pending", "PENDING"],
    ["InProgress", "LaunchingMLInstances", "PENDING"],
    ["InProgress", "PreparingTrainingStack", "PENDING"],
    ["InProgress", "Downloading", "PENDING"],
    ["InProgress", "DownloadingTrainingImage", "PENDING"],
    ["InProgress", "Interrupted", "PENDING"],
    ["InProgress", "Training", "IN_PROGRESS"],
    ["InProgress", "Uploading", "IN_PROGRESS"],
    ["InProgress", "Restarting", "IN_PROGRESS"],
    ["InProgress", "Updating", "IN_PROGRESS"],
    ["Stopping", "Stopping", "IN_PROGRESS"],
    ["Completed", "Completed", "COMPLETED"],
    ["Stopped", "Stopped", "CANCELED"],
  ])("reports a training job %s / %s as %s", async (primary, secondary, expected) => {
    const job = backendJob("sagemaker", sagemakerExample);
    const held = submitted(job, await backend.submit(job));
    fake.setStatus(held.cloudJobIdentifier!.training_job_name!, primary, secondary);
    const polled = await backend.poll(held);
    expect(polled.status).toBe(expected);
    expect(polled.result).toBeUndefined();
  });

  it("reports a training job being deleted while it trains as CANCELED, not as its last status", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.training_job_name!;
    fake.setStatus(name, "InProgress", "Training");
    const running = await backend.poll(held);
    expect(running.status).toBe("IN_PROGRESS");
    fake.setStatus(name, "Deleting", "Training");
    const deleting = await backend.poll({ ...held, backendState: running.backendState ?? held.backendState });
    expect(deleting.status).toBe("CANCELED");
    expect(deleting.result?.failure_reason).toBe(
      "SageMaker is deleting the training job (it was Training); it will not finish",
    );
  });

  it("reports a failed training job as FAILED with SageMaker's FailureReason", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const held = submitted(job, await backend.submit(job));
    fake.setStatus(
      held.cloudJobIdentifier!.training_job_name!,
      "Failed",
      "Failed",
      "AlgorithmError: ExecuteUserScriptError: exit code 1",
    );
    expect(await backend.poll(held)).toMatchObject({
      status: "FAILED",
      result: { failure_reason: "AlgorithmError: ExecuteUserScriptError: exit code 1" },
    });
  });

  it("reports a training job stopped for MaxRuntimeExceeded as EXPIRED", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const held = submitted(job, await backend.submit(job));
    fake.setStatus(held.cloudJobIdentifier!.training_job_name!, "Stopped", "MaxRuntimeExceeded");
    expect(await backend.poll(held)).toMatchObject({
      status: "EXPIRED",
      result: { failure_reason: "SageMaker stopped the training job: MaxRuntimeExceeded" },
    });
  });

  it("cancels through StopTrainingJob, after which polling reports CANCELED", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.training_job_name!;
    await backend.cancel(held);
    expect(fake.calls("StopTrainingJob").at(-1)!.json).toEqual({ TrainingJobName: name });
    expect((await backend.poll(held)).status).toBe("IN_PROGRESS");
    fake.setStatus(name, "Stopped", "Stopped");
    expect((await backend.poll(held)).status).toBe("CANCELED");
  });

  it("treats stopping a training job that already completed as done", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const held = submitted(job, await backend.submit(job));
    fake.setStatus(held.cloudJobIdentifier!.training_job_name!, "Completed", "Completed");
    await expect(backend.cancel(held)).resolves.toBeUndefined();
  });

  it("adopts the training job of a create whose response was lost instead of starting a second", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    fake.cloud.failNext(isCreate, { dropAfterHandling: true });
    const first = await backend.submit(job).catch((err: unknown) => err);
    const again = await backend.submit(job);
    const name = trainingJobName(job.id, "mnist-training");
    expect(again.cloudJobIdentifier).toEqual({ training_job_name: name });
    if (!(first instanceof BackendError)) expect(first).toEqual(again);
    expect([...fake.jobs.keys()].filter((k) => k === name)).toHaveLength(1);
    expect(
      fake
        .calls("CreateTrainingJob")
        .filter((c) => (c.json as { TrainingJobName: string }).TrainingJobName === name).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it("fails a throttled create at once as retryable throttling, without the SDK sending it again, and creates it on the next submit", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const before = fake.calls("CreateTrainingJob").length;
    fake.cloud.failNext(isCreate, { respond: awsError(400, "ThrottlingException", "Rate exceeded") });
    const err = (await backend.submit(job).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect([err.status, err.code, err.retryable]).toEqual([429, "cloud_throttled", true]);
    expect(fake.calls("CreateTrainingJob").length - before).toBe(1);
    const result = await backend.submit(job);
    expect(fake.calls("CreateTrainingJob").length - before).toBe(2);
    expect(fake.jobs.has(result.cloudJobIdentifier.training_job_name!)).toBe(true);
  });

  it("still retries a create that failed with a 5xx through the SDK", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const before = fake.calls("CreateTrainingJob").length;
    fake.cloud.failNext(isCreate, { respond: awsError(500, "InternalFailure", "internal error") });
    const result = await backend.submit(job);
    expect(fake.calls("CreateTrainingJob").length - before).toBe(2);
    expect(fake.jobs.has(result.cloudJobIdentifier.training_job_name!)).toBe(true);
  });

  it("fails the submit with SageMaker's quota message and status 429", async () => {
    fake.cloud.failNext(isCreate, {
      respond: awsError(
        400,
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.g4dn.xlarge for training job usage' is 0 Instances, with current utilization of 0 Instances and a request delta of 1 Instances.",
      ),
    });
    const err = (await backend
      .submit(backendJob("sagemaker", sagemakerExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(429);
    expect(err.code).toBe("cloud_quota_exceeded");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("'ml.g4dn.xlarge for training job usage' is 0 Instances");
  });

  it("fails the submit with SageMaker's permission message and status 403", async () => {
    fake.cloud.failNext(isCreate, {
      respond: awsError(
        400,
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/trainkit-api is not authorized to perform: sagemaker:CreateTrainingJob",
      ),
    });
    const err = (await backend
      .submit(backendJob("sagemaker", sagemakerExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(403);
    expect(err.code).toBe("cloud_permission_denied");
    expect(err.message).toContain("is not authorized to perform: sagemaker:CreateTrainingJob");
  });

  it("fails the submit with SageMaker's message and status 400 for an instance type it rejects", async () => {
    fake.cloud.failNext(isCreate, {
      respond: awsError(
        400,
        "ValidationException",
        "1 validation error detected: Value 'ml.g4dn.huge' at 'resourceConfig.instanceType' failed to satisfy constraint",
      ),
    });
    const err = (await backend
      .submit(backendJob("sagemaker", sagemakerExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.code).toBe("cloud_rejected_request");
    expect(err.message).toContain("Value 'ml.g4dn.huge' at 'resourceConfig.instanceType'");
  });

  it("reports a failure that persists through every retry as a retryable 502", async () => {
    fake.cloud.failNext(
      isCreate,
      { respond: awsError(500, "InternalFailure", "We encountered an internal error.") },
      5,
    );
    const err = (await backend
      .submit(backendJob("sagemaker", sagemakerExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(502);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain("We encountered an internal error.");
  });
});

describe("the sagemaker request schema", () => {
  it("refuses a second writable mount, naming it", () => {
    const request = structuredClone(sagemakerExample);
    request.storage_mounts.push({
      source_uri: "s3://my-bucket/output/run-2",
      mount_path: "/mnt/more",
      read_only: false,
    });
    const parsed = CREATE_JOB_REQUESTS.sagemaker.safeParse(request);
    expect(parsed.success).toBe(false);
    expect(issuesToDetails(parsed.error!, "")).toEqual([
      {
        path: "storage_mounts[2].read_only",
        message:
          "must be true: the sagemaker backend saves one writable mount (the checkpoint directory) and storage_mounts[1] is already writable",
      },
    ]);
  });
});

describe("the sagemaker backend factory", () => {
  it("names the settings that are missing", () => {
    expect(sagemakerBackend({ TRAINKIT_SAGEMAKER_REGION: "us-east-1" }, testContext())).toEqual({
      missing: ["TRAINKIT_SAGEMAKER_ROLE_ARN", "TRAINKIT_SAGEMAKER_OUTPUT_S3_URI"],
    });
  });

  it("rejects a role that is not an IAM role ARN, naming the variable and the fix", () => {
    expect(() =>
      sagemakerBackend(
        {
          TRAINKIT_SAGEMAKER_REGION: "us-east-1",
          TRAINKIT_SAGEMAKER_ROLE_ARN: "SageMakerExecution",
          TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://b/p",
        },
        testContext(),
      ),
    ).toThrow(
      /^TRAINKIT_SAGEMAKER_ROLE_ARN must be an IAM role ARN such as arn:aws:iam::123456789012:role\/SageMakerExecution; got "SageMakerExecution"\.$/,
    );
  });
});

// CloudWatch Logs, served by a loopback fake in the shapes and limits of the published service model
// (test/fixtures/published/aws-botocore/cloudwatch-logs-read-events.json) and read through the
// official @aws-sdk/client-cloudwatch-logs: it proves how the backend reads and continues a
// training job's log, not how CloudWatch Logs behaves.
describe("the sagemaker backend's logs", () => {
  const GROUP = "/aws/sagemaker/TrainingJobs";
  const model = published<{
    limits: Record<string, { min: number; max: number; pattern?: string }>;
    GetLogEventsRequest: Record<string, unknown>;
    FilterLogEventsRequest: Record<string, unknown>;
    DescribeLogStreamsRequest: Record<string, unknown>;
  }>("aws-botocore/cloudwatch-logs-read-events.json");
  const at = (s: number) => Date.parse("2026-12-02T10:00:00.000Z") + s * 1000;
  const iso = (s: number) => new Date(at(s)).toISOString();

  async function runningJob() {
    const job = backendJob("sagemaker", sagemakerExample);
    const done = submitted(job, await backend.submit(job));
    return { job: done, name: done.cloudJobIdentifier!.training_job_name! };
  }

  function bodies(operation: string, since: number) {
    return cloudWatch
      .calls(operation)
      .slice(since)
      .map((r) => r.json as Record<string, unknown>);
  }

  it("reads the last lines of all the job's instance streams, with their time and instance", async () => {
    const { job, name } = await runningJob();
    const other = await runningJob();
    cloudWatch.log(GROUP, `${other.name}/algo-1-1764669600`, "someone else's line", at(0));
    cloudWatch.log(GROUP, `${name}/algo-1-1764669600`, "epoch 1", at(1));
    cloudWatch.log(GROUP, `${name}/algo-2-1764669601`, "epoch 1", at(1.5));
    cloudWatch.log(GROUP, `${name}/algo-1-1764669600`, "epoch 2\nloss 0.4", at(2));
    const described = cloudWatch.calls("DescribeLogStreams").length;
    const got = cloudWatch.calls("GetLogEvents").length;

    const logs = await backend.logs(job, { stream: "stdout", tail: 3 });
    expect(logs.lines).toEqual(["epoch 1", "epoch 2", "loss 0.4"]);
    expect(logs.entries).toEqual([
      { text: "epoch 1", timestamp: iso(1.5), source: "algo-2" },
      { text: "epoch 2", timestamp: iso(2), source: "algo-1" },
      { text: "loss 0.4", timestamp: iso(2), source: "algo-1" },
    ]);
    const describe = bodies("DescribeLogStreams", described);
    expect(describe).toEqual([{ logGroupName: GROUP, logStreamNamePrefix: `${name}/`, limit: 50 }]);
    expect(describe[0]!.limit).toBe(model.limits.DescribeLimit!.max);
    const reads = bodies("GetLogEvents", got);
    // A stream shorter than the tail is read until its backward token comes back unchanged.
    expect([...new Set(reads.map((b) => b.logStreamName))].sort()).toEqual([
      `${name}/algo-1-1764669600`,
      `${name}/algo-2-1764669601`,
    ]);
    for (const b of reads) {
      expect(b).toMatchObject({ logGroupName: GROUP, startFromHead: false, limit: 3 });
      for (const key of Object.keys(b)) expect(model.GetLogEventsRequest).toHaveProperty(key);
    }
  });

  it("continues from next_cursor with only newer lines, paging within EventsLimit", async () => {
    const { job, name } = await runningJob();
    const stream = `${name}/algo-1-1764669600`;
    cloudWatch.log(GROUP, stream, "before", at(0));
    const first = await backend.logs(job, { stream: "stdout", tail: 10 });
    expect(first.lines).toEqual(["before"]);
    // Two events of one millisecond, one of them already read: the cursor must skip exactly it.
    cloudWatch.log(GROUP, stream, "same instant", at(0));
    cloudWatch.pageSize = 500;
    try {
      for (let i = 0; i < 1200; i++)
        cloudWatch.log(GROUP, `${name}/algo-${(i % 2) + 1}-1764669600`, `step ${i}`, at(1) + i);
      const since = cloudWatch.calls("FilterLogEvents").length;
      const next = await backend.logs(job, { stream: "stdout", tail: 1500, cursor: first.next_cursor });
      expect(next.lines).toEqual(["same instant", ...Array.from({ length: 1200 }, (_, i) => `step ${i}`)]);
      expect(next.entries![1]).toEqual({
        text: "step 0",
        timestamp: new Date(at(1)).toISOString(),
        source: "algo-1",
      });
      expect(next.entries![2]!.source).toBe("algo-2");
      const sent = bodies("FilterLogEvents", since);
      expect(sent).toHaveLength(3);
      expect(sent[0]).toMatchObject({
        logGroupName: GROUP,
        logStreamNamePrefix: `${name}/`,
        startTime: at(0),
      });
      for (const b of sent) {
        expect(b.limit as number).toBeLessThanOrEqual(model.limits.EventsLimit!.max);
        for (const key of Object.keys(b)) expect(model.FilterLogEventsRequest).toHaveProperty(key);
      }
      expect(sent[1]!.nextToken).toEqual(expect.any(String));

      const after = await backend.logs(job, { stream: "stdout", tail: 100, cursor: next.next_cursor });
      expect(after.lines).toEqual([]);
      expect(after.next_cursor).toBe(next.next_cursor);

      cloudWatch.log(GROUP, stream, "newest", at(5));
      const last = await backend.logs(job, { stream: "stdout", tail: 100, cursor: after.next_cursor });
      expect(last.lines).toEqual(["newest"]);
    } finally {
      cloudWatch.pageSize = 10_000;
    }
  });

  it("pages backwards through a stream until the tail is in hand", async () => {
    const { job, name } = await runningJob();
    for (let i = 0; i < 250; i++) cloudWatch.log(GROUP, `${name}/algo-1-1764669600`, `line ${i}`, at(i));
    cloudWatch.pageSize = 100;
    try {
      const since = cloudWatch.calls("GetLogEvents").length;
      const logs = await backend.logs(job, { stream: "stdout", tail: 220 });
      expect(logs.lines).toEqual(Array.from({ length: 220 }, (_, i) => `line ${i + 30}`));
      const sent = bodies("GetLogEvents", since);
      expect(sent).toHaveLength(3);
      expect(sent[0]!.nextToken).toBeUndefined();
      expect(sent[2]!.nextToken).toEqual(expect.any(String));
    } finally {
      cloudWatch.pageSize = 10_000;
    }
  });

  it("says the logs are not yet available while the job has no log stream", async () => {
    const { job, name } = await runningJob();
    const err = (await backend
      .logs(job, { stream: "stdout", tail: 5 })
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(409);
    expect(err.code).toBe("logs_not_available");
    expect(err.message).toContain("logs not yet available");
    expect(err.message).toContain(name);
  });

  it("says the logs are not yet available while the log group does not exist", async () => {
    const { job } = await runningJob();
    cloudWatch.groups.delete(GROUP);
    try {
      const err = (await backend
        .logs(job, { stream: "stdout", tail: 5 })
        .catch((e: unknown) => e)) as BackendError;
      expect(err.status).toBe(409);
      expect(err.message).toContain("logs not yet available");
    } finally {
      cloudWatch.groups.add(GROUP);
    }
  });

  it("names the permission to grant when CloudWatch Logs refuses the read", async () => {
    const { job, name } = await runningJob();
    cloudWatch.log(GROUP, `${name}/algo-1-1764669600`, "hidden", at(0));
    for (const [operation, cursor] of [
      ["DescribeLogStreams", undefined],
      ["FilterLogEvents", Buffer.from("[0,0]").toString("base64url")],
    ] as const) {
      cloudWatch.cloud.failNext((r) => r.headers["x-amz-target"] === `Logs_20140328.${operation}`, {
        respond: awsError(
          400,
          "AccessDeniedException",
          `User: arn:aws:sts::123456789012:assumed-role/train-api/task is not authorized to perform: logs:${operation} on resource: arn:aws:logs:us-east-1:123456789012:log-group:${GROUP}:log-stream:`,
        ),
      });
      const err = (await backend
        .logs(job, { stream: "stdout", tail: 5, ...(cursor ? { cursor } : {}) })
        .catch((e: unknown) => e)) as BackendError;
      expect(err.status).toBe(403);
      expect(err.message).toContain(`logs:${operation} is the one refused here`);
      expect(err.message).toContain("logs:DescribeLogStreams, logs:GetLogEvents, logs:FilterLogEvents");
      expect(err.message).toContain(`log group ${GROUP}`);
    }
  });

  it("pages within the limits of the published service model", () => {
    expect(EVENTS_MAX_PAGE_SIZE).toBe(model.limits.EventsLimit!.max);
    expect(STREAMS_MAX_PAGE_SIZE).toBe(model.limits.DescribeLimit!.max);
    expect(TRAINING_JOB_LOG_GROUP).toMatch(new RegExp(`^${model.limits.LogGroupName!.pattern}$`));
  });

  it("serves stdout only and refuses a cursor it did not issue, naming the fix", async () => {
    const { job } = await runningJob();
    const stderr = (await backend
      .logs(job, { stream: "stderr", tail: 5 })
      .catch((e: unknown) => e)) as BackendError;
    expect(stderr.status).toBe(400);
    expect(stderr.message).toContain("ask for stream=stdout");
    const bad = (await backend
      .logs(job, { stream: "stdout", tail: 5, cursor: "bm90LWEtY3Vyc29y" })
      .catch((e: unknown) => e)) as BackendError;
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("pass next_cursor from the previous answer unchanged");
  });
});
