import { z } from "zod";
import { CustomTrainingRun, type JobStatus, VENDOR_NAME_PATH } from "../../spec";
import type { Answer, RetryPolicy } from "./http";
import type { JobSnapshot, VendorSettings, VendorSubmitRequest } from "./types";
import { type Listed, mapStatus, setAt, VendorClient, without } from "./vendor";

// The custom training document shows the create only, and says a run's progress is polled by its
// run_id through endpoints it does not describe. The rest is inferred from the document's resource
// layout: `GET /api/v1/models/{model_id}/custom/runs` lists runs (`{runs: [...]}`),
// `GET .../custom/runs/{run_id}` answers the CustomTrainingRun, and `POST .../custom/runs/{run_id}/cancel`
// cancels it. So are the statuses past `queued`: a run that hit `timeout_seconds` is `timed_out`.
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
    super("the custom training API", settings, `Bearer ${settings.apiKey}`, policy, new Set());
    this.model = `api/v1/models/${encodeURIComponent(modelId)}/custom`;
  }

  protected async create(request: VendorSubmitRequest, name: string): Promise<JobSnapshot> {
    const body = setAt(without(request.jobConfig, "model_id"), VENDOR_NAME_PATH.customtraining, name);
    const path = `${this.model}/train`;
    const answer = await this.http.request("POST", path, { json: body, once: true });
    return this.snapshot(this.parsed("POST", path, answer, (b) => CustomTrainingRun.safeParse(b)));
  }

  protected list(name: string): Promise<Listed> {
    return this.listed(
      `${this.model}/runs`,
      (b) => RunList.safeParse(b),
      ({ runs }) => runs.filter((r) => r.run_label === name).map((r) => this.snapshot(r)),
    );
  }

  protected getRequest(jobId: string) {
    return {
      /** The job's path under the vendor's base URL. */
      path: `${this.model}/runs/${encodeURIComponent(jobId)}`,
      /** The job in a 2xx answer's body, or undefined when the body is not one. */
      parse: (body: unknown) => {
        const parsed = CustomTrainingRun.safeParse(body);
        return parsed.success ? this.snapshot(parsed.data) : undefined;
      },
    };
  }

  protected stopRequest(jobId: string) {
    return {
      /** The run's cancel call; it takes no body. */
      path: `${this.model}/runs/${encodeURIComponent(jobId)}/cancel`,
    };
  }

  protected whereToFind(job: string): string {
    return `among model ${this.modelId}'s custom training runs (run ${job})`;
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

  /** The run object defines no failure field, so a failed run carries no reason. */
  private snapshot(run: CustomTrainingRun): JobSnapshot {
    return {
      id: run.run_id,
      name: run.run_label ?? "",
      status: mapStatus(STATUSES, run.status),
      native_status: run.status,
      cloud_job_identifier: {
        model_id: run.model_id ?? this.modelId,
        run_id: run.run_id,
        ...(run.run_label ? { run_label: run.run_label } : {}),
      },
      created_at: run.created_at,
      updated_at: run.updated_at,
      result: null,
    };
  }
}
