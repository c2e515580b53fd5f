import {
  type AttemptEndKind,
  backoffSeconds,
  isTerminal,
  type JobAttempt,
  type JobStatus,
  type RetryEvent,
} from "../spec";
import { type AttemptEnd, BackendError, NO_CAPACITY_ERROR_CODE, type PollResult } from "./backends/types";
import type { JobRecord, StatusChange, Store } from "./store/types";

/**
 * The id a backend sees for one attempt of a job: the job id itself for the first submission, and
 * `<job id>-r<n>` for restart n. Backends derive the native job's name from it, so every restart
 * has a native name of its own and a submit repeated after a crash finds the one it made.
 */
export function attemptJobId(jobId: string, attempt: number): string {
  return attempt === 0 ? jobId : `${jobId}-r${attempt}`;
}

const KIND_OF_STATUS: Partial<Record<JobStatus, AttemptEndKind>> = {
  COMPLETED: "completed",
  FAILED: "failure",
  CANCELED: "canceled",
  EXPIRED: "expired",
};

/** What ended an attempt: what the backend said, else what its status means. */
export function endOf(polled: Pick<PollResult, "status" | "result" | "end">): AttemptEnd {
  if (polled.end) return polled.end;
  return {
    kind: KIND_OF_STATUS[polled.status] ?? "failure",
    reason: polled.result?.failure_reason ?? polled.status.toLowerCase(),
  };
}

/** The current attempt of a job as it stands (ended when `end` is given). */
export function currentAttempt(job: JobRecord, end: AttemptEnd | null, endedAt: Date | null): JobAttempt {
  return {
    attempt: job.attempt,
    cloud_job_identifier: job.cloudJobIdentifier,
    started_at: job.submittedAt?.toISOString() ?? null,
    ended_at: endedAt?.toISOString() ?? null,
    end,
  };
}

/** Every attempt of a job, as the job object shows them: those that ended, then the one running. */
export function attemptsOf(job: JobRecord): JobAttempt[] {
  const last = job.attempts.at(-1);
  if (last?.attempt === job.attempt) return job.attempts;
  if (!isTerminal(job.status)) {
    // A restart waiting for its back-off or its submission has no native job yet.
    return [...job.attempts, currentAttempt(job, null, null)];
  }
  // Ended by a path that recorded no attempt: a cancel before the backend was asked (again), a
  // submission the backend refused.
  const end = endOf({ status: job.status, result: job.result ?? undefined });
  return [...job.attempts, currentAttempt(job, end, job.updatedAt)];
}

/** A poll as the job shows it: a restart waiting in the cloud's queue is still recovering, not new. */
export function asRecovering(job: JobRecord, polled: PollResult): PollResult {
  return job.attempt > 0 && polled.status === "PENDING" ? { ...polled, status: "IN_PROGRESS" } : polled;
}

/** The policy's event for an end, or undefined for ends no policy restarts. */
function eventOf(kind: AttemptEndKind): RetryEvent | undefined {
  return kind === "preemption" || kind === "failure" || kind === "no_capacity" ? kind : undefined;
}

/** What the reconciler does with a poll: record a change, or nothing more (a restart was started). */
export type Settled =
  | { kind: "change"; change: StatusChange }
  | { kind: "restarted"; job: JobRecord; delayMs: number };

/**
 * Decides what a poll means for a job under its retry policy. An attempt that ended in an event the
 * policy covers, with restarts left and no cancel asked for, starts a restart: the store records it
 * in one conditional statement, and the reconciler's submit path submits the next attempt once its
 * back-off is over. Anything else becomes the status change the reconciler records, with the ended
 * attempt appended to the job's attempts; a restart in progress stays IN_PROGRESS.
 */
export async function settle(store: Store, job: JobRecord, polled: PollResult): Promise<Settled> {
  const change: StatusChange = {
    status: polled.status,
    ...(polled.result !== undefined ? { result: polled.result } : {}),
    ...(polled.backendState !== undefined ? { backendState: polled.backendState } : {}),
  };
  if (!isTerminal(polled.status)) return { kind: "change", change };
  const end = endOf(polled);
  const now = new Date();
  const ended = currentAttempt(job, end, now);
  const policy = job.request.retry_policy;
  const event = eventOf(end.kind);
  if (
    policy &&
    event &&
    policy.on.includes(event) &&
    job.attempt < policy.max_restarts &&
    !job.cancelRequestedAt
  ) {
    const delaySeconds = backoffSeconds(policy, job.attempt + 1);
    const restarted = await store.beginRestart(job.id, {
      endedAttemptNumber: job.attempt,
      endedAttempt: ended,
      restartAt: new Date(now.getTime() + delaySeconds * 1000),
    });
    if (restarted) return { kind: "restarted", job: restarted, delayMs: delaySeconds * 1000 };
    // Someone else moved the job meanwhile (a cancel, another server's restart): record nothing here.
    const current = await store.getJobById(job.id);
    const restartedElsewhere =
      current &&
      (current.attempt !== job.attempt || (job.submittedAt !== null && current.submittedAt === null));
    if (current && restartedElsewhere) {
      return { kind: "restarted", job: current, delayMs: 0 };
    }
  }
  if (policy && event && job.attempt >= policy.max_restarts && policy.on.includes(event)) {
    const reason = `${end.reason} (after ${job.attempt} restart(s), the most retry_policy.max_restarts allows)`;
    change.result = { ...(polled.result ?? {}), failure_reason: reason };
  }
  return { kind: "change", change: { ...change, endedAttempt: ended } };
}

/**
 * A submission the backend refused for good, as an ended attempt: a quota or capacity refusal ends
 * the attempt `no_capacity`, which `settle` restarts when the policy names it. Undefined for any
 * other refusal (an invalid request, a missing permission), which a restart would only repeat.
 */
export function refusedSubmit(err: unknown): PollResult | undefined {
  if (!(err instanceof BackendError) || err.retryable || err.code !== NO_CAPACITY_ERROR_CODE)
    return undefined;
  return {
    status: "FAILED",
    result: { failure_reason: err.message },
    end: { kind: "no_capacity", reason: err.message },
  };
}
