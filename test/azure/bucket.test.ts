import { beforeAll, describe, expect, it } from "vitest";
import { Bucket, type BucketArgs } from "../../src/azure";
import { azureComputed, MOCK_SUBSCRIPTION } from "../helpers/azure-computed";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const ACCOUNT = "azure-native:storage:StorageAccount";
const BLOB_SERVICE = "azure-native:storage:BlobServiceProperties";
const CONTAINER = "azure-native:storage:BlobContainer";
const POLICY = "azure-native:storage:ManagementPolicy";
const DATASTORE = "azure-native:machinelearningservices:Datastore";

const args: BucketArgs = { resourceGroupName: "ml-rg", location: "westeurope" };

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: azureComputed });
});

async function build(name: string, extra: Partial<BucketArgs> = {}) {
  const bucket = new Bucket(name, { ...args, ...extra });
  await mocks.settle();
  return bucket;
}

describe("Bucket", () => {
  it("makes a storage account with no public blob access, no shared keys, TLS 1.2 and HTTPS only", async () => {
    await build("secure");
    expect(mocks.one(ACCOUNT, "secure").inputs).toMatchObject({
      resourceGroupName: "ml-rg",
      location: "westeurope",
      kind: "StorageV2",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      minimumTlsVersion: "TLS1_2",
      enableHttpsTrafficOnly: true,
      allowCrossTenantReplication: false,
      defaultToOAuthAuthentication: true,
    });
  });

  it("turns public network access off and denies by default unless asked", async () => {
    await build("private");
    expect(mocks.one(ACCOUNT, "private").inputs.publicNetworkAccess).toBe("Disabled");
    expect(mocks.one(ACCOUNT, "private").inputs.networkRuleSet).toEqual({
      defaultAction: "Deny",
      bypass: "AzureServices",
    });
  });

  it("opens public network access only when publicNetworkAccess is true", async () => {
    await build("open", { publicNetworkAccess: true });
    expect(mocks.one(ACCOUNT, "open").inputs.publicNetworkAccess).toBe("Enabled");
    expect(mocks.one(ACCOUNT, "open").inputs.allowSharedKeyAccess).toBe(false);
    expect(mocks.one(ACCOUNT, "open").inputs.allowBlobPublicAccess).toBe(false);
  });

  it("keeps blob versions and soft-deletes blobs and containers for 7 days", async () => {
    await build("versions");
    expect(mocks.one(BLOB_SERVICE, "versions").inputs).toMatchObject({
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 7 },
      containerDeleteRetentionPolicy: { enabled: true, days: 7 },
    });
  });

  it("deletes old versions 30 days after they stop being current", async () => {
    await build("lifecycle");
    const [rule] = mocks.one(POLICY, "lifecycle").inputs.policy.rules;
    expect(rule.definition.actions).toEqual({ version: { delete: { daysAfterCreationGreaterThan: 30 } } });
    expect(rule.definition.filters).toEqual({ blobTypes: ["blockBlob"] });
  });

  it("makes a private container named data", async () => {
    const bucket = await build("box");
    expect(mocks.one(CONTAINER, "box").inputs).toMatchObject({ containerName: "data", publicAccess: "None" });
    expect(await outputValue(bucket.url)).toMatch(
      /^https:\/\/box[a-z0-9]{8}\.blob\.core\.windows\.net\/data$/,
    );
  });

  it("registers an identity-based Azure ML datastore and outputs its azureml:// URL when asked", async () => {
    const bucket = await build("ds", { containerName: "train-data", datastore: { workspaceName: "ws" } });
    const inputs = mocks.one(DATASTORE, "ds").inputs;
    expect(inputs).toMatchObject({ resourceGroupName: "ml-rg", workspaceName: "ws", name: "train_data" });
    expect(inputs.properties).toMatchObject({
      datastoreType: "AzureBlob",
      containerName: "train-data",
      credentials: { credentialsType: "None" },
      serviceDataAccessAuthIdentity: "WorkspaceSystemAssignedIdentity",
      subscriptionId: MOCK_SUBSCRIPTION,
      resourceGroup: "ml-rg",
    });
    expect(await outputValue(bucket.datastoreUrl!)).toBe("azureml://datastores/train_data/paths/");
  });

  it("names the account after the component plus the suffix it draws and keeps in state", async () => {
    await build("named");
    const suffix = mocks.one("pulumi-nodejs:dynamic/trainkit:NameSuffix", "named-suffix");
    expect(suffix.inputs.length).toBe(8);
    expect(mocks.one(ACCOUNT, "named").inputs.accountName).toMatch(/^named[a-z0-9]{8}$/);
  });

  it("uses a given suffix instead of drawing one, and refuses one Azure names cannot end in", async () => {
    await build("pinned", { nameSuffix: "k3v9" });
    expect(mocks.one(ACCOUNT, "pinned").inputs.accountName).toBe("pinnedk3v9");
    expect(mocks.ofType("pulumi-nodejs:dynamic/trainkit:NameSuffix").map((r) => r.name)).not.toContain(
      "pinned-suffix",
    );
    expect(() => new Bucket("badsuffix", { ...args, nameSuffix: "Not-Ok" })).toThrow(
      "Bucket badsuffix: nameSuffix must be 4 to 16 lowercase letters or digits; got Not-Ok",
    );
  });

  it("locks the account against deletion and leaves it and its container in Azure on pulumi destroy", async () => {
    const bucket = await build("guarded");
    const lock = mocks.one("azure-native:authorization:ManagementLockByScope", "guarded-lock").inputs;
    expect(lock.level).toBe("CanNotDelete");
    expect(lock.scope).toBe(await outputValue(bucket.accountId));
    const kept = mocks.resources
      .filter((r) => r.name === "guarded" && r.custom)
      .map((r) => [r.type, r.retainOnDelete]);
    expect(kept.sort()).toEqual(
      [
        [ACCOUNT, true],
        ["azure-native:storage:BlobServiceProperties", true],
        [CONTAINER, true],
        ["azure-native:storage:ManagementPolicy", true],
      ].sort(),
    );
  });

  it("deletes with its data on pulumi destroy, and has no lock, only with forceDestroy", async () => {
    await build("scratch", { forceDestroy: true });
    expect(mocks.ofType("azure-native:authorization:ManagementLockByScope").map((r) => r.name)).not.toContain(
      "scratch-lock",
    );
    expect(mocks.one(ACCOUNT, "scratch").retainOnDelete).toBe(false);
    expect(mocks.one(CONTAINER, "scratch").retainOnDelete).toBe(false);
  });

  it("rejects an account name Azure would refuse, naming the field and the rule", () => {
    expect(() => new Bucket("bad", { ...args, accountName: "Has-Dashes" })).toThrow(
      "Bucket bad: accountName must be 3 to 24 lowercase letters or digits; got Has-Dashes",
    );
  });

  it("rejects a datastore name with dashes", () => {
    expect(
      () => new Bucket("dsbad", { ...args, datastore: { workspaceName: "ws", name: "my-data" } }),
    ).toThrow("Bucket dsbad: datastore.name must be letters, digits or underscores; got my-data");
  });

  it("refuses a missing resource group", () => {
    expect(() => new Bucket("norg", {} as BucketArgs)).toThrow(
      "Bucket norg: resourceGroupName must be set to the resource group to create it in; got nothing",
    );
  });
});
