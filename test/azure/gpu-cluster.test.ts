import { beforeAll, describe, expect, it } from "vitest";
import { GpuCluster, type GpuClusterArgs } from "../../src/azure";
import { armId, azureComputed } from "../helpers/azure-computed";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const WORKSPACE = "azure-native:machinelearningservices:Workspace";
const COMPUTE = "azure-native:machinelearningservices:Compute";
const VAULT = "azure-native:keyvault:Vault";
const ACCOUNT = "azure-native:storage:StorageAccount";
const INSIGHTS = "azure-native:applicationinsights:Component";
const RULE = "azure-native:machinelearningservices:ManagedNetworkSettingsRule";
const ROLE = "azure-native:authorization:RoleAssignment";
const ACR = armId("ml-rg", "Microsoft.ContainerRegistry", "registries", "acmeimages");
const SA = armId("ml-rg", "Microsoft.Storage", "storageAccounts", "acmedata");
const APPROVER = "b556d68e-0be0-4f35-a333-ad7ee1ce17ea";

const args: GpuClusterArgs = { resourceGroupName: "ml-rg", location: "westeurope" };

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({
    computed: azureComputed,
    config: { "azure-native:tenantId": "tenant-0000" },
  });
});

async function build(name: string, extra: Partial<GpuClusterArgs> = {}) {
  const cluster = new GpuCluster(name, { ...args, ...extra });
  await mocks.settle();
  return cluster;
}

describe("GpuCluster", () => {
  it("makes a private workspace with a system-assigned identity and identity-based datastores", async () => {
    await build("ws");
    expect(mocks.one(WORKSPACE, "ws").inputs).toMatchObject({
      resourceGroupName: "ml-rg",
      identity: { type: "SystemAssigned" },
      publicNetworkAccess: "Disabled",
      allowPublicAccessWhenBehindVnet: false,
      systemDatastoresAuthMode: "Identity",
      managedNetwork: { isolationMode: "AllowInternetOutbound" },
      serverlessComputeSettings: { serverlessComputeNoPublicIP: true },
    });
  });

  it("creates the Key Vault, storage account and Application Insights the workspace requires, all private", async () => {
    await build("deps");
    const ws = mocks.one(WORKSPACE, "deps").inputs;
    const vault = mocks.one(VAULT, "deps-kv").inputs;
    const account = mocks.one(ACCOUNT, "deps-ws").inputs;
    expect(ws.keyVault).toBe(
      `/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/ml-rg/providers/Microsoft.KeyVault/vaults/${vault.vaultName}`,
    );
    expect(ws.storageAccount).toMatch(new RegExp(`/storageAccounts/${account.accountName}$`));
    expect(ws.applicationInsights).toMatch(/\/components\/deps-insights-[0-9a-f]{6}$/);
    expect(vault.properties).toMatchObject({
      tenantId: "tenant-0000",
      enableRbacAuthorization: true,
      enablePurgeProtection: true,
      publicNetworkAccess: "Disabled",
    });
    expect(account).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      publicNetworkAccess: "Disabled",
    });
    expect(mocks.one(INSIGHTS, "deps-insights").inputs).toMatchObject({
      ingestionMode: "LogAnalytics",
      disableLocalAuth: true,
    });
  });

  it("uses given dependent resources instead of creating them", async () => {
    await build("given", {
      keyVaultId: "/kv/id",
      storageAccountId: "/sa/id",
      applicationInsightsId: "/ai/id",
      logAnalyticsWorkspaceId: "/logs/id",
    });
    expect(mocks.one(WORKSPACE, "given").inputs).toMatchObject({
      keyVault: "/kv/id",
      storageAccount: "/sa/id",
      applicationInsights: "/ai/id",
    });
    // Only the suffix of the workspace's own name and the diagnostics sent to the given workspace are made.
    expect(mocks.resources.filter((r) => r.name.startsWith("given-")).map((r) => r.type)).toEqual([
      "pulumi-nodejs:dynamic/trainkit:NameSuffix",
      "azure-native:monitor:DiagnosticSetting",
    ]);
    expect(mocks.one("azure-native:monitor:DiagnosticSetting", "given-diagnostics").inputs.workspaceId).toBe(
      "/logs/id",
    );
  });

  it("makes one GPU cluster per pool with min 0 nodes, no public IPs, no SSH and local auth off", async () => {
    const cluster = await build("gpu", {
      gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-a100-80gb", maxNodes: 4 }],
    });
    const compute = mocks.one(COMPUTE, "gpu-gpu-cluster").inputs;
    expect(compute.computeName).toBe("gpu-cluster");
    expect(compute.identity).toEqual({ type: "SystemAssigned" });
    expect(compute.properties).toMatchObject({ computeType: "AmlCompute", disableLocalAuth: true });
    expect(compute.properties.properties).toEqual({
      vmSize: "Standard_NC24ads_A100_v4",
      vmPriority: "Dedicated",
      osType: "Linux",
      scaleSettings: { minNodeCount: 0, maxNodeCount: 4, nodeIdleTimeBeforeScaleDown: "PT120S" },
      enableNodePublicIp: false,
      remoteLoginPortPublicAccess: "Disabled",
    });
    expect(cluster.computeNames).toEqual({ "gpu-cluster": "gpu-cluster" });
  });

  it("runs spot pools as LowPriority VMs", async () => {
    await build("spot", { gpuPools: [{ name: "t4", gpu: "nvidia-t4", maxNodes: 2, spot: true }] });
    expect(mocks.one(COMPUTE, "spot-t4").inputs.properties.properties.vmPriority).toBe("LowPriority");
  });

  it("picks the VM size from the GPU count and shortens long default names to Azure's 16 characters", async () => {
    const cluster = await build("shape", {
      gpuPools: [{ gpu: "nvidia-h100-nvl-94gb", gpusPerNode: 2, maxNodes: 1 }],
    });
    const compute = mocks.one(COMPUTE, "shape-nvidia-h100-nvl-94gb-x2").inputs;
    expect(compute.properties.properties.vmSize).toBe("Standard_NC80adis_H100_v5");
    expect(compute.computeName.length).toBeLessThanOrEqual(16);
    expect(cluster.computeNames["nvidia-h100-nvl-94gb-x2"]).toBe(compute.computeName);
  });

  it("outputs the workspace name and id and each cluster's identity", async () => {
    const cluster = await build("outs", {
      workspaceName: "acme-ml",
      gpuPools: [{ name: "a100", gpu: "nvidia-a100-80gb", maxNodes: 1 }],
    });
    expect(await outputValue(cluster.workspaceName)).toBe("acme-ml");
    expect(await outputValue(cluster.workspaceId)).toMatch(
      /\/resourceGroups\/ml-rg\/providers\/Microsoft.MachineLearningServices\/workspaces\/acme-ml$/,
    );
    expect(await outputValue(cluster.computePrincipalIds.a100!)).toBe("principal-of-outs-a100");
  });

  it("adds private endpoints from the managed network to the registry and the given storage accounts", async () => {
    await build("pe", { containerRegistryId: ACR, privateStorageAccountIds: [SA] });
    expect(mocks.one(RULE, "pe-registry").inputs).toMatchObject({
      ruleName: "trainkit-registry",
      properties: {
        type: "PrivateEndpoint",
        destination: { serviceResourceId: ACR, subresourceTarget: "registry" },
      },
    });
    expect(mocks.one(RULE, "pe-storage-0").inputs.properties.destination).toEqual({
      serviceResourceId: SA,
      subresourceTarget: "blob",
    });
  });

  it("lets the workspace identity approve each private endpoint on its target only, before the rule exists", async () => {
    await build("ap", { containerRegistryId: ACR, privateStorageAccountIds: [SA] });
    const grants = mocks
      .ofType(ROLE)
      .filter((r) => r.name.startsWith("ap-"))
      .map((r) => [r.name, r.inputs.principalId, r.inputs.roleDefinitionId, r.inputs.scope]);
    const approver = `/subscriptions/00000000-1111-2222-3333-444444444444/providers/Microsoft.Authorization/roleDefinitions/${APPROVER}`;
    expect(grants.sort()).toEqual(
      [
        ["ap-registry-approver", "principal-of-ap", approver, ACR],
        ["ap-storage-0-approver", "principal-of-ap", approver, SA],
      ].sort(),
    );
    expect(mocks.one(RULE, "ap-registry").dependsOn).toContain(`${ROLE}::ap-registry-approver`);
    expect(mocks.one(RULE, "ap-storage-0").dependsOn).toContain(`${ROLE}::ap-storage-0-approver`);
  });

  it("sends every log category of the workspace to its Log Analytics workspace", async () => {
    const cluster = await build("diag");
    const setting = mocks.one("azure-native:monitor:DiagnosticSetting", "diag-diagnostics").inputs;
    expect(setting.resourceUri).toBe(await outputValue(cluster.workspaceId));
    expect(setting.workspaceId).toBe(await outputValue(cluster.logAnalyticsWorkspaceId));
    expect(setting.workspaceId).toMatch(/\/Microsoft.OperationalInsights\/workspaces\/diag-logs-/);
    expect(setting.logs).toEqual([{ categoryGroup: "allLogs", enabled: true }]);
  });

  it("attaches the jobs' identity to the workspace and every compute cluster, beside their own", async () => {
    const jobs = armId("ml-rg", "Microsoft.ManagedIdentity", "userAssignedIdentities", "jobs");
    await build("ji", {
      jobIdentityId: jobs,
      gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-a100-80gb", maxNodes: 1 }],
    });
    const attached = { type: "SystemAssigned,UserAssigned", userAssignedIdentities: [jobs] };
    expect(mocks.one(WORKSPACE, "ji").inputs.identity).toEqual(attached);
    expect(mocks.one(COMPUTE, "ji-gpu-cluster").inputs.identity).toEqual(attached);
  });

  it("opens the workspace and its dependencies to the internet only when publicNetworkAccess is true", async () => {
    await build("open", { publicNetworkAccess: true });
    expect(mocks.one(WORKSPACE, "open").inputs.publicNetworkAccess).toBe("Enabled");
    expect(mocks.one(VAULT, "open-kv").inputs.properties.publicNetworkAccess).toBe("Enabled");
  });

  it("refuses a job identity that is not a user-assigned identity's ARM id", () => {
    expect(
      () => new GpuCluster("badid", { ...args, jobIdentityId: "7b6f2a1c-3d4e-4f50-9a8b-0c1d2e3f4a5b" }),
    ).toThrow(
      "GpuCluster badid: jobIdentityId must be the ARM id of a user-assigned managed identity (.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>); got 7b6f2a1c-3d4e-4f50-9a8b-0c1d2e3f4a5b",
    );
  });

  it("says Azure has no L4 and lists the GPUs it has", () => {
    expect(() => new GpuCluster("l4", { ...args, gpuPools: [{ gpu: "nvidia-l4", maxNodes: 1 }] })).toThrow(
      "gpuPools[0].gpu nvidia-l4 is not offered on Azure (Azure has no VM size with an L4); choose one of nvidia-t4, nvidia-a100-40gb, nvidia-a100-80gb, nvidia-h100-80gb, nvidia-h100-nvl-94gb, nvidia-h200-141gb, nvidia-a10 or nvidia-gb200",
    );
  });

  it("rejects a GPU count Azure does not sell, listing the counts it does", () => {
    expect(
      () =>
        new GpuCluster("t4x2", { ...args, gpuPools: [{ gpu: "nvidia-t4", gpusPerNode: 2, maxNodes: 1 }] }),
    ).toThrow("gpuPools[0].gpusPerNode must be 1 or 4 for nvidia-t4 on Azure; got 2");
  });

  it("rejects a VM size that does not carry the pool's GPUs", () => {
    expect(
      () =>
        new GpuCluster("vm", {
          ...args,
          gpuPools: [{ gpu: "nvidia-t4", maxNodes: 1, vmSize: "Standard_NC64as_T4_v3" }],
        }),
    ).toThrow(
      "gpuPools[0].vmSize must be one of Standard_NC8as_T4_v3, Standard_NC4as_T4_v3 or Standard_NC16as_T4_v3 for 1 nvidia-t4 per node on Azure; got Standard_NC64as_T4_v3 (Standard_NC64as_T4_v3 goes with 4, so set gpuPools[0].gpusPerNode to 4 or pick another type)",
    );
  });

  it("rejects a pool name longer than Azure ML allows for a compute", () => {
    expect(
      () =>
        new GpuCluster("long", {
          ...args,
          gpuPools: [{ name: "a-very-long-pool-name", gpu: "nvidia-t4", maxNodes: 1 }],
        }),
    ).toThrow(
      "GpuCluster long: gpuPools[0].name must be at most 16 characters, the limit of Azure ML compute names; got a-very-long-pool-name (21)",
    );
  });

  it("rejects Kubernetes-only pool fields", () => {
    expect(
      () =>
        new GpuCluster("zones", {
          ...args,
          gpuPools: [{ gpu: "nvidia-t4", maxNodes: 1, zones: ["1"] } as never],
        }),
    ).toThrow(
      "GpuCluster zones: gpuPools[0].zones has no meaning for an Azure ML compute cluster; remove it",
    );
  });
});
