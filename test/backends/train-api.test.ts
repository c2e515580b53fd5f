import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DefaultAzureCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/server";
import {
  BACKEND_FACTORIES,
  type BackendRegistry,
  buildBackends,
  closeBackends,
} from "../../src/server/backends";
import { AzureMlBackend, azureMlBackend } from "../../src/server/backends/azure-ml";
import { sagemakerBackend } from "../../src/server/backends/sagemaker";
import type { BackendFactory, BackendLogger } from "../../src/server/backends/types";
import { vertexAiBackend } from "../../src/server/backends/vertex-ai";
import { ApiKeyring } from "../../src/server/config";
import { Reconciler } from "../../src/server/reconciler";
import { openStore } from "../../src/server/store";
import type { Job } from "../../src/spec";
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_TENANT_ID, FakeAzure } from "../helpers/fake-azure";
import {
  awsError,
  FAKE_ACCESS_KEY_ID,
  FAKE_SECRET_ACCESS_KEY,
  FakeSageMaker,
} from "../helpers/fake-sagemaker";
import { FakeVertex } from "../helpers/fake-vertex";
import { azureExample, sagemakerExample, vertexExample } from "../helpers/sgp-examples";
import { authHeaders, newApiKey, TEST_ACCOUNT_ID, waitForJob } from "../helpers/train-api";

// The real Train API (routes, PGlite store, reconciler) over HTTP on loopback, with the three cloud
// backends built by their factories from environment settings that point them at the fakes.

let vertex: FakeVertex;
let sagemaker: FakeSageMaker;
let azure: FakeAzure;
const api = { url: "", apiKey: newApiKey(), accountId: TEST_ACCOUNT_ID };
let close: () => Promise<void>;

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  [vertex, sagemaker, azure] = await Promise.all([
    FakeVertex.start(),
    FakeSageMaker.start(),
    FakeAzure.start(),
  ]);
  Object.assign(process.env, {
    GOOGLE_APPLICATION_CREDENTIALS: vertex.keyFile,
    AWS_ACCESS_KEY_ID: FAKE_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: FAKE_SECRET_ACCESS_KEY,
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AZURE_TENANT_ID: FAKE_TENANT_ID,
    AZURE_CLIENT_ID: FAKE_CLIENT_ID,
    AZURE_CLIENT_SECRET: FAKE_CLIENT_SECRET,
    AZURE_AUTHORITY_HOST: azure.url,
  });
  const env = {
    TRAINKIT_VERTEX_PROJECT: "test-project",
    TRAINKIT_VERTEX_REGION: "us-central1",
    TRAINKIT_VERTEX_ENDPOINT: vertex.url,
    TRAINKIT_SAGEMAKER_REGION: "us-east-1",
    TRAINKIT_SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/SageMakerExecution",
    TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://trainkit-output/models",
    TRAINKIT_SAGEMAKER_ENDPOINT: sagemaker.url,
    TRAINKIT_AZUREML_SUBSCRIPTION_ID: "00000000-1111-2222-3333-444444444444",
    TRAINKIT_AZUREML_RESOURCE_GROUP: "ml-rg",
    TRAINKIT_AZUREML_WORKSPACE: "ml-ws",
    TRAINKIT_AZUREML_ENDPOINT: azure.url,
    TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS: "0",
    TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: "600000",
    TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE: "600000",
  };
  // The Azure backend the factory builds, trusting the fake's self-signed certificate.
  const azureOnLoopback: BackendFactory<"azure-ml"> = (e, ctx) => {
    const made = azureMlBackend(e, ctx);
    if ("missing" in made) return made;
    return {
      backend: new AzureMlBackend((made.backend as AzureMlBackend).settings, ctx, {
        credential: new DefaultAzureCredential({
          tlsOptions: { ca: azure.ca },
          disableInstanceDiscovery: true,
        }),
        tlsCa: azure.ca,
        minPollIntervalMs: 0,
      }),
    };
  };

  const dataDir = mkdtempSync(join(tmpdir(), "trainkit-cloud-api-"));
  const store = await openStore({ dataDir });
  const backends: BackendRegistry = buildBackends(
    env,
    { dataDir, notify: () => reconciler.kick(), log: quiet },
    {
      ...BACKEND_FACTORIES,
      "vertex-ai": vertexAiBackend,
      sagemaker: sagemakerBackend,
      "azure-ml": azureOnLoopback,
    },
  );
  const reconciler = new Reconciler(store, backends, {
    intervalMs: 100,
    syncIntervalMs: 100,
    log: quiet,
  });
  const app = buildApp({
    store,
    backends,
    reconciler,
    apiKeys: new ApiKeyring({ [api.apiKey]: [TEST_ACCOUNT_ID] }),
    bodyLimitBytes: 1024 * 1024,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  reconciler.start();
  api.url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  close = async () => {
    await app.close();
    await reconciler.stop();
    await closeBackends(backends);
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
});

afterAll(async () => {
  await close?.();
  await Promise.all([vertex?.close(), sagemaker?.close(), azure?.close()]);
});

async function createJob(
  backend: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${api.url}/v1/${backend}/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("the Train API with the cloud backends", () => {
  it("runs the SGP Train API's Vertex AI example as a CustomJob until it succeeds", async () => {
    const { status, json } = await createJob("vertex-ai", vertexExample);
    expect(status).toBe(201);
    const job = json as unknown as Job;
    expect(job).toMatchObject({ job_type: "vertex_ai", status: "PENDING" });
    const name = job.cloud_job_identifier!.job_name!;
    expect((vertex.jobs.get(name)!.labels as Record<string, string>)["trainkit-job-id"]).toBe(job.id);
    vertex.setState(name, "JOB_STATE_SUCCEEDED");
    expect((await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED")).status).toBe("COMPLETED");
  });

  it("runs the SGP Train API's SageMaker example as a training job and reports its failure reason", async () => {
    const { status, json } = await createJob("sagemaker", sagemakerExample);
    expect(status).toBe(201);
    const job = json as unknown as Job;
    expect(job).toMatchObject({ job_type: "sagemaker", status: "PENDING" });
    const name = job.cloud_job_identifier!.training_job_name!;
    expect(sagemaker.jobs.has(name)).toBe(true);
    sagemaker.setStatus(name, "Failed", "Failed", "ClientError: Please check your data in S3.");
    const failed = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED");
    expect(failed.result).toEqual({ failure_reason: "ClientError: Please check your data in S3." });
  });

  it("runs the SGP Train API's Azure ML example as a command job and cancels it through the API", async () => {
    const { status, json } = await createJob("azure-ml", azureExample);
    expect(status).toBe(201);
    const job = json as unknown as Job;
    expect(job).toMatchObject({ job_type: "azure_ml", status: "PENDING" });
    const name = job.cloud_job_identifier!.job_name!;
    const cancel = await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, {
      method: "POST",
      headers: authHeaders(api),
    });
    expect(cancel.status).toBeLessThan(300);
    await waitForJob<Job>(
      api,
      job.id,
      () => (azure.jobs.get(name)!.properties as { status: string }).status === "CancelRequested",
    );
    azure.setStatus(name, "Canceled");
    expect((await waitForJob<Job>(api, job.id, (j) => j.status === "CANCELED")).status).toBe("CANCELED");
  });

  it("answers a submit SageMaker refuses for quota with 429 and SageMaker's message", async () => {
    sagemaker.cloud.failNext((r) => r.headers["x-amz-target"] === "SageMaker.CreateTrainingJob", {
      respond: awsError(
        400,
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.g4dn.xlarge for training job usage' is 0 Instances.",
      ),
    });
    const { status, json } = await createJob("sagemaker", sagemakerExample);
    expect(status).toBe(429);
    const error = (json as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("cloud_quota_exceeded");
    expect(error.message).toContain("'ml.g4dn.xlarge for training job usage' is 0 Instances");
  });
});
