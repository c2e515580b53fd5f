import { beforeAll, describe, expect, it } from "vitest";
import { TrainingPlatform } from "../../src/azure";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { azureComputed } from "../helpers/azure-computed";
import { violationsOver } from "../helpers/policy-harness";
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
});
