import { randomBytes, randomUUID } from "node:crypto";
import { FakeCloud, type FakeResponse, type RecordedRequest, selfSignedCertificate } from "./fake-cloud";

export const FAKE_TENANT_ID = "72f988bf-0000-4000-8000-00000000aaaa";
export const FAKE_CLIENT_ID = "0f1e2d3c-0000-4000-8000-00000000bbbb";
export const FAKE_CLIENT_SECRET = "fake-client-secret-for-loopback-tests";

/** An Azure Resource Manager error answer. */
export function armError(
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): FakeResponse {
  return { status, ...(headers ? { headers } : {}), body: { error: { code, message } } };
}

const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);

const ARM_SCOPE = "https://management.azure.com/.default";
const ML_SCOPE = "https://ml.azure.com/.default";
/** The signature the fake's SAS URLs carry; a blob read without it is refused like a bad SAS. */
const SAS_SIGNATURE = "fake-sas-signature";

/**
 * A loopback stand-in, over HTTPS with a self-signed certificate, for both ends Azure SDKs talk to:
 * the Microsoft identity platform (OpenID metadata and the client-credentials token endpoint under
 * `/<tenant>/`), Azure Resource Manager's Machine Learning API (workspace, environment versions,
 * jobs, cancel), run history's Runs_GetDetails (`/history/v1.0/...`) and the Blob Storage reads of
 * the log files it lists (`/blobs/...`, ranged Get Blob with a SAS in the query). ARM requests must
 * carry a bearer token this fake issued for the ARM scope, run history requests one for the Azure ML
 * data-plane scope; blob reads carry no token, only the SAS.
 */
export class FakeAzure {
  readonly jobs = new Map<string, Record<string, unknown>>();
  readonly environments = new Map<string, Record<string, unknown>>();
  /** Each issued token, with the scope it was issued for. */
  readonly issuedTokens = new Map<string, string>();
  /** Each job's log files in run history (`user_logs/std_log.txt`, ...) and their bytes so far. */
  readonly logFiles = new Map<string, Map<string, Buffer>>();
  /**
   * Jobs per `Jobs_List` page. The service sets its own page size (the API takes none); a test
   * sets this one to see paging.
   */
  listPageSize = 100;
  private constructor(
    readonly cloud: FakeCloud,
    /** The certificate to trust for this fake. */
    readonly ca: string,
  ) {}

  static async start(): Promise<FakeAzure> {
    const tls = selfSignedCertificate();
    let fake: FakeAzure | undefined;
    const cloud = await FakeCloud.start((req) => fake!.handle(req), tls);
    fake = new FakeAzure(cloud, tls.cert);
    return fake;
  }

  get url(): string {
    return this.cloud.url;
  }

  /** Requests to ARM (everything but the identity endpoints). */
  arm(method: string, path: RegExp): RecordedRequest[] {
    return this.cloud.received(method, path);
  }

  setStatus(name: string, status: string, serviceError?: string): void {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no Azure ML job ${name}`);
    const properties = job.properties as Record<string, unknown>;
    properties.status = status;
    if (serviceError) {
      (properties.services as Record<string, Record<string, unknown>>).Studio!.errorMessage = serviceError;
    }
  }

  /**
   * Puts a command job into the workspace as if this server had submitted it earlier (tagged with
   * `jobId`), without the two PUTs: for tests that need many jobs.
   */
  addJob(name: string, tags: Record<string, string>, status: string, archived = false): void {
    this.jobs.set(name, {
      id: `/jobs/${name}`,
      name,
      type: "Microsoft.MachineLearningServices/workspaces/jobs",
      properties: {
        jobType: "Command",
        command: "python train.py",
        environmentId: "azureml:trainkit-env:1",
        tags,
        isArchived: archived,
        status,
        services: { Studio: { jobServiceType: "Studio", endpoint: `https://ml.azure.com/runs/${name}` } },
      },
      systemData: {
        createdAt: new Date(Date.now() + this.jobs.size).toISOString(),
        createdBy: FAKE_CLIENT_ID,
      },
    });
  }

  /** `Jobs_List` pages answered. */
  jobLists(): RecordedRequest[] {
    return this.arm("GET", /\/workspaces\/[^/]+\/jobs$/);
  }

  /** Appends `text` to one of a job's log files, creating the file in run history if need be. */
  writeLog(jobName: string, file: string, text: string): void {
    const files = this.logFiles.get(jobName) ?? new Map<string, Buffer>();
    files.set(file, Buffer.concat([files.get(file) ?? Buffer.alloc(0), Buffer.from(text, "utf8")]));
    this.logFiles.set(jobName, files);
  }

  /** Ranged reads of log blobs. */
  blobReads(): RecordedRequest[] {
    return this.cloud.received("GET", /^\/blobs\//);
  }

  close(): Promise<void> {
    return this.cloud.close();
  }

  private handle(req: RecordedRequest): FakeResponse {
    const identity = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(
      req.path,
    );
    if (identity)
      return identity[2] === "oauth2/v2.0/token" ? this.token(identity[1]!, req) : this.openid(identity[1]!);
    if (req.path.startsWith("/blobs/")) return this.readBlob(req);
    const bearer = req.headers.authorization?.replace(/^Bearer /, "");
    const scope = bearer ? this.issuedTokens.get(bearer) : undefined;
    if (req.path.startsWith("/history/")) {
      return scope === ML_SCOPE
        ? this.runDetails(req)
        : armError(401, "InvalidAuthenticationToken", `The access token is not for ${ML_SCOPE}.`);
    }
    if (scope !== ARM_SCOPE) {
      return armError(401, "InvalidAuthenticationToken", "The access token is invalid.");
    }
    const workspace =
      /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)$/.exec(
        req.path,
      );
    if (workspace && req.method === "GET") {
      return {
        status: 200,
        body: {
          id: req.path,
          name: workspace[1],
          type: "Microsoft.MachineLearningServices/workspaces",
          properties: { discoveryUrl: `${this.url}/discovery` },
        },
      };
    }
    const ws =
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/(.+)$/.exec(
        req.path,
      );
    if (!ws) return armError(404, "NotFound", `no route for ${req.method} ${req.path}`);
    const prefix = req.path.slice(0, req.path.length - ws[4]!.length - 1);
    const rest = ws[4]!;
    const env = /^environments\/([^/]+)\/versions\/([^/]+)$/.exec(rest);
    if (env && req.method === "PUT")
      return this.putEnvironment(`${prefix}/${rest}`, env[1]!, env[2]!, req.json);
    const cancel = /^jobs\/([^/]+)\/cancel$/.exec(rest);
    if (cancel && req.method === "POST") return this.cancel(cancel[1]!);
    if (rest === "jobs" && req.method === "GET") return this.listJobs(req);
    const job = /^jobs\/([^/]+)$/.exec(rest);
    if (job && req.method === "PUT") return this.putJob(`${prefix}/${rest}`, job[1]!, req.json);
    if (job && req.method === "GET") {
      const found = this.jobs.get(job[1]!);
      return found
        ? { status: 200, body: found }
        : armError(404, "UserError", `Could not find asset with ID: ${job[1]}`);
    }
    const operation = /^operations\/([^/]+)$/.exec(rest);
    if (operation && req.method === "GET") return { status: 200, body: { status: "Succeeded" } };
    return armError(404, "NotFound", `no route for ${req.method} ${req.path}`);
  }

  /**
   * Jobs_List as api-version 2024-04-01 defines it: `jobType`, `tag` (jobs that have this tag key),
   * `listViewType` (ActiveOnly, the default, leaves archived jobs out; ArchivedOnly; All) and
   * `$skipToken`; each page is `{value, nextLink}`, `nextLink` the full URL of the next page with the
   * same filters, absent on the last. Newest first: the order is this stand-in's choice, the API
   * states none.
   */
  private listJobs(req: RecordedRequest): FakeResponse {
    const jobType = req.query.get("jobType");
    const tag = req.query.get("tag");
    const view = req.query.get("listViewType") ?? "ActiveOnly";
    if (!["ActiveOnly", "ArchivedOnly", "All"].includes(view)) {
      return armError(400, "UserError", `listViewType ${view} is not one of ActiveOnly, ArchivedOnly, All.`);
    }
    const matching = [...this.jobs.values()]
      .filter((j) => {
        const p = j.properties as { jobType?: string; tags?: Record<string, string>; isArchived?: boolean };
        if (jobType && p.jobType !== jobType) return false;
        if (tag && !(tag in (p.tags ?? {}))) return false;
        if (view === "ActiveOnly" && p.isArchived) return false;
        if (view === "ArchivedOnly" && !p.isArchived) return false;
        return true;
      })
      .sort((a, b) =>
        String((b.systemData as { createdAt: string }).createdAt).localeCompare(
          String((a.systemData as { createdAt: string }).createdAt),
        ),
      );
    const skip = Number(req.query.get("$skipToken") ?? "0");
    const value = matching.slice(skip, skip + this.listPageSize);
    const more = skip + this.listPageSize < matching.length;
    const next = new URLSearchParams(req.query);
    next.set("$skipToken", String(skip + this.listPageSize));
    return {
      status: 200,
      body: { value, ...(more ? { nextLink: `${this.url}${req.path}?${next.toString()}` } : {}) },
    };
  }

  private openid(tenant: string): FakeResponse {
    const base = `${this.url}/${tenant}`;
    return {
      status: 200,
      body: {
        issuer: `${base}/v2.0`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
      },
    };
  }

  private token(tenant: string, req: RecordedRequest): FakeResponse {
    const form = new URLSearchParams(req.body);
    if (
      tenant !== FAKE_TENANT_ID ||
      form.get("grant_type") !== "client_credentials" ||
      form.get("client_id") !== FAKE_CLIENT_ID ||
      form.get("client_secret") !== FAKE_CLIENT_SECRET
    ) {
      return {
        status: 401,
        body: {
          error: "invalid_client",
          error_description: "AADSTS7000215: Invalid client secret provided.",
        },
      };
    }
    const scope = form.get("scope") ?? "";
    if (scope !== ARM_SCOPE && scope !== ML_SCOPE) {
      return {
        status: 400,
        body: { error: "invalid_scope", error_description: `AADSTS70011: bad scope ${form.get("scope")}` },
      };
    }
    const token = randomBytes(24).toString("base64url");
    this.issuedTokens.set(token, scope);
    return {
      status: 200,
      body: { token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: token },
    };
  }

  /** Runs_GetDetails: the run's status and a SAS URL for each log file it has. */
  private runDetails(req: RecordedRequest): FakeResponse {
    const m =
      /^\/history\/v1\.0\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/experiments\/([^/]+)\/runs\/([^/]+)\/details$/.exec(
        req.path,
      );
    if (!m || req.method !== "GET")
      return armError(404, "NotFound", `no route for ${req.method} ${req.path}`);
    const [experiment, runId] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)];
    const job = this.jobs.get(runId);
    const properties = job?.properties as { status?: string; experimentName?: string } | undefined;
    if (!properties || (properties.experimentName ?? "Default") !== experiment) {
      return armError(404, "UserError", `Run ${runId} was not found in experiment ${experiment}.`);
    }
    const logFiles: Record<string, string> = {};
    for (const file of this.logFiles.get(runId)?.keys() ?? []) {
      logFiles[file] =
        `${this.url}/blobs/azureml/ExperimentRun/dcid.${runId}/${file}?sv=2019-07-07&sr=b&sp=r&sig=${SAS_SIGNATURE}`;
    }
    return { status: 200, body: { runId, status: properties.status, logFiles } };
  }

  /** A ranged Get Blob of a log file, as Blob Storage answers one (206, or 416 past the end). */
  private readBlob(req: RecordedRequest): FakeResponse {
    if (req.query.get("sig") !== SAS_SIGNATURE || req.headers.authorization) {
      return {
        status: 403,
        headers: { "x-ms-error-code": "AuthenticationFailed" },
        body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code></Error>',
      };
    }
    const m = /^\/blobs\/azureml\/ExperimentRun\/dcid\.([^/]+)\/(.+)$/.exec(req.path);
    const bytes = m ? this.logFiles.get(m[1]!)?.get(m[2]!) : undefined;
    if (!bytes) {
      return { status: 404, headers: { "x-ms-error-code": "BlobNotFound" }, body: "" };
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers["x-ms-range"] ?? ""));
    if (!range) return { status: 200, body: bytes };
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]), bytes.length - 1);
    if (start >= bytes.length) {
      return {
        status: 416,
        headers: { "x-ms-error-code": "InvalidRange", "content-range": `bytes */${bytes.length}` },
        body: "",
      };
    }
    return {
      status: 206,
      headers: { "content-range": `bytes ${start}-${end}/${bytes.length}` },
      body: bytes.subarray(start, end + 1),
    };
  }

  private putEnvironment(id: string, name: string, version: string, body: unknown): FakeResponse {
    const properties = (body as { properties?: { image?: string } } | undefined)?.properties;
    if (!properties?.image) return armError(400, "UserError", "Environment version must name an image.");
    const existing = this.environments.get(id);
    if (
      existing &&
      JSON.stringify((existing.properties as { image: string }).image) !== JSON.stringify(properties.image)
    ) {
      return armError(
        409,
        "Conflict",
        `Environment ${name}:${version} already exists with a different image.`,
      );
    }
    const resource = {
      id,
      name: version,
      type: "Microsoft.MachineLearningServices/workspaces/environments/versions",
      properties,
    };
    this.environments.set(id, resource);
    return { status: existing ? 200 : 201, body: resource };
  }

  private putJob(id: string, name: string, body: unknown): FakeResponse {
    const properties = (body as { properties?: Record<string, unknown> } | undefined)?.properties;
    if (
      properties?.jobType !== "Command" ||
      typeof properties.command !== "string" ||
      !properties.environmentId
    ) {
      return armError(
        400,
        "UserError",
        "A command job needs jobType Command, a command and an environmentId.",
      );
    }
    const existing = this.jobs.get(name);
    if (existing) return { status: 200, body: existing };
    const resource = {
      id,
      name,
      type: "Microsoft.MachineLearningServices/workspaces/jobs",
      properties: {
        ...properties,
        status: "NotStarted",
        services: {
          Studio: { jobServiceType: "Studio", endpoint: `https://ml.azure.com/runs/${name}` },
        },
      },
      systemData: { createdAt: new Date().toISOString(), createdBy: FAKE_CLIENT_ID },
    };
    this.jobs.set(name, resource);
    return { status: 201, body: resource };
  }

  private cancel(name: string): FakeResponse {
    const job = this.jobs.get(name);
    if (!job) return armError(404, "UserError", `Could not find asset with ID: ${name}`);
    const properties = job.properties as Record<string, unknown>;
    if (TERMINAL.has(properties.status as string)) {
      return armError(400, "UserError", `Cannot cancel job ${name} in terminal state ${properties.status}.`);
    }
    properties.status = "CancelRequested";
    return {
      status: 202,
      headers: {
        location: `${this.url}${this.operationPrefix()}/operations/${randomUUID()}`,
        "retry-after": "0",
      },
    };
  }

  private operationPrefix(): string {
    const put = this.cloud.requests.find((r) => r.method === "PUT" && /\/jobs\//.test(r.path));
    return put ? put.path.replace(/\/jobs\/.*$/, "") : "";
  }
}
