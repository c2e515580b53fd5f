import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { endReason as azureEnd } from "../../src/server/backends/azure-ml/end-reason";
import { AZURE_STATUS_TO_STATUS } from "../../src/server/backends/azure-ml/translate";
import {
  DISRUPTION_REASONS,
  endReason as kubernetesEnd,
} from "../../src/server/backends/kubernetes/end-reason";
import { endReason as sagemakerEnd } from "../../src/server/backends/sagemaker/end-reason";
import { statusOfTrainingJob } from "../../src/server/backends/sagemaker/translate";
import {
  RPC_RESOURCE_EXHAUSTED,
  endReason as vertexEnd,
} from "../../src/server/backends/vertex-ai/end-reason";
import { VERTEX_STATE_TO_STATUS } from "../../src/server/backends/vertex-ai/translate";

// How each cloud's report of a finished job is told apart as preemption or the job's own failure,
// checked against the clouds' published vocabularies (test/fixtures/published). No stand-ins.

const published = (path: string) =>
  JSON.parse(readFileSync(join(__dirname, "../fixtures/published", path), "utf8"));

describe("kubernetes: what ended a failed Job", () => {
  const fixture = published("kubernetes/pod-disruption-conditions.json") as {
    conditionType: string;
    reasons: Record<string, string>;
  };

  it("knows every DisruptionTarget reason the Kubernetes documentation lists", () => {
    expect([...DISRUPTION_REASONS].sort()).toEqual(Object.keys(fixture.reasons).sort());
  });

  it.each(Object.keys(fixture.reasons))(
    "counts a pod disrupted for %s as preempted, naming the reason",
    (reason) => {
      const end = kubernetesEnd([
        {
          metadata: { name: "train-abc" },
          status: {
            phase: "Failed",
            conditions: [
              { type: "Ready", status: "False" },
              { type: fixture.conditionType, status: "True", reason, message: "node is shutting down" },
            ],
          },
        },
      ]);
      expect(end).toEqual({
        kind: "preemption",
        reason: `preempted: pod train-abc was disrupted (${reason}): node is shutting down`,
      });
    },
  );

  it("counts a pod evicted by an older kubelet as preempted", () => {
    const end = kubernetesEnd([
      { metadata: { name: "p" }, status: { phase: "Failed", reason: "Evicted", message: "low on memory" } },
    ]);
    expect(end?.kind).toBe("preemption");
  });

  it("leaves a container that exited non-zero to the job's own failure", () => {
    const end = kubernetesEnd([
      {
        metadata: { name: "p" },
        status: {
          phase: "Failed",
          containerStatuses: [
            {
              name: "main",
              image: "i",
              imageID: "",
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 1 } },
            },
          ],
        },
      },
    ]);
    expect(end).toBeUndefined();
  });

  it("ignores a DisruptionTarget the controller set back to False", () => {
    const end = kubernetesEnd([
      {
        status: {
          phase: "Failed",
          conditions: [{ type: "DisruptionTarget", status: "False", reason: "PreemptionByScheduler" }],
        },
      },
    ]);
    expect(end).toBeUndefined();
  });

  it("passes over a pod that Succeeded, disrupted or not: its own exit ended it", () => {
    const end = kubernetesEnd([
      {
        metadata: { name: "train-done" },
        status: {
          phase: "Succeeded",
          conditions: [{ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI" }],
        },
      },
    ]);
    expect(end).toBeUndefined();
  });
});

describe("sagemaker: what ended a training job", () => {
  const model = published("aws-botocore/sagemaker-create-training-job.json") as {
    SecondaryStatus: string[];
    TrainingJobStatus: string[];
  };

  it("names as preemption exactly the Interrupted secondary status of a Failed job", () => {
    const kinds = Object.fromEntries(
      model.SecondaryStatus.map((secondary) => [
        secondary,
        sagemakerEnd({ TrainingJobStatus: "Failed", SecondaryStatus: secondary as never, FailureReason: "x" })
          ?.kind,
      ]),
    );
    expect(
      Object.entries(kinds)
        .filter(([, k]) => k === "preemption")
        .map(([s]) => s),
    ).toEqual(["Interrupted"]);
  });

  it("names a lack of instance capacity no_capacity", () => {
    const end = sagemakerEnd({
      TrainingJobStatus: "Failed",
      SecondaryStatus: "Failed",
      FailureReason:
        "CapacityError: Unable to provision requested ML compute capacity. InsufficientInstanceCapacity",
    });
    expect(end?.kind).toBe("no_capacity");
  });

  it("leaves managed spot's own restarts alone: an interrupted job still InProgress has not ended", () => {
    for (const secondary of ["Interrupted", "Restarting"] as const) {
      expect(model.SecondaryStatus).toContain(secondary);
      const described = { TrainingJobStatus: "InProgress", SecondaryStatus: secondary } as const;
      // Still running or waiting for spot capacity: not an end, whichever the status.
      expect(["PENDING", "IN_PROGRESS"]).toContain(statusOfTrainingJob(described, null).status);
      expect(sagemakerEnd(described)).toBeUndefined();
    }
  });

  it("reports a managed spot job past its maximum wait EXPIRED, which no retry policy restarts", () => {
    expect(model.SecondaryStatus).toContain("MaxWaitTimeExceeded");
    const described = { TrainingJobStatus: "Stopped", SecondaryStatus: "MaxWaitTimeExceeded" } as const;
    expect(statusOfTrainingJob(described, null).status).toBe("EXPIRED");
    expect(sagemakerEnd(described)).toBeUndefined();
  });

  it("calls any other failure the job's own", () => {
    expect(
      sagemakerEnd({
        TrainingJobStatus: "Failed",
        SecondaryStatus: "Failed",
        FailureReason: "AlgorithmError: exit 1",
      }),
    ).toEqual({ kind: "failure", reason: "AlgorithmError: exit 1" });
  });
});

describe("vertex-ai: what ended a CustomJob", () => {
  const docs = published("google-cloud-docs/vertex-ai-preemption.json") as {
    spotPreemption: { errorMarker: string; statement: string };
  };
  const proto = published("googleapis/aiplatform-v1-custom-job-end.json") as {
    "google.rpc.Code": Record<string, number>;
  };
  const jobStates = (published("googleapis/aiplatform-v1-job-state.json") as { JobState: string[] }).JobState;
  const onSpot = { workerPoolSpecs: [], scheduling: { strategy: "SPOT" } };
  const onDemand = { workerPoolSpecs: [], scheduling: { strategy: "STANDARD" } };
  const stockout = `${docs.spotPreemption.errorMarker}: the Spot VMs of workerpool0 were reclaimed`;

  it("calls a Spot job that failed with the documented STOCKOUT error preempted, naming the error", () => {
    expect(docs.spotPreemption.statement).toContain(docs.spotPreemption.errorMarker);
    const end = vertexEnd({
      state: "JOB_STATE_FAILED",
      error: { code: proto["google.rpc.Code"].UNAVAILABLE, message: stockout },
      jobSpec: onSpot,
    });
    expect(end).toEqual({ kind: "preemption", reason: `preempted: ${stockout}` });
  });

  it("calls a STOCKOUT of a job not on Spot VMs a lack of capacity, not a preemption", () => {
    const end = vertexEnd({
      state: "JOB_STATE_FAILED",
      error: { code: 14, message: stockout },
      jobSpec: onDemand,
    });
    expect(end?.kind).toBe("no_capacity");
  });

  it("reads RESOURCE_EXHAUSTED by its google.rpc.Code number as no capacity", () => {
    expect(RPC_RESOURCE_EXHAUSTED).toBe(proto["google.rpc.Code"].RESOURCE_EXHAUSTED);
    const end = vertexEnd({
      state: "JOB_STATE_FAILED",
      error: {
        code: RPC_RESOURCE_EXHAUSTED,
        message: "Quota exceeded for aiplatform.googleapis.com/custom_model_training_nvidia_l4_gpus",
      },
      jobSpec: onSpot,
    });
    expect(end?.kind).toBe("no_capacity");
  });

  it("calls an error of the user's code on a Spot job the job's own failure", () => {
    const end = vertexEnd({
      state: "JOB_STATE_FAILED",
      error: { code: 3, message: "The replica workerpool0-0 exited with a non-zero status of 1." },
      jobSpec: onSpot,
    });
    expect(end).toEqual({
      kind: "failure",
      reason: "The replica workerpool0-0 exited with a non-zero status of 1.",
    });
  });

  it("sees no end in any state but JOB_STATE_FAILED, so Vertex AI's own restarts are never doubled", () => {
    for (const state of jobStates.filter((s) => s !== "JOB_STATE_FAILED")) {
      expect(vertexEnd({ state, error: { code: 14, message: stockout }, jobSpec: onSpot })).toBeUndefined();
    }
    // While Vertex AI restarts workers or retries the whole job, the job is in one of these states,
    // none of them an end.
    for (const state of ["JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING"]) {
      expect(jobStates).toContain(state);
      expect(["PENDING", "IN_PROGRESS"]).toContain(VERTEX_STATE_TO_STATUS[state]);
    }
  });
});

describe("azure-ml: what ended a job", () => {
  const docs = published("azure-docs/azure-ml-preemption.json") as { note: string };
  const statuses = (published("azure-rest-api-specs/mfe-2024-04-01.json") as { JobStatus: string[] })
    .JobStatus;
  const job = (status: string, errorMessage?: string) =>
    ({
      properties: {
        jobType: "Command",
        status,
        services: {
          Studio: { endpoint: "https://ml.azure.com/runs/x", ...(errorMessage ? { errorMessage } : {}) },
        },
      },
    }) as never;

  it("has no JobStatus that says preempted, as the published note records", () => {
    expect(statuses.filter((s) => /preempt/i.test(s))).toEqual([]);
    expect(docs.note).toContain("no preempted state");
  });

  it("calls a Failed job whose service says it was preempted preempted, naming the message", () => {
    const end = azureEnd(job("Failed", "The low-priority node running the job was preempted."));
    expect(end).toEqual({
      kind: "preemption",
      reason: "preempted: The low-priority node running the job was preempted.",
    });
  });

  it("calls any other Failed job the job's own failure", () => {
    expect(azureEnd(job("Failed", "UserError: train.py exited with code 1"))).toEqual({
      kind: "failure",
      reason: "UserError: train.py exited with code 1",
    });
    expect(azureEnd(job("Failed"))?.kind).toBe("failure");
  });

  it("sees no end in any other status: a Canceled job stays canceled and a requeued one unfinished", () => {
    for (const status of statuses.filter((s) => s !== "Failed")) {
      expect(azureEnd(job(status, "preempted"))).toBeUndefined();
    }
    for (const status of ["Queued", "Preparing", "Running"]) {
      expect(["PENDING", "IN_PROGRESS"]).toContain(AZURE_STATUS_TO_STATUS[status]);
    }
  });
});
