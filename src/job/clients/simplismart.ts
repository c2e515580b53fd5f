import { z } from "zod";
import { type JobStatus, SIMPLISMART_JSON_FIELDS, SimplismartJobObject } from "../../spec";
import type { RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { mapStatus, newestMadeBy, VendorClient } from "./vendor";

/** Simplismart's training suite, as seed 004's curl calls it. */
export const SIMPLISMART_DEFAULT_URL = "https://training-suite.app.simplismart.ai";

// Seed 004 shows the create only (`POST /job/`, answering request_id) and the statuses. The rest is
// designed in the same REST style, trailing slashes included: `GET /job/{request_id}/` answers the
// job with its status and message, `GET /job/?org=..&experiment_name=..` lists (`{results: [...]}`),
// `POST /job/{request_id}/cancel/` cancels.
const STATUSES: Record<string, JobStatus> = {
  QUEUED: "PENDING",
  RUNNING: "IN_PROGRESS",
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  CANCELED: "CANCELED",
  CANCELLED: "CANCELED",
};

const JobList = z.object({ results: z.array(SimplismartJobObject) });

/** Client of Simplismart's training jobs. */
export class SimplismartClient extends VendorClient {
  constructor(settings: VendorSettings, policy: Partial<RetryPolicy> = {}) {
    super("Simplismart", settings, `Bearer ${settings.apiKey}`, policy);
  }

  async submit(request: VendorSubmitRequest): Promise<JobSnapshot> {
    const config = request.jobConfig;
    const org = String(config.org);
    const form = new FormData();
    form.set("org", org);
    form.set("experiment_name", String(config.experiment_name ?? request.name));
    for (const field of SIMPLISMART_JSON_FIELDS) {
      const value = config[field];
      form.set(field, typeof value === "string" ? value : JSON.stringify(value));
    }
    const since = Date.now();
    return this.http.createOnce(
      async () => {
        const answer = await this.http.request("POST", "job/", { form, once: true });
        const job = this.parsed("POST", "job/", answer, (b) => SimplismartJobObject.safeParse(b));
        // The create answer may leave the status out; a job just accepted is queued.
        return this.snapshot({ status: "QUEUED", experiment_name: request.name, ...job });
      },
      async () => {
        const query = new URLSearchParams({ org, experiment_name: request.name });
        const path = `job/?${query}`;
        const answer = await this.http.request("GET", path);
        const { results } = this.parsed("GET", path, answer, (b) => JobList.safeParse(b));
        const mine = newestMadeBy(results, request.name, since, (j) => ({
          name: j.experiment_name,
          created: j.created_at,
        }));
        return mine ? this.snapshot(mine) : undefined;
      },
    );
  }

  async get(jobId: string): Promise<JobSnapshot | undefined> {
    const path = `job/${encodeURIComponent(jobId)}/`;
    const answer = await this.http.request("GET", path);
    if (answer.status === 404) return undefined;
    return this.snapshot(this.parsed("GET", path, answer, (b) => SimplismartJobObject.safeParse(b)));
  }

  protected stopRequest(jobId: string) {
    return { path: `job/${encodeURIComponent(jobId)}/cancel/` };
  }

  private snapshot(job: SimplismartJobObject): JobSnapshot {
    const status = mapStatus(STATUSES, job.status ?? "QUEUED");
    return {
      id: job.request_id,
      name: job.experiment_name ?? "",
      status,
      cloud_job_identifier: { request_id: job.request_id },
      created_at: job.created_at,
      updated_at: job.updated_at,
      result: status === "FAILED" && job.message ? { failure_reason: job.message } : null,
    };
  }
}
