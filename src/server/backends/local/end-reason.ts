import type { AttemptEnd } from "../types";
import type { StatusRecord, StopRecord } from "./files";

/**
 * What ended a local job, from its supervisor's final record and the stop request the server wrote
 * (a cancel or a timeout). A job stopped by a signal the server did not ask for was preempted, as a
 * spot VM's shutdown ends every process with SIGTERM: its process killed by a signal, or its
 * supervisor told to stop with no stop request on file. A non-zero exit is the job's own failure.
 * Undefined for ends the status alone describes (completed, canceled, expired, not started).
 */
export function endReason(status: StatusRecord, stop: StopRecord | null): AttemptEnd | undefined {
  if (stop !== null || status.outcome === "timeout" || status.outcome === "spawn_failed") return undefined;
  if (status.outcome === "canceled") {
    return {
      kind: "preemption",
      reason:
        "preempted: the job's supervisor received SIGTERM that the server did not send (as when its machine shuts down)",
    };
  }
  if (typeof status.exit_code === "number") {
    return status.exit_code === 0
      ? undefined
      : { kind: "failure", reason: `exited with code ${status.exit_code}` };
  }
  return {
    kind: "preemption",
    reason: `preempted: the job's process was killed by ${status.signal ?? "a signal"} that the server did not send`,
  };
}

/** A job whose processes vanished without a final record lost its machine (a reboot, a kill of the whole tree). */
export function lostEnd(reason: string): AttemptEnd {
  return { kind: "preemption", reason: `preempted: ${reason}` };
}
