import type { JobBase } from "@azure/arm-machinelearning";
import type { AttemptEnd } from "../types";

/** Texts that say outright that the job's low-priority or Spot capacity was taken back. */
const PREEMPTED = /\bpreempt(ed|ion)\b/i;

/**
 * What ended a Failed Azure ML job, from the job resource: a job whose services
 * report that it was preempted was preempted; any other Failed job failed on its own.
 *
 * Azure ML publishes no sign of preemption for a command job: `JobStatus` has no preempted state
 * and the job resource carries no error code, only the free text its services report
 * (test/fixtures/published/azure-docs/azure-ml-preemption.json). So this calls an end preemption
 * only when that text says so; everything else counts as the job's own failure, which a retry
 * policy restarts only when it names `failure`. A Canceled job stays canceled, never restarted:
 * Azure ML's batch-deployment documentation says a job whose whole low-priority cluster was
 * preempted is canceled, but nothing published says a command job is, and a cancel may be the
 * user's own (in the studio, say), which must not be undone.
 *
 * Where Azure ML itself restarts a job that lost its low-priority nodes (Microsoft's hi-ml
 * documentation says such a job is "interrupted and later re-started"), the job stays unfinished
 * meanwhile (Queued, Preparing, Running again): the Train API sees no end and restarts nothing on top.
 */
export function endReason(job: JobBase): AttemptEnd | undefined {
  if (job.properties.status !== "Failed") return undefined;
  const errors = Object.values(job.properties.services ?? {}).flatMap((s) =>
    s?.errorMessage ? [s.errorMessage] : [],
  );
  const text = errors.join("; ");
  if (PREEMPTED.test(text)) return { kind: "preemption", reason: `preempted: ${text}` };
  return { kind: "failure", reason: text || "Azure ML reported the job Failed" };
}
