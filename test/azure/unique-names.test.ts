import { describe, expect, it } from "vitest";
import { TrainingPlatform } from "../../src/azure";
import { azureComputed } from "../helpers/azure-computed";
import { installPulumiMocks } from "../helpers/pulumi-mocks";

// Under Pulumi's mock runtime: each deployment below installs the runtime afresh, as a new `pulumi up`
// of a new state would run. The mock draws each NameSuffix with the real provider's function (see
// azureComputed), so this proves which names the components derive from the suffix; that the suffix
// is kept across updates is proven against the real provider host in name-suffix.test.ts.

/** Names Azure holds across all tenants, or keeps for days after deletion. */
const HELD_NAMES: Record<string, string> = {
  "azure-native:storage:StorageAccount": "accountName",
  "azure-native:containerregistry:Registry": "registryName",
  "azure-native:keyvault:Vault": "vaultName",
  "azure-native:machinelearningservices:Workspace": "workspaceName",
};

/** Deploys the README's example platform as `project`/`stack` and returns its held names by resource. */
async function deploy(project: string, stack: string) {
  const mocks = await installPulumiMocks({
    project,
    stack,
    computed: azureComputed,
    config: { "azure-native:tenantId": "tenant-0000" },
  });
  new TrainingPlatform("ml", {
    resourceGroupName: "ml-rg",
    location: "westeurope",
    api: { image: "ghcr.io/acme/trainkit:0.1.0", apiKeys: { tk_live_0123456789abcdef: ["team-a"] } },
  });
  await mocks.settle();
  return Object.fromEntries(
    mocks.resources
      .filter((r) => HELD_NAMES[r.type] !== undefined)
      .map((r) => [`${r.type}::${r.name}`, r.inputs[HELD_NAMES[r.type]!] as string]),
  );
}

describe("globally unique and soft-deleted names", () => {
  it("share nothing between two teams running the same program as stack dev", async () => {
    const first = await deploy("trainkit-azure-example", "dev");
    const second = await deploy("trainkit-azure-example", "dev");
    expect(Object.keys(first).length).toBe(7);
    expect(Object.keys(second)).toEqual(Object.keys(first));
    const shared = Object.values(first).filter((n) => Object.values(second).includes(n));
    expect(shared).toEqual([]);
  });

  it("share nothing between two projects", async () => {
    const a = await deploy("team-a-platform", "prod");
    const b = await deploy("team-b-platform", "prod");
    expect(Object.values(a).filter((n) => Object.values(b).includes(n))).toEqual([]);
  });

  it("are all new after destroy then up of one stack, so no soft-deleted vault or workspace is in the way", async () => {
    const before = await deploy("trainkit-azure-example", "dev");
    // `pulumi destroy` deletes the state, NameSuffix included; the next `pulumi up` draws again.
    const after = await deploy("trainkit-azure-example", "dev");
    for (const [resource, name] of Object.entries(before)) expect(after[resource]).not.toBe(name);
  });

  it("end in one suffix per deployment and stay within Azure's naming rules", async () => {
    const names = await deploy("trainkit-azure-example", "dev");
    const suffixes = new Set(Object.values(names).map((n) => n.slice(-8)));
    expect(suffixes.size).toBe(1);
    for (const [resource, name] of Object.entries(names)) {
      if (resource.includes(":StorageAccount::")) expect(name).toMatch(/^[a-z0-9]{3,24}$/);
      if (resource.includes(":Registry::")) expect(name).toMatch(/^[a-zA-Z0-9]{5,50}$/);
      if (resource.includes(":Vault::")) expect(name).toMatch(/^[a-z](?!.*--)[a-z0-9-]{1,22}[a-z0-9]$/);
      if (resource.includes(":Workspace::")) expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/);
    }
  });
});
