import { DefaultAzureCredential } from "@azure/identity";
import { AzureMlBackend, azureMlBackend } from "../../src/server/backends/azure-ml";
import { testContext } from "./backend-job";
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_TENANT_ID, type FakeAzure } from "./fake-azure";

/** The subscription, resource group and workspace every Azure ML backend test works in. */
export const AZURE_ML_SUB = "00000000-1111-2222-3333-444444444444";
export const AZURE_ML_WORKSPACE_ID = `/subscriptions/${AZURE_ML_SUB}/resourceGroups/ml-rg/providers/Microsoft.MachineLearningServices/workspaces/ml-ws`;

/**
 * An Azure ML backend as the server's factory builds it from its settings, pointed at a FakeAzure on
 * loopback, with the one thing a loopback endpoint needs on top: trust in its self-signed certificate,
 * for the identity flow and the ARM client alike. The credential is the default chain's, authenticating
 * with the client secret put in the environment; instance discovery is off because it would ask
 * login.microsoftonline.com about the loopback authority. Retries are short so failure tests stay quick.
 */
export function azureMlOnLoopback(
  fake: FakeAzure,
  options: { maxAttempts?: number; logReadBytes?: number } = {},
): AzureMlBackend {
  process.env.AZURE_TENANT_ID = FAKE_TENANT_ID;
  process.env.AZURE_CLIENT_ID = FAKE_CLIENT_ID;
  process.env.AZURE_CLIENT_SECRET = FAKE_CLIENT_SECRET;
  process.env.AZURE_AUTHORITY_HOST = fake.url;
  const made = azureMlBackend(
    {
      TRAINKIT_AZUREML_SUBSCRIPTION_ID: AZURE_ML_SUB,
      TRAINKIT_AZUREML_RESOURCE_GROUP: "ml-rg",
      TRAINKIT_AZUREML_WORKSPACE: "ml-ws",
      TRAINKIT_AZUREML_ENDPOINT: fake.url,
    },
    testContext(),
  );
  if (!("backend" in made)) throw new Error(`backend not built: ${made.missing.join(", ")}`);
  return new AzureMlBackend((made.backend as AzureMlBackend).settings, testContext(), {
    credential: new DefaultAzureCredential({ tlsOptions: { ca: fake.ca }, disableInstanceDiscovery: true }),
    tlsCa: fake.ca,
    retry: { maxAttempts: options.maxAttempts ?? 3, initialDelayMs: 5, maxDelayMs: 10 },
    minPollIntervalMs: 0,
    ...(options.logReadBytes ? { logReadBytes: options.logReadBytes } : {}),
  });
}
