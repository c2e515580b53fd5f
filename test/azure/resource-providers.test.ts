import { describe, expect, it } from "vitest";
import { AZURE_RESOURCE_PROVIDERS, REGISTER_PROVIDERS_COMMAND, TrainingPlatform } from "../../src/azure";
import { azureComputed } from "../helpers/azure-computed";
import { installPulumiMocks } from "../helpers/pulumi-mocks";

// Under Pulumi's mock runtime: which azure-native modules the platform registers resources of, and so
// which resource providers a fresh subscription must be registered for.

/** The ARM namespace of each azure-native module (the module's own `Microsoft.*` types). */
const NAMESPACE_OF_MODULE: Record<string, string> = {
  app: "Microsoft.App",
  applicationinsights: "Microsoft.Insights",
  authorization: "Microsoft.Authorization",
  containerregistry: "Microsoft.ContainerRegistry",
  keyvault: "Microsoft.KeyVault",
  machinelearningservices: "Microsoft.MachineLearningServices",
  managedidentity: "Microsoft.ManagedIdentity",
  monitor: "Microsoft.Insights",
  network: "Microsoft.Network",
  operationalinsights: "Microsoft.OperationalInsights",
  privatedns: "Microsoft.Network",
  storage: "Microsoft.Storage",
};
/** Registered in every subscription from the start. */
const ALWAYS_REGISTERED = ["Microsoft.Authorization", "Microsoft.Resources"];

describe("the resource providers the platform needs", () => {
  it("are exactly the namespaces of every resource it deploys, besides those always registered", async () => {
    const mocks = await installPulumiMocks({
      computed: azureComputed,
      config: { "azure-native:tenantId": "tenant-0000" },
    });
    new TrainingPlatform("rp", {
      resourceGroupName: "ml-rg",
      api: { image: "ghcr.io/acme/trainkit:0.1.0", apiKeys: { tk_live_0123456789abcdef: ["team-a"] } },
      cluster: { gpuPools: [{ name: "gpu", gpu: "nvidia-a100-80gb", maxNodes: 1 }] },
    });
    await mocks.settle();
    const modules = new Set(
      mocks.resources.filter((r) => r.type.startsWith("azure-native:")).map((r) => r.type.split(":")[1]!),
    );
    for (const module of modules) expect(NAMESPACE_OF_MODULE).toHaveProperty(module);
    const needed = new Set([...modules].map((m) => NAMESPACE_OF_MODULE[m]!));
    for (const ns of ALWAYS_REGISTERED) needed.delete(ns);
    expect([...needed].sort()).toEqual([...AZURE_RESOURCE_PROVIDERS].sort());
  });

  it("are registered, each and all, by the command the README gives", () => {
    for (const ns of AZURE_RESOURCE_PROVIDERS) expect(REGISTER_PROVIDERS_COMMAND).toContain(` ${ns}`);
    expect(REGISTER_PROVIDERS_COMMAND).toContain('az provider register --namespace "$ns" --wait');
  });
});
