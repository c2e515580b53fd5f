import {
  type JobStatus,
  TensorOneError,
  TensorOneJobObject,
  TensorOneJobPage,
  VENDOR_NAME_PATH,
} from "../../spec";
import type { Answer, RetryPolicy } from "./http";
import { JobApiError, type JobSnapshot, type VendorSettings, type VendorSubmitRequest } from "./types";
import { type Listed, mapStatus, setAt, VendorClient } from "./vendor";

/** TensorOne's API, as its training-job documentation calls it. */
export const TENSORONE_DEFAULT_URL = "https://api.tensorone.ai";

const JOBS = "v2/training/jobs";

// TensorOne documents create, list (paged, sortable), get, `/stop` (which saves a checkpoint) and
// `/resume` (from a checkpoint), so nothing here is inferred but the status a stopped job reports,
// `stopped`. A stopped job has ended as far as a watch is concerned, but is not gone: it can be
// resumed, here (`resumeStopped`) or in TensorOne's console, and a refresh then tracks it again.
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

/** TensorOne's word for a job `/stop` stopped, the one state `/resume` resumes. */
export const TENSORONE_STOPPED = "stopped";

/** What to do about each of TensorOne's documented error codes. */
const HINTS: Record<string, string> = {
  INSUFFICIENT_RESOURCES: "choose another GPU type in jobConfig, or try again later",
  DATASET_NOT_FOUND: "check the dataset id in jobConfig (datasetId or datasetConfig.datasetId)",
  CONFIGURATION_ERROR: "fix the field TensorOne names in jobConfig",
};

/** The list's largest page, and how many pages a look-up reads before it gives up. */
const PAGE = 100;
const MAX_PAGES = 10;
/** A job listed this long before the submission started cannot be its job, even with the clocks apart. */
const CLOCK_SKEW_MS = 60_000;

/** Client of TensorOne's training jobs. */
export class TensorOneClient extends VendorClient {
  constructor(settings: VendorSettings, policy: Partial<RetryPolicy> = {}) {
    super("TensorOne", settings, `Bearer ${settings.apiKey}`, policy, new Set(["list", "get", "stop"]));
  }

  protected async create(request: VendorSubmitRequest, name: string): Promise<JobSnapshot> {
    const body = setAt(request.jobConfig, VENDOR_NAME_PATH.tensorone, name);
    const answer = await this.http.request("POST", JOBS, { json: body, once: true });
    return this.snapshot(this.parsed("POST", JOBS, answer, (b) => TensorOneJobObject.safeParse(b)));
  }

  /**
   * Newest first, page by page, until a page reaches back past the submission or the list ends. The
   * list has no name filter, so a busy account is read as far as `MAX_PAGES`, and no further.
   */
  protected async list(name: string, since: number): Promise<Listed> {
    const mine: JobSnapshot[] = [];
    const asked = this.http.where("GET", JOBS);
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = new URLSearchParams({
        limit: String(PAGE),
        offset: String(page * PAGE),
        sort: "created_at",
        order: "desc",
      });
      const path = `${JOBS}?${query}`;
      const answer = await this.http.request("GET", path);
      const data = this.parsed("GET", path, answer, (b) => TensorOneJobPage.safeParse(b));
      const jobs = data.jobs.map((j) => this.snapshot(j));
      mine.push(...jobs.filter((j) => j.name === name));
      const more = data.pagination?.hasMore ?? jobs.length === PAGE;
      // Later pages can hold only older jobs when the page came newest first, as asked; a list that
      // ignored the order is read to its end instead.
      const times = jobs.map((j) => Date.parse(j.created_at ?? ""));
      const newestFirst = times.every((t, i) => i === 0 || t <= times[i - 1]!);
      const oldest = times.at(-1) ?? Number.NaN;
      if (!more || (newestFirst && oldest < since - CLOCK_SKEW_MS)) return { jobs: mine, asked };
    }
    return {
      jobs: mine,
      asked,
      unsettled: `${asked} was read ${MAX_PAGES} pages deep without reaching jobs older than the submission`,
    };
  }

  protected getRequest(jobId: string) {
    return {
      /** The job's path under the vendor's base URL. */
      path: `${JOBS}/${encodeURIComponent(jobId)}`,
      /** The job in a 2xx answer's body, or undefined when the body is not one. */
      parse: (body: unknown) => {
        const parsed = TensorOneJobObject.safeParse(body);
        return parsed.success ? this.snapshot(parsed.data) : undefined;
      },
    };
  }

  /** `/stop` saves a checkpoint first, so a destroyed job can still be resumed from TensorOne's console. */
  protected stopRequest(jobId: string) {
    return {
      /** TensorOne's stop call for the job. */
      path: `${JOBS}/${encodeURIComponent(jobId)}/stop`,
      /** Stop with a checkpoint, saying why. */
      json: {
        /** Save a checkpoint before stopping, so the job can be resumed. */
        saveCheckpoint: true,
        /** Shown in TensorOne's console as why the job stopped. */
        reason: "TrainingJob deleted by Pulumi",
      },
    };
  }

  protected whereToFind(job: string): string {
    return `in TensorOne's training jobs (job ${job})`;
  }

  /**
   * Resumes a stopped job from its latest checkpoint, named as the job's details list it. A job
   * with no checkpoint cannot be resumed, and saying so beats a request TensorOne would refuse.
   */
  async resume(jobId: string): Promise<JobSnapshot> {
    const read = `${JOBS}/${encodeURIComponent(jobId)}`;
    const answer = await this.http.request("GET", read);
    const details = this.parsed("GET", read, answer, (b) => TensorOneJobObject.safeParse(b));
    const latest = [...(details.checkpoints ?? [])].sort(
      (a, b) => (Date.parse(a.createdAt ?? "") || 0) - (Date.parse(b.createdAt ?? "") || 0),
    );
    const checkpoint = latest.at(-1);
    if (!checkpoint) {
      throw new JobApiError(
        `job ${jobId} has no checkpoint to resume from (${this.http.where("GET", read)} lists none); ` +
          "set resumeStopped to false, or change the job to submit a new one",
        undefined,
        "no_checkpoint",
      );
    }
    const path = `${read}/resume`;
    const resumed = await this.http.request("POST", path, { json: { checkpointId: checkpoint.id } });
    if (resumed.status < 200 || resumed.status > 299) throw this.failure("POST", path, resumed);
    const job = await this.get(jobId);
    if (!job)
      throw new JobApiError(`job ${jobId} disappeared from TensorOne as it was resumed`, 404, "not_found");
    return job;
  }

  protected override describe(body: unknown): string {
    const parsed = TensorOneError.safeParse(body);
    return parsed.success ? describeError(parsed.data) : super.describe(body);
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
    const reason = failureReason(job);
    return {
      id,
      name: job.name ?? "",
      status,
      native_status: job.status,
      cloud_job_identifier: { job_id: id, ...(job.name ? { name: job.name } : {}) },
      created_at: job.createdAt,
      updated_at: job.updatedAt,
      result: status === "FAILED" && reason ? { failure_reason: reason } : null,
    };
  }
}

/**
 * Why a job failed, in TensorOne's error shape `{error, message, details}`: carried whole under
 * `error`, or spread over the job's own `error` and `message`. A bare `message` is not that shape
 * and says nothing certain about a failure.
 */
function failureReason(job: TensorOneJobObject): string | undefined {
  if (job.error && typeof job.error === "object") return describeError(job.error);
  if (typeof job.error !== "string") return undefined;
  return describeError({ error: job.error, message: job.message ?? "", details: job.details ?? undefined });
}

function describeError(error: TensorOneError): string {
  const facts = Object.entries(error.details ?? {}).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  const text = error.message ? `${error.error}: ${error.message}` : error.error;
  return `${text}${facts.length > 0 ? ` (${facts.join("; ")})` : ""}`;
}
