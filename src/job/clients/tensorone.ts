import { z } from "zod";
import { type JobStatus, TensorOneError, TensorOneJobObject } from "../../spec";
import type { Answer, RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { mapStatus, newestMadeBy, VendorClient, withName } from "./vendor";

/** TensorOne's API, as seed 002 calls it. */
export const TENSORONE_DEFAULT_URL = "https://api.tensorone.ai";

const JOBS = "v2/training/jobs";

// Seed 002 documents create, list, get, `/stop` (which saves a checkpoint) and `/resume`. A stopped
// job is resumable on TensorOne, but nothing here resumes it, so for a TrainingJob it has ended.
const STATUSES: Record<string, JobStatus> = {
  queued: "PENDING",
  pending: "PENDING",
  running: "IN_PROGRESS",
  completed: "COMPLETED",
  failed: "FAILED",
  cancelled: "CANCELED",
  canceled: "CANCELED",
  stopped: "CANCELED",
};

/** What to do about each of TensorOne's documented error codes. */
const HINTS: Record<string, string> = {
  INSUFFICIENT_RESOURCES: "choose another GPU type in jobConfig, or try again later",
  DATASET_NOT_FOUND: "check the dataset id in jobConfig (datasetId or datasetConfig.datasetId)",
  CONFIGURATION_ERROR: "fix the field TensorOne names in jobConfig",
};

const JobList = z.object({ jobs: z.array(TensorOneJobObject) });

/** Client of TensorOne's training jobs. */
export class TensorOneClient extends VendorClient {
  constructor(settings: VendorSettings, policy: Partial<RetryPolicy> = {}) {
    super("TensorOne", settings, `Bearer ${settings.apiKey}`, policy);
  }

  async submit(request: VendorSubmitRequest): Promise<JobSnapshot> {
    const body = withName(request.jobConfig, ["name"], request.name);
    const since = Date.now();
    return this.http.createOnce(
      async () => {
        const answer = await this.http.request("POST", JOBS, { json: body, once: true });
        return this.snapshot(this.parsed("POST", JOBS, answer, (b) => TensorOneJobObject.safeParse(b)));
      },
      async () => {
        // Newest first, so the job just made is on the first page.
        const path = `${JOBS}?limit=100&sort=created_at&order=desc`;
        const answer = await this.http.request("GET", path);
        const { jobs } = this.parsed("GET", path, answer, (b) => JobList.safeParse(b));
        const mine = newestMadeBy(jobs, request.name, since, (j) => ({ name: j.name, created: j.createdAt }));
        return mine ? this.snapshot(mine) : undefined;
      },
    );
  }

  async get(jobId: string): Promise<JobSnapshot | undefined> {
    const path = `${JOBS}/${encodeURIComponent(jobId)}`;
    const answer = await this.http.request("GET", path);
    if (answer.status === 404) return undefined;
    return this.snapshot(this.parsed("GET", path, answer, (b) => TensorOneJobObject.safeParse(b)));
  }

  /** `/stop` saves a checkpoint first, so a destroyed job can still be resumed from TensorOne's console. */
  protected stopRequest(jobId: string) {
    return {
      path: `${JOBS}/${encodeURIComponent(jobId)}/stop`,
      json: { saveCheckpoint: true, reason: "TrainingJob deleted by Pulumi" },
    };
  }

  protected override describe(body: unknown): string {
    const parsed = TensorOneError.safeParse(body);
    if (!parsed.success) return super.describe(body);
    const { error, message, details } = parsed.data;
    const facts = Object.entries(details ?? {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
    return `${error}: ${message}${facts.length > 0 ? ` (${facts.join("; ")})` : ""}`;
  }

  protected override hint(answer: Answer): string | undefined {
    const parsed = TensorOneError.safeParse(answer.body);
    if (!parsed.success) return undefined;
    const field = parsed.data.details?.field;
    if (typeof field === "string") return `fix jobConfig.${field} in the TrainingJob`;
    return HINTS[parsed.data.error];
  }

  private snapshot(job: TensorOneJobObject): JobSnapshot {
    const id = job.id ?? job.jobId ?? "";
    const status = mapStatus(STATUSES, job.status);
    const reason = job.errorMessage ?? job.error ?? undefined;
    return {
      id,
      name: job.name ?? "",
      status,
      cloud_job_identifier: { job_id: id },
      created_at: job.createdAt,
      updated_at: job.updatedAt,
      result: status === "FAILED" && reason ? { failure_reason: reason } : null,
    };
  }
}
