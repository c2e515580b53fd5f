import { generateKeyPairSync, type KeyObject, verify } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FakeCloud, type FakeResponse, type RecordedRequest } from "./fake-cloud";

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
 * list with a label filter, cancel). Every request must carry a self-signed service-account JWT
 * that verifies against the key this fake generated and wrote as a key file.
 */
export class FakeVertex {
  readonly jobs = new Map<string, Record<string, unknown>>();
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
    const collection = /^\/v1\/(projects\/[^/]+\/locations\/[^/]+)\/customJobs$/.exec(req.path);
    if (collection && req.method === "POST")
      return this.create(collection[1]!, req.json as Record<string, unknown>);
    if (collection && req.method === "GET") return this.list(req.query.get("filter") ?? "");
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

  private list(filter: string): FakeResponse {
    const label = /^labels\.([a-z0-9_-]+)="([^"]*)"$/.exec(filter);
    if (filter && !label) return googleError(400, "INVALID_ARGUMENT", `Unsupported filter: ${filter}`);
    const matching = [...this.jobs.values()].filter(
      (j) => !label || (j.labels as Record<string, string> | undefined)?.[label[1]!] === label[2],
    );
    // Google leaves repeated fields out of a response when they are empty.
    return { status: 200, body: matching.length > 0 ? { customJobs: matching } : {} };
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
