import type { V1Pod } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import type { AttemptEnd } from "../types";

/**
 * The reasons of the `DisruptionTarget` Pod condition: the Pod was ended from outside, by the
 * scheduler's preemption, a node's taint or loss, an eviction, or the kubelet (node pressure,
 * graceful node shutdown as a spot node's reclaim triggers).
 */
export const DISRUPTION_REASONS = [
  "PreemptionByScheduler",
  "DeletionByTaintManager",
  "EvictionByEvictionAPI",
  "DeletionByPodGC",
  "TerminationByKubelet",
] as const;

/** Pod `status.reason` values of kubelets that predate the condition, for the same events. */
const LEGACY_POD_REASONS = new Set(["Evicted", "NodeLost", "Shutdown", "Terminated", "NodeShutdown"]);

/**
 * What ended a failed Job, from its pods: a pod carrying `DisruptionTarget` (or, on older
 * kubelets, failed with reason `Evicted`, `Shutdown`, `NodeLost`) was preempted; otherwise the
 * failure is the job's own. Undefined when no pod says either way. A pod that Succeeded ended by
 * its own exit, disrupted or not, so it says nothing of what ended the Job; `sync` leaves such pods
 * out of its reads.
 */
export function endReason(pods: readonly V1Pod[]): AttemptEnd | undefined {
  for (const pod of pods) {
    if (pod.status?.phase === "Succeeded") continue;
    const disruption = pod.status?.conditions?.find(
      (c) => c.type === "DisruptionTarget" && c.status === "True",
    );
    if (disruption) {
      const why = disruption.message ? `: ${disruption.message}` : "";
      return {
        kind: "preemption",
        reason: `preempted: pod ${pod.metadata?.name ?? "?"} was disrupted (${disruption.reason ?? "DisruptionTarget"})${why}`,
      };
    }
  }
  for (const pod of pods) {
    const reason = pod.status?.reason;
    if (pod.status?.phase === "Failed" && reason && LEGACY_POD_REASONS.has(reason)) {
      const why = pod.status.message ? `: ${pod.status.message}` : "";
      return { kind: "preemption", reason: `preempted: pod ${pod.metadata?.name ?? "?"} ${reason}${why}` };
    }
  }
  return undefined;
}
