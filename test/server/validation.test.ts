import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authHeaders, startTrainApi, type TrainApi } from "../helpers/train-api";
import { VALID_REQUESTS, withValue } from "../helpers/train-api-requests";

let api: TrainApi;
beforeAll(async () => {
  api = await startTrainApi();
});
afterAll(async () => {
  await api?.close();
});

interface Case {
  what: string;
  backend: string;
  /** A JSON value to send, or a raw string body. */
  body: unknown;
  contentType?: string;
  status: number;
  code: string;
  /** The field path `details` must name, when the error is about a field. */
  path?: string;
}

const V = VALID_REQUESTS["vertex-ai"];
const S = VALID_REQUESTS.sagemaker;
const A = VALID_REQUESTS["azure-ml"];
const K = VALID_REQUESTS.kubernetes;
const L = VALID_REQUESTS.local;
const pool = ["job_config", "worker_pool_specs", 0];

const CASES: Case[] = [
  {
    what: "a name of the wrong type",
    backend: "local",
    body: withValue(L, ["name"], 42),
    status: 400,
    code: "invalid_request",
    path: "name",
  },
  {
    what: "a missing name",
    backend: "local",
    body: withValue(L, ["name"], undefined),
    status: 400,
    code: "invalid_request",
    path: "name",
  },
  {
    what: "a name with spaces",
    backend: "local",
    body: withValue(L, ["name"], "my job"),
    status: 400,
    code: "invalid_request",
    path: "name",
  },
  {
    what: "a missing job_config",
    backend: "local",
    body: withValue(L, ["job_config"], undefined),
    status: 400,
    code: "invalid_request",
    path: "job_config",
  },
  {
    what: "an empty local command",
    backend: "local",
    body: withValue(L, ["job_config", "command"], []),
    status: 400,
    code: "invalid_request",
    path: "job_config.command",
  },
  {
    what: "a local command given as a string",
    backend: "local",
    body: withValue(L, ["job_config", "command"], "python3 train.py"),
    status: 400,
    code: "invalid_request",
    path: "job_config.command",
  },
  {
    what: "a negative local timeout",
    backend: "local",
    body: withValue(L, ["job_config", "timeout_seconds"], -5),
    status: 400,
    code: "invalid_request",
    path: "job_config.timeout_seconds",
  },
  {
    what: "an env name that is not a variable name",
    backend: "local",
    body: withValue(L, ["job_config", "env"], { "1BAD": "x" }),
    status: 400,
    code: "invalid_request",
    path: "job_config.env.1BAD",
  },
  {
    what: "an unknown top-level field",
    backend: "local",
    body: withValue(L, ["priority"], "high"),
    status: 400,
    code: "invalid_request",
    path: "priority",
  },
  {
    what: "a relative local mount path",
    backend: "local",
    body: withValue(L, ["storage_mounts"], [{ source_uri: "data/dir", mount_path: "/mnt/data" }]),
    status: 400,
    code: "invalid_request",
    path: "storage_mounts[0].source_uri",
  },
  {
    what: "a mount_path with '..'",
    backend: "local",
    body: withValue(L, ["storage_mounts"], [{ source_uri: "/tmp/x", mount_path: "/mnt/../etc" }]),
    status: 400,
    code: "invalid_request",
    path: "storage_mounts[0].mount_path",
  },
  {
    what: "two mounts on the same path",
    backend: "local",
    body: withValue(
      L,
      ["storage_mounts"],
      [
        { source_uri: "/tmp/a", mount_path: "/mnt/x" },
        { source_uri: "/tmp/b", mount_path: "/mnt/x" },
      ],
    ),
    status: 400,
    code: "invalid_request",
    path: "storage_mounts[1].mount_path",
  },
  {
    what: "read_only as a string",
    backend: "local",
    body: withValue(
      L,
      ["storage_mounts"],
      [{ source_uri: "/tmp/a", mount_path: "/mnt/a", read_only: "yes" }],
    ),
    status: 400,
    code: "invalid_request",
    path: "storage_mounts[0].read_only",
  },
  {
    what: "a negative replica count",
    backend: "vertex-ai",
    body: withValue(V, [...pool, "replica_count"], -1),
    status: 400,
    code: "invalid_request",
    path: "job_config.worker_pool_specs[0].replica_count",
  },
  {
    what: "a fractional replica count",
    backend: "vertex-ai",
    body: withValue(V, [...pool, "replica_count"], 1.5),
    status: 400,
    code: "invalid_request",
    path: "job_config.worker_pool_specs[0].replica_count",
  },
  {
    what: "an unknown accelerator type",
    backend: "vertex-ai",
    body: withValue(V, [...pool, "machine_spec", "accelerator_type"], "NVIDIA_GTX_1080"),
    status: 400,
    code: "invalid_request",
    path: "job_config.worker_pool_specs[0].machine_spec.accelerator_type",
  },
  {
    what: "no worker pools",
    backend: "vertex-ai",
    body: withValue(V, ["job_config", "worker_pool_specs"], []),
    status: 400,
    code: "invalid_request",
    path: "job_config.worker_pool_specs",
  },
  {
    what: "a timeout without its unit",
    backend: "vertex-ai",
    body: withValue(V, ["job_config", "scheduling", "timeout"], "86400"),
    status: 400,
    code: "invalid_request",
    path: "job_config.scheduling.timeout",
  },
  {
    what: "an s3 mount on vertex-ai",
    backend: "vertex-ai",
    body: withValue(V, ["storage_mounts", 0, "source_uri"], "s3://bucket/x"),
    status: 400,
    code: "invalid_request",
    path: "storage_mounts[0].source_uri",
  },
  {
    what: "a bad SageMaker instance type",
    backend: "sagemaker",
    body: withValue(S, ["job_config", "resource_config", "instance_type"], "g4dn.xlarge"),
    status: 400,
    code: "invalid_request",
    path: "job_config.resource_config.instance_type",
  },
  {
    what: "a zero instance count",
    backend: "sagemaker",
    body: withValue(S, ["job_config", "resource_config", "instance_count"], 0),
    status: 400,
    code: "invalid_request",
    path: "job_config.resource_config.instance_count",
  },
  {
    what: "a gs mount on sagemaker",
    backend: "sagemaker",
    body: withValue(S, ["storage_mounts", 0, "source_uri"], "gs://bucket/x"),
    status: 400,
    code: "invalid_request",
    path: "storage_mounts[0].source_uri",
  },
  {
    what: "an Azure command given as an array",
    backend: "azure-ml",
    body: withValue(A, ["job_config", "command"], ["python", "train.py"]),
    status: 400,
    code: "invalid_request",
    path: "job_config.command",
  },
  {
    what: "a missing Azure environment",
    backend: "azure-ml",
    body: withValue(A, ["job_config", "environment"], undefined),
    status: 400,
    code: "invalid_request",
    path: "job_config.environment",
  },
  {
    what: "a negative Kubernetes GPU count",
    backend: "kubernetes",
    body: withValue(K, ["job_config", "resources"], { gpu: -1 }),
    status: 400,
    code: "invalid_request",
    path: "job_config.resources.gpu",
  },
  {
    what: "a bad memory quantity",
    backend: "kubernetes",
    body: withValue(K, ["job_config", "resources"], { memory: "lots" }),
    status: 400,
    code: "invalid_request",
    path: "job_config.resources.memory",
  },
  {
    what: "a body that is an array",
    backend: "local",
    body: [L],
    status: 400,
    code: "invalid_request",
    path: "(root)",
  },
  { what: "an empty body", backend: "local", body: "", status: 400, code: "invalid_request", path: "(root)" },
  { what: "malformed JSON", backend: "local", body: '{"name": "x", ', status: 400, code: "invalid_json" },
  {
    what: "a text/plain body",
    backend: "local",
    body: "name=x",
    contentType: "text/plain",
    status: 415,
    code: "unsupported_media_type",
  },
  {
    what: "a body over the size limit",
    backend: "local",
    body: withValue(L, ["job_config", "args"], ["x".repeat(2 * 1024 * 1024)]),
    status: 413,
    code: "body_too_large",
  },
  {
    what: "an env value holding a NUL character, which the store cannot keep",
    backend: "local",
    body: withValue(L, ["job_config", "env"], { X: "a\u0000b" }),
    status: 400,
    code: "invalid_request",
    path: "job_config.env.X",
  },
  {
    what: "a Kubernetes argument holding a NUL character",
    backend: "kubernetes",
    body: withValue(K, ["job_config", "args"], ["--tag", "\u0000"]),
    status: 400,
    code: "invalid_request",
    path: "job_config.args[1]",
  },
  {
    // JSON.stringify writes a lone surrogate as the escape "\ud800", which JSON parsers accept
    // and Postgres's jsonb refuses.
    what: "an env value holding a lone UTF-16 surrogate, which the store cannot keep",
    backend: "local",
    body: withValue(L, ["job_config", "env"], { X: "a\ud800b" }),
    status: 400,
    code: "invalid_request",
    path: "job_config.env.X",
  },
  {
    what: "a command argument ending in a lone low surrogate",
    backend: "local",
    body: withValue(L, ["job_config", "command"], ["echo", "tail\udfff"]),
    status: 400,
    code: "invalid_request",
    path: "job_config.command[1]",
  },
  { what: "an unknown backend", backend: "lambda-labs", body: L, status: 404, code: "unknown_backend" },
];

describe("POST /v1/{backend}/jobs with a malformed request", () => {
  it("covers at least 25 malformed requests", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(CASES)("answers $status $code for $what", async (c) => {
    const res = await fetch(`${api.url}/v1/${c.backend}/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": c.contentType ?? "application/json" },
      body: typeof c.body === "string" ? c.body : JSON.stringify(c.body),
    });
    const body = (await res.json()) as {
      error: { code: string; message: string; details?: { path: string }[] };
    };
    expect(res.status).toBe(c.status);
    expect(body.error.code).toBe(c.code);
    expect(body.error.message.length).toBeGreaterThan(10);
    if (c.path) expect(body.error.details?.map((d) => d.path)).toContain(c.path);
  });

  it("names the valid backends when the backend is unknown", async () => {
    const res = await fetch(`${api.url}/v1/lambda-labs/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify(L),
    });
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      'backend "lambda-labs" does not exist; use one of vertex-ai, sagemaker, azure-ml, kubernetes, local',
    );
  });

  it("stays healthy after all of them", async () => {
    const res = await fetch(`${api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("recorded none of them as a job", async () => {
    const res = await fetch(`${api.url}/v1/jobs`, { headers: authHeaders(api) });
    expect(((await res.json()) as { items: unknown[] }).items).toEqual([]);
  });
});

describe("other requests the server refuses", () => {
  it("answers 503 naming the settings for a backend this server is not configured for", async () => {
    const res = await fetch(`${api.url}/v1/kubernetes/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify(K),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(503);
    expect(body.error.code).toBe("backend_not_configured");
    expect(body.error.message).toContain("TRAINKIT_KUBERNETES_NAMESPACE");
  });

  it("answers 503 naming the backends it runs for one left out of TRAINKIT_BACKENDS, and starts nothing", async () => {
    const only = await startTrainApi({
      env: { PATH: process.env.PATH, TRAINKIT_BACKENDS: "vertex-ai,sagemaker" },
    });
    try {
      const res = await fetch(`${only.url}/v1/local/jobs`, {
        method: "POST",
        headers: { ...authHeaders(only), "content-type": "application/json" },
        body: JSON.stringify(VALID_REQUESTS.local),
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status).toBe(503);
      expect(body.error).toEqual({
        code: "backend_not_enabled",
        message:
          "this server does not run the local backend; it runs vertex-ai, sagemaker (set by TRAINKIT_BACKENDS)",
      });
      const list = await fetch(`${only.url}/v1/jobs`, { headers: authHeaders(only) });
      expect(((await list.json()) as { items: unknown[] }).items).toEqual([]);
    } finally {
      await only.close();
    }
  });

  it("answers 404 with an error body for an unknown route", async () => {
    const res = await fetch(`${api.url}/v2/whatever`, { headers: authHeaders(api) });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });

  it("answers 400 naming the field for a list limit over 100", async () => {
    const res = await fetch(`${api.url}/v1/jobs?limit=500`, { headers: authHeaders(api) });
    const body = (await res.json()) as { error: { details: { path: string; message: string }[] } };
    expect(res.status).toBe(400);
    expect(body.error.details).toEqual([{ path: "limit", message: "must be at most 100" }]);
  });

  it("answers 400 for a status filter that is not a status", async () => {
    const res = await fetch(`${api.url}/v1/jobs?status=DONE`, { headers: authHeaders(api) });
    const body = (await res.json()) as { error: { details: { path: string }[] } };
    expect(res.status).toBe(400);
    expect(body.error.details[0]?.path).toBe("status");
  });

  it("answers 400 for a cursor it did not issue", async () => {
    const res = await fetch(`${api.url}/v1/jobs?cursor=not-a-cursor`, { headers: authHeaders(api) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe(
      "cursor",
    );
  });

  it.each([
    ["the year 275760", "+275760-09-13T00:00:00.000Z"],
    ["a year before 1970", "-000001-01-01T00:00:00.000Z"],
  ])("answers 400 naming cursor for a cursor dated %s, which the store cannot compare", async (_, at) => {
    const cursor = Buffer.from(JSON.stringify([at, "0b0e6a52-8d1f-4c1e-9a3e-2f4b5c6d7e8f"])).toString(
      "base64url",
    );
    const res = await fetch(`${api.url}/v1/jobs?cursor=${cursor}`, { headers: authHeaders(api) });
    const body = (await res.json()) as { error: { code: string; details: { path: string }[] } };
    expect(res.status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.details.map((d) => d.path)).toEqual(["cursor"]);
  });

  it("answers 400 naming cursor for a cursor whose date is a number", async () => {
    const cursor = Buffer.from(JSON.stringify([8.64e15, "0b0e6a52-8d1f-4c1e-9a3e-2f4b5c6d7e8f"])).toString(
      "base64url",
    );
    const res = await fetch(`${api.url}/v1/jobs?cursor=${cursor}`, { headers: authHeaders(api) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { details: { path: string }[] } }).error.details[0]?.path).toBe(
      "cursor",
    );
  });

  it("answers 404 for a job id that is not a UUID", async () => {
    const res = await fetch(`${api.url}/v1/jobs/not-a-uuid`, { headers: authHeaders(api) });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("job_not_found");
  });
});

describe("GET /openapi.json", () => {
  it("describes every backend's create request from the zod schemas, without auth", async () => {
    const res = await fetch(`${api.url}/openapi.json`);
    const doc = (await res.json()) as {
      paths: Record<string, unknown>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    expect(res.status).toBe(200);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/vertex-ai/jobs", "/v1/local/jobs", "/v1/jobs/{id}/cancel", "/v1/jobs"]),
    );
    const local = doc.components.schemas.CreateJobRequest_local;
    expect(Object.keys(local?.properties ?? {})).toEqual([
      "name",
      "job_config",
      "storage_mounts",
      "retry_policy",
    ]);
    // Input schemas: storage_mounts has a default, so callers may leave it out.
    expect(local?.required).toEqual(["name", "job_config"]);
  });
});
