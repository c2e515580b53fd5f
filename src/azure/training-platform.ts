import type * as authorization from "@pulumi/azure-native/authorization";
import type * as machinelearningservices from "@pulumi/azure-native/machinelearningservices";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError } from "../components/sentences";
import { Bucket, type BucketSettings } from "./bucket";
import { GpuCluster, type GpuClusterSettings, privateEndpointRule } from "./gpu-cluster";
import { Registry, type RegistrySettings } from "./registry";
import { type AzureRole, assignRole, azureTags, nameSuffixFor, requireResourceGroup } from "./settings";
import { TrainingApi, type TrainingApiSettings } from "./training-api";

/** A platform bucket: a `Bucket`'s own settings plus the name of the Azure ML datastore over it. */
export interface PlatformBucketArgs extends BucketSettings {
  /** The datastore name jobs mount it by (`azureml://datastores/<name>/paths/...`). */
  datastoreName?: string;
}

/** Inputs of the Azure `TrainingPlatform`. */
export interface TrainingPlatformArgs {
  /** The resource group every part is created in. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region of every part. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
  /**
   * The random suffix every globally unique or soft-deleted name of the platform ends in (storage accounts,
   * the registry, Key Vaults, the Azure ML workspace): 4 to 16 lowercase letters or digits. Defaults to one
   * drawn when the platform is first deployed and kept in the stack's state, so names stay the same on
   * every update, and another stack, project or tenant, or this stack after `pulumi destroy`, gets new
   * ones. Pin it only to adopt names chosen earlier; a pinned suffix brings back the soft-delete waits.
   */
  nameSuffix?: pulumi.Input<string>;
  /** The Entra ID tenant of the Key Vaults. Defaults to `azure-native:tenantId`, or the deploying credentials' tenant. */
  tenantId?: pulumi.Input<string>;
  /**
   * The Train API: at least its `image` and `apiKeys`; the workspace and registry are filled in. Required.
   */
  api: TrainingApiSettings;
  /** The image registry. Defaults to a private Premium `Registry`. */
  registry?: RegistrySettings;
  /**
   * The bucket training data is read from (jobs get Storage Blob Data Reader), registered as the datastore
   * `traindata`. Defaults to a `Bucket` with its own defaults.
   */
  dataBucket?: PlatformBucketArgs;
  /**
   * The bucket jobs write checkpoints and models to (jobs get Storage Blob Data Contributor), registered as
   * the datastore `trainoutput`. Defaults to a `Bucket` with its own defaults.
   */
  outputBucket?: PlatformBucketArgs;
  /**
   * The Azure ML workspace and its GPU compute clusters. Azure ML runs every job in a workspace, so the
   * workspace is always built; without `gpuPools` jobs use serverless compute (`job_config.compute:
   * "serverless"`). Defaults to a private workspace with no clusters.
   */
  cluster?: GpuClusterSettings;
}

/** The role the jobs' identity holds on the data bucket's storage account: reading blobs. */
export const JOB_DATA_BUCKET_ROLE: AzureRole = "Storage Blob Data Reader";
/** The role the jobs' identity holds on the output bucket's storage account: reading, writing and deleting blobs. */
export const JOB_OUTPUT_BUCKET_ROLE: AzureRole = "Storage Blob Data Contributor";
/** The role the workspace and each compute cluster hold on the registry: pulling job images. */
export const JOB_REGISTRY_ROLE: AzureRole = "AcrPull";
/**
 * The role the workspace holds on each bucket: reading blobs, for the datastores' browsing and previews in
 * Azure ML studio, which are made as the workspace's identity (`WorkspaceSystemAssignedIdentity`).
 */
export const WORKSPACE_BUCKET_ROLE: AzureRole = "Storage Blob Data Reader";

/** What another stack or a `TrainingJob` needs from the platform, as stack outputs. */
export interface TrainingPlatformOutputs {
  /** The resource group every part is in. */
  resourceGroupName: pulumi.Output<string>;
  /** The Train API's URL, the `apiUrl` of a `TrainingJob`. */
  apiUrl: pulumi.Output<string>;
  /** Where to push training images: `<name>.azurecr.io`. */
  registryUrl: pulumi.Output<string>;
  /** `azureml://datastores/traindata/paths/`: append a path for a read-only storage mount. */
  dataBucketUrl: pulumi.Output<string>;
  /** `azureml://datastores/trainoutput/paths/`: append a path for a writable storage mount. */
  outputBucketUrl: pulumi.Output<string>;
  /** The Azure ML workspace's name. */
  workspaceName: pulumi.Output<string>;
  /** The Azure ML workspace's ARM id. */
  workspaceId: pulumi.Output<string>;
  /** Pool name to compute name, the values `job_config.compute` takes. */
  computeNames: pulumi.Output<Record<string, string>>;
  /** The principal id of the Train API's identity, for granting it more roles. */
  apiPrincipalId: pulumi.Output<string>;
  /** The ARM id of the identity jobs run as. */
  jobIdentityId: pulumi.Output<string>;
  /** The client id of the identity jobs run as, the `clientId` of each job body's `identity`. */
  jobIdentityClientId: pulumi.Output<string>;
}

/** The TrainingPlatform parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  registry: Registry;
  dataBucket: Bucket;
  outputBucket: Bucket;
  cluster: GpuCluster;
  api: TrainingApi;
}>();

/**
 * Everything an Azure training platform needs: a registry, a data and an output bucket registered as
 * datastores, an Azure ML workspace with GPU compute clusters whose identities may read the data, write
 * the outputs and pull images, and the Train API on Container Apps.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  /** The container registry for training images. */
  get registry(): Registry {
    return offSchema.get(this, "registry");
  }
  /** The bucket training data is read from, registered as the datastore `traindata`. */
  get dataBucket(): Bucket {
    return offSchema.get(this, "dataBucket");
  }
  /** The bucket jobs write checkpoints and models to, registered as the datastore `trainoutput`. */
  get outputBucket(): Bucket {
    return offSchema.get(this, "outputBucket");
  }
  /** The Azure ML workspace and its GPU compute clusters; always made, since Azure ML runs every job in a workspace. */
  get cluster(): GpuCluster {
    return offSchema.get(this, "cluster");
  }
  /** Private endpoints from the workspace's managed network to the data and output buckets. */
  public readonly bucketOutboundRules: machinelearningservices.ManagedNetworkSettingsRule[];
  /** The user-assigned identity every job runs as, attached to the workspace and each compute cluster. */
  public readonly jobIdentity: managedidentity.UserAssignedIdentity;
  /**
   * Every data-plane grant of the jobs' identity (data read, outputs written), the workspace's (reading
   * both buckets, pulling images) and each compute cluster's (pulling images).
   */
  public readonly jobRoleAssignments: authorization.RoleAssignment[];
  /** The workspace identity's grant to approve each bucket's private endpoint, on that bucket only. */
  public readonly bucketEndpointApprovals: authorization.RoleAssignment[];
  /** The Train API on Container Apps. */
  get api(): TrainingApi {
    return offSchema.get(this, "api");
  }
  /** The platform's outputs in one object: `export const platform = tp.outputs` publishes them all. */
  public readonly outputs: TrainingPlatformOutputs;

  constructor(name: string, args: TrainingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:TrainingPlatform", name, {}, opts);
    const owner = ownerOf(this, "TrainingPlatform", name);
    const resourceGroupName = requireResourceGroup(args?.resourceGroupName, owner);
    if (args.api === undefined) {
      throw new ArgumentError(`${owner}: api must be set, with at least image and apiKeys; got nothing`);
    }
    const parent = { parent: this };
    const nameSuffix = nameSuffixFor(owner, name, args.nameSuffix, parent);
    const where = { resourceGroupName, location: args.location, nameSuffix };

    offSchema.set(this, "registry", new Registry(`${name}-images`, { ...args.registry, ...where }, parent));
    // Jobs run as this identity, not as the submitter's token (AMLToken, the default when a job names no
    // identity) nor as whatever identity serverless compute would pick, so that credential-less datastore
    // mounts always have exactly the data roles granted below.
    this.jobIdentity = new managedidentity.UserAssignedIdentity(
      `${name}-jobs`,
      {
        resourceGroupName,
        location: args.location,
        resourceName: `${name}-jobs`,
        tags: azureTags("training-platform"),
      },
      parent,
    );
    offSchema.set(
      this,
      "cluster",
      new GpuCluster(
        `${name}-ml`,
        {
          ...args.cluster,
          ...where,
          tenantId: args.tenantId,
          containerRegistryId: this.registry.registryId,
          jobIdentityId: this.jobIdentity.id,
        },
        parent,
      ),
    );

    // The buckets come after the workspace, whose datastores they become, so their private endpoints in
    // its managed network are added here rather than through the cluster's args.
    const rules: machinelearningservices.ManagedNetworkSettingsRule[] = [];
    const approvals: authorization.RoleAssignment[] = [];
    const bucket = (suffix: "data" | "output", given: PlatformBucketArgs | undefined, datastore: string) => {
      const { datastoreName, ...rest } = given ?? {};
      const made = new Bucket(
        `${name}-${suffix}`,
        {
          containerName: suffix,
          ...rest,
          ...where,
          datastore: { workspaceName: this.cluster.workspaceName, name: datastoreName ?? datastore },
        },
        parent,
      );
      const { rule, approval } = privateEndpointRule(
        `${name}-${suffix}-endpoint`,
        {
          resourceGroupName,
          workspaceName: this.cluster.workspaceName,
          workspacePrincipalId: this.cluster.workspacePrincipalId,
          ruleName: `trainkit-${suffix}`,
          serviceResourceId: made.accountId,
          subresourceTarget: "blob",
        },
        parent,
      );
      rules.push(rule);
      approvals.push(approval);
      return made;
    };
    offSchema.set(this, "dataBucket", bucket("data", args.dataBucket, "traindata"));
    offSchema.set(this, "outputBucket", bucket("output", args.outputBucket, "trainoutput"));
    this.bucketOutboundRules = rules;
    this.bucketEndpointApprovals = approvals;

    const grant = (
      who: string,
      what: string,
      principalId: pulumi.Input<string>,
      role: AzureRole,
      scope: pulumi.Input<string>,
    ) => assignRole(`${name}-${who}-${what}`, { principalId, role, scope }, parent);
    const jobs = this.jobIdentity.principalId;
    const workspace = this.cluster.workspacePrincipalId;
    this.jobRoleAssignments = [
      grant("jobs", "read-data", jobs, JOB_DATA_BUCKET_ROLE, this.dataBucket.accountId),
      grant("jobs", "write-output", jobs, JOB_OUTPUT_BUCKET_ROLE, this.outputBucket.accountId),
      grant("workspace", "read-data", workspace, WORKSPACE_BUCKET_ROLE, this.dataBucket.accountId),
      grant("workspace", "read-output", workspace, WORKSPACE_BUCKET_ROLE, this.outputBucket.accountId),
      grant("workspace", "pull-images", workspace, JOB_REGISTRY_ROLE, this.registry.registryId),
      ...Object.entries(this.cluster.computePrincipalIds).map(([pool, principalId]) =>
        grant(`compute-${pool}`, "pull-images", principalId, JOB_REGISTRY_ROLE, this.registry.registryId),
      ),
    ];

    offSchema.set(
      this,
      "api",
      new TrainingApi(
        `${name}-api`,
        {
          ...args.api,
          ...where,
          tenantId: args.tenantId,
          workspaceId: this.cluster.workspaceId,
          registryId: this.registry.registryId,
          registryServer: this.registry.url,
          jobIdentityClientId: this.jobIdentity.clientId,
          // One Log Analytics workspace for the platform: the API's logs beside the workspace's diagnostics.
          logAnalyticsWorkspaceId: args.api.logAnalyticsWorkspaceId ?? this.cluster.logAnalyticsWorkspaceId,
        },
        parent,
      ),
    );

    this.outputs = {
      resourceGroupName: pulumi.output(resourceGroupName),
      apiUrl: this.api.url,
      registryUrl: this.registry.url,
      dataBucketUrl: this.dataBucket.datastoreUrl!,
      outputBucketUrl: this.outputBucket.datastoreUrl!,
      workspaceName: this.cluster.workspaceName,
      workspaceId: this.cluster.workspaceId,
      computeNames: pulumi.output(this.cluster.computeNames),
      apiPrincipalId: this.api.principalId,
      jobIdentityId: this.jobIdentity.id,
      jobIdentityClientId: this.jobIdentity.clientId,
    };
    this.registerOutputs({ ...this.outputs });
  }
}
