import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DISRUPTION_REASONS,
  endReason as kubernetesEnd,
} from "../../src/server/backends/kubernetes/end-reason";
import { endReason as sagemakerEnd } from "../../src/server/backends/sagemaker/end-reason";
import { statusOfTrainingJob } from "../../src/server/backends/sagemaker/translate";

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
