import { z } from "zod";
import { BasetenTrainingJobObject, type JobStatus, VENDOR_NAME_PATH } from "../../spec";
import type { RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { mapStatus, newestMadeBy, VendorClient, withName, without } from "./vendor";

/** Baseten's API, as seed 001's curl calls it. */
export const BASETEN_DEFAULT_URL = "https://api.baseten.co";

// Seed 001 shows only the create. The rest follows Baseten's REST layout under the training
// project: `GET .../jobs` lists, `GET .../jobs/{id}` answers `{training_project, training_job}`,
// `POST .../jobs/{id}/stop` stops a job.
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
    super("Baseten", settings, `Api-Key ${settings.apiKey}`, policy);
    this.project = `v1/training_projects/${encodeURIComponent(projectId)}/jobs`;
  }

  async submit(request: VendorSubmitRequest): Promise<JobSnapshot> {
    const body = withName(
      without(request.jobConfig, "training_project_id"),
      VENDOR_NAME_PATH.baseten,
      request.name,
    );
    const since = Date.now();
    return this.http.createOnce(
      async () => {
        const answer = await this.http.request("POST", this.project, { json: body, once: true });
        return this.snapshot(
          this.parsed("POST", this.project, answer, (b) => Envelope.safeParse(b)).training_job,
        );
      },
      async () => {
        const answer = await this.http.request("GET", this.project);
        const { training_jobs } = this.parsed("GET", this.project, answer, (b) => JobList.safeParse(b));
        const mine = newestMadeBy(training_jobs, request.name, since, (j) => ({
          name: j.name,
          created: j.created_at,
        }));
        return mine ? this.snapshot(mine) : undefined;
      },
    );
  }

  async get(jobId: string): Promise<JobSnapshot | undefined> {
    const path = `${this.project}/${encodeURIComponent(jobId)}`;
    const answer = await this.http.request("GET", path);
    if (answer.status === 404) return undefined;
    return this.snapshot(this.parsed("GET", path, answer, (b) => Envelope.safeParse(b)).training_job);
  }

  protected stopRequest(jobId: string) {
    return { path: `${this.project}/${encodeURIComponent(jobId)}/stop` };
  }

  private snapshot(job: BasetenTrainingJobObject): JobSnapshot {
    const status = mapStatus(STATUSES, job.current_status);
    const failed = status === "FAILED" || status === "CANCELED";
    return {
      id: job.id,
      name: job.name ?? "",
      status,
      cloud_job_identifier: {
        training_project_id: job.training_project_id ?? this.projectId,
        training_job_id: job.id,
      },
      created_at: job.created_at,
      updated_at: job.updated_at,
      result: failed && job.error_message ? { failure_reason: job.error_message } : null,
    };
  }
}
