import { createHash } from "node:crypto";
import { JOB_TYPE_BY_BACKEND, type Job } from "../spec";
import type { BackendJob } from "./backends/types";
import { attemptJobId, attemptsOf } from "./recovery";
import type { JobRecord } from "./store/types";

/**
 * Each record's API form, built once: a record is never changed in place (every write makes a new
 * one), and a read served from memory answers the same record again and again.
 */
const apiForms = new WeakMap<JobRecord, Job>();

/** The job object of the SGP Train API. What the server keeps for itself (request, backend state) stays out. */
export function toApiJob(job: JobRecord): Job {
  let api = apiForms.get(job);
  if (!api) {
    api = apiFormOf(job);
    apiForms.set(job, api);
  }
  return api;
}

function apiFormOf(job: JobRecord): Job {
  return {
    id: job.id,
    name: job.name,
    job_type: JOB_TYPE_BY_BACKEND[job.backend],
    status: job.status,
    cloud_job_identifier: job.cloudJobIdentifier,
    // jsonb keeps keys in its own order; the API answers in the order the SGP Train API documents them.
    storage_mounts: job.request.storage_mounts.map((m) => ({
      source_uri: m.source_uri,
      mount_path: m.mount_path,
      read_only: m.read_only,
    })),
    account_id: job.accountId,
    created_at: job.createdAt.toISOString(),
    updated_at: job.updatedAt.toISOString(),
    result: job.result,
    ...(job.status === "PENDING" && job.submittedAt === null && job.lastError
      ? { status_reason: job.lastError }
      : {}),
    restarts: job.attempt,
    attempts: attemptsOf(job),
  };
}

export function toBackendJob(job: JobRecord): BackendJob {
  return {
    id: attemptJobId(job.id, job.attempt),
    accountId: job.accountId,
    backend: job.backend,
    request: job.request,
    cloudJobIdentifier: job.cloudJobIdentifier,
    backendState: job.backendState,
  };
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Equal for requests that mean the same job, whatever their key order or omitted defaults. */
export function requestHash(backend: string, parsedRequest: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify([backend, canonical(parsedRequest)]))
    .digest("hex");
}
