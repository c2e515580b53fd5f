import { z } from "zod";
import { CustomTrainingRun, type JobStatus } from "../../spec";
import type { Answer, RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { mapStatus, newestMadeBy, VendorClient, withName, without } from "./vendor";

// Seed 003 shows the create only, and says progress is polled by run_id. The rest is designed the
// way the seed's resource layout suggests: `GET /api/v1/models/{model_id}/custom/runs` lists runs
// (`{runs: [...]}`), `GET .../custom/runs/{run_id}` answers the CustomTrainingRun, and
// `POST .../custom/runs/{run_id}/cancel` cancels it. A run that hit `timeout_seconds` is `timed_out`.
const STATUSES: Record<string, JobStatus> = {
  queued: "PENDING",
  running: "IN_PROGRESS",
  training: "IN_PROGRESS",
  completed: "COMPLETED",
  failed: "FAILED",
  canceled: "CANCELED",
  cancelled: "CANCELED",
  timed_out: "EXPIRED",
};

const RunList = z.object({ runs: z.array(CustomTrainingRun) });

/** Client of custom training runs for the one model `jobConfig.model_id` names. */
export class CustomTrainingClient extends VendorClient {
  private readonly model: string;

  constructor(
    settings: VendorSettings,
    private readonly modelId: string,
    policy: Partial<RetryPolicy> = {},
  ) {
    super("custom training", settings, `Bearer ${settings.apiKey}`, policy);
    this.model = `api/v1/models/${encodeURIComponent(modelId)}/custom`;
  }

  async submit(request: VendorSubmitRequest): Promise<JobSnapshot> {
    const body = withName(without(request.jobConfig, "model_id"), ["run_label"], request.name);
    const path = `${this.model}/train`;
    const since = Date.now();
    return this.http.createOnce(
      async () => {
        const answer = await this.http.request("POST", path, { json: body, once: true });
        return this.snapshot(this.parsed("POST", path, answer, (b) => CustomTrainingRun.safeParse(b)));
      },
      async () => {
        const list = `${this.model}/runs`;
        const answer = await this.http.request("GET", list);
        const { runs } = this.parsed("GET", list, answer, (b) => RunList.safeParse(b));
        const mine = newestMadeBy(runs, request.name, since, (r) => ({
          name: r.run_label,
          created: r.created_at,
        }));
        return mine ? this.snapshot(mine) : undefined;
      },
    );
  }

  async get(jobId: string): Promise<JobSnapshot | undefined> {
    const path = `${this.model}/runs/${encodeURIComponent(jobId)}`;
    const answer = await this.http.request("GET", path);
    if (answer.status === 404) return undefined;
    return this.snapshot(this.parsed("GET", path, answer, (b) => CustomTrainingRun.safeParse(b)));
  }

  protected stopRequest(jobId: string) {
    return { path: `${this.model}/runs/${encodeURIComponent(jobId)}/cancel` };
  }

  protected override hint(answer: Answer): string | undefined {
    if (answer.status === 409) {
      return (
        `model ${this.modelId} already has a training run in progress and takes one at a time; ` +
        "wait for it to end or cancel it, then run `pulumi up` again"
      );
    }
    if (answer.status === 422) {
      return (
        `model ${this.modelId} has no uploaded script asset (asset_type "script") to run; upload the file ` +
        "jobConfig.entry_point names, then run `pulumi up` again"
      );
    }
    return undefined;
  }

  private snapshot(run: CustomTrainingRun): JobSnapshot {
    const status = mapStatus(STATUSES, run.status);
    return {
      id: run.run_id,
      name: run.run_label ?? "",
      status,
      cloud_job_identifier: { model_id: run.model_id ?? this.modelId, run_id: run.run_id },
      created_at: run.created_at,
      updated_at: run.updated_at,
      result:
        (status === "FAILED" || status === "EXPIRED") && run.error_message
          ? { failure_reason: run.error_message }
          : null,
    };
  }
}
