import { describe, expect, it } from "vitest";
import {
  cloudError,
  nativeJobName,
  PollGate,
  readCloudSettings,
} from "../../src/server/backends/cloud-common";
import { SAGEMAKER_SUBMITS_PER_MINUTE, sagemakerBackend } from "../../src/server/backends/sagemaker";
import { testContext } from "../helpers/backend-job";

describe("native job names", () => {
  it("are the job name's letters, digits and dashes followed by the job id without dashes", () => {
    expect(nativeJobName("87cae349-cd5f-4202-b674-f1652880a8f5", "mnist_training.v2", 63)).toBe(
      "mnist-training-v2-87cae349cd5f4202b674f1652880a8f5",
    );
  });

  it("shorten the name part to fit the limit and never start or end it with a dash", () => {
    const name = nativeJobName("87cae349-cd5f-4202-b674-f1652880a8f5", `a${"-b".repeat(40)}`, 40);
    expect(name.length).toBeLessThanOrEqual(40);
    expect(name).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?-87cae349cd5f4202b674f1652880a8f5$/);
  });
});

describe("cloud errors", () => {
  it("carry the cloud's code, status and message with the fix, and a status the caller can act on", () => {
    const err = cloudError("SageMaker", "CreateTrainingJob", {
      status: 400,
      code: "ResourceLimitExceeded",
      message: "The account-level service limit is 0 Instances.",
    });
    expect(err.status).toBe(429);
    expect(err.message).toBe(
      "SageMaker refused CreateTrainingJob (ResourceLimitExceeded, 400): The account-level service limit is 0 Instances.; request a quota increase or pick a smaller or different machine type.",
    );
  });

  it("are retryable when the cloud was unreachable, with no status at all", () => {
    const err = cloudError("Vertex AI", "customJobs.get", { message: "connect ECONNREFUSED 127.0.0.1:9" });
    expect(err.status).toBe(502);
    expect(err.retryable).toBe(true);
  });
});

describe("cloud settings", () => {
  it("list every missing required variable at once", () => {
    expect(
      readCloudSettings({ B: "set" }, [
        { name: "A", required: true },
        { name: "B", required: true },
        { name: "C", required: true },
        { name: "D", required: false },
      ]),
    ).toEqual({ missing: ["A", "C"] });
  });
});

describe("the poll gate", () => {
  it("lets one read of a job through per interval and any read through after forget", () => {
    let now = 1_000;
    const gate = new PollGate(30_000, () => now);
    expect(gate.shouldRead("job")).toBe(true);
    now += 29_999;
    expect(gate.shouldRead("job")).toBe(false);
    expect(gate.shouldRead("other")).toBe(true);
    now += 1;
    expect(gate.shouldRead("job")).toBe(true);
    gate.forget("job");
    expect(gate.shouldRead("job")).toBe(true);
  });
});

describe("submission pace settings", () => {
  const env = {
    TRAINKIT_SAGEMAKER_REGION: "us-east-1",
    TRAINKIT_SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/SageMakerExecution",
    TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://trainkit-output/models",
  };

  it("give sagemaker 60 creations a minute unless TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE says otherwise", () => {
    const made = sagemakerBackend(env, testContext());
    expect("backend" in made && made.backend.submitsPerMinute).toBe(SAGEMAKER_SUBMITS_PER_MINUTE);
    const set = sagemakerBackend({ ...env, TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE: "12.5" }, testContext());
    expect("backend" in set && set.backend.submitsPerMinute).toBe(12.5);
  });

  it("refuse a pace that is not a positive number, naming the variable and the default", () => {
    expect(() =>
      sagemakerBackend({ ...env, TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE: "fast" }, testContext()),
    ).toThrow(
      'TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE must be a number of job submissions per minute above 0 (unset it for the default of 60); got "fast".',
    );
  });
});
