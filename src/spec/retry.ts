import { z } from "zod";

/**
 * What may restart a job: `preemption` (the cloud took the capacity back: a spot VM reclaimed, a node
 * lost, a pod evicted), `failure` (the job's own code failed) and `no_capacity` (the cloud had no
 * capacity for it, at submission or while it waited).
 */
export const RETRY_EVENTS = ["preemption", "failure", "no_capacity"] as const;
export const RetryEvent = z.enum(RETRY_EVENTS);
export type RetryEvent = z.infer<typeof RetryEvent>;

/** Why one attempt of a job ended: a retry event, or `completed`, `canceled`, `expired`. */
export const ATTEMPT_END_KINDS = [...RETRY_EVENTS, "completed", "canceled", "expired"] as const;
export const AttemptEndKind = z.enum(ATTEMPT_END_KINDS);
export type AttemptEndKind = z.infer<typeof AttemptEndKind>;

/** The most restarts a policy may allow. */
export const MAX_RESTARTS_LIMIT = 100;

/**
 * `retry_policy` of a create request: which events restart the job, how often at most, and how long
 * to wait between restarts. A job without one is never restarted.
 */
export const RetryPolicy = z
  .object({
    /** Restarts at most, 0 to 100. A job that ends once more after the last one keeps that ending. */
    max_restarts: z
      .number()
      .int("must be a whole number")
      .min(0, "must be at least 0")
      .max(MAX_RESTARTS_LIMIT, `must be at most ${MAX_RESTARTS_LIMIT}`),
    /** The events that restart the job, such as `["preemption"]` or `["preemption", "failure"]`. */
    on: z
      .array(RetryEvent)
      .min(1, `must name at least one of ${RETRY_EVENTS.join(", ")}`)
      .refine((events) => new Set(events).size === events.length, "must not name an event twice"),
    /** Wait before the first restart, in seconds, 0 to 3600. Defaults to 10. */
    backoff_seconds: z.number().min(0, "must be at least 0").max(3600, "must be at most 3600").default(10),
    /** The wait doubles with each restart up to this many seconds, 0 to 86400. Defaults to 600. */
    max_backoff_seconds: z
      .number()
      .min(0, "must be at least 0")
      .max(86_400, "must be at most 86400")
      .default(600),
  })
  .strict()
  .refine((p) => p.max_backoff_seconds >= p.backoff_seconds, {
    message: "must be at least backoff_seconds",
    path: ["max_backoff_seconds"],
  });
export type RetryPolicy = z.infer<typeof RetryPolicy>;
/** `retry_policy` as a client writes it, defaults left out. */
export type RetryPolicyInput = z.input<typeof RetryPolicy>;

/** One run of a job on its backend: the first submission, or a restart. */
export const JobAttempt = z.object({
  /** 0 for the first submission, 1 for the first restart, and so on. */
  attempt: z.number().int(),
  /** The native job of this attempt, as `cloud_job_identifier` reported it; null if it never got one. */
  cloud_job_identifier: z.record(z.string(), z.string()).nullable(),
  /** When the attempt was submitted, ISO 8601; null before. */
  started_at: z.string().datetime({ offset: true }).nullable(),
  /** When the attempt was seen to end, ISO 8601; null while it runs. */
  ended_at: z.string().datetime({ offset: true }).nullable(),
  /** Why it ended; null while it runs. */
  end: z
    .object({
      /** What ended it (see {@link ATTEMPT_END_KINDS}). */
      kind: AttemptEndKind,
      /** The reason as the backend reported it. */
      reason: z.string(),
    })
    .nullable(),
});
export type JobAttempt = z.infer<typeof JobAttempt>;

/** The wait before restart number `restart` (1 for the first). */
export function backoffSeconds(policy: RetryPolicy, restart: number): number {
  return Math.min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** Math.max(0, restart - 1));
}
