import { generateKeyPairSync, type KeyObject, verify } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeCloud, type FakeResponse, type RecordedRequest } from "./fake-cloud";
import { published } from "./published";

/** What `customJobs.list`'s filter supports, as job_service.proto documents it. */
const LIST_SPEC = published<{
  ListCustomJobsRequest: { filter_supported_fields: Record<string, string[]> };
}>("googleapis/aiplatform-v1-list-custom-jobs.json").ListCustomJobsRequest;

/**
 * The page size this stand-in answers with when asked for none or for more: the proto states no
 * largest size, and Google's list methods coerce a larger one down, so a small one keeps figures
 * measured against this stand-in on the safe side.
 */
export const FAKE_CUSTOM_JOBS_MAX_PAGE = 100;

const TERMINAL = new Set([
  "JOB_STATE_SUCCEEDED",
  "JOB_STATE_FAILED",
  "JOB_STATE_CANCELLED",
  "JOB_STATE_EXPIRED",
  "JOB_STATE_PARTIALLY_SUCCEEDED",
]);

/** Google's error body (google.rpc.Status in the JSON mapping). */
export function googleError(code: number, status: string, message: string): FakeResponse {
  return { status: code, body: { error: { code, message, status } } };
}

/**
 * A loopback stand-in for the Vertex AI REST API v1 (projects.locations.customJobs create, get,
 * list with a label filter, cancel) and for Cloud Logging's entries.list over the jobs' `ml_job`
 * entries, in the shapes test/fixtures/published/google-cloud-docs/logging-v2-entries-list.json
 * records (ordering by timestamp then insertId, page size at most 1,000, nextPageToken). Every request must carry a self-signed service-account JWT
 * that verifies against the key this fake generated and wrote as a key file.
 */
export class FakeVertex {
  readonly jobs = new Map<string, Record<string, unknown>>();
  /** Cloud Logging entries, as a job's replicas would have written them. */
  readonly logEntries: Record<string, unknown>[] = [];
  private nextInsert = 1;
  /** The service-account key file to point GOOGLE_APPLICATION_CREDENTIALS at. */
  readonly keyFile: string;
  readonly clientEmail = "trainkit-api@test-project.iam.gserviceaccount.com";
  private nextId = 1_000_000;

  private constructor(
    readonly cloud: FakeCloud,
    private readonly publicKey: KeyObject,
    keyFile: string,
  ) {
    this.keyFile = keyFile;
  }

  static async start(): Promise<FakeVertex> {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    let fake: FakeVertex | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req));
    const keyFile = join(mkdtempSync(join(tmpdir(), "trainkit-gcp-")), "service-account.json");
    fake = new FakeVertex(cloud, publicKey, keyFile);
    writeFileSync(
      keyFile,
      JSON.stringify({
        type: "service_account",
        project_id: "test-project",
        private_key_id: "test-key-1",
        private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
        client_email: fake.clientEmail,
        client_id: "100000000000000000001",
        token_uri: `${cloud.url}/token`,
      }),
    );
    return fake;
  }

  get url(): string {
    return this.cloud.url;
  }

  /** Moves a CustomJob to `state`, with an error as Vertex reports one for failed jobs. */
  setState(name: string, state: string, error?: { code: number; message: string }): void {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no CustomJob ${name}`);
    job.state = state;
    if (error) job.error = error;
  }

  /** Logs one entry for a CustomJob's replica, as Vertex AI's logging agent would (text payload). */
  log(
    customJobName: string,
    text: string,
    taskName = "workerpool0-0",
    timestamp = new Date().toISOString(),
  ): void {
    this.logEntries.push({
      logName: "projects/test-project/logs/workerpool0-0",
      resource: {
        type: "ml_job",
        labels: { job_id: customJobName.split("/").pop(), project_id: "test-project", task_name: taskName },
      },
      timestamp,
      insertId: `i${String(this.nextInsert++).padStart(8, "0")}`,
      severity: "INFO",
      textPayload: text,
    });
  }

  /** The claims of the JWT a request carried, or a reason it is not acceptable. */
  verifiedClaims(req: RecordedRequest): Record<string, unknown> | string {
    const header = req.headers.authorization;
    if (!header?.startsWith("Bearer ")) return "no bearer token";
    const [h, p, s] = header.slice("Bearer ".length).split(".");
    if (!h || !p || !s) return "not a JWT";
    const signed = verify(
      "RSA-SHA256",
      Buffer.from(`${h}.${p}`),
      this.publicKey,
      Buffer.from(s, "base64url"),
    );
    if (!signed) return "JWT signature does not verify";
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
    const head = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as Record<string, unknown>;
    if (head.kid !== "test-key-1" || claims.iss !== this.clientEmail) return "JWT from another key";
    if (typeof claims.exp !== "number" || claims.exp * 1000 < Date.now()) return "JWT expired";
    return claims;
  }

  close(): Promise<void> {
    return this.cloud.close();
  }

  private handle(req: RecordedRequest): FakeResponse {
    const claims = this.verifiedClaims(req);
    if (typeof claims === "string")
      return googleError(401, "UNAUTHENTICATED", `Request had invalid credentials: ${claims}`);
    if (req.path === "/v2/entries:list" && req.method === "POST") return this.listEntries(req.json);
    const collection = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/customJobs$/.exec(req.path);
    if (collection && req.method === "POST")
      return this.create(collection[1]!, req.json as Record<string, unknown>);
    if (collection && req.method === "GET") return this.list(req.query);
    const cancel = /^\/v1\/(projects\/.+\/customJobs\/\d+):cancel$/.exec(req.path);
    if (cancel && req.method === "POST") return this.cancel(cancel[1]!);
    const one = /^\/v1\/(projects\/.+\/customJobs\/\d+)$/.exec(req.path);
    if (one && req.method === "GET") {
      const job = this.jobs.get(one[1]!);
      return job
        ? { status: 200, body: job }
        : googleError(404, "NOT_FOUND", `CustomJob ${one[1]} not found`);
    }
    return googleError(404, "NOT_FOUND", `no route for ${req.method} ${req.path}`);
  }

  private create(parent: string, body: Record<string, unknown>): FakeResponse {
    if (typeof body?.displayName !== "string") {
      return googleError(
        400,
        "INVALID_ARGUMENT",
        "List of found errors: 1.Field: custom_job.display_name; Message: Required field is not set.",
      );
    }
    const name = `${parent}/customJobs/${this.nextId++}`;
    const job = { ...body, name, state: "JOB_STATE_PENDING", createTime: new Date().toISOString() };
    this.jobs.set(name, job);
    return { status: 200, body: job };
  }

  /**
   * `customJobs.list` with the filter terms the proto documents that the backend uses, joined by
   * AND: `labels.k="v"`, `labels.k:*`, `state="S"` and `state!="S"`; any other field (update_time,
   * say, which the proto does not list) is refused as Vertex AI refuses an unsupported filter.
   */
  private list(query: URLSearchParams): FakeResponse {
    const filter = query.get("filter") ?? "";
    const tests: ((j: Record<string, unknown>) => boolean)[] = [];
    for (const term of filter === "" ? [] : filter.split(" AND ")) {
      const field = /^([a-z_]+)/.exec(term)?.[1] ?? "";
      if (!(field in LIST_SPEC.filter_supported_fields))
        return googleError(400, "INVALID_ARGUMENT", `Unsupported filter field in: ${term}`);
      const labelIs = /^labels\.([a-z0-9_-]+)="([^"]*)"$/.exec(term);
      const labelHas = /^labels\.([a-z0-9_-]+):\*$/.exec(term);
      const state = /^state(!?=)"([A-Z_]+)"$/.exec(term);
      const labels = (j: Record<string, unknown>) => (j.labels ?? {}) as Record<string, string>;
      if (labelIs) tests.push((j) => labels(j)[labelIs[1]!] === labelIs[2]);
      else if (labelHas) tests.push((j) => labelHas[1]! in labels(j));
      else if (state) tests.push((j) => (j.state === state[2]) === (state[1] === "="));
      else return googleError(400, "INVALID_ARGUMENT", `Unsupported filter: ${term}`);
    }
    const matching = [...this.jobs.values()].filter((j) => tests.every((t) => t(j)));
    const asked = Number(query.get("pageSize") ?? 0);
    const size = asked > 0 && asked < FAKE_CUSTOM_JOBS_MAX_PAGE ? asked : FAKE_CUSTOM_JOBS_MAX_PAGE;
    const token = query.get("pageToken");
    const start = token ? Number(Buffer.from(token, "base64").toString()) : 0;
    const page = matching.slice(start, start + size);
    const more = start + size < matching.length;
    // Google leaves repeated fields out of a response when they are empty.
    return {
      status: 200,
      body: {
        ...(page.length > 0 ? { customJobs: page } : {}),
        ...(more ? { nextPageToken: Buffer.from(String(start + size)).toString("base64") } : {}),
      },
    };
  }

  private listEntries(body: unknown): FakeResponse {
    const {
      resourceNames,
      filter = "",
      orderBy = "timestamp asc",
      pageSize = 50,
      pageToken,
    } = (body ?? {}) as {
      resourceNames?: string[];
      filter?: string;
      orderBy?: string;
      pageSize?: number;
      pageToken?: string;
    };
    if (!Array.isArray(resourceNames) || resourceNames.length === 0) {
      return googleError(400, "INVALID_ARGUMENT", "resource_names: must specify at least one resource");
    }
    if (orderBy !== "timestamp asc" && orderBy !== "timestamp desc") {
      return googleError(400, "INVALID_ARGUMENT", `order_by: unsupported value ${orderBy}`);
    }
    if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > 1000) {
      return googleError(400, "INVALID_ARGUMENT", `page_size: must be between 0 and 1000; got ${pageSize}`);
    }
    // The filters this fake understands: the job's, as gcloud writes it, and an optional position.
    const job =
      /^\(resource\.type="ml_job" OR resource\.type="cloudml_job"\) AND resource\.labels\.job_id="(\d+)"/.exec(
        filter,
      );
    if (!job) return googleError(400, "INVALID_ARGUMENT", `Unsupported filter: ${filter}`);
    const after = /AND \(timestamp>"([^"]+)" OR \(timestamp="\1" AND insertId>"([^"]*)"\)\)$/.exec(filter);
    const key = (e: Record<string, unknown>) => `${e.timestamp as string}\u0000${e.insertId as string}`;
    let matching = this.logEntries
      .filter((e) => (e.resource as { labels: { job_id: string } }).labels.job_id === job[1])
      .filter((e) => !after || key(e) > `${after[1]}\u0000${after[2]}`)
      .sort((a, b) => (key(a) < key(b) ? -1 : 1));
    if (orderBy === "timestamp desc") matching = matching.reverse();
    const start = pageToken ? Number(Buffer.from(pageToken, "base64").toString()) : 0;
    const size = pageSize === 0 ? 50 : pageSize;
    const page = matching.slice(start, start + size);
    const more = start + size < matching.length;
    return {
      status: 200,
      body: {
        ...(page.length > 0 ? { entries: page } : {}),
        ...(more ? { nextPageToken: Buffer.from(String(start + size)).toString("base64") } : {}),
      },
    };
  }

  private cancel(name: string): FakeResponse {
    const job = this.jobs.get(name);
    if (!job) return googleError(404, "NOT_FOUND", `CustomJob ${name} not found`);
    if (TERMINAL.has(job.state as string) || job.state === "JOB_STATE_CANCELLING") {
      return googleError(
        400,
        "FAILED_PRECONDITION",
        `Cannot cancel CustomJob ${name} in state ${job.state}.`,
      );
    }
    job.state = "JOB_STATE_CANCELLING";
    return { status: 200, body: {} };
  }
}
