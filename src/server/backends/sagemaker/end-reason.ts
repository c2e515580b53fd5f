import type { DescribeTrainingJobCommandOutput } from "@aws-sdk/client-sagemaker";
import type { AttemptEnd } from "../types";

/** FailureReason texts of a training job that found no instances to run on. */
const NO_CAPACITY = /InsufficientInstanceCapacity|CapacityError|insufficient capacity/i;

/**
 * What ended a failed training job, from DescribeTrainingJob. A job whose instances SageMaker lost
 * (`SecondaryStatus` `Interrupted`) was preempted; one that found no capacity failed for
 * `no_capacity`; anything else is the job's own failure.
 *
 * Managed spot training (`EnableManagedSpotTraining`) restarts an interrupted job by itself, from
 * `CheckpointConfig`, until `StoppingCondition.MaxWaitTimeInSeconds`: the job stays `InProgress`
 * (`Interrupted`, then `Restarting`) meanwhile, so the Train API sees no end and restarts nothing
 * on top; once the wait is used up SageMaker ends it `MaxWaitTimeExceeded`, which the API reports
 * EXPIRED, an end no retry policy restarts.
 */
export function endReason(
  described: Pick<
    DescribeTrainingJobCommandOutput,
    "TrainingJobStatus" | "SecondaryStatus" | "FailureReason"
  >,
): AttemptEnd | undefined {
  if (described.TrainingJobStatus !== "Failed") return undefined;
  const reason =
    described.FailureReason?.trim() || `SageMaker reported ${described.SecondaryStatus ?? "Failed"}`;
  if (described.SecondaryStatus === "Interrupted")
    return { kind: "preemption", reason: `preempted: ${reason}` };
  if (NO_CAPACITY.test(reason)) return { kind: "no_capacity", reason };
  return { kind: "failure", reason };
}
