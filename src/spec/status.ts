import { z } from "zod";

/** Every state a job can be in, in the order a job normally moves through them. */
export const JOB_STATUSES = ["PENDING", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELED", "EXPIRED"] as const;
/** The schema of a job's `status`. */
export const JobStatus = z.enum(JOB_STATUSES);
/** A job's status: `PENDING`, `IN_PROGRESS`, then one of the terminal `COMPLETED`, `FAILED`, `CANCELED` or `EXPIRED`. */
export type JobStatus = z.infer<typeof JobStatus>;

/** States a job never leaves. */
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set([
  "COMPLETED",
  "FAILED",
  "CANCELED",
  "EXPIRED",
]);

/** Whether the job has ended for good (see {@link TERMINAL_STATUSES}). */
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}
