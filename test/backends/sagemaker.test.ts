import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type SageMakerBackend,
  sagemakerBackend,
  trainingJobName,
} from "../../src/server/backends/sagemaker";
import { BackendError } from "../../src/server/backends/types";
import { CREATE_JOB_REQUESTS, issuesToDetails } from "../../src/spec";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import {
  awsError,
  FAKE_ACCESS_KEY_ID,
  FAKE_SECRET_ACCESS_KEY,
  FakeSageMaker,
} from "../helpers/fake-sagemaker";
import { sagemakerExample } from "../helpers/sgp-examples";

let fake: FakeSageMaker;
let backend: SageMakerBackend;
const ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution";

beforeAll(async () => {
  fake = await FakeSageMaker.start();
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

  it("retries a throttled create through the SDK and then succeeds", async () => {
    const job = backendJob("sagemaker", sagemakerExample);
    const before = fake.calls("CreateTrainingJob").length;
    fake.cloud.failNext(isCreate, { respond: awsError(400, "ThrottlingException", "Rate exceeded") });
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
