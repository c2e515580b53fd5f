import { describe, expect, it } from "vitest";
import { TrainingPlatform } from "../../src/azure";
import { azureComputed } from "../helpers/azure-computed";
import { installPulumiMocks } from "../helpers/pulumi-mocks";

// Under Pulumi's mock runtime: each deployment below installs the runtime afresh. Runtimes of one
// generation are updates of one stack's state; another generation is a `pulumi up` from a fresh state
// (the stack after `pulumi destroy`, or another team's stack of the same name). The mocks derive each
// NameSuffix from its URN and the generation (see `nameSuffixComputed`), so this proves which names the
// components derive from the suffix; that the real provider keeps the suffix across updates is proven
// against the real provider host in test/components/name-suffix.test.ts.

/** Names Azure holds across all tenants, or keeps for days after deletion. */
const HELD_NAMES: Record<string, string> = {
  "azure-native:storage:StorageAccount": "accountName",
  "azure-native:containerregistry:Registry": "registryName",
  "azure-native:keyvault:Vault": "vaultName",
  "azure-native:machinelearningservices:Workspace": "workspaceName",
};

/**
 * Deploys the README's example platform as `project`/`stack`, from the state of deployment `generation`,
 * and returns its held names by resource.
 */
async function deploy(project: string, stack: string, generation = 0) {
  const mocks = await installPulumiMocks({
    project,
    stack,
    generation,
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
    // Each team's stack has a state of its own, so each draws its suffixes afresh.
    const first = await deploy("trainkit-azure-example", "dev", 0);
    const second = await deploy("trainkit-azure-example", "dev", 1);
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
    const before = await deploy("trainkit-azure-example", "dev", 0);
    // `pulumi destroy` deletes the state, NameSuffix included; the next `pulumi up` draws again.
    const after = await deploy("trainkit-azure-example", "dev", 1);
    for (const [resource, name] of Object.entries(before)) expect(after[resource]).not.toBe(name);
  });

  it("stay the same on every update of one stack", async () => {
    const first = await deploy("trainkit-azure-example", "dev", 0);
    const update = await deploy("trainkit-azure-example", "dev", 0);
    expect(Object.keys(first).length).toBe(7);
    expect(update).toEqual(first);
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
