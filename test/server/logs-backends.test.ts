import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../src/spec";
import { authHeaders, startTrainApi, type TrainApi } from "../helpers/train-api";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The logs route for a job whose backend this server cannot use now: the real Train API on loopback with
// its embedded store, jobs recorded directly in that store as an earlier server (with the backend set up)
// would have left them. Azure ML, SageMaker and Vertex AI run unconfigured here, and a second server runs
// only the local backend.

let api: TrainApi;
let localOnly: TrainApi;
beforeAll(async () => {
  api = await startTrainApi();
  localOnly = await startTrainApi({
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TRAINKIT_BACKENDS: "local" },
  });
});
afterAll(async () => {
  await Promise.all([api?.close(), localOnly?.close()]);
});

async function recordedJob(server: TrainApi, backend: Backend): Promise<string> {
  const id = randomUUID();
  await server.server.store.insertJob({
    id,
    accountId: server.accountId,
    backend,
    name: "job",
    request: VALID_REQUESTS[backend] as never,
    requestHash: id,
    idempotencyKey: null,
    createdAt: new Date(),
  });
  return id;
}

async function logsOf(server: TrainApi, id: string) {
  const res = await fetch(`${server.url}/v1/jobs/${id}/logs`, { headers: authHeaders(server) });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string } } };
}

describe("logs of a job whose backend this server cannot use", () => {
  it("answers 503 naming the settings an Azure ML job's backend lacks, not that Azure ML logs are unread", async () => {
    const { status, body } = await logsOf(api, await recordedJob(api, "azure-ml"));
    expect(status).toBe(503);
    expect(body.error.code).toBe("backend_not_configured");
    expect(body.error.message).toMatch(
      /^the azure-ml backend is not configured on this server; set .*TRAINKIT_AZUREML_RESOURCE_GROUP.* and restart it$/,
    );
  });

  it("answers a SageMaker job's logs the same way", async () => {
    const { status, body } = await logsOf(api, await recordedJob(api, "sagemaker"));
    expect(status).toBe(503);
    expect(body.error.code).toBe("backend_not_configured");
  });

  it("answers 503 naming the backends it runs when the job's backend is turned off", async () => {
    const { status, body } = await logsOf(localOnly, await recordedJob(localOnly, "azure-ml"));
    expect(status).toBe(503);
    expect(body.error).toMatchObject({
      code: "backend_not_enabled",
      message: "this server does not run the azure-ml backend; it runs local (set by TRAINKIT_BACKENDS)",
    });
  });
});
