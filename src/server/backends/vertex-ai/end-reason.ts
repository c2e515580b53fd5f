import type { AttemptEnd } from "../types";
import type { VertexCustomJob } from "./translate";

/** google.rpc.Code RESOURCE_EXHAUSTED: a quota or a resource ran out. */
export const RPC_RESOURCE_EXHAUSTED = 8;

/**
 * The marker Google's documentation gives for a job whose Spot VMs were preempted: the job "fails
 * with a STOCKOUT error". The same word names a zone out of the machines asked for, which on
 * on-demand capacity is a lack of capacity, not a preemption.
 */
const STOCKOUT = /\bSTOCKOUT\b/;

/** Texts that say outright that capacity was taken back. */
const PREEMPTED = /\bpreempt(ed|ion)\b/i;

/**
 * What ended a failed CustomJob, from its `error` (a google.rpc.Status, set only on
 * JOB_STATE_FAILED and JOB_STATE_CANCELLED) and the job's own scheduling strategy.
 *
 * - A job scheduled on Spot VMs whose error carries STOCKOUT, or says it was preempted, was
 *   preempted.
 * - A STOCKOUT of a job not on Spot VMs, or an error coded RESOURCE_EXHAUSTED, found no capacity.
 * - Anything else is the job's own failure.
 *
 * The API reference defines no preemption code or reason; Google's documentation names STOCKOUT
 * (test/fixtures/published/google-cloud-docs/vertex-ai-preemption.json), so that marker, on a
 * job that asked for Spot VMs, is all this trusts: an error that does not say so is the job's.
 *
 * Vertex AI restarts work itself before a job ends: a worker whose VM goes into maintenance or that
 * exits with a non-permanent error is restarted (up to five times each), then the whole job is
 * retried (up to three times; `restart_job_on_worker_restart` restarts the whole job on any worker
 * restart), and Compute Engine restarts a preempted Spot job. Throughout, the CustomJob stays
 * unfinished, so the Train API sees no end and restarts nothing on top; only a job Vertex AI has
 * given up on (FAILED) is restarted under a retry policy.
 */
export function endReason(job: Pick<VertexCustomJob, "state" | "error" | "jobSpec">): AttemptEnd | undefined {
  if (job.state !== "JOB_STATE_FAILED") return undefined;
  const message = job.error?.message?.trim() ?? "";
  const reason = message || "Vertex AI reported JOB_STATE_FAILED without an error message";
  const onSpot = job.jobSpec?.scheduling?.strategy === "SPOT";
  if (onSpot && (STOCKOUT.test(message) || PREEMPTED.test(message))) {
    return { kind: "preemption", reason: `preempted: ${reason}` };
  }
  if (STOCKOUT.test(message) || job.error?.code === RPC_RESOURCE_EXHAUSTED) {
    return { kind: "no_capacity", reason };
  }
  return { kind: "failure", reason };
}
