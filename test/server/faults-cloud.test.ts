import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../../src/spec";
import {
  awsError,
  FAKE_ACCESS_KEY_ID,
  FAKE_SECRET_ACCESS_KEY,
  FakeSageMaker,
} from "../helpers/fake-sagemaker";
import { HealthProber } from "../helpers/health-prober";
import { sagemakerExample } from "../helpers/sgp-examples";
import { authHeaders, startTrainApi, type TrainApi, waitForJob } from "../helpers/train-api";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The real Train API (routes, embedded store, reconciler, the local backend running real processes)
// with its SageMaker backend pointed at a loopback stand-in (a fake) that is made to hang, fail,
// answer malformed bodies or reset connections. The fake proves how the Train API reacts to those
// answers, not how SageMaker behaves. Figures are printed, not asserted: this machine's speed varies.

const CALL_TIMEOUT_MS = 1500;
const MAX_ATTEMPTS = 3;

let sagemaker: FakeSageMaker;
let api: TrainApi;
let prober: HealthProber;
const savedEnv = { ...process.env };
const figures: Record<string, number> = {};

beforeAll(async () => {
  sagemaker = await FakeSageMaker.start();
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: FAKE_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: FAKE_SECRET_ACCESS_KEY,
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
  });
  api = await startTrainApi({
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TRAINKIT_BACKENDS: "sagemaker,local",
      TRAINKIT_SAGEMAKER_REGION: "us-east-1",
      TRAINKIT_SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/SageMakerExecution",
      TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://trainkit-output/models",
      TRAINKIT_SAGEMAKER_ENDPOINT: sagemaker.url,
      TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS: "0",
      TRAINKIT_SYNC_INTERVAL_MS: "200",
      TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE: "600000",
      TRAINKIT_BACKEND_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
      TRAINKIT_SUBMIT_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    },
  });
  // The first local job loads what the local backend loads lazily; it is not a figure.
  await timeLocalJob();
  prober = HealthProber.start(api.url);
  figures.localJobBaselineMs = await timeLocalJob();
});

afterEach(() => sagemaker.cloud.heal());

afterAll(async () => {
  await prober?.stop();
  await api?.close();
  await sagemaker?.close();
  process.env = savedEnv;
  if (prober) {
    figures.slowestHealthzMs = prober.slowest("/healthz");
    figures.slowestReadyzMs = prober.slowest("/readyz");
  }
  console.log(`cloud fault figures (ms): ${JSON.stringify(figures)}`);
});

async function createJob(backend: string, body: unknown): Promise<{ status: number; job: Job }> {
  const res = await fetch(`${api.url}/v1/${backend}/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, job: (await res.json()) as Job };
}

/** Submits a local job that exits at once and returns how long it took to be reported COMPLETED. */
async function timeLocalJob(): Promise<number> {
  const started = Date.now();
  const { status, job } = await createJob("local", VALID_REQUESTS.local);
  expect(status).toBe(201);
  const done = await waitForJob<Job>(
    api,
    job.id,
    (j) => j.status !== "PENDING" && j.status !== "IN_PROGRESS",
  );
  expect(done.status).toBe("COMPLETED");
  return Date.now() - started;
}

/** Records how much longer than the baseline a local job took while `fault` was active. */
async function localJobDelay(fault: string): Promise<void> {
  const took = await timeLocalJob();
  figures[`localJobDelay:${fault}`] = Math.max(0, took - figures.localJobBaselineMs!);
}

const isCreate = (r: { headers: Record<string, unknown> }) =>
  r.headers["x-amz-target"] === "SageMaker.CreateTrainingJob";
/** A status read: the list sync's ListTrainingJobs, or one job's DescribeTrainingJob. */
const isStatusRead = (r: { headers: Record<string, unknown> }) =>
  r.headers["x-amz-target"] === "SageMaker.DescribeTrainingJob" ||
  r.headers["x-amz-target"] === "SageMaker.ListTrainingJobs";
const statusReads = () => sagemaker.cloud.requests.filter(isStatusRead).length;

/** Training jobs the fake holds whose name ends with the API job's id. */
const nativeJobsOf = (job: Job) =>
  [...sagemaker.jobs.keys()].filter((n) => n.endsWith(job.id.replace(/-/g, "")));

async function until(done: () => boolean, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return done();
}

describe("a SageMaker stand-in that misbehaves, with local jobs running alongside", () => {
  it("lets local jobs finish while every status call hangs, and polls the hung job again after the call timeout", async () => {
    const { job } = await createJob("sagemaker", sagemakerExample);
    const name = job.cloud_job_identifier!.training_job_name!;
    sagemaker.setStatus(name, "InProgress", "Training");
    await waitForJob<Job>(api, job.id, (j) => j.status === "IN_PROGRESS");
    sagemaker.cloud.failNext(isStatusRead, { hang: true }, Number.POSITIVE_INFINITY);
    const before = statusReads();

    await localJobDelay("hungStatusCall");
    await localJobDelay("hungStatusCall");
    // Each hung read is abandoned at the timeout and the next pass reads again.
    expect(await until(() => statusReads() >= before + 3)).toBe(true);

    sagemaker.cloud.heal();
    sagemaker.setStatus(name, "Completed", "Completed");
    expect((await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED")).status).toBe("COMPLETED");
  });

  it("ends FAILED with SageMaker's last message when every create answers 500 after creating, and stops the one training job made", async () => {
    sagemaker.cloud.failNext(
      isCreate,
      {
        respondAfterHandling: awsError(
          500,
          "InternalFailure",
          "We encountered an internal error. Please try again.",
        ),
      },
      Number.POSITIVE_INFINITY,
    );
    const started = Date.now();
    const { status, job } = await createJob("sagemaker", sagemakerExample);
    expect(status).toBe(201);
    await localJobDelay("createAlways500");
    const failed = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED", 120_000);
    figures.permanentlyFailingCloudToFailedMs = Date.now() - started;

    const reason = failed.result?.failure_reason ?? "";
    expect(reason).toContain(`after ${MAX_ATTEMPTS} submit attempt(s)`);
    expect(reason).toContain("We encountered an internal error. Please try again.");
    expect(reason).toContain("Check the cloud's service health");
    const native = nativeJobsOf(job);
    expect(native).toHaveLength(1);
    expect(sagemaker.jobs.get(native[0]!)!.TrainingJobStatus).toBe("Stopping");
  });

  it("adopts the training job a create made when its answer was malformed, leaving exactly one", async () => {
    sagemaker.cloud.failNext(isCreate, { respondAfterHandling: { status: 200, body: "{not json" } });
    const { job } = await createJob("sagemaker", sagemakerExample);
    const adopted = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null, 60_000);
    const native = nativeJobsOf(job);
    expect(native).toHaveLength(1);
    expect(adopted.cloud_job_identifier).toEqual({ training_job_name: native[0] });
    expect(adopted.status).not.toBe("FAILED");
  });

  it("keeps a job PENDING with the throttle in its status_reason while SageMaker throttles every create, then creates it once", async () => {
    // AWS's common errors answer a throttled call with HTTP 400 and the code ThrottlingException,
    // which the AWS SDK classes as throttling by its name; the stand-in answers that way.
    sagemaker.cloud.failNext(
      isCreate,
      { respond: awsError(400, "ThrottlingException", "Rate exceeded") },
      Number.POSITIVE_INFINITY,
    );
    const creates = () => sagemaker.cloud.requests.filter(isCreate).length;
    const before = creates();
    const { status, job } = await createJob("sagemaker", sagemakerExample);
    expect(status).toBe(201);
    expect(job.status).toBe("PENDING");
    expect(job.status_reason).toMatch(
      /^throttled: SageMaker refused CreateTrainingJob \(ThrottlingException, 400\): Rate exceeded/,
    );
    expect(job.status_reason).toContain(
      "The sagemaker backend now submits at most 300000 jobs a minute (from 600000",
    );
    // More throttled attempts than TRAINKIT_SUBMIT_MAX_ATTEMPTS allows failed ones: none counts.
    expect(await until(() => creates() - before > MAX_ATTEMPTS)).toBe(true);
    const waiting = await waitForJob<Job>(api, job.id, (j) => j.status_reason !== undefined);
    expect(waiting.status).toBe("PENDING");
    expect(waiting.cloud_job_identifier).toBeNull();
    expect(waiting.status_reason).toMatch(/^(throttled|queued): /);
    expect(nativeJobsOf(job)).toEqual([]);

    sagemaker.cloud.heal();
    const submitted = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null, 60_000);
    expect(submitted.status).not.toBe("FAILED");
    expect(submitted.status_reason).toBeUndefined();
    expect(nativeJobsOf(job)).toHaveLength(1);
  });

  it.each([
    ["resets every create's connection", { reset: true as const }, /ECONNRESET|socket hang up/],
    ["never answers a create", { hang: true as const }, /did not answer CreateTrainingJob within 1.5 s/],
  ])(
    "ends FAILED after the bounded attempts when SageMaker %s, having created nothing",
    async (label, fault, says) => {
      sagemaker.cloud.failNext(isCreate, fault, Number.POSITIVE_INFINITY);
      const started = Date.now();
      const { job } = await createJob("sagemaker", sagemakerExample);
      await localJobDelay(label);
      const failed = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED", 120_000);
      figures[`toFailed:${label}`] = Date.now() - started;
      const reason = failed.result?.failure_reason ?? "";
      expect(reason).toMatch(says);
      expect(reason).toContain("No native job was created.");
      expect(nativeJobsOf(job)).toEqual([]);
    },
  );

  it("stayed ready and live throughout: every health answer was 200", () => {
    expect(prober.answers("/readyz").length).toBeGreaterThan(0);
    expect(prober.failures()).toEqual([]);
  });
});
