import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { TrainingPlatform } from "../../src/azure";
import { azureComputed } from "../helpers/azure-computed";
import { published } from "../helpers/published";
import { installPulumiMocks, type RegisteredResource } from "../helpers/pulumi-mocks";

// Component inputs against the azure-native provider schema (an excerpt of @pulumi/azure-native 3.x's
// generated types, kept under test/fixtures/published/azure-native): every property the platform sets
// exists, every required one is set, and the enum values it uses are the provider's.

interface Schema {
  resources: Record<string, { file: string; args: string; properties: string[]; required: string[] }>;
  inputs: Record<string, string[]>;
  enums: Record<string, string[]>;
  docs: Record<string, string>;
}
const SCHEMA = published<Schema>("azure-native/schema-3.28.0.json");
const PACKAGE = path.join(__dirname, "../../node_modules/@pulumi/azure-native");

async function deployPlatform(): Promise<RegisteredResource[]> {
  const mocks = await installPulumiMocks({
    computed: azureComputed,
    config: { "azure-native:tenantId": "tenant-0000" },
  });
  new TrainingPlatform("schema", {
    resourceGroupName: "ml-rg",
    api: { image: "ghcr.io/acme/trainkit:0.1.0", apiKeys: { tk_live_0123456789abcdef: ["team-a"] } },
    cluster: { gpuPools: [{ name: "gpu", gpu: "nvidia-a100-80gb", maxNodes: 1 }] },
  });
  await mocks.settle();
  return mocks.resources.filter((r) => r.type.startsWith("azure-native:"));
}

describe("the azure-native schema excerpt", () => {
  it("still matches the installed @pulumi/azure-native", () => {
    const installed = JSON.parse(readFileSync(path.join(PACKAGE, "package.json"), "utf8")).version as string;
    expect(installed.split(".")[0]).toBe("3");
    for (const { file, args, properties } of Object.values(SCHEMA.resources)) {
      const text = readFileSync(path.join(PACKAGE, file), "utf8");
      const body = text.slice(text.indexOf(`export interface ${args} {`));
      for (const p of properties) expect(body).toMatch(new RegExp(`\\n {4}${p}\\??:`));
    }
  });
});

describe("what the platform registers", () => {
  let resources: RegisteredResource[];
  const get = async () => {
    resources ??= await deployPlatform();
    return resources;
  };
  const inputsOf = async (type: string) => (await get()).filter((r) => r.type === type).map((r) => r.inputs);

  it("is only of resource types in the excerpt, with only their properties and all required ones", async () => {
    for (const r of await get()) {
      const schema = SCHEMA.resources[r.type];
      expect(schema, `${r.type} is in the schema excerpt`).toBeDefined();
      for (const key of Object.keys(r.inputs)) expect(schema!.properties, `${r.type}.${key}`).toContain(key);
      for (const key of schema!.required) expect(r.inputs, `${r.type} ${r.name}`).toHaveProperty(key);
    }
  });

  it("sets only fields the nested input types have", async () => {
    const fieldsOf = (name: string) => SCHEMA.inputs[name]!;
    const within = (value: Record<string, unknown>, type: string) => {
      for (const key of Object.keys(value)) expect(fieldsOf(type), `${type}.${key}`).toContain(key);
    };
    for (const subnet of await inputsOf("azure-native:network:Subnet"))
      for (const d of subnet.delegations ?? []) within(d, "network.DelegationArgs");
    for (const endpoint of await inputsOf("azure-native:network:PrivateEndpoint"))
      for (const c of endpoint.privateLinkServiceConnections)
        within(c, "network.PrivateLinkServiceConnectionArgs");
    for (const group of await inputsOf("azure-native:network:PrivateDnsZoneGroup"))
      for (const c of group.privateDnsZoneConfigs) within(c, "network.PrivateDnsZoneConfigArgs");
    for (const setting of await inputsOf("azure-native:monitor:DiagnosticSetting"))
      for (const l of setting.logs) within(l, "monitor.DiagnosticsLogSettingsArgs");
    for (const env of await inputsOf("azure-native:app:ManagedEnvironment")) {
      within(env.appLogsConfiguration, "app.AppLogsConfigurationArgs");
      within(env.vnetConfiguration, "app.VnetConfigurationArgs");
    }
    for (const type of ["Workspace", "Compute"])
      for (const r of await inputsOf(`azure-native:machinelearningservices:${type}`))
        within(r.identity, "machinelearningservices.ManagedServiceIdentityArgs");
  });

  it("uses the provider's own enum values for identities and locks, and a documented log destination", async () => {
    const identityTypes = SCHEMA.enums["machinelearningservices.ManagedServiceIdentityType"]!;
    for (const type of ["Workspace", "Compute"])
      for (const r of await inputsOf(`azure-native:machinelearningservices:${type}`))
        expect(identityTypes).toContain(r.identity.type);
    // Not registered by the platform run above only when every bucket has forceDestroy.
    for (const lock of await inputsOf("azure-native:authorization:ManagementLockByScope"))
      expect(SCHEMA.enums["authorization.LockLevel"]).toContain(lock.level);
    for (const env of await inputsOf("azure-native:app:ManagedEnvironment"))
      expect(SCHEMA.docs["app.AppLogsConfigurationArgs.destination"]).toContain(
        `'${env.appLogsConfiguration.destination}'`,
      );
  });
});
