import { z } from "zod";
import { BACKENDS, type Backend, JobType } from "./backend";
import { JobName, rejectNulCharacters } from "./common";
import { checkJobConfigWithMounts, JOB_CONFIG_SCHEMAS } from "./jobs";
import { StorageMount, storageMountsFor } from "./mounts";
import { JobStatus } from "./status";

/** The body of `POST /v1/{backend}/jobs` for one backend. */
export function createJobRequestFor<B extends Backend>(backend: B) {
  return (
    z
      .object({
        name: JobName,
        job_config: JOB_CONFIG_SCHEMAS[backend] as (typeof JOB_CONFIG_SCHEMAS)[B],
        storage_mounts: storageMountsFor(backend),
      })
      .strict()
      // Runs even when another field failed, so one answer names every NUL character at once.
      .superRefine((request, ctx) => rejectNulCharacters(request, ctx), { when: () => true })
      .superRefine((request, ctx) => {
        const { job_config, storage_mounts } = request as unknown as {
          job_config: Record<string, unknown>;
          storage_mounts: unknown[];
        };
        checkJobConfigWithMounts(backend, job_config, storage_mounts.length, ctx);
      })
  );
}

export const CREATE_JOB_REQUESTS = Object.fromEntries(BACKENDS.map((b) => [b, createJobRequestFor(b)])) as {
  [B in Backend]: ReturnType<typeof createJobRequestFor<B>>;
};

export type CreateJobRequest<B extends Backend = Backend> = z.input<(typeof CREATE_JOB_REQUESTS)[B]>;
export type ParsedCreateJobRequest<B extends Backend = Backend> = z.output<(typeof CREATE_JOB_REQUESTS)[B]>;

/** `result` of a job: set when the job failed, expired or was canceled. */
export const JobResult = z.object({
  failure_reason: z.string().optional(),
  exit_code: z.number().int().optional(),
});
export type JobResult = z.infer<typeof JobResult>;

/** The job object every endpoint returns, the same for every backend. */
export const Job = z.object({
  id: z.string().uuid(),
  name: z.string(),
  job_type: JobType,
  status: JobStatus,
  cloud_job_identifier: z.record(z.string(), z.string()).nullable(),
  storage_mounts: z.array(StorageMount),
  account_id: z.string(),
  created_at: z.string().datetime({ offset: true }),
  updated_at: z.string().datetime({ offset: true }),
  result: JobResult.nullable().optional(),
});
export type Job = z.infer<typeof Job>;

/** `GET /v1/jobs` query: optional status filter and cursor pagination. */
export const ListJobsQuery = z
  .object({
    status: JobStatus.optional(),
    limit: z.coerce.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(20),
    cursor: z.string().min(1).optional(),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

export const JobList = z.object({
  items: z.array(Job),
  next_cursor: z.string().nullable(),
});
export type JobList = z.infer<typeof JobList>;

/**
 * `GET /v1/jobs/{id}/logs` query and response. Without `cursor` the answer is the last `tail` lines;
 * with the `next_cursor` of an earlier answer, it is the lines written since, at most `tail` of them.
 */
export const JobLogsQuery = z
  .object({
    stream: z.enum(["stdout", "stderr"]).default("stdout"),
    tail: z.coerce.number().int().min(1).max(10_000).default(100),
    cursor: z.string().min(1).max(1024).optional(),
    /** Server-Sent Events: the lines, then more as they are written, until the job ends. */
    follow: z
      .enum(["true", "false"], { message: 'must be "true" or "false"' })
      .optional()
      .transform((v) => v === "true"),
  })
  .strict();
/** What a backend is asked for when the API reads a job's log (following is the API's own business). */
export type LogsQuery = Omit<z.output<typeof JobLogsQuery>, "follow">;

/** One line of output where the backend knows when it was written and by which replica or node. */
export const LogLine = z.object({
  text: z.string(),
  /** RFC 3339, as the cloud's logging service recorded it. */
  timestamp: z.string().optional(),
  /** The replica, task or node that wrote it (`workerpool0-0`, `algo-1`), where the cloud says. */
  source: z.string().optional(),
});
export type LogLine = z.infer<typeof LogLine>;

export const JobLogs = z.object({
  job_id: z.string().uuid(),
  stream: z.enum(["stdout", "stderr"]),
  lines: z.array(z.string()),
  /** The same lines with their time and source, from backends whose logs record them. */
  entries: z.array(LogLine).optional(),
  /** Where the next read continues; absent where the backend cannot continue a read. */
  next_cursor: z.string().optional(),
});
export type JobLogs = z.infer<typeof JobLogs>;

/** One problem with a request: where it is (`job_config.worker_pool_specs[0].replica_count`) and why. */
export const ErrorDetail = z.object({ path: z.string(), message: z.string() });
export type ErrorDetail = z.infer<typeof ErrorDetail>;

/** Every error response: a stable code, a sentence, and the field-level details when validation failed. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(ErrorDetail).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
