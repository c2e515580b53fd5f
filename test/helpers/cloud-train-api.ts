import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DefaultAzureCredential } from "@azure/identity";
import { buildApp } from "../../src/server";
import {
  BACKEND_FACTORIES,
  type BackendRegistry,
  buildBackends,
  closeBackends,
} from "../../src/server/backends";
import { AzureMlBackend, azureMlBackend } from "../../src/server/backends/azure-ml";
import type { BackendFactory, BackendLogger } from "../../src/server/backends/types";
import { ApiKeyring } from "../../src/server/config";
import { Reconciler } from "../../src/server/reconciler";
import { openStore } from "../../src/server/store";
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_TENANT_ID, FakeAzure } from "./fake-azure";
import { FakeCloudWatchLogs } from "./fake-cloudwatch-logs";
import { FakeKubernetes } from "./fake-kubernetes";
import { FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY, FakeSageMaker } from "./fake-sagemaker";
import { FakeVertex } from "./fake-vertex";
import { seedEmbeddedStore } from "./store-template";
import { newApiKey, TEST_ACCOUNT_ID } from "./train-api";

/** The namespace kubernetes jobs go to when their job_config names none. */
export const DEFAULT_NAMESPACE = "ml-jobs";

export interface CloudTrainApi {
  url: string;
  apiKey: string;
  accountId: string;
  vertex: FakeVertex;
  sagemaker: FakeSageMaker;
  /** CloudWatch Logs, where the sagemaker backend reads a training job's log. */
  cloudWatch: FakeCloudWatchLogs;
  azure: FakeAzure;
  kubernetes: FakeKubernetes;
  reconciler: Reconciler;
  /** How many requests each cloud stand-in has received so far (sagemaker: SageMaker and CloudWatch Logs). */
  requestCounts(): Record<"vertex-ai" | "sagemaker" | "azure-ml" | "kubernetes", number>;
  close(): Promise<void>;
}

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };

/**
 * The real Train API (routes, PGlite store, reconciler) on loopback with its four cloud backends
 * built by their factories from settings that point each official SDK at a loopback stand-in.
 */
export async function startCloudTrainApi(
  options: {
    reconcileIntervalMs?: number;
    followIntervalMs?: number;
    /** How often the cloud backends list their jobs. Defaults to 200 ms. */
    syncIntervalMs?: number;
    /** Settings added to (or replacing) the ones below. */
    env?: Record<string, string>;
    followMaxWaitMs?: number;
    followReadsPerMinute?: Partial<Record<"vertex-ai" | "sagemaker" | "azure-ml" | "kubernetes", number>>;
  } = {},
): Promise<CloudTrainApi> {
  const [vertex, sagemaker, cloudWatch, azure, kubernetes] = await Promise.all([
    FakeVertex.start(),
    FakeSageMaker.start(),
    FakeCloudWatchLogs.start(),
    FakeAzure.start(),
    FakeKubernetes.start(),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "trainkit-cloud-limits-"));
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
    TRAINKIT_VERTEX_LOGGING_ENDPOINT: vertex.url,
    TRAINKIT_SAGEMAKER_REGION: "us-east-1",
    TRAINKIT_SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/SageMakerExecution",
    TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://trainkit-output/models",
    TRAINKIT_SAGEMAKER_ENDPOINT: sagemaker.url,
    TRAINKIT_SAGEMAKER_LOGS_ENDPOINT: cloudWatch.url,
    TRAINKIT_AZUREML_SUBSCRIPTION_ID: "00000000-1111-2222-3333-444444444444",
    TRAINKIT_AZUREML_RESOURCE_GROUP: "ml-rg",
    TRAINKIT_AZUREML_WORKSPACE: "ml-ws",
    TRAINKIT_AZUREML_ENDPOINT: azure.url,
    TRAINKIT_KUBERNETES_NAMESPACE: DEFAULT_NAMESPACE,
    KUBECONFIG: kubernetes.writeKubeconfig(dir),
    HOME: dir,
    TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS: "0",
    // Submissions are not paced unless a test asks: the tests here send many jobs at once.
    TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: "600000",
    TRAINKIT_SAGEMAKER_SUBMIT_PER_MINUTE: "600000",
    TRAINKIT_AZUREML_SUBMIT_PER_MINUTE: "600000",
    ...options.env,
  };
  // The Azure backend the factory builds, trusting the stand-in's self-signed certificate.
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
        submitsPerMinute: made.backend.submitsPerMinute,
      }),
    };
  };
  const dataDir = join(dir, "data");
  await seedEmbeddedStore(dataDir);
  const store = await openStore({ dataDir });
  const backends: BackendRegistry = buildBackends(
    env,
    { dataDir, notify: (jobId) => reconciler.notify(jobId), log: quiet },
    { ...BACKEND_FACTORIES, "azure-ml": azureOnLoopback },
  );
  const reconciler = new Reconciler(store, backends, {
    intervalMs: options.reconcileIntervalMs ?? 60_000,
    syncIntervalMs: options.syncIntervalMs ?? 200,
    log: quiet,
  });
  const apiKey = newApiKey();
  const app = buildApp({
    store,
    backends,
    reconciler,
    apiKeys: new ApiKeyring({ [apiKey]: [TEST_ACCOUNT_ID] }),
    bodyLimitBytes: 1024 * 1024,
    ...(options.followIntervalMs ? { followIntervalMs: options.followIntervalMs } : {}),
    ...(options.followMaxWaitMs !== undefined ? { followMaxWaitMs: options.followMaxWaitMs } : {}),
    ...(options.followReadsPerMinute ? { followReadsPerMinute: options.followReadsPerMinute } : {}),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  if (options.reconcileIntervalMs) reconciler.start();
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    apiKey,
    accountId: TEST_ACCOUNT_ID,
    vertex,
    sagemaker,
    cloudWatch,
    azure,
    kubernetes,
    reconciler,
    requestCounts: () => ({
      "vertex-ai": vertex.cloud.requests.length,
      sagemaker: sagemaker.cloud.requests.length + cloudWatch.cloud.requests.length,
      "azure-ml": azure.cloud.requests.length,
      kubernetes: kubernetes.server.requests.length,
    }),
    close: async () => {
      await app.close();
      await reconciler.stop();
      await closeBackends(backends);
      await store.close();
      await Promise.all([
        vertex.close(),
        sagemaker.close(),
        cloudWatch.close(),
        azure.close(),
        kubernetes.close(),
      ]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
