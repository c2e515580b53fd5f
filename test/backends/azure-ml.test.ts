import { DefaultAzureCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AZURE_ML_API_VERSION,
  AzureMlBackend,
  azureJobName,
  azureMlBackend,
  environmentName,
} from "../../src/server/backends/azure-ml";
import { BackendError } from "../../src/server/backends/types";
import { AZURE_ML_SUB, AZURE_ML_WORKSPACE_ID, azureMlOnLoopback } from "../helpers/azure-ml-backend";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import {
  armError,
  FAKE_CLIENT_ID,
  FAKE_CLIENT_SECRET,
  FAKE_TENANT_ID,
  FakeAzure,
} from "../helpers/fake-azure";
import { published } from "../helpers/published";
import { azureExample } from "../helpers/sgp-examples";

let fake: FakeAzure;
let backend: AzureMlBackend;
const SUB = AZURE_ML_SUB;
const WS = AZURE_ML_WORKSPACE_ID;
const IMAGE = "docker-registry.your-sgp-deployment-url/pytorch-gpu:v1";
const MOUNTING_COMMAND =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Azure ML's binding syntax, sent as is
  'export STORAGE_MOUNT_0_PATH="${{inputs.storage_mount_0}}" STORAGE_MOUNT_1_PATH="${{outputs.storage_mount_1}}" && python train.py --epochs 3';

beforeAll(async () => {
  fake = await FakeAzure.start();
  backend = azureMlOnLoopback(fake);
});

afterAll(async () => {
  await fake.close();
});

const jobPuts = () => fake.arm("PUT", /\/jobs\/[^/]+$/);
const isJobPut = (r: { method: string; path: string }) => r.method === "PUT" && /\/jobs\/[^/]+$/.test(r.path);

describe("the azure-ml backend", () => {
  it("registers an environment version for the job's image", async () => {
    await backend.submit(backendJob("azure-ml", azureExample));
    const put = fake.arm("PUT", /\/environments\//).at(-1)!;
    expect(put.path).toBe(`${WS}/environments/${environmentName(IMAGE)}/versions/1`);
    expect(put.query.get("api-version")).toBe(AZURE_ML_API_VERSION);
    expect(put.json).toEqual({
      properties: {
        image: IMAGE,
        osType: "Linux",
        description: `Container image ${IMAGE}, registered for Train API jobs`,
        tags: { "trainkit-image": IMAGE },
      },
    });
  });

  it("turns the SGP Train API's Azure ML example into the command job the ARM API documents", async () => {
    const job = backendJob("azure-ml", azureExample);
    const before = jobPuts().length;
    const result = await backend.submit(job);

    const puts = jobPuts().slice(before);
    expect(puts).toHaveLength(1);
    const name = `mnist-training-${job.id.replace(/-/g, "")}`;
    expect(puts[0]!.path).toBe(`${WS}/jobs/${name}`);
    expect(puts[0]!.json).toEqual({
      properties: {
        jobType: "Command",
        displayName: "mnist-training",
        command: MOUNTING_COMMAND,
        environmentId: `${WS}/environments/${environmentName(IMAGE)}/versions/1`,
        computeId: `${WS}/computes/gpu-cluster`,
        resources: { instanceType: "Standard_NC24ads_A100_v4", instanceCount: 1 },
        environmentVariables: { LEARNING_RATE: "0.001" },
        inputs: {
          storage_mount_0: {
            jobInputType: "uri_folder",
            uri: "azureml://datastores/traindata/paths/mnist",
            mode: "ReadOnlyMount",
          },
        },
        outputs: {
          storage_mount_1: {
            jobOutputType: "uri_folder",
            uri: "azureml://datastores/trainoutput/paths/run-1",
            mode: "ReadWriteMount",
          },
        },
        tags: { "trainkit-job-id": job.id },
      },
    });
    expect(result.cloudJobIdentifier).toEqual({ job_name: name });
    expect(result.status).toBe("PENDING");
  });

  it("sends a serverless job without a computeId and with its timeout as an ISO 8601 duration", async () => {
    const request = structuredClone(azureExample) as typeof azureExample & {
      job_config: { limits?: { timeout: number } };
    };
    request.job_config.compute = "serverless";
    request.job_config.limits = { timeout: 7200 };
    await backend.submit(backendJob("azure-ml", request));
    const properties = (jobPuts().at(-1)!.json as { properties: Record<string, unknown> }).properties;
    expect(properties.computeId).toBeUndefined();
    expect(properties.limits).toEqual({ jobLimitsType: "Command", timeout: "PT7200S" });
  });

  it("authenticates with a token DefaultAzureCredential got with the client secret in the environment", async () => {
    await backend.submit(backendJob("azure-ml", azureExample));
    const tokenRequest = fake.cloud.received("POST", /\/oauth2\/v2\.0\/token$/).at(-1)!;
    expect(tokenRequest.path).toBe(`/${FAKE_TENANT_ID}/oauth2/v2.0/token`);
    const form = new URLSearchParams(tokenRequest.body);
    expect(form.get("client_id")).toBe(FAKE_CLIENT_ID);
    expect(form.get("scope")).toBe("https://management.azure.com/.default");
    const bearer = jobPuts()
      .at(-1)!
      .headers.authorization!.replace(/^Bearer /, "");
    expect(fake.issuedTokens.has(bearer)).toBe(true);
  });

  it.each([
    ["NotStarted", "PENDING"],
    ["Starting", "PENDING"],
    ["Provisioning", "PENDING"],
    ["Preparing", "PENDING"],
    ["Queued", "PENDING"],
    ["Paused", "PENDING"],
    ["Running", "IN_PROGRESS"],
    ["Finalizing", "IN_PROGRESS"],
    ["CancelRequested", "IN_PROGRESS"],
    ["NotResponding", "IN_PROGRESS"],
    ["Completed", "COMPLETED"],
    ["Canceled", "CANCELED"],
  ])("reports an Azure ML job in %s as %s", async (native, expected) => {
    const job = backendJob("azure-ml", azureExample);
    const held = submitted(job, await backend.submit(job));
    fake.setStatus(held.cloudJobIdentifier!.job_name!, native);
    const polled = await backend.poll(held);
    expect(polled.status).toBe(expected);
    expect(polled.result).toBeUndefined();
  });

  it("reports a failed job as FAILED with the error Azure ML gives and where its logs are", async () => {
    const job = backendJob("azure-ml", azureExample);
    const held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.job_name!;
    fake.setStatus(name, "Failed", "Execution failed. User process 'python' exited with status code 1.");
    expect(await backend.poll(held)).toMatchObject({
      status: "FAILED",
      result: {
        failure_reason: `Execution failed. User process 'python' exited with status code 1.; logs: https://ml.azure.com/runs/${name}`,
      },
    });
  });

  it("keeps the last status it reported when Azure ML answers Unknown", async () => {
    const job = backendJob("azure-ml", azureExample);
    let held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.job_name!;
    fake.setStatus(name, "Running");
    held = { ...held, backendState: (await backend.poll(held)).backendState ?? null };
    fake.setStatus(name, "Unknown");
    expect((await backend.poll(held)).status).toBe("IN_PROGRESS");
  });

  it("cancels through jobs.beginCancel, after which polling reports CANCELED", async () => {
    const job = backendJob("azure-ml", azureExample);
    const held = submitted(job, await backend.submit(job));
    const name = held.cloudJobIdentifier!.job_name!;
    await backend.cancel(held);
    expect(fake.arm("POST", /\/cancel$/).at(-1)!.path).toBe(`${WS}/jobs/${name}/cancel`);
    expect((await backend.poll(held)).status).toBe("IN_PROGRESS");
    fake.setStatus(name, "Canceled");
    expect((await backend.poll(held)).status).toBe("CANCELED");
  });

  it("treats cancelling a job that already completed as done", async () => {
    const job = backendJob("azure-ml", azureExample);
    const held = submitted(job, await backend.submit(job));
    fake.setStatus(held.cloudJobIdentifier!.job_name!, "Completed");
    await expect(backend.cancel(held)).resolves.toBeUndefined();
  });

  it("makes one job of a submit whose response was lost and was sent again", async () => {
    const job = backendJob("azure-ml", azureExample);
    fake.cloud.failNext(isJobPut, { dropAfterHandling: true });
    const first = await backend.submit(job).catch((err: unknown) => err);
    const again = await backend.submit(job);
    const name = azureJobName(job.id, "mnist-training");
    expect(again.cloudJobIdentifier).toEqual({ job_name: name });
    if (!(first instanceof BackendError)) expect(first).toEqual(again);
    expect([...fake.jobs.keys()].filter((k) => k === name)).toHaveLength(1);
    expect(jobPuts().filter((r) => r.path.endsWith(`/jobs/${name}`)).length).toBeGreaterThanOrEqual(2);
  });

  it("retries a throttled PUT after Retry-After and then succeeds", async () => {
    const job = backendJob("azure-ml", azureExample);
    const before = jobPuts().length;
    fake.cloud.failNext(isJobPut, {
      respond: armError(429, "TooManyRequests", "Too many requests.", { "retry-after": "0" }),
    });
    const result = await backend.submit(job);
    expect(jobPuts().length - before).toBe(2);
    expect(fake.jobs.has(result.cloudJobIdentifier.job_name!)).toBe(true);
  });

  it("fails the submit with Azure's quota message and status 429", async () => {
    fake.cloud.failNext(isJobPut, {
      respond: armError(
        400,
        "UserError",
        "Not enough quota available for Standard_NC24ads_A100_v4 in SubscriptionId. Current usage/limit: 0/0.",
      ),
    });
    const err = (await backend
      .submit(backendJob("azure-ml", azureExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(429);
    expect(err.code).toBe("cloud_quota_exceeded");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("Not enough quota available for Standard_NC24ads_A100_v4");
  });

  it("fails the submit with Azure's permission message and status 403", async () => {
    fake.cloud.failNext(isJobPut, {
      respond: armError(
        403,
        "AuthorizationFailed",
        "The client does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/jobs/write'.",
      ),
    });
    const err = (await backend
      .submit(backendJob("azure-ml", azureExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(403);
    expect(err.code).toBe("cloud_permission_denied");
    expect(err.message).toContain("Microsoft.MachineLearningServices/workspaces/jobs/write");
  });

  it("fails the submit with Azure's message and status 400 for a VM size it rejects", async () => {
    fake.cloud.failNext(isJobPut, {
      respond: armError(
        400,
        "UserError",
        "Instance type Standard_NC999 is not supported on compute gpu-cluster.",
      ),
    });
    const err = (await backend
      .submit(backendJob("azure-ml", azureExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.code).toBe("cloud_rejected_request");
    expect(err.message).toContain("Instance type Standard_NC999 is not supported");
  });
});

describe("the azure-ml backend's credential", () => {
  it("reports a client secret the identity platform refuses as a 503 that does not repeat the secret", async () => {
    const wrongSecret = "wrong-secret-that-must-not-leak-0123";
    process.env.AZURE_CLIENT_SECRET = wrongSecret;
    const credential = new DefaultAzureCredential({
      tlsOptions: { ca: fake.ca },
      disableInstanceDiscovery: true,
    });
    process.env.AZURE_CLIENT_SECRET = FAKE_CLIENT_SECRET;
    const refused = new AzureMlBackend(backend.settings, testContext(), { credential, tlsCa: fake.ca });
    const err = (await refused
      .submit(backendJob("azure-ml", azureExample))
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(503);
    expect(err.code).toBe("cloud_credentials_unavailable");
    expect(err.message).toContain("AADSTS7000215: Invalid client secret provided.");
    expect(err.message).not.toContain(wrongSecret);
  });
});

interface ManagedIdentitySpec {
  "x-ms-discriminator-value": string;
  properties: Record<string, { format?: string; type: string }>;
  additionalProperties: boolean;
}
const SPEC = published<{
  IdentityConfigurationType: string[];
  IdentityConfiguration: { required: string[]; discriminator: string };
  ManagedIdentity: ManagedIdentitySpec;
}>("azure-rest-api-specs/mfe-2024-04-01.json");
const JOB_IDENTITY = "7b6f2a1c-3d4e-4f50-9a8b-0c1d2e3f4a5b";

describe("the azure-ml backend with a job identity", () => {
  let withIdentity: AzureMlBackend;
  beforeAll(() => {
    const made = azureMlBackend(
      {
        TRAINKIT_AZUREML_SUBSCRIPTION_ID: SUB,
        TRAINKIT_AZUREML_RESOURCE_GROUP: "ml-rg",
        TRAINKIT_AZUREML_WORKSPACE: "ml-ws",
        TRAINKIT_AZUREML_ENDPOINT: fake.url,
        TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID: JOB_IDENTITY,
      },
      testContext(),
    );
    if (!("backend" in made)) throw new Error(`backend not built: ${made.missing.join(", ")}`);
    withIdentity = new AzureMlBackend((made.backend as AzureMlBackend).settings, testContext(), {
      credential: new DefaultAzureCredential({ tlsOptions: { ca: fake.ca }, disableInstanceDiscovery: true }),
      tlsCa: fake.ca,
      minPollIntervalMs: 0,
    });
  });

  // The fake ARM endpoint records the body; what Azure ML does with the identity is not shown here.
  it("submits every job as the configured user-assigned identity, by client id", async () => {
    await withIdentity.submit(backendJob("azure-ml", azureExample));
    const properties = (jobPuts().at(-1)!.json as { properties: Record<string, unknown> }).properties;
    expect(properties.identity).toEqual({ identityType: "Managed", clientId: JOB_IDENTITY });
  });

  it("sends an identity the published JobBase schema accepts: a ManagedIdentity with a uuid clientId", async () => {
    await withIdentity.submit(backendJob("azure-ml", azureExample));
    const identity = (jobPuts().at(-1)!.json as { properties: { identity: Record<string, string> } })
      .properties.identity;
    const { discriminator, required } = SPEC.IdentityConfiguration;
    for (const field of required) expect(identity).toHaveProperty(field);
    expect(SPEC.IdentityConfigurationType).toContain(identity[discriminator]);
    expect(identity[discriminator]).toBe(SPEC.ManagedIdentity["x-ms-discriminator-value"]);
    // additionalProperties is false: only the discriminator and ManagedIdentity's own fields.
    expect(SPEC.ManagedIdentity.additionalProperties).toBe(false);
    for (const key of Object.keys(identity)) {
      expect([discriminator, ...Object.keys(SPEC.ManagedIdentity.properties)]).toContain(key);
    }
    expect(SPEC.ManagedIdentity.properties.clientId!.format).toBe("uuid");
    expect(identity.clientId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it("names no identity when none is configured, leaving Azure ML's documented default (AMLToken)", async () => {
    await backend.submit(backendJob("azure-ml", azureExample));
    const properties = (jobPuts().at(-1)!.json as { properties: Record<string, unknown> }).properties;
    expect(properties).not.toHaveProperty("identity");
  });
});

describe("the azure-ml backend factory", () => {
  it("rejects a job identity that is not a client id, naming the variable and the fix", () => {
    expect(() =>
      azureMlBackend(
        {
          TRAINKIT_AZUREML_SUBSCRIPTION_ID: SUB,
          TRAINKIT_AZUREML_RESOURCE_GROUP: "rg",
          TRAINKIT_AZUREML_WORKSPACE: "ws",
          TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID: "/subscriptions/x/userAssignedIdentities/jobs",
        },
        testContext(),
      ),
    ).toThrow(
      'TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID must be the client id (a GUID) of the user-assigned managed identity jobs run as, attached to the workspace and its compute clusters; got "/subscriptions/x/userAssignedIdentities/jobs".',
    );
  });

  it("names the settings that are missing", () => {
    expect(azureMlBackend({ TRAINKIT_AZUREML_SUBSCRIPTION_ID: SUB }, testContext())).toEqual({
      missing: ["TRAINKIT_AZUREML_RESOURCE_GROUP", "TRAINKIT_AZUREML_WORKSPACE"],
    });
  });

  it("rejects a subscription id that is not a GUID, naming the variable and the fix", () => {
    expect(() =>
      azureMlBackend(
        {
          TRAINKIT_AZUREML_SUBSCRIPTION_ID: "my-subscription",
          TRAINKIT_AZUREML_RESOURCE_GROUP: "rg",
          TRAINKIT_AZUREML_WORKSPACE: "ws",
        },
        testContext(),
      ),
    ).toThrow(
      'TRAINKIT_AZUREML_SUBSCRIPTION_ID must be a subscription id (a GUID such as 00000000-1111-2222-3333-444444444444); got "my-subscription".',
    );
  });
});

// The fake proves how the backend reacts to an endpoint that never answers, not how Azure behaves.
describe("the azure-ml backend with endpoints that never answer", () => {
  const hanging = (
    credential = new DefaultAzureCredential({ tlsOptions: { ca: fake.ca }, disableInstanceDiscovery: true }),
  ) =>
    new AzureMlBackend(backend.settings, testContext(), {
      credential,
      tlsCa: fake.ca,
      retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 },
      minPollIntervalMs: 0,
      callTimeoutMs: 300,
    });

  it("fails a status read whose answer never comes as a retryable 504 naming the call and what to check", async () => {
    const job = backendJob("azure-ml", azureExample);
    const held = submitted(job, await backend.submit(job));
    fake.cloud.failNext((r) => r.method === "GET" && /\/jobs\/[^/]+$/.test(r.path), { hang: true });
    const err = (await hanging()
      .poll(held)
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ status: 504, code: "cloud_timeout", retryable: true });
    expect(err.message).toContain("Azure ML did not answer jobs.get within 0.3 s");
  });

  it("fails a call whose token request never gets an answer the same way, naming the credential", async () => {
    const fresh = new DefaultAzureCredential({ tlsOptions: { ca: fake.ca }, disableInstanceDiscovery: true });
    fake.cloud.failNext(
      (r) => r.path.endsWith("/oauth2/v2.0/token"),
      { hang: true },
      Number.POSITIVE_INFINITY,
    );
    try {
      const job = backendJob("azure-ml", azureExample);
      const err = (await hanging(fresh)
        .poll(job)
        .catch((e: unknown) => e)) as BackendError;
      expect(err).toMatchObject({ status: 504, code: "cloud_timeout", retryable: true });
      expect(err.message).toContain("DefaultAzureCredential obtains a token");
    } finally {
      fake.cloud.heal();
    }
  });
});
