import type * as authorization from "@pulumi/azure-native/authorization";
import type * as machinelearningservices from "@pulumi/azure-native/machinelearningservices";
import * as pulumi from "@pulumi/pulumi";
import { ArgumentError } from "../components/sentences";
import { Bucket, type BucketArgs } from "./bucket";
import { GpuCluster, type GpuClusterArgs, privateEndpointRule } from "./gpu-cluster";
import { Registry, type RegistryArgs } from "./registry";
import { type AzureRole, assignRole, nameSuffixFor, requireResourceGroup } from "./settings";
import { TrainingApi, type TrainingApiArgs } from "./training-api";

type Shared = "resourceGroupName" | "location" | "nameSuffix";

/** A platform bucket: a `Bucket`'s own args plus the name of the Azure ML datastore over it. */
export type PlatformBucketArgs = Omit<BucketArgs, Shared | "datastore"> & {
  /** The datastore name jobs mount it by (`azureml://datastores/<name>/paths/...`). */
  datastoreName?: string;
};

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
  api: Omit<TrainingApiArgs, Shared | "workspaceId" | "registryId" | "registryServer" | "tenantId">;
  /** The image registry. Defaults to a private Premium `Registry`. */
  registry?: Omit<RegistryArgs, Shared>;
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
  cluster?: Omit<GpuClusterArgs, Shared | "tenantId" | "containerRegistryId" | "privateStorageAccountIds">;
}

/** The role training jobs' identities hold on the data bucket's storage account: reading blobs. */
export const JOB_DATA_BUCKET_ROLE: AzureRole = "Storage Blob Data Reader";
/** The role jobs hold on the output bucket's storage account: reading, writing and deleting blobs. */
export const JOB_OUTPUT_BUCKET_ROLE: AzureRole = "Storage Blob Data Contributor";
/** The role jobs hold on the registry: pulling images. */
export const JOB_REGISTRY_ROLE: AzureRole = "AcrPull";

/** What another stack or a `TrainingJob` needs from the platform, as stack outputs. */
export interface TrainingPlatformOutputs {
  resourceGroupName: pulumi.Output<string>;
  apiUrl: pulumi.Output<string>;
  registryUrl: pulumi.Output<string>;
  /** `azureml://datastores/traindata/paths/`: append a path for a read-only storage mount. */
  dataBucketUrl: pulumi.Output<string>;
  /** `azureml://datastores/trainoutput/paths/`: append a path for a writable storage mount. */
  outputBucketUrl: pulumi.Output<string>;
  workspaceName: pulumi.Output<string>;
  workspaceId: pulumi.Output<string>;
  /** Pool name to compute name, the values `job_config.compute` takes. */
  computeNames: pulumi.Output<Record<string, string>>;
  apiPrincipalId: pulumi.Output<string>;
}

/**
 * Everything an Azure training platform needs: a registry, a data and an output bucket registered as
 * datastores, an Azure ML workspace with GPU compute clusters whose identities may read the data, write
 * the outputs and pull images, and the Train API on Container Apps.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  public readonly registry: Registry;
  public readonly dataBucket: Bucket;
  public readonly outputBucket: Bucket;
  public readonly cluster: GpuCluster;
  /** Private endpoints from the workspace's managed network to the data and output buckets. */
  public readonly bucketOutboundRules: machinelearningservices.ManagedNetworkSettingsRule[];
  /** The grants of each compute cluster's identity (and the workspace's) on the buckets and registry. */
  public readonly jobRoleAssignments: authorization.RoleAssignment[];
  public readonly api: TrainingApi;
  /** The platform's outputs in one object: `export const platform = tp.outputs` publishes them all. */
  public readonly outputs: TrainingPlatformOutputs;

  constructor(name: string, args: TrainingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:TrainingPlatform", name, {}, opts);
    const owner = `TrainingPlatform ${name}`;
    const resourceGroupName = requireResourceGroup(args?.resourceGroupName, owner);
    if (args.api === undefined) {
      throw new ArgumentError(`${owner}: api must be set, with at least image and apiKeys; got nothing`);
    }
    const parent = { parent: this };
    const nameSuffix = nameSuffixFor(owner, name, args.nameSuffix, parent);
    const where = { resourceGroupName, location: args.location, nameSuffix };

    this.registry = new Registry(`${name}-images`, { ...args.registry, ...where }, parent);
    this.cluster = new GpuCluster(
      `${name}-ml`,
      {
        ...args.cluster,
        ...where,
        tenantId: args.tenantId,
        containerRegistryId: this.registry.registryId,
      },
      parent,
    );

    // The buckets come after the workspace, whose datastores they become, so their private endpoints in
    // its managed network are added here rather than through the cluster's args.
    const rules: machinelearningservices.ManagedNetworkSettingsRule[] = [];
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
      rules.push(
        privateEndpointRule(
          `${name}-${suffix}-endpoint`,
          {
            resourceGroupName,
            workspaceName: this.cluster.workspaceName,
            ruleName: `trainkit-${suffix}`,
            serviceResourceId: made.accountId,
            subresourceTarget: "blob",
          },
          parent,
        ),
      );
      return made;
    };
    this.dataBucket = bucket("data", args.dataBucket, "traindata");
    this.outputBucket = bucket("output", args.outputBucket, "trainoutput");
    this.bucketOutboundRules = rules;

    const principals: [string, pulumi.Output<string>][] = [
      ["workspace", this.cluster.workspacePrincipalId],
      ...Object.entries(this.cluster.computePrincipalIds),
    ];
    this.jobRoleAssignments = principals.flatMap(([who, principalId]) => [
      assignRole(
        `${name}-${who}-read-data`,
        { principalId, role: JOB_DATA_BUCKET_ROLE, scope: this.dataBucket.accountId },
        parent,
      ),
      assignRole(
        `${name}-${who}-write-output`,
        { principalId, role: JOB_OUTPUT_BUCKET_ROLE, scope: this.outputBucket.accountId },
        parent,
      ),
      assignRole(
        `${name}-${who}-pull-images`,
        { principalId, role: JOB_REGISTRY_ROLE, scope: this.registry.registryId },
        parent,
      ),
    ]);

    this.api = new TrainingApi(
      `${name}-api`,
      {
        ...args.api,
        ...where,
        tenantId: args.tenantId,
        workspaceId: this.cluster.workspaceId,
        registryId: this.registry.registryId,
        registryServer: this.registry.url,
      },
      parent,
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
    };
    this.registerOutputs({ ...this.outputs });
  }
}
