import { z } from "zod";
import { BACKENDS, type Backend, JobType } from "./backend";
import { JobName, rejectNulCharacters } from "./common";
import { checkJobConfigWithMounts, JOB_CONFIG_SCHEMAS } from "./jobs";
import { StorageMount, storageMountsFor } from "./mounts";
import { JobAttempt, RetryPolicy } from "./retry";
import { JobStatus } from "./status";

/** The body of `POST /v1/{backend}/jobs` for one backend. */
export function createJobRequestFor<B extends Backend>(backend: B) {
  return (
    z
      .object({
        /** The job's name; see {@link JobName} for the characters allowed. */
        name: JobName,
        /** What runs, in the backend's own job shape (see {@link JOB_CONFIG_SCHEMAS}). */
        job_config: JOB_CONFIG_SCHEMAS[backend] as (typeof JOB_CONFIG_SCHEMAS)[B],
        /** Storage mounted into the job's container, in order; `[]` for none. */
        storage_mounts: storageMountsFor(backend),
        /** When the job is restarted after a preemption or failure; absent for never. */
        retry_policy: RetryPolicy.optional(),
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

/** The schema of `POST /v1/{backend}/jobs`'s body, for every backend. */
export const CREATE_JOB_REQUESTS = Object.fromEntries(BACKENDS.map((b) => [b, createJobRequestFor(b)])) as {
  [B in Backend]: ReturnType<typeof createJobRequestFor<B>>;
};

/** The body of `POST /v1/{backend}/jobs` as a client writes it, defaults left out. */
export type CreateJobRequest<B extends Backend = Backend> = z.input<(typeof CREATE_JOB_REQUESTS)[B]>;
/** The body of `POST /v1/{backend}/jobs` once validated, defaults filled in. */
export type ParsedCreateJobRequest<B extends Backend = Backend> = z.output<(typeof CREATE_JOB_REQUESTS)[B]>;

/** `result` of a job: set when the job failed, expired or was canceled. */
export const JobResult = z.object({
  /** Why the job failed, expired or was canceled, as the backend reported it. */
  failure_reason: z.string().optional(),
  /** The training process's exit code, where the backend reports one. */
  exit_code: z.number().int().optional(),
});
export type JobResult = z.infer<typeof JobResult>;

/** The job object every endpoint returns, the same for every backend. */
export const Job = z.object({
  /** The Train API's id of the job, a UUID. */
  id: z.string().uuid(),
  /** The job's name as submitted. */
  name: z.string(),
  /** The backend the job runs on, spelt with underscores (`vertex_ai`). */
  job_type: JobType,
  /** Where the job is in its life, as of the API's last look at the backend. */
  status: JobStatus,
  /** The cloud's own identifiers of the job (`job_name`, `training_job_name`); null until it has one. */
  cloud_job_identifier: z.record(z.string(), z.string()).nullable(),
  /** The storage mounted into the job, as submitted with defaults filled in. */
  storage_mounts: z.array(StorageMount),
  /** The account the job belongs to. */
  account_id: z.string(),
  /** When the API accepted the job, ISO 8601 with offset. */
  created_at: z.string().datetime({ offset: true }),
  /** When the job last changed, ISO 8601 with offset. */
  updated_at: z.string().datetime({ offset: true }),
  /** How the job ended; null or absent while it runs and when it completed without a note. */
  result: JobResult.nullable().optional(),
  /**
   * Why a PENDING job has not reached its backend yet (waiting for the backend's submission pace,
   * or the last submit attempt's error); absent once it has.
   */
  status_reason: z.string().optional(),
  /** How many times the job was restarted under its `retry_policy` (0 from servers older than restarts). */
  restarts: z.number().int().default(0),
  /** Every run of the job on its backend, oldest first: the first submission, then each restart. */
  attempts: z.array(JobAttempt).default([]),
});
export type Job = z.infer<typeof Job>;

/** `GET /v1/jobs` query: optional status filter and cursor pagination. */
export const ListJobsQuery = z
  .object({
    /** Only jobs in this status. Defaults to every status. */
    status: JobStatus.optional(),
    /** Jobs per page, 1 to 100. Defaults to 20. */
    limit: z.coerce.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(20),
    /** The previous page's `next_cursor`, to read the page after it. Defaults to the first page. */
    cursor: z.string().min(1).optional(),
  })
  .strict();
export type ListJobsQuery = z.infer<typeof ListJobsQuery>;

/** `GET /v1/jobs` response: one page of the account's jobs, newest first. */
export const JobList = z.object({
  /** The page's jobs. */
  items: z.array(Job),
  /** The `cursor` that reads the next page; null on the last page. */
  next_cursor: z.string().nullable(),
});
export type JobList = z.infer<typeof JobList>;

/**
 * `GET /v1/jobs/{id}/logs` query and response. Without `cursor` the answer is the last `tail` lines;
 * with the `next_cursor` of an earlier answer, it is the lines written since, at most `tail` of them.
 */
export const JobLogsQuery = z
  .object({
    /** Which output stream to read. Defaults to `stdout`. */
    stream: z.enum(["stdout", "stderr"]).default("stdout"),
    /** How many of the last lines to return, 1 to 10000. Defaults to 100. */
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
  /** The job the lines belong to. */
  job_id: z.string().uuid(),
  /** The stream the lines were read from. */
  stream: z.enum(["stdout", "stderr"]),
  /** The last lines of the stream, oldest first, without line breaks. */
  lines: z.array(z.string()),
  /** The same lines with their time and source, from backends whose logs record them. */
  entries: z.array(LogLine).optional(),
  /** Where the next read continues; absent where the backend cannot continue a read. */
  next_cursor: z.string().optional(),
});
/** The body of `GET /v1/jobs/{id}/logs`. */
export type JobLogs = z.infer<typeof JobLogs>;

/** One problem with a request: where it is (`job_config.worker_pool_specs[0].replica_count`) and why. */
export const ErrorDetail = z.object({
  /** The field's path in the request, as a user reads it (`job_config.worker_pool_specs[0].replica_count`). */
  path: z.string(),
  /** What is wrong with it, and what would be accepted. */
  message: z.string(),
});
export type ErrorDetail = z.infer<typeof ErrorDetail>;

/** Every error response: a stable code, a sentence, and the field-level details when validation failed. */
export const ErrorBody = z.object({
  /** What went wrong: a code, a sentence, and the fields at fault. */
  error: z.object({
    /** A stable machine-readable code (`invalid_request`, `job_not_found`). */
    code: z.string(),
    /** One sentence saying what went wrong. */
    message: z.string(),
    /** One entry per field that failed validation; absent for other errors. */
    details: z.array(ErrorDetail).optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;
