import type { V1Job } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { describe, expect, it } from "vitest";
import { AZURE_STATUS_TO_STATUS, statusOfAzureJob } from "../../src/server/backends/azure-ml/translate";
import {
  activeStatusOf,
  finishedConditionOf,
  KUBERNETES_CONDITION_TO_STATUS,
} from "../../src/server/backends/kubernetes/translate";
import {
  IN_PROGRESS_SECONDARY_TO_STATUS,
  SAGEMAKER_STATUS_TO_STATUS,
  statusOfTrainingJob,
} from "../../src/server/backends/sagemaker/translate";
import { statusOfCustomJob, VERTEX_STATE_TO_STATUS } from "../../src/server/backends/vertex-ai/translate";
import { JOB_STATUSES, type JobStatus } from "../../src/spec";
import { published } from "../helpers/published";

// Every status each cloud publishes for a training job, from the published enums kept as fixtures,
// has a Train API status, and the functions the backends read statuses with agree with the tables.

const VERTEX_STATES = published<{ JobState: string[] }>("googleapis/aiplatform-v1-job-state.json").JobState;
const SAGEMAKER = published<{ TrainingJobStatus: string[]; SecondaryStatus: string[] }>(
  "aws-botocore/sagemaker-create-training-job.json",
);
const AZURE_STATUSES = published<{ JobStatus: string[] }>(
  "azure-rest-api-specs/mfe-2024-04-01.json",
).JobStatus;
const K8S_CONDITIONS = published<{ JobConditionType: string[] }>(
  "kubernetes/validation.json",
).JobConditionType;

const STATUSES: readonly string[] = JOB_STATUSES;
const RUNNING = { lastStatus: "IN_PROGRESS" };

describe("Vertex AI JobState", () => {
  it("maps every state of job_state.proto, and no other", () => {
    expect(Object.keys(VERTEX_STATE_TO_STATUS).sort()).toEqual([...VERTEX_STATES].sort());
    for (const mapped of Object.values(VERTEX_STATE_TO_STATUS))
      expect([...STATUSES, "unchanged"]).toContain(mapped);
  });

  it.each(VERTEX_STATES)("reads a CustomJob in %s as its table says", (state) => {
    const mapped = VERTEX_STATE_TO_STATUS[state]!;
    const { status } = statusOfCustomJob({ state }, RUNNING);
    expect(status).toBe(mapped === "unchanged" ? "IN_PROGRESS" : mapped);
  });
});

describe("SageMaker TrainingJobStatus and SecondaryStatus", () => {
  it("maps every TrainingJobStatus of the service model, and no other", () => {
    expect(Object.keys(SAGEMAKER_STATUS_TO_STATUS).sort()).toEqual([...SAGEMAKER.TrainingJobStatus].sort());
  });

  it("maps every SecondaryStatus of the service model for a job still InProgress", () => {
    expect(Object.keys(IN_PROGRESS_SECONDARY_TO_STATUS).sort()).toEqual(
      [...SAGEMAKER.SecondaryStatus].sort(),
    );
  });

  it.each(SAGEMAKER.TrainingJobStatus.filter((s) => s !== "InProgress"))(
    "reads a training job in %s as its table says",
    (primary) => {
      const { status } = statusOfTrainingJob(
        { TrainingJobStatus: primary as never, SecondaryStatus: "Training" },
        RUNNING,
      );
      expect(status).toBe(SAGEMAKER_STATUS_TO_STATUS[primary]);
    },
  );

  it.each(SAGEMAKER.SecondaryStatus)(
    "reads an InProgress training job in %s as its table says",
    (secondary) => {
      const { status } = statusOfTrainingJob(
        { TrainingJobStatus: "InProgress", SecondaryStatus: secondary as never },
        null,
      );
      expect(status).toBe(IN_PROGRESS_SECONDARY_TO_STATUS[secondary]);
    },
  );

  it("moves a job being deleted to CANCELED whatever it last was, saying why", () => {
    const result = statusOfTrainingJob(
      { TrainingJobStatus: "Deleting", SecondaryStatus: "Downloading" },
      {
        lastStatus: "PENDING",
      },
    );
    expect(result).toEqual({
      status: "CANCELED",
      result: {
        failure_reason: "SageMaker is deleting the training job (it was Downloading); it will not finish",
      },
    });
  });

  it("reads a job stopped for running out of its wait or run time as EXPIRED", () => {
    for (const secondary of ["MaxRuntimeExceeded", "MaxWaitTimeExceeded"]) {
      expect(
        statusOfTrainingJob({ TrainingJobStatus: "Stopped", SecondaryStatus: secondary as never }, null)
          .status,
      ).toBe("EXPIRED");
      expect(
        statusOfTrainingJob({ TrainingJobStatus: "Failed", SecondaryStatus: secondary as never }, null)
          .status,
      ).toBe("EXPIRED");
    }
  });
});

describe("Azure ML JobStatus", () => {
  it("maps every JobStatus of the REST API", () => {
    expect(AZURE_STATUSES.filter((s) => !(s in AZURE_STATUS_TO_STATUS))).toEqual([]);
    for (const mapped of Object.values(AZURE_STATUS_TO_STATUS))
      expect([...STATUSES, "unchanged"]).toContain(mapped);
  });

  it.each(AZURE_STATUSES)("reads a job in %s as its table says", (native) => {
    const mapped = AZURE_STATUS_TO_STATUS[native]!;
    const { status } = statusOfAzureJob(
      { properties: { jobType: "Command", status: native } } as never,
      RUNNING,
    );
    expect(status).toBe(mapped === "unchanged" ? "IN_PROGRESS" : mapped);
  });
});

describe("batch/v1 JobConditionType", () => {
  it("maps every Job condition type of the Kubernetes API, and no other", () => {
    expect(Object.keys(KUBERNETES_CONDITION_TO_STATUS).sort()).toEqual([...K8S_CONDITIONS].sort());
  });

  const withCondition = (type: string, reason?: string): V1Job => ({
    spec: { template: {} },
    status: { active: 1, ready: 1, conditions: [{ type, status: "True", ...(reason ? { reason } : {}) }] },
  });

  it.each(K8S_CONDITIONS)("reads a Job whose %s condition is true as its table says", (type) => {
    const finished = finishedConditionOf(withCondition(type));
    const status: JobStatus = finished
      ? finished.type === "Complete"
        ? "COMPLETED"
        : "FAILED"
      : activeStatusOf(withCondition(type), "IN_PROGRESS");
    expect(status).toBe(KUBERNETES_CONDITION_TO_STATUS[type]);
  });
});
