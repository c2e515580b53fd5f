import {
  BasetenCreateJobRequest,
  CustomTrainingRequest,
  SimplismartJobForm,
  tensorOneFormOf,
} from "../../src/spec";
import { FakeCloud, type FakeResponse, type RecordedRequest } from "./fake-cloud";
import { ProviderHost, secret } from "./provider-host";

// Loopback stand-ins for the vendors' training APIs, written from the vendors' documents: they model
// those documents, not how the vendors' real services behave. Each validates what it is sent with
// the vendor's schema, checks the vendor's Authorization header, keeps the jobs it created, and
// answers in the documents' shapes. A job moves through the statuses `plan` gives it, one step per
// read, so a test decides what a job goes through.
//
// A strict fake serves only the calls the vendor's document shows, and answers any other with 404,
// as a service without that route would. A lax fake also serves the calls trainkit infers (status
// reads, lists, cancels), in the shapes trainkit infers for them.

type Fields = Record<string, unknown>;

/** A job on a fake vendor: its fields as the vendor reports them, and the steps still ahead. */
export interface FakeJob {
  fields: Fields;
  steps: Fields[];
}

/** Whether a fake serves only the vendor's documented calls. */
export interface FakeOptions {
  readonly strict?: boolean;
}

export abstract class FakeVendor {
  readonly jobs = new Map<string, FakeJob>();
  /** The steps the next created job goes through, one per read of it; it stays at the last. */
  plan: Fields[] = [];
  private counter = 0;

  protected constructor(
    readonly cloud: FakeCloud,
    readonly apiKey: string,
    /** Serve only the vendor's documented calls; a test may switch it. */
    public strict: boolean,
  ) {}

  get url(): string {
    return this.cloud.url;
  }

  /** The requests received, in order. */
  get requests(): RecordedRequest[] {
    return this.cloud.requests;
  }

  /** Requests whose method and path match. */
  received(method: string, path: RegExp): RecordedRequest[] {
    return this.cloud.received(method, path);
  }

  /** The jobs whose `field` starts with `prefix`: a TrainingJob's jobs, whose names carry a mark after it. */
  named(field: string, prefix: string): FakeJob[] {
    return [...this.jobs.values()].filter((j) => String(j.fields[field] ?? "").startsWith(`${prefix}-`));
  }

  /** Sets a job's fields now, as if the vendor had moved it on. */
  set(id: string, fields: Fields): void {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id} on the fake`);
    Object.assign(job.fields, fields);
    job.steps = [];
  }

  close(): Promise<void> {
    return this.cloud.close();
  }

  protected newId(prefix: string): string {
    this.counter += 1;
    return `${prefix}${this.counter.toString().padStart(4, "0")}`;
  }

  protected add(id: string, fields: Fields): FakeJob {
    const job = { fields, steps: this.plan.map((s) => ({ ...s })) };
    this.plan = [];
    this.jobs.set(id, job);
    return job;
  }

  /** Reads a job, moving it one step on. */
  protected read(id: string): Fields | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const step = job.steps.shift();
    if (step) Object.assign(job.fields, step, this.touched());
    return job.fields;
  }

  /** The update time a job shows after it changes, under the field the vendor's job object has for it. */
  protected touched(): Fields {
    return {};
  }

  protected authorized(req: RecordedRequest, scheme: string): boolean {
    return req.headers.authorization === `${scheme} ${this.apiKey}`;
  }
}

const json = (status: number, body: unknown): FakeResponse => ({ status, body });

/** Baseten, under `/v1/training_projects/{id}/jobs`; its document shows only the create. */
export class FakeBaseten extends FakeVendor {
  static async start(apiKey: string, options: FakeOptions = {}): Promise<FakeBaseten> {
    let fake: FakeBaseten | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    fake = new FakeBaseten(cloud, apiKey, options.strict ?? false);
    return fake;
  }

  protected override touched(): Fields {
    return { updated_at: new Date().toISOString() };
  }

  private handle(req: RecordedRequest): FakeResponse {
    if (!this.authorized(req, "Api-Key")) return json(401, { error: "Invalid API key" });
    const m = /^\/v1\/training_projects\/([^/]+)\/jobs(?:\/([^/]+))?(\/stop)?$/.exec(req.path);
    if (!m) return json(404, { error: "Not found" });
    const [, project, id, stop] = m;
    if (req.method === "POST" && !id) {
      const parsed = BasetenCreateJobRequest.safeParse(req.json);
      if (!parsed.success) return json(400, { error: "Invalid request", message: parsed.error.message });
      const jobId = this.newId("tj_");
      const now = new Date().toISOString();
      const job = this.add(jobId, {
        id: jobId,
        created_at: now,
        current_status: "TRAINING_JOB_CREATED",
        instance_type: { id: "H100x2", name: "H100x2", gpu_count: 2, gpu_type: "H100" },
        updated_at: now,
        training_project_id: project,
        training_project: { id: project, name: "project" },
        error_message: null,
        name: parsed.data.training_job.name ?? null,
      });
      return json(200, { training_job: job.fields });
    }
    if (this.strict) return json(404, { error: "Not found" });
    if (req.method === "GET" && !id) {
      const mine = [...this.jobs.values()].filter((j) => j.fields.training_project_id === project);
      return json(200, { training_jobs: mine.map((j) => j.fields) });
    }
    const job = id ? this.jobs.get(id) : undefined;
    if (!job || job.fields.training_project_id !== project)
      return json(404, { error: "Training job not found" });
    if (req.method === "GET") {
      return json(200, { training_project: { id: project, name: "project" }, training_job: this.read(id!) });
    }
    if (req.method === "POST" && stop) {
      this.set(id!, { current_status: "TRAINING_JOB_STOPPED" });
      return json(200, { training_job: job.fields });
    }
    return json(405, { error: "Method not allowed" });
  }
}

/**
 * TensorOne, under `/v2/training/jobs`. Its document shows every call trainkit makes, so strict
 * and lax serve the same routes; strict answers a create in the reference shape (`jobId`), lax in
 * the shape of the document's examples (`id`).
 */
export class FakeTensorOne extends FakeVendor {
  static async start(apiKey: string, options: FakeOptions = {}): Promise<FakeTensorOne> {
    let fake: FakeTensorOne | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    fake = new FakeTensorOne(cloud, apiKey, options.strict ?? false);
    return fake;
  }

  protected override touched(): Fields {
    return { updatedAt: new Date().toISOString() };
  }

  private handle(req: RecordedRequest): FakeResponse {
    if (!this.authorized(req, "Bearer")) {
      return json(401, { error: "UNAUTHORIZED", message: "Invalid or missing API key" });
    }
    const m = /^\/v2\/training\/jobs(?:\/([^/]+))?(?:\/(stop|resume))?$/.exec(req.path);
    if (!m) return json(404, { error: "NOT_FOUND", message: "No such route" });
    const [, id, action] = m;
    if (req.method === "POST" && !id) return this.create(req.json as Fields);
    if (req.method === "GET" && !id) {
      // Newest first, as `sort=created_at&order=desc` asks; a page of `limit` from `offset`.
      const all = [...this.jobs.values()].map((j) => listed(j.fields)).reverse();
      const limit = Number(req.query.get("limit") ?? 50);
      const offset = Number(req.query.get("offset") ?? 0);
      const jobs = all.slice(offset, offset + limit);
      return json(200, {
        jobs,
        pagination: { total: all.length, limit, offset, hasMore: offset + limit < all.length },
      });
    }
    const job = id ? this.jobs.get(id) : undefined;
    if (!job) return json(404, { error: "JOB_NOT_FOUND", message: `Training job ${id} does not exist` });
    if (req.method === "GET" && !action) return json(200, this.read(id!));
    if (req.method === "POST" && action === "stop") {
      const checkpoints = (job.fields.checkpoints as Fields[] | undefined) ?? [];
      if ((req.json as Fields | undefined)?.saveCheckpoint === true) {
        checkpoints.push({ id: `ckpt_${checkpoints.length + 1}`, createdAt: new Date().toISOString() });
      }
      this.set(id!, { status: "stopped", checkpoints });
      return json(200, job.fields);
    }
    if (req.method === "POST" && action === "resume") {
      const checkpointId = (req.json as Fields | undefined)?.checkpointId;
      const known = ((job.fields.checkpoints as Fields[] | undefined) ?? []).some(
        (c) => c.id === checkpointId,
      );
      if (job.fields.status !== "stopped" || !known) {
        return json(409, { error: "CONFIGURATION_ERROR", message: "Job is not stopped at that checkpoint" });
      }
      this.set(id!, { status: "running" });
      return json(200, job.fields);
    }
    return json(405, { error: "METHOD_NOT_ALLOWED", message: "Method not allowed" });
  }

  private create(body: Fields): FakeResponse {
    const parsed = tensorOneFormOf(body).safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return json(400, {
        error: "CONFIGURATION_ERROR",
        message: "Invalid training configuration",
        details: { field: issue.path.join("."), reason: issue.message },
      });
    }
    if (body.datasetId === "ds_invalid_id") {
      return json(404, {
        error: "DATASET_NOT_FOUND",
        message: "Dataset with specified ID does not exist",
        details: { datasetId: "ds_invalid_id" },
      });
    }
    if (body.gpuType === "h100") {
      return json(409, {
        error: "INSUFFICIENT_RESOURCES",
        message: "Requested GPU type not available",
        details: { requestedGpuType: "h100", availableGpuTypes: ["a100", "v100", "rtx4090"] },
      });
    }
    const id = this.newId("job_");
    const now = new Date().toISOString();
    const job = this.add(id, {
      id,
      name: body.name,
      status: this.strict ? "queued" : "pending",
      modelType: body.modelType,
      datasetId: body.datasetId,
      config: body.config,
      resourceAllocation: { gpuType: "NVIDIA A100", workers: body.maxWorkers ?? 1, memoryPerWorker: "40GB" },
      estimatedCost: { hourly: 8.5, total: 25.5 },
      createdAt: now,
      updatedAt: now,
    });
    if (!this.strict) return json(201, job.fields);
    return json(201, {
      jobId: id,
      name: body.name,
      status: "queued",
      estimatedStartTime: now,
      estimatedDuration: "2h",
      estimatedCost: { gpuCost: 20, storageCost: 1, totalCost: 21 },
      createdAt: now,
    });
  }
}

/** A job as TensorOne's list shows it: the details less the config, checkpoints and usage. */
function listed(fields: Fields): Fields {
  const { config: _c, checkpoints: _k, resourceAllocation: _r, estimatedCost: _e, ...rest } = fields;
  return rest;
}

/** Custom training runs on a model registry, under `/api/v1/models/{id}/custom`; its document shows only the create. */
export class FakeCustomTraining extends FakeVendor {
  /** Script assets uploaded per model; a model missing here has none. */
  readonly scripts = new Map<string, string[]>();

  static async start(apiKey: string, options: FakeOptions = {}): Promise<FakeCustomTraining> {
    let fake: FakeCustomTraining | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    fake = new FakeCustomTraining(cloud, apiKey, options.strict ?? false);
    return fake;
  }

  private handle(req: RecordedRequest): FakeResponse {
    if (!this.authorized(req, "Bearer")) return json(401, { detail: "Invalid or expired token" });
    const m = /^\/api\/v1\/models\/([^/]+)\/custom\/(?:(train)|runs(?:\/([^/]+))?(\/cancel)?)$/.exec(
      req.path,
    );
    if (!m) return json(404, { detail: "Not Found" });
    const [, model, train, id, cancel] = m;
    const runs = [...this.jobs.values()].filter((j) => j.fields.model_id === model);
    if (req.method === "POST" && train) {
      const parsed = CustomTrainingRequest.safeParse(req.json);
      if (!parsed.success) return json(400, { detail: parsed.error.message });
      if (!(this.scripts.get(model!) ?? []).includes(parsed.data.entry_point)) {
        return json(422, { detail: `Model ${model} has no uploaded script asset` });
      }
      const busy = runs.find((r) => ["queued", "running"].includes(String(r.fields.status)));
      if (busy) {
        return json(409, { detail: `A training run is already in progress (${String(busy.fields.run_id)})` });
      }
      const runId = this.newId("run-custom-");
      const now = new Date().toISOString();
      const run = this.add(runId, {
        run_id: runId,
        model_id: model,
        model_type: "custom",
        status: "queued",
        entry_point: parsed.data.entry_point,
        runtime: parsed.data.runtime,
        compute: parsed.data.compute,
        run_label: parsed.data.run_label,
        created_at: now,
        estimated_start_time: now,
      });
      return json(200, run.fields);
    }
    if (this.strict) return json(404, { detail: "Not Found" });
    if (req.method === "GET" && !id) return json(200, { runs: runs.map((r) => r.fields) });
    const run = id ? this.jobs.get(id) : undefined;
    if (!run || run.fields.model_id !== model) return json(404, { detail: `Run ${id} not found` });
    if (req.method === "GET") return json(200, this.read(id!));
    if (req.method === "POST" && cancel) {
      this.set(id!, { status: "canceled" });
      return json(200, run.fields);
    }
    return json(405, { detail: "Method Not Allowed" });
  }
}

/**
 * Simplismart's training suite, under `/job/`; its document shows only the create. Its job object
 * has no creation time, in the create's answer as in the inferred reads.
 */
export class FakeSimplismart extends FakeVendor {
  /** The last form received, as the server decoded it. */
  lastForm: Record<string, string> | undefined;

  static async start(apiKey: string, options: FakeOptions = {}): Promise<FakeSimplismart> {
    let fake: FakeSimplismart | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    fake = new FakeSimplismart(cloud, apiKey, options.strict ?? false);
    return fake;
  }

  private async handle(req: RecordedRequest): Promise<FakeResponse> {
    if (!this.authorized(req, "Bearer"))
      return json(401, { detail: "Authentication credentials were not provided." });
    const m = /^\/job\/(?:([^/]+)\/(cancel\/)?)?$/.exec(req.path);
    if (!m) return json(404, { detail: "Not found." });
    const [, id, cancel] = m;
    if (req.method === "POST" && !id) {
      const type = String(req.headers["content-type"] ?? "");
      if (!type.startsWith("multipart/form-data")) {
        return json(415, { detail: `Unsupported media type "${type}" in request.` });
      }
      const data = await new Response(req.body, { headers: { "content-type": type } }).formData();
      const form = Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v)]));
      this.lastForm = form;
      const parsed = SimplismartJobForm.safeParse(form);
      if (!parsed.success) return json(400, { detail: parsed.error.message });
      const requestId = crypto.randomUUID();
      this.add(requestId, {
        request_id: requestId,
        org: form.org,
        status: "QUEUED",
        message: "Training job submitted successfully.",
        experiment_name: form.experiment_name,
      });
      return json(201, {
        request_id: requestId,
        status: "QUEUED",
        message: "Training job submitted successfully.",
        experiment_name: form.experiment_name,
      });
    }
    if (this.strict) return json(404, { detail: "Not found." });
    if (req.method === "GET" && !id) {
      const results = [...this.jobs.values()]
        .map((j) => j.fields)
        .filter((f) => f.org === req.query.get("org"))
        .filter(
          (f) => !req.query.has("experiment_name") || f.experiment_name === req.query.get("experiment_name"),
        );
      return json(200, { count: results.length, results });
    }
    const job = id ? this.jobs.get(id) : undefined;
    if (!job) return json(404, { detail: "Not found." });
    if (req.method === "GET" && !cancel) return json(200, this.read(id!));
    if (req.method === "POST" && cancel) {
      this.set(id!, { status: "CANCELED", message: "Canceled by user." });
      return json(200, job.fields);
    }
    return json(405, { detail: `Method "${req.method}" not allowed.` });
  }
}

/** A provider host whose stack config points `vendor` at `fake`, with the fake's key as a secret. */
export async function vendorHost(vendor: string, fake: FakeVendor): Promise<ProviderHost> {
  return ProviderHost.start({
    config: {
      [`trainkit:${vendor}ApiUrl`]: fake.url,
      [`trainkit:${vendor}ApiKey`]: secret(fake.apiKey),
    },
  });
}
