import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "../../src/server/backends/types";
import { VertexAiBackend, vertexAiBackend } from "../../src/server/backends/vertex-ai";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import { FakeVertex, googleError } from "../helpers/fake-vertex";
import { published } from "../helpers/published";
import { vertexExample } from "../helpers/sgp-examples";

let fake: FakeVertex;
let backend: VertexAiBackend;
const PARENT = "projects/test-project/locations/us-central1";

beforeAll(async () => {
  fake = await FakeVertex.start();
  process.env.GOOGLE_APPLICATION_CREDENTIALS = fake.keyFile;
  const made = vertexAiBackend(
    {
      TRAINKIT_VERTEX_PROJECT: "test-project",
      TRAINKIT_VERTEX_REGION: "us-central1",
      TRAINKIT_VERTEX_SERVICE_ACCOUNT: "trainer@test-project.iam.gserviceaccount.com",
      TRAINKIT_VERTEX_STAGING_BUCKET: "gs://trainkit-staging",
      TRAINKIT_VERTEX_ENDPOINT: fake.url,
      TRAINKIT_VERTEX_LOGGING_ENDPOINT: fake.url,
    },
    testContext(),
  );
  if (!("backend" in made)) throw new Error(`backend not built: ${made.missing.join(", ")}`);
  // Same backend as the factory's, with short retry delays so the retry tests stay fast.
  backend = new VertexAiBackend((made.backend as VertexAiBackend).settings, testContext(), {
    retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 },
    minPollIntervalMs: 0,
  });
});

afterAll(async () => {
  await fake.close();
});

const creates = () => fake.cloud.received("POST", /\/customJobs$/);

describe("the vertex-ai backend", () => {
  it("turns the SGP Train API's Vertex AI example into the CustomJob the REST API v1 documents", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const before = creates().length;
    const result = await backend.submit(job);

    const posted = creates().slice(before);
    expect(posted).toHaveLength(1);
    expect(posted[0]!.path).toBe(`/v1/${PARENT}/customJobs`);
    expect(posted[0]!.json).toEqual({
      displayName: "mnist-training",
      labels: { "trainkit-job-id": job.id },
      jobSpec: {
        workerPoolSpecs: [
          {
            machineSpec: { machineType: "g2-standard-8", acceleratorType: "NVIDIA_L4", acceleratorCount: 1 },
            replicaCount: "1",
            containerSpec: {
              imageUri: "docker-registry.your-sgp-deployment-url/pytorch-gpu:v1",
              command: ["python3", "train.py"],
              args: ["--epochs", "3"],
              env: [
                { name: "STORAGE_MOUNT_0_PATH", value: "/gcs/my-bucket/mnist-data" },
                { name: "STORAGE_MOUNT_1_PATH", value: "/gcs/my-bucket/output/run-1" },
              ],
            },
          },
        ],
        scheduling: { timeout: "86400s" },
        serviceAccount: "trainer@test-project.iam.gserviceaccount.com",
        baseOutputDirectory: { outputUriPrefix: `gs://trainkit-staging/trainkit/${job.id}` },
      },
    });
    expect(result.cloudJobIdentifier).toEqual({
      job_name: expect.stringMatching(/^projects\/test-project\/locations\/us-central1\/customJobs\/\d+$/),
    });
    expect(result.status).toBe("PENDING");
  });

  it("signs its requests with a scoped JWT from the key file GOOGLE_APPLICATION_CREDENTIALS names", async () => {
    await backend.submit(backendJob("vertex-ai", vertexExample));
    const claims = fake.verifiedClaims(creates().at(-1)!);
    expect(claims).toMatchObject({
      iss: fake.clientEmail,
      sub: fake.clientEmail,
      scope: "https://www.googleapis.com/auth/cloud-platform",
    });
  });

  it("runs the job as the service account the job names rather than the configured one", async () => {
    const request = structuredClone(vertexExample) as typeof vertexExample & {
      job_config: { service_account?: string };
    };
    request.job_config.service_account = "special@test-project.iam.gserviceaccount.com";
    await backend.submit(backendJob("vertex-ai", request));
    const body = creates().at(-1)!.json as { jobSpec: { serviceAccount: string } };
    expect(body.jobSpec.serviceAccount).toBe("special@test-project.iam.gserviceaccount.com");
  });

  it.each([
    ["JOB_STATE_QUEUED", "PENDING"],
    ["JOB_STATE_PENDING", "PENDING"],
    ["JOB_STATE_PAUSED", "PENDING"],
    ["JOB_STATE_RUNNING", "IN_PROGRESS"],
    ["JOB_STATE_UPDATING", "IN_PROGRESS"],
    ["JOB_STATE_CANCELLING", "IN_PROGRESS"],
    ["JOB_STATE_SUCCEEDED", "COMPLETED"],
    ["JOB_STATE_PARTIALLY_SUCCEEDED", "COMPLETED"],
    ["JOB_STATE_CANCELLED", "CANCELED"],
  ])("reports a CustomJob in %s as %s", async (state, expected) => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    fake.setState(held.cloudJobIdentifier!.job_name!, state);
    const polled = await backend.poll(held);
    expect(polled.status).toBe(expected);
    expect(polled.result).toBeUndefined();
  });

  it("reports a failed CustomJob as FAILED with Vertex's error message as the failure reason", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    fake.setState(held.cloudJobIdentifier!.job_name!, "JOB_STATE_FAILED", {
      code: 3,
      message: "The replica workerpool0-0 exited with a non-zero status of 1.",
    });
    expect(await backend.poll(held)).toMatchObject({
      status: "FAILED",
      result: { failure_reason: "The replica workerpool0-0 exited with a non-zero status of 1." },
    });
  });

  it("reports an expired CustomJob as EXPIRED with its reason", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    fake.setState(held.cloudJobIdentifier!.job_name!, "JOB_STATE_EXPIRED", {
      code: 4,
      message: "Job expired.",
    });
    expect(await backend.poll(held)).toMatchObject({
      status: "EXPIRED",
      result: { failure_reason: "Job expired." },
    });
  });

  it("keeps the last status it reported when Vertex answers JOB_STATE_UNSPECIFIED", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    let held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.job_name!;
    fake.setState(name, "JOB_STATE_RUNNING");
    const running = await backend.poll(held);
    held = { ...held, backendState: running.backendState ?? null };
    fake.setState(name, "JOB_STATE_UNSPECIFIED");
    expect((await backend.poll(held)).status).toBe("IN_PROGRESS");
  });

  it("cancels through customJobs.cancel, after which polling reports CANCELED", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.job_name!;
    await backend.cancel(held);
    expect(fake.cloud.received("POST", /:cancel$/).at(-1)!.path).toBe(`/v1/${name}:cancel`);
    fake.setState(name, "JOB_STATE_CANCELLED");
    expect((await backend.poll(held)).status).toBe("CANCELED");
  });

  it("treats cancelling a CustomJob that already finished as done", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    fake.setState(held.cloudJobIdentifier!.job_name!, "JOB_STATE_SUCCEEDED");
    await expect(backend.cancel(held)).resolves.toBeUndefined();
  });

  it("adopts the CustomJob of a create whose response was lost instead of creating a second", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    fake.cloud.failNext((r) => r.method === "POST" && r.path.endsWith("/customJobs"), {
      dropAfterHandling: true,
    });
    const lost = await backend.submit(job).catch((err: unknown) => err);
    expect(lost).toBeInstanceOf(BackendError);
    expect((lost as BackendError).retryable).toBe(true);

    const again = await backend.submit(job);
    const mine = [...fake.jobs.values()].filter(
      (j) => (j.labels as Record<string, string>)["trainkit-job-id"] === job.id,
    );
    expect(mine).toHaveLength(1);
    expect(again.cloudJobIdentifier.job_name).toBe(mine[0]!.name);
  });

  it("fails a rate-limited create at once as retryable throttling, without sending it again, and creates one CustomJob on the next submit", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const before = creates().length;
    // A per-minute rate quota, as google.rpc.ErrorInfo reports one (error_reason.proto).
    const throttled = googleError(429, "RESOURCE_EXHAUSTED", "Too many requests, please retry later.");
    (throttled.body as { error: Record<string, unknown> }).error.details = [
      published<{ example: Record<string, unknown> }>("googleapis/error-reason-quota.json").example,
    ];
    fake.cloud.failNext((r) => r.method === "POST" && r.path.endsWith("/customJobs"), { respond: throttled });
    const err = (await backend.submit(job).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect([err.status, err.code, err.retryable]).toEqual([429, "cloud_throttled", true]);
    expect(creates().length - before).toBe(1);
    const result = await backend.submit(job);
    expect(creates().length - before).toBe(2);
    expect(fake.jobs.get(result.cloudJobIdentifier.job_name!)).toBeDefined();
    expect(
      [...fake.jobs.values()].filter(
        (j) => (j.labels as Record<string, string>)["trainkit-job-id"] === job.id,
      ),
    ).toHaveLength(1);
  });

  it("retries a status read that failed with a 503", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    fake.cloud.failNext((r) => r.method === "GET" && /customJobs\/\d+$/.test(r.path), {
      respond: googleError(503, "UNAVAILABLE", "The service is currently unavailable."),
    });
    expect((await backend.poll(held)).status).toBe("PENDING");
  });

  it("fails the submit with Vertex's quota message and status 429 at once: a used-up resource quota is not retried", async () => {
    const before = creates().length;
    fake.cloud.failNext((r) => r.method === "POST" && r.path.endsWith("/customJobs"), {
      respond: googleError(
        429,
        "RESOURCE_EXHAUSTED",
        "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_training_nvidia_l4_gpus",
      ),
    });
    const err = (await backend
      .submit(backendJob("vertex-ai", vertexExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(creates().length - before).toBe(1);
    expect(err.status).toBe(429);
    expect(err.code).toBe("cloud_quota_exceeded");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("custom_model_training_nvidia_l4_gpus");
  });

  it("fails the submit with Vertex's permission message and status 403", async () => {
    fake.cloud.failNext((r) => r.method === "POST" && r.path.endsWith("/customJobs"), {
      respond: googleError(
        403,
        "PERMISSION_DENIED",
        "Permission 'aiplatform.customJobs.create' denied on resource.",
      ),
    });
    const err = (await backend
      .submit(backendJob("vertex-ai", vertexExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(403);
    expect(err.code).toBe("cloud_permission_denied");
    expect(err.message).toContain("Permission 'aiplatform.customJobs.create' denied");
  });

  it("fails the submit with Vertex's message and status 400 for a machine type it does not offer", async () => {
    fake.cloud.failNext((r) => r.method === "POST" && r.path.endsWith("/customJobs"), {
      respond: googleError(400, "INVALID_ARGUMENT", 'Machine type "g2-standard-7" is not supported.'),
    });
    const err = (await backend
      .submit(backendJob("vertex-ai", vertexExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.code).toBe("cloud_rejected_request");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('Machine type "g2-standard-7" is not supported.');
  });
});

describe("the vertex-ai backend's poll spacing", () => {
  it("reads a job's CustomJob at most once per minimum interval, and again right after a cancel", async () => {
    const spaced = new VertexAiBackend(backend.settings, testContext(), { minPollIntervalMs: 60_000 });
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await spaced.submit(job));
    const name = held.cloudJobIdentifier!.job_name!;
    const reads = () =>
      fake.cloud.received("GET", /customJobs\/\d+$/).filter((r) => r.path.endsWith(name)).length;

    fake.setState(name, "JOB_STATE_RUNNING");
    const first = await spaced.poll(held);
    expect(first.status).toBe("IN_PROGRESS");
    const running = { ...held, backendState: first.backendState ?? null };
    fake.setState(name, "JOB_STATE_SUCCEEDED");
    expect((await spaced.poll(running)).status).toBe("IN_PROGRESS");
    expect(reads()).toBe(1);

    await spaced.cancel(running);
    expect((await spaced.poll(running)).status).toBe("COMPLETED");
    expect(reads()).toBe(2);
  });
});

describe("the vertex-ai backend factory", () => {
  it("names the settings that are missing", () => {
    expect(vertexAiBackend({ TRAINKIT_VERTEX_REGION: "us-central1" }, testContext())).toEqual({
      missing: ["TRAINKIT_VERTEX_PROJECT"],
    });
  });

  it("rejects a malformed staging bucket naming the variable, the value and the fix", () => {
    expect(() =>
      vertexAiBackend(
        {
          TRAINKIT_VERTEX_PROJECT: "p",
          TRAINKIT_VERTEX_REGION: "us-central1",
          TRAINKIT_VERTEX_STAGING_BUCKET: "my-bucket",
        },
        testContext(),
      ),
    ).toThrow('TRAINKIT_VERTEX_STAGING_BUCKET must be a gs://<bucket> URI; got "my-bucket".');
  });
});

// The fake proves how the backend reacts to an endpoint that never answers, not how Vertex AI behaves.
describe("the vertex-ai backend with an endpoint that never answers", () => {
  const bounded = () =>
    new VertexAiBackend(backend.settings, testContext(), {
      retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 },
      minPollIntervalMs: 0,
      callTimeoutMs: 300,
    });

  it("fails a status read whose answer never comes as a retryable 504, and reads again on the next poll", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    const held = submitted(job, await backend.submit(job));
    const isGet = (r: { method: string; path: string }) =>
      r.method === "GET" && /\/customJobs\/[^/]+$/.test(r.path);
    fake.cloud.failNext(isGet, { hang: true });
    const slow = bounded();
    const err = (await slow.poll(held).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ status: 504, code: "cloud_timeout", retryable: true });
    expect(err.message).toContain("Vertex AI did not answer customJobs.get within 0.3 s");
    const before = fake.cloud.requests.filter(isGet).length;
    expect((await slow.poll(held)).status).toBe("PENDING");
    expect(fake.cloud.requests.filter(isGet).length).toBe(before + 1);
  });

  it("finds a CustomJob by its label to cancel it when the job has no recorded name, and says when there is none", async () => {
    const job = backendJob("vertex-ai", vertexExample);
    await backend.submit(job);
    const before = fake.cloud.received("POST", /:cancel$/).length;
    await backend.cancel(job);
    expect(fake.cloud.received("POST", /:cancel$/).length).toBe(before + 1);
    const never = backendJob("vertex-ai", vertexExample);
    const err = (await backend.cancel(never).catch((e: unknown) => e)) as BackendError;
    expect(err).toMatchObject({ status: 404, code: "cloud_resource_not_found" });
  });
});

// Cloud Logging's entries.list, served by the fake from the shapes the published reference gives
// (test/fixtures/published/google-cloud-docs/logging-v2-entries-list.json): it proves how the
// backend reads and continues a job's log, not how Cloud Logging behaves.
describe("the vertex-ai backend's logs", () => {
  const listed = () => fake.cloud.received("POST", /^\/v2\/entries:list$/);
  const reference = published<{ pageSize: { max: number }; orderBy: { permitted: string[] } }>(
    "google-cloud-docs/logging-v2-entries-list.json",
  );

  async function runningJob() {
    const job = backendJob("vertex-ai", vertexExample);
    const done = submitted(job, await backend.submit(job));
    const name = done.cloudJobIdentifier!.job_name!;
    return { job: done, name };
  }

  it("reads the last lines of the CustomJob's ml_job entries, with their time and replica", async () => {
    const { job, name } = await runningJob();
    const other = await runningJob();
    fake.log(other.name, "someone else's line", "workerpool0-0", "2026-12-02T10:00:00.000Z");
    fake.log(name, "epoch 1", "workerpool0-0", "2026-12-02T10:00:01.000Z");
    fake.log(name, "epoch 1", "workerpool1-0", "2026-12-02T10:00:01.500Z");
    fake.log(name, "epoch 2\nloss 0.4", "workerpool0-0", "2026-12-02T10:00:02.000Z");
    const before = listed().length;

    const logs = await backend.logs(job, { stream: "stdout", tail: 3 });
    expect(logs.lines).toEqual(["epoch 1", "epoch 2", "loss 0.4"]);
    expect(logs.entries).toEqual([
      { text: "epoch 1", timestamp: "2026-12-02T10:00:01.500Z", source: "workerpool1-0" },
      { text: "epoch 2", timestamp: "2026-12-02T10:00:02.000Z", source: "workerpool0-0" },
      { text: "loss 0.4", timestamp: "2026-12-02T10:00:02.000Z", source: "workerpool0-0" },
    ]);
    const sent = listed().slice(before);
    expect(sent).toHaveLength(1);
    const body = sent[0]!.json as Record<string, unknown>;
    expect(body.resourceNames).toEqual(["projects/test-project"]);
    expect(body.filter).toBe(
      `(resource.type="ml_job" OR resource.type="cloudml_job") AND resource.labels.job_id="${name.split("/").pop()}"`,
    );
    expect(reference.orderBy.permitted).toContain(body.orderBy);
    expect(body.orderBy).toBe("timestamp desc");
  });

  it("continues from next_cursor with only what was logged since, paging at most 1,000 entries a request", async () => {
    const { job, name } = await runningJob();
    fake.log(name, "before", "workerpool0-0", "2026-12-02T11:00:00.000Z");
    const first = await backend.logs(job, { stream: "stdout", tail: 10 });
    expect(first.lines).toEqual(["before"]);
    for (let i = 0; i < 1200; i++) {
      fake.log(
        name,
        `step ${i}`,
        "workerpool0-0",
        new Date(Date.parse("2026-12-02T11:00:01.000Z") + i).toISOString(),
      );
    }
    const before = listed().length;
    const next = await backend.logs(job, { stream: "stdout", tail: 1500, cursor: first.next_cursor });
    expect(next.lines).toEqual(Array.from({ length: 1200 }, (_, i) => `step ${i}`));
    const sent = listed()
      .slice(before)
      .map((r) => r.json as Record<string, unknown>);
    expect(sent).toHaveLength(2);
    for (const body of sent) {
      expect(body.orderBy).toBe("timestamp asc");
      expect(body.pageSize as number).toBeLessThanOrEqual(reference.pageSize.max);
    }
    expect(sent[1]!.pageToken).toEqual(expect.any(String));

    const after = await backend.logs(job, { stream: "stdout", tail: 100, cursor: next.next_cursor });
    expect(after.lines).toEqual([]);
    expect(after.next_cursor).toBe(next.next_cursor);
  });

  it("takes entries logged in the same instant in insertId order, none twice", async () => {
    const { job, name } = await runningJob();
    const at = "2026-12-02T12:00:00.000Z";
    fake.log(name, "a", "workerpool0-0", at);
    const first = await backend.logs(job, { stream: "stdout", tail: 1 });
    fake.log(name, "b", "workerpool0-0", at);
    fake.log(name, "c", "workerpool1-0", at);
    const next = await backend.logs(job, { stream: "stdout", tail: 100, cursor: first.next_cursor });
    expect(first.lines).toEqual(["a"]);
    expect(next.lines).toEqual(["b", "c"]);
  });

  it("serves stdout only, naming the fix, as Cloud Logging keeps both streams in one log", async () => {
    const { job } = await runningJob();
    const err = (await backend
      .logs(job, { stream: "stderr", tail: 5 })
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      "Cloud Logging keeps a Vertex AI job's stdout and stderr as one log; ask for stream=stdout to read both",
    );
  });

  it("refuses a cursor it did not issue, saying to pass next_cursor unchanged", async () => {
    const { job } = await runningJob();
    const err = (await backend
      .logs(job, { stream: "stdout", tail: 5, cursor: "bm90LWEtY3Vyc29y" })
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.message).toContain("pass next_cursor from the previous answer unchanged");
  });

  it("says which permission is missing when Cloud Logging refuses the read", async () => {
    const { job } = await runningJob();
    fake.cloud.failNext((r) => r.method === "POST" && r.path === "/v2/entries:list", {
      respond: googleError(
        403,
        "PERMISSION_DENIED",
        "Permission 'logging.logEntries.list' denied on resource",
      ),
    });
    const err = (await backend
      .logs(job, { stream: "stdout", tail: 5 })
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(403);
    expect(err.message).toContain("logging.logEntries.list");
    expect(err.message).toContain("grant the Train API's identity the permission named above");
  });
});
