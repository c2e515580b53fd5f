import { z } from "zod";
import { BasetenTrainingJobObject, type JobStatus, VENDOR_NAME_PATH } from "../../spec";
import type { RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { type Listed, mapStatus, setAt, VendorClient, without } from "./vendor";

/** Baseten's API, as its training-job documentation calls it. */
export const BASETEN_DEFAULT_URL = "https://api.baseten.co";

// Baseten's training-job document shows only the create, whose answer is `{training_job}` with the
// job's id, name, `current_status` and `error_message`. The rest is inferred from Baseten's REST
// layout under the training project: `GET .../jobs` lists (`{training_jobs}`), `GET .../jobs/{id}`
// answers `{training_project, training_job}`, `POST .../jobs/{id}/stop` stops a job. So are the
// status words, past the create's.
const STATUSES: Record<string, JobStatus> = {
  TRAINING_JOB_CREATED: "PENDING",
  TRAINING_JOB_DEPLOYING: "PENDING",
  TRAINING_JOB_RUNNING: "IN_PROGRESS",
  TRAINING_JOB_COMPLETED: "COMPLETED",
  TRAINING_JOB_FAILED: "FAILED",
  TRAINING_JOB_DEPLOY_FAILED: "FAILED",
  TRAINING_JOB_STOPPED: "CANCELED",
};

const Envelope = z.object({ training_job: BasetenTrainingJobObject });
const JobList = z.object({ training_jobs: z.array(BasetenTrainingJobObject) });

/** Client of Baseten's training jobs, for the one training project `jobConfig` names. */
export class BasetenClient extends VendorClient {
  private readonly project: string;

  constructor(
    settings: VendorSettings,
    private readonly projectId: string,
    policy: Partial<RetryPolicy> = {},
  ) {
    super("Baseten", settings, `Api-Key ${settings.apiKey}`, policy, new Set());
    this.project = `v1/training_projects/${encodeURIComponent(projectId)}/jobs`;
  }

  protected async create(request: VendorSubmitRequest, name: string): Promise<JobSnapshot> {
    const body = setAt(without(request.jobConfig, "training_project_id"), VENDOR_NAME_PATH.baseten, name);
    const answer = await this.http.request("POST", this.project, { json: body, once: true });
    return this.snapshot(
      this.parsed("POST", this.project, answer, (b) => Envelope.safeParse(b)).training_job,
    );
  }

  protected list(name: string): Promise<Listed> {
    return this.listed(
      this.project,
      (b) => JobList.safeParse(b),
      ({ training_jobs }) => training_jobs.filter((j) => j.name === name).map((j) => this.snapshot(j)),
    );
  }

  protected getRequest(jobId: string) {
    return {
      /** The job's path under the vendor's base URL. */
      path: `${this.project}/${encodeURIComponent(jobId)}`,
      /** The job in a 2xx answer's body, or undefined when the body is not one. */
      parse: (body: unknown) => {
        const parsed = Envelope.safeParse(body);
        return parsed.success ? this.snapshot(parsed.data.training_job) : undefined;
      },
    };
  }

  protected stopRequest(jobId: string) {
    return {
      /** Baseten's stop call for the job. */
      path: `${this.project}/${encodeURIComponent(jobId)}/stop`,
      /** An empty JSON body. */
      json: {},
    };
  }

  protected whereToFind(job: string): string {
    return `in Baseten's training project ${this.projectId} (job ${job})`;
  }

  private snapshot(job: BasetenTrainingJobObject): JobSnapshot {
    const status = mapStatus(STATUSES, job.current_status);
    const failed = status === "FAILED" || status === "CANCELED";
    return {
      id: job.id,
      name: job.name ?? "",
      status,
      native_status: job.current_status,
      cloud_job_identifier: {
        training_project_id: job.training_project_id ?? this.projectId,
        training_job_id: job.id,
        ...(job.name ? { training_job_name: job.name } : {}),
      },
      created_at: job.created_at,
      updated_at: job.updated_at,
      result: failed && job.error_message ? { failure_reason: job.error_message } : null,
    };
  }
}
