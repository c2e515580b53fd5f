import { beforeAll, describe, expect, it } from "vitest";
import { Bucket, GpuCluster, Registry, TrainingApi, TrainingPlatform } from "../../src/azure";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { azureComputed } from "../helpers/azure-computed";
import { expectEveryRuleKept, violationsOver } from "../helpers/policy-harness";
import { installPulumiMocks, type MockRuntime } from "../helpers/pulumi-mocks";

// trainkit's own Azure components held to the policy pack: the inputs of every resource a TrainingPlatform
// with an Azure ML GPU cluster registers (Pulumi's mock runtime, no cloud), run through every rule.

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({
    computed: azureComputed,
    config: { "azure-native:tenantId": "tenant-0000" },
  });
});

describe("the Azure components under the policy pack", () => {
  it("keep every rule", async () => {
    new TrainingPlatform("ml", {
      resourceGroupName: "ml-rg",
      api: { image: "ghcr.io/acme/trainkit:0.1.0", apiKeys: { tk_live_0123456789abcdef: ["team-a"] } },
      cluster: { gpuPools: [{ name: "gpu", gpu: "nvidia-a100-80gb", maxNodes: 1 }] },
    });
    await mocks.settle();
    for (const type of [
      "azure-native:machinelearningservices:Compute",
      "azure-native:storage:StorageAccount",
      "azure-native:containerregistry:Registry",
    ]) {
      expect(
        mocks.resources.some((r) => r.type === type),
        type,
      ).toBe(true);
    }
    expect(violationsOver(TRAINKIT_POLICIES, mocks.resources)).toEqual([]);
  });

  it("keep every rule with each component's fewest arguments", async () => {
    const resourceGroupName = "min-rg";
    const image = "ghcr.io/acme/trainkit:0.1.0";
    const apiKeys = { tk_live_0123456789abcdef: ["team-a"] };
    const sub = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/min-rg/providers";
    new TrainingPlatform("min", { resourceGroupName, api: { image, apiKeys } });
    new GpuCluster("mincluster", { resourceGroupName });
    new Registry("minimages", { resourceGroupName });
    new Bucket("mindata", { resourceGroupName });
    new TrainingApi("minapi", {
      resourceGroupName,
      image: "acmeimages.azurecr.io/trainkit:0.1.0",
      workspaceId: `${sub}/Microsoft.MachineLearningServices/workspaces/ml-ws`,
      registryId: `${sub}/Microsoft.ContainerRegistry/registries/acmeimages`,
      registryServer: "acmeimages.azurecr.io",
      apiKeys,
    });
    await mocks.settle();
    const mine = mocks.resources.filter((r) => r.name.startsWith("min"));
    // No TrainingJob or GPU Job is among the components, so the one advisory rule has nothing to say.
    expectEveryRuleKept(TRAINKIT_POLICIES, mine, [
      "azure-native:machinelearningservices:Workspace",
      "azure-native:storage:StorageAccount",
      "azure-native:containerregistry:Registry",
      "azure-native:app:ContainerApp",
    ]);
  });
});
