import { beforeAll, describe, expect, it } from "vitest";
import { Registry, type RegistryArgs } from "../../src/azure";
import { azureComputed } from "../helpers/azure-computed";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const REGISTRY = "azure-native:containerregistry:Registry";
const args: RegistryArgs = { resourceGroupName: "ml-rg" };

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: azureComputed });
});

async function build(name: string, extra: Partial<RegistryArgs> = {}) {
  const registry = new Registry(name, { ...args, ...extra });
  await mocks.settle();
  return registry;
}

describe("Registry", () => {
  it("is a Premium registry with the admin user and anonymous pull off", async () => {
    await build("images");
    expect(mocks.one(REGISTRY, "images").inputs).toMatchObject({
      sku: { name: "Premium" },
      adminUserEnabled: false,
      anonymousPullEnabled: false,
    });
  });

  it("turns public network access off, lets trusted Azure services through and disables export", async () => {
    await build("private");
    const inputs = mocks.one(REGISTRY, "private").inputs;
    expect(inputs.publicNetworkAccess).toBe("Disabled");
    expect(inputs.networkRuleBypassOptions).toBe("AzureServices");
    expect(inputs.policies.exportPolicy).toEqual({ status: "disabled" });
  });

  it("deletes untagged manifests after 7 days", async () => {
    await build("retain");
    expect(mocks.one(REGISTRY, "retain").inputs.policies.retentionPolicy).toEqual({
      status: "enabled",
      days: 7,
    });
  });

  it("opens public network access only when public is true, keeping the admin user off", async () => {
    await build("open", { public: true });
    const inputs = mocks.one(REGISTRY, "open").inputs;
    expect(inputs.publicNetworkAccess).toBe("Enabled");
    expect(inputs.adminUserEnabled).toBe(false);
  });

  it("outputs the login server as its url", async () => {
    const registry = await build("urlreg", { registryName: "acmeimages" });
    expect(await outputValue(registry.url)).toBe("acmeimages.azurecr.io");
  });

  it("accepts Standard only together with public, without a retention policy", async () => {
    await build("cheap", { sku: "Standard", public: true });
    const inputs = mocks.one(REGISTRY, "cheap").inputs;
    expect(inputs.sku).toEqual({ name: "Standard" });
    expect(inputs.policies).toBeUndefined();
  });

  it("refuses a private Standard registry, saying what to change", () => {
    expect(() => new Registry("std", { ...args, sku: "Standard" })).toThrow(
      "Registry std: sku Standard cannot turn public network access off; set sku to Premium, or set public to true to accept a registry reachable from the internet",
    );
  });

  it("refuses a retention period on Standard", () => {
    expect(
      () => new Registry("stdret", { ...args, sku: "Standard", public: true, untaggedRetentionDays: 3 }),
    ).toThrow(
      "Registry stdret: untaggedRetentionDays needs sku Premium, since Standard registries have no retention policy; got sku Standard",
    );
  });

  it("refuses a registry name with dashes", () => {
    expect(() => new Registry("dash", { ...args, registryName: "my-images" })).toThrow(
      "Registry dash: registryName must be 5 to 50 letters or digits; got my-images",
    );
  });
});
