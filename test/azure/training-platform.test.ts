import { beforeAll, describe, expect, it } from "vitest";
import { AZURE_ROLES, TrainingPlatform, type TrainingPlatformArgs } from "../../src/azure";
import { azureComputed } from "../helpers/azure-computed";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const ROLE = "azure-native:authorization:RoleAssignment";
const APP = "azure-native:app:ContainerApp";
const RULE = "azure-native:machinelearningservices:ManagedNetworkSettingsRule";

const args: TrainingPlatformArgs = {
  resourceGroupName: "ml-rg",
  location: "westeurope",
  api: {
    image: "bootstrap.azurecr.io/trainkit:0.1.0",
    apiKeys: { tk_live_0123456789abcdef: ["team-vision"] },
  },
  registry: { registryName: "acmeimages" },
  dataBucket: { accountName: "acmedata" },
  outputBucket: { accountName: "acmeoutput" },
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({
    computed: azureComputed,
    config: { "azure-native:tenantId": "tenant-0000" },
  });
});

async function build(name: string, extra: Partial<TrainingPlatformArgs> = {}) {
  const platform = new TrainingPlatform(name, { ...args, ...extra });
  await mocks.settle();
  return platform;
}

const roleName = (definitionId: string) =>
  Object.entries(AZURE_ROLES).find(([, guid]) => definitionId.endsWith(`/${guid}`))?.[0];
const last = (id: string) => id.split("/").pop();

describe("TrainingPlatform", () => {
  it("composes a registry, two buckets, the Azure ML workspace and the API", async () => {
    await build("ml");
    const components = mocks.resources
      .filter((r) => !r.custom && r.name.startsWith("ml-"))
      .map((r) => [r.type, r.name, r.parentType]);
    expect(components.sort()).toEqual(
      [
        ["trainkit:azure:Registry", "ml-images", "trainkit:azure:TrainingPlatform"],
        ["trainkit:azure:Bucket", "ml-data", "trainkit:azure:TrainingPlatform"],
        ["trainkit:azure:Bucket", "ml-output", "trainkit:azure:TrainingPlatform"],
        ["trainkit:azure:GpuCluster", "ml-ml", "trainkit:azure:TrainingPlatform"],
        ["trainkit:azure:TrainingApi", "ml-api", "trainkit:azure:TrainingPlatform"],
      ].sort(),
    );
  });

  it("grants every identity exactly its roles, each on one resource: jobs, workspace, clusters, endpoint approvals", async () => {
    await build("jobs", {
      cluster: { gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-a100-80gb", maxNodes: 2 }] },
    });
    const grants = mocks
      .ofType(ROLE)
      .filter((r) => r.name.startsWith("jobs-") && r.inputs.principalId !== "principal-of-jobs-api-identity")
      .map((r) => [r.inputs.principalId, roleName(r.inputs.roleDefinitionId), last(r.inputs.scope)]);
    const jobs = "principal-of-jobs-jobs";
    const workspace = "principal-of-jobs-ml";
    const cluster = "principal-of-jobs-ml-gpu-cluster";
    const approver = "Azure AI Enterprise Network Connection Approver";
    expect(grants.sort()).toEqual(
      [
        // The identity every job runs as: its data and outputs, nothing else.
        [jobs, "Storage Blob Data Reader", "acmedata"],
        [jobs, "Storage Blob Data Contributor", "acmeoutput"],
        // The workspace: approving the managed network's endpoints on their targets, reading the buckets
        // for studio's datastore views, pulling images for serverless jobs.
        [workspace, approver, "acmedata"],
        [workspace, approver, "acmeoutput"],
        [workspace, approver, "acmeimages"],
        [workspace, "Storage Blob Data Reader", "acmedata"],
        [workspace, "Storage Blob Data Reader", "acmeoutput"],
        [workspace, "AcrPull", "acmeimages"],
        // Each compute cluster: pulling images.
        [cluster, "AcrPull", "acmeimages"],
      ].sort(),
    );
  });

  it("makes one identity for jobs, attaches it to the workspace and clusters, and tells the API its client id", async () => {
    const platform = await build("uai", {
      cluster: { gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-a100-80gb", maxNodes: 2 }] },
    });
    const identity = mocks.one("azure-native:managedidentity:UserAssignedIdentity", "uai-jobs").inputs;
    expect(identity.resourceGroupName).toBe("ml-rg");
    const jobsId = await outputValue(platform.outputs.jobIdentityId);
    expect(jobsId).toMatch(/\/userAssignedIdentities\/uai-jobs$/);
    const attached = { type: "SystemAssigned,UserAssigned", userAssignedIdentities: [jobsId] };
    expect(mocks.one("azure-native:machinelearningservices:Workspace", "uai-ml").inputs.identity).toEqual(
      attached,
    );
    expect(
      mocks.one("azure-native:machinelearningservices:Compute", "uai-ml-gpu-cluster").inputs.identity,
    ).toEqual(attached);
    const env = mocks.one(APP, "uai-api").inputs.template.containers[0].env;
    expect(env).toContainEqual({
      name: "TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID",
      value: "client-of-uai-jobs",
    });
    expect(await outputValue(platform.outputs.jobIdentityClientId)).toBe("client-of-uai-jobs");
  });

  it("gives the API identity only its own three roles", async () => {
    await build("apionly");
    const grants = mocks
      .ofType(ROLE)
      .filter((r) => r.inputs.principalId === "principal-of-apionly-api-identity")
      .map((r) => roleName(r.inputs.roleDefinitionId));
    expect(grants.sort()).toEqual(["AcrPull", "AzureML Data Scientist", "Key Vault Secrets User"]);
  });

  it("registers the buckets as the traindata and trainoutput datastores and reaches them privately", async () => {
    const platform = await build("ds");
    expect(await outputValue(platform.outputs.dataBucketUrl)).toBe("azureml://datastores/traindata/paths/");
    expect(await outputValue(platform.outputs.outputBucketUrl)).toBe(
      "azureml://datastores/trainoutput/paths/",
    );
    expect(
      mocks
        .ofType(RULE)
        .filter((r) => r.name.startsWith("ds-"))
        .map((r) => [r.inputs.ruleName, last(r.inputs.properties.destination.serviceResourceId)])
        .sort(),
    ).toEqual(
      [
        ["trainkit-data", "acmedata"],
        ["trainkit-output", "acmeoutput"],
        ["trainkit-registry", "acmeimages"],
      ].sort(),
    );
  });

  it("points the API at the platform's workspace and pulls through the platform's registry", async () => {
    await build("wire");
    const app = mocks.one(APP, "wire-api").inputs;
    const env = Object.fromEntries(
      app.template.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env.TRAINKIT_AZUREML_RESOURCE_GROUP).toBe("ml-rg");
    expect(env.TRAINKIT_AZUREML_WORKSPACE).toMatch(/^wire-ml-[a-z0-9]{8}$/);
    expect(app.configuration.registries[0].server).toBe("acmeimages.azurecr.io");
  });

  it("keeps the API's logs and the workspace's diagnostics in one Log Analytics workspace", async () => {
    await build("onelog");
    const logs = mocks
      .ofType("azure-native:operationalinsights:Workspace")
      .filter((r) => r.name.startsWith("onelog-"));
    expect(logs.map((r) => r.name)).toEqual(["onelog-ml-logs"]);
    const settings = mocks
      .ofType("azure-native:monitor:DiagnosticSetting")
      .filter((r) => r.name.startsWith("onelog-"));
    expect(settings.map((r) => [r.name, last(r.inputs.workspaceId)]).sort()).toEqual(
      [
        ["onelog-api-env-logs", logs[0]!.inputs.workspaceName],
        ["onelog-ml-diagnostics", logs[0]!.inputs.workspaceName],
      ].sort(),
    );
  });

  it("outputs what a TrainingJob or another stack needs", async () => {
    const platform = await build("out", {
      cluster: { gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-t4", maxNodes: 1 }] },
    });
    const o = platform.outputs;
    expect({
      resourceGroupName: await outputValue(o.resourceGroupName),
      registryUrl: await outputValue(o.registryUrl),
      computeNames: await outputValue(o.computeNames),
    }).toEqual({
      resourceGroupName: "ml-rg",
      registryUrl: "acmeimages.azurecr.io",
      computeNames: { "gpu-cluster": "gpu-cluster" },
    });
    expect(await outputValue(o.apiUrl)).toMatch(
      /^https:\/\/out-api-[0-9a-f]{6}\.mock\.azurecontainerapps\.io$/,
    );
    expect(await outputValue(o.workspaceId)).toMatch(/\/workspaces\/out-ml-[a-z0-9]{8}$/);
  });

  it("passes opening-up choices through to its parts", async () => {
    await build("loose", {
      dataBucket: { accountName: "acmescratch", publicNetworkAccess: true },
      api: { ...args.api, public: true },
    });
    expect(mocks.one("azure-native:storage:StorageAccount", "loose-data").inputs.publicNetworkAccess).toBe(
      "Enabled",
    );
    expect(mocks.one("azure-native:storage:StorageAccount", "loose-output").inputs.publicNetworkAccess).toBe(
      "Disabled",
    );
    expect(mocks.one(APP, "loose-api").inputs.configuration.ingress.external).toBe(true);
  });
});
