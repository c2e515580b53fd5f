import * as authorization from "@pulumi/azure-native/authorization";
import * as machinelearningservices from "@pulumi/azure-native/machinelearningservices";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { suffixedName } from "../components/name-suffix";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import { azureTags, nameSuffixFor, requireResourceGroup, subscriptionOf } from "./settings";

/** Where a `Bucket` is registered as an Azure ML datastore, so jobs can mount it by `azureml://` URI. */
export interface BucketDatastoreArgs {
  /** The resource group of the Azure ML workspace. Defaults to the bucket's resource group. */
  resourceGroupName?: pulumi.Input<string>;
  /** The Azure ML workspace's name (a `GpuCluster`'s `workspaceName`). Required. */
  workspaceName: pulumi.Input<string>;
  /**
   * The datastore's name, the `<name>` in `azureml://datastores/<name>/paths/...`: letters, digits and
   * underscores. Defaults to the container name with dashes turned into underscores.
   */
  name?: string;
}

/** Inputs of the Azure `Bucket`. */
export interface BucketArgs extends BucketSettings {
  /** The resource group of the storage account. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
  /**
   * The random suffix of the default account name (4 to 16 lowercase letters or digits). Defaults to one
   * drawn when the bucket is first deployed and kept in the stack's state, so it stays the same on every
   * update. Ignored when `accountName` is set.
   */
  nameSuffix?: pulumi.Input<string>;
  /**
   * Register the container as a datastore of an Azure ML workspace, authenticated by the workspace's
   * identity rather than a key, and output its `azureml://datastores/<name>/paths/` URL. Defaults to none.
   */
  datastore?: BucketDatastoreArgs;
}

/** The settings of a `Bucket` a `TrainingPlatform` passes on as they are. */
export interface BucketSettings {
  /**
   * The globally unique storage account name: 3 to 24 lowercase letters and digits. Defaults to the
   * component's name, letters and digits only, plus the `nameSuffix`, so that no two deployments (other
   * stacks, projects, tenants, or this stack after `pulumi destroy`) ask for the same name.
   */
  accountName?: string;
  /** The blob container holding the data: 3 to 63 lowercase letters, digits and dashes. Defaults to `data`. */
  containerName?: string;
  /**
   * The replication SKU: `Standard_LRS` (three copies in one datacenter), `Standard_ZRS` (three zones),
   * `Standard_GRS`/`Standard_RAGRS` (a second region). Defaults to `Standard_LRS`.
   */
  sku?: pulumi.Input<string>;
  /**
   * Let the storage account be reached from the internet (still only with Entra ID credentials that hold
   * a Storage Blob Data role: shared keys and anonymous access stay off). Defaults to false: only Azure's
   * trusted services and private endpoints reach it, which is also how Azure ML's managed network reads it.
   * Uploading data from a laptop needs it on, or a private endpoint.
   */
  publicNetworkAccess?: boolean;
  /**
   * Delete noncurrent (overwritten or deleted) blob versions this many days after they stopped being
   * current. Defaults to 30.
   */
  noncurrentVersionRetentionDays?: number;
  /**
   * Keep deleted blobs and containers restorable for this many days (1 to 365). Defaults to 7. Azure deletes
   * the account with all its data on `pulumi destroy`; soft delete does not outlive the account.
   */
  softDeleteRetentionDays?: number;
  /**
   * Let `pulumi destroy` (or a replacement) delete the storage account and its container with all their
   * data. Defaults to false: the account carries a `CanNotDelete` lock while the stack manages it, and
   * `pulumi destroy` leaves the account and container in Azure (Pulumi forgets them, `retainOnDelete`)
   * instead of deleting them, so data is never lost by accident; delete a retained account yourself once
   * its data is no longer needed. Azure deletes an account with its data at once, whatever it holds, so
   * this is the only guard. Turn on only for scratch buckets.
   */
  forceDestroy?: boolean;
  /** Tags for the storage account. Defaults to the trainkit tags only. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Inputs every trainkit storage account shares: private, Entra ID only, TLS 1.2, HTTPS only. */
export function secureStorageAccountArgs(args: {
  /** The resource group of the account. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
  /** The globally unique account name: 3 to 24 lowercase letters and digits. */
  accountName: pulumi.Input<string>;
  /** The replication SKU, such as `Standard_LRS`. */
  sku: pulumi.Input<string>;
  /** Reachable from the internet (Entra ID still required) when true; only trusted Azure services and private endpoints when false. */
  publicNetworkAccess: boolean;
  /** Tags for the account. */
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
}): storage.StorageAccountArgs {
  return {
    resourceGroupName: args.resourceGroupName,
    location: args.location,
    accountName: args.accountName,
    kind: "StorageV2",
    sku: { name: args.sku },
    accessTier: "Hot",
    allowBlobPublicAccess: false,
    // Shared keys grant everything to whoever holds one and cannot be scoped or audited per caller.
    allowSharedKeyAccess: false,
    defaultToOAuthAuthentication: true,
    minimumTlsVersion: "TLS1_2",
    enableHttpsTrafficOnly: true,
    allowCrossTenantReplication: false,
    publicNetworkAccess: args.publicNetworkAccess ? "Enabled" : "Disabled",
    networkRuleSet: { defaultAction: args.publicNetworkAccess ? "Allow" : "Deny", bypass: "AzureServices" },
    tags: args.tags,
  };
}

const ACCOUNT_NAME = /^[a-z0-9]{3,24}$/;
const CONTAINER_NAME = /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/;
const DATASTORE_NAME = /^[A-Za-z0-9_]{1,255}$/;

/**
 * A private Azure Storage account and blob container for training data or outputs: no public blob access,
 * no shared keys, TLS 1.2, HTTPS only, blob versioning with a lifecycle for old versions, soft delete, and
 * optionally an identity-based Azure ML datastore over the container.
 */
export class Bucket extends pulumi.ComponentResource {
  /** The storage account: private, Entra ID only (no shared keys), TLS 1.2, HTTPS only. */
  public readonly account: storage.StorageAccount;
  /** The blob service settings: versioning on, and soft delete of blobs and containers for `softDeleteRetentionDays` days. */
  public readonly blobService: storage.BlobServiceProperties;
  /** The blob container holding the data, with no public access. */
  public readonly container: storage.BlobContainer;
  /** The lifecycle policy deleting noncurrent versions after `noncurrentVersionRetentionDays` days. */
  public readonly lifecycle: storage.ManagementPolicy;
  /** The Azure ML datastore over the container; undefined without `datastore`. */
  public readonly datastore?: machinelearningservices.Datastore;
  /** The `CanNotDelete` lock on the account, unless `forceDestroy`. */
  public readonly lock?: authorization.ManagementLockByScope;
  /** The storage account's name. */
  public readonly accountName: pulumi.Output<string>;
  /** The storage account's ARM id, the scope of role assignments on this bucket. */
  public readonly accountId: pulumi.Output<string>;
  /** The blob container's name. */
  public readonly containerName: pulumi.Output<string>;
  /** `https://<account>.blob.core.windows.net/<container>`. */
  public readonly url: pulumi.Output<string>;
  /** `azureml://datastores/<name>/paths/`, the prefix of storage mounts for `azure-ml` jobs, when registered. */
  public readonly datastoreUrl?: pulumi.Output<string>;

  constructor(name: string, args: BucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:Bucket", name, {}, opts);
    const owner = ownerOf(this, "Bucket", name);
    const resourceGroupName = requireResourceGroup(args?.resourceGroupName, owner);
    if (args.accountName !== undefined && !ACCOUNT_NAME.test(args.accountName)) {
      throw new ArgumentError(
        `${owner}: accountName must be 3 to 24 lowercase letters or digits; got ${shown(args.accountName)}`,
      );
    }
    const containerName = args.containerName ?? "data";
    if (!CONTAINER_NAME.test(containerName)) {
      throw new ArgumentError(
        `${owner}: containerName must be 3 to 63 lowercase letters, digits or single dashes, starting and ending with a letter or digit; got ${shown(containerName)}`,
      );
    }
    const noncurrentDays = args.noncurrentVersionRetentionDays ?? 30;
    if (!Number.isInteger(noncurrentDays) || noncurrentDays < 1) {
      throw new ArgumentError(
        `${owner}: noncurrentVersionRetentionDays must be a whole number of days, at least 1; got ${shown(noncurrentDays)}`,
      );
    }
    const softDeleteDays = args.softDeleteRetentionDays ?? 7;
    if (!Number.isInteger(softDeleteDays) || softDeleteDays < 1 || softDeleteDays > 365) {
      throw new ArgumentError(
        `${owner}: softDeleteRetentionDays must be a whole number of days from 1 to 365; got ${shown(softDeleteDays)}`,
      );
    }
    const datastoreName = args.datastore
      ? (args.datastore.name ?? containerName.replace(/-/g, "_"))
      : undefined;
    if (datastoreName !== undefined && !DATASTORE_NAME.test(datastoreName)) {
      throw new ArgumentError(
        `${owner}: datastore.name must be letters, digits or underscores; got ${shown(datastoreName)}`,
      );
    }
    const isPublic = args.publicNetworkAccess ?? false;
    if (isPublic) {
      pulumi.log.warn(
        `Bucket ${name} accepts connections from the internet: Entra ID credentials with a Storage Blob Data role are the only gate.`,
        this,
      );
    }
    const forceDestroy = args.forceDestroy ?? false;
    if (forceDestroy) {
      pulumi.log.warn(
        `Bucket ${name} has forceDestroy on: pulumi destroy will delete its storage account with all its data.`,
        this,
      );
    }
    const parent = { parent: this };
    // What holds the data outlives the stack unless asked: deleting a container deletes its blobs.
    const keep = { ...parent, retainOnDelete: !forceDestroy };
    const accountName =
      args.accountName ?? suffixedName(name, nameSuffixFor(owner, name, args.nameSuffix, parent), 24);

    this.account = new storage.StorageAccount(
      name,
      secureStorageAccountArgs({
        resourceGroupName,
        location: args.location,
        accountName,
        sku: args.sku ?? "Standard_LRS",
        publicNetworkAccess: isPublic,
        tags: azureTags("bucket", args.tags),
      }),
      keep,
    );
    const inAccount = { resourceGroupName, accountName: this.account.name };

    this.blobService = new storage.BlobServiceProperties(
      name,
      {
        ...inAccount,
        blobServicesName: "default",
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: softDeleteDays },
        containerDeleteRetentionPolicy: { enabled: true, days: softDeleteDays },
      },
      keep,
    );
    this.container = new storage.BlobContainer(
      name,
      { ...inAccount, containerName, publicAccess: "None" },
      keep,
    );
    this.lifecycle = new storage.ManagementPolicy(
      name,
      {
        ...inAccount,
        managementPolicyName: "default",
        policy: {
          rules: [
            {
              name: "delete-old-versions",
              enabled: true,
              type: "Lifecycle",
              definition: {
                filters: { blobTypes: ["blockBlob"] },
                actions: { version: { delete: { daysAfterCreationGreaterThan: noncurrentDays } } },
              },
            },
          ],
        },
      },
      // Version rules are refused until versioning is on.
      { ...keep, dependsOn: [this.blobService] },
    );

    if (!forceDestroy) {
      // Guards against deletion outside Pulumi (the portal, the CLI) while the stack manages the account.
      this.lock = new authorization.ManagementLockByScope(
        `${name}-lock`,
        {
          scope: this.account.id,
          level: "CanNotDelete",
          notes: "Training data (trainkit): set forceDestroy on the Bucket to allow deleting it.",
        },
        parent,
      );
    }

    this.accountName = this.account.name;
    this.accountId = this.account.id;
    this.containerName = this.container.name;
    this.url = pulumi.interpolate`${this.account.primaryEndpoints.blob}${this.container.name}`;

    if (args.datastore !== undefined && datastoreName !== undefined) {
      this.datastore = new machinelearningservices.Datastore(
        name,
        {
          resourceGroupName: args.datastore.resourceGroupName ?? resourceGroupName,
          workspaceName: args.datastore.workspaceName,
          name: datastoreName,
          properties: {
            datastoreType: "AzureBlob",
            accountName: this.account.name,
            containerName: this.container.name,
            endpoint: "core.windows.net",
            protocol: "https",
            resourceGroup: resourceGroupName,
            subscriptionId: subscriptionOf(this.account.id),
            // No stored secret: reads and writes are made as the workspace's (or the job's) identity.
            credentials: { credentialsType: "None" },
            serviceDataAccessAuthIdentity: "WorkspaceSystemAssignedIdentity",
            description: "Training data (trainkit)",
          },
        },
        parent,
      );
      this.datastoreUrl = pulumi.interpolate`azureml://datastores/${this.datastore.name}/paths/`;
    }

    this.registerOutputs({
      accountName: this.accountName,
      containerName: this.containerName,
      url: this.url,
      ...(this.datastoreUrl ? { datastoreUrl: this.datastoreUrl } : {}),
    });
  }
}
