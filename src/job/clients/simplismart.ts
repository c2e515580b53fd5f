import { z } from "zod";
import { type JobStatus, SIMPLISMART_JSON_FIELDS, SimplismartJobObject } from "../../spec";
import type { RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { type Listed, mapStatus, VendorClient } from "./vendor";

/** Simplismart's training suite, as its documentation's curl calls it. */
export const SIMPLISMART_DEFAULT_URL = "https://training-suite.app.simplismart.ai";

// Simplismart's document shows the create only (`POST /job/`, answering request_id, status,
// message and experiment_name) and the statuses. The rest is inferred in the same REST style,
// trailing slashes included: `GET /job/{request_id}/` answers the job object the create answers,
// `GET /job/?org=..&experiment_name=..` lists them (`{results: [...]}`), `POST /job/{request_id}/cancel/`
// cancels.
const STATUSES: Record<string, JobStatus> = {
  QUEUED: "PENDING",
  RUNNING: "IN_PROGRESS",
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  CANCELED: "CANCELED",
  CANCELLED: "CANCELED",
};

const JobList = z.object({ results: z.array(SimplismartJobObject) });

/** Client of Simplismart's training jobs, for the one organization `jobConfig.org` names. */
export class SimplismartClient extends VendorClient {
  constructor(
    settings: VendorSettings,
    private readonly org: string,
    policy: Partial<RetryPolicy> = {},
  ) {
    super("Simplismart", settings, `Bearer ${settings.apiKey}`, policy, new Set());
  }

  protected async create(request: VendorSubmitRequest, name: string): Promise<JobSnapshot> {
    const config = request.jobConfig;
    const form = new FormData();
    form.set("org", this.org);
    form.set("experiment_name", name);
    for (const field of SIMPLISMART_JSON_FIELDS) {
      const value = config[field];
      form.set(field, typeof value === "string" ? value : JSON.stringify(value));
    }
    const answer = await this.http.request("POST", "job/", { form, once: true });
    const job = this.parsed("POST", "job/", answer, (b) => SimplismartJobObject.safeParse(b));
    // The create answer may leave the status out; a job just accepted is queued.
    return this.snapshot({ status: "QUEUED", experiment_name: name, ...job });
  }

  protected list(name: string): Promise<Listed> {
    const query = new URLSearchParams({ org: this.org, experiment_name: name });
    return this.listed(
      `job/?${query}`,
      (b) => JobList.safeParse(b),
      ({ results }) => results.filter((j) => j.experiment_name === name).map((j) => this.snapshot(j)),
    );
  }

  protected getRequest(jobId: string) {
    return {
      /** The job's path under the vendor's base URL. */
      path: `job/${encodeURIComponent(jobId)}/`,
      /** The job in a 2xx answer's body, or undefined when the body is not one. */
      parse: (body: unknown) => {
        const parsed = SimplismartJobObject.safeParse(body);
        return parsed.success ? this.snapshot(parsed.data) : undefined;
      },
    };
  }

  protected stopRequest(jobId: string) {
    return {
      /** The job's cancel call; it takes no body. */
      path: `job/${encodeURIComponent(jobId)}/cancel/`,
    };
  }

  protected whereToFind(job: string): string {
    return `in Simplismart's training suite for organization ${this.org} (job ${job})`;
  }

  /**
   * The job object has no failure field (its `message` is about the submission) and no creation
   * time, so a failed job carries no reason and the provider dates the job itself.
   */
  private snapshot(job: SimplismartJobObject): JobSnapshot {
    const status = job.status ?? "QUEUED";
    return {
      id: job.request_id,
      name: job.experiment_name ?? "",
      status: mapStatus(STATUSES, status),
      native_status: status,
      cloud_job_identifier: {
        request_id: job.request_id,
        ...(job.experiment_name ? { experiment_name: job.experiment_name } : {}),
      },
      result: null,
    };
  }
}
