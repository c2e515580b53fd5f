import * as applicationinsights from "@pulumi/azure-native/applicationinsights";
import type * as authorization from "@pulumi/azure-native/authorization";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as machinelearningservices from "@pulumi/azure-native/machinelearningservices";
import * as monitor from "@pulumi/azure-native/monitor";
import type * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as storage from "@pulumi/azure-native/storage";
import * as pulumi from "@pulumi/pulumi";
import { type GpuPoolCoreArgs, resolveGpuPools } from "../components/gpu-pool";
import { suffixedName } from "../components/name-suffix";
import { boundedName } from "../components/naming";
import { ownerOf } from "../components/owners";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { azureVmSizeFor, type InstanceShape } from "../gpu";
import { secureStorageAccountArgs } from "./bucket";
import {
  type AzureRole,
  assignRole,
  azureTags,
  logAnalyticsWorkspace,
  nameSuffixFor,
  requireResourceGroup,
  tenantIdFor,
} from "./settings";

/** An AmlCompute GPU cluster: the cross-cloud pool description plus Azure's VM size override. */
export interface AzureGpuPoolArgs extends GpuPoolCoreArgs {
  /**
   * The Azure VM size, when the default for the GPU and count does not suit (for example
   * `Standard_NC16as_T4_v3` for one T4 with more CPU). Defaults to the catalogue's size for `gpu` and
   * `gpusPerNode`. Must carry exactly `gpusPerNode` of `gpu`.
   */
  vmSize?: string;
}

/** The outbound modes of a workspace's managed network that `isolationMode` may name. */
export const IsolationMode = {
  /** Jobs may reach the internet; private endpoints to the platform's stores still apply. */
  AllowInternetOutbound: "AllowInternetOutbound",
  /** Jobs reach only the platform's private endpoints and the outbound rules approved for them. */
  AllowOnlyApprovedOutbound: "AllowOnlyApprovedOutbound",
} as const;
export type IsolationMode = (typeof IsolationMode)[keyof typeof IsolationMode];
export const ISOLATION_MODES: readonly IsolationMode[] = Object.values(IsolationMode);

/** Inputs of the Azure `GpuCluster`. */
export interface GpuClusterArgs extends GpuClusterSettings {
  /** The resource group of the workspace and everything it needs. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
  /**
   * The random suffix of the names Azure holds globally or keeps after deletion: the workspace, its storage
   * account and its Key Vault (4 to 16 lowercase letters or digits). Defaults to one drawn when the cluster
   * is first deployed and kept in the stack's state: the same on every update, new after `pulumi destroy`.
   */
  nameSuffix?: pulumi.Input<string>;
  /**
   * The Entra ID tenant of the workspace's Key Vault. Defaults to the stack's `azure-native:tenantId`
   * config, or else the tenant of the credentials Pulumi runs with.
   */
  tenantId?: pulumi.Input<string>;
  /**
   * The ARM id of a container registry (a `Registry`'s `registryId`) the workspace builds and pulls images
   * with; it also gets a private endpoint in the managed network. Defaults to none: Azure ML creates one on
   * first use.
   */
  containerRegistryId?: pulumi.Input<string>;
  /**
   * ARM ids of further storage accounts (a `Bucket`'s `accountId`) that jobs read or write: each gets a
   * private endpoint in the managed network, so private buckets are reachable from the clusters.
   * Defaults to none.
   */
  privateStorageAccountIds?: pulumi.Input<string>[];
  /**
   * The ARM id of a user-assigned managed identity that jobs run as (a job body's `identity`), attached to
   * the workspace (for serverless jobs) and to every compute cluster. Give it exactly the data roles jobs
   * need. Defaults to none: jobs then run as the submitter's token or the compute's own identity.
   */
  jobIdentityId?: pulumi.Input<string>;
}

/** The settings of a `GpuCluster` a `TrainingPlatform` passes on as they are. */
export interface GpuClusterSettings {
  /**
   * The Azure ML workspace name: 3 to 33 letters, digits, dashes or underscores. Defaults to the component's
   * name plus the `nameSuffix`. Azure keeps a deleted workspace's name for 14 days (soft delete), so a fixed
   * name cannot be deployed again soon after `pulumi destroy`; the default can.
   */
  workspaceName?: string;
  /**
   * Let the workspace (and the Key Vault and storage account made for it) be reached from the internet,
   * with Entra ID credentials. Defaults to false: reach them through private endpoints in your virtual
   * network. Azure ML's own managed network reaches them privately either way.
   */
  publicNetworkAccess?: boolean;
  /**
   * Outbound access of the workspace's managed network, where the compute clusters run without public
   * IPs: `AllowInternetOutbound` (jobs may download packages and models) or `AllowOnlyApprovedOutbound`
   * (only Azure ML's required services and the private endpoints below). Defaults to `AllowInternetOutbound`.
   */
  isolationMode?: IsolationMode;
  /** The ARM id of an existing storage account for the workspace. Defaults to a new private one (no shared keys). */
  storageAccountId?: pulumi.Input<string>;
  /** The ARM id of an existing Key Vault for the workspace. Defaults to a new one in RBAC mode with purge protection. */
  keyVaultId?: pulumi.Input<string>;
  /** The ARM id of an existing Application Insights component. Defaults to a new one on the Log Analytics workspace. */
  applicationInsightsId?: pulumi.Input<string>;
  /**
   * The ARM id of the Log Analytics workspace the Azure ML workspace's diagnostics (all its log categories)
   * are sent to, and a new Application Insights component writes to. Defaults to a new one keeping 30 days.
   */
  logAnalyticsWorkspaceId?: pulumi.Input<string>;
  /**
   * GPU compute clusters (AmlCompute), each named by the pool's name, which is what
   * `job_config.compute` takes: at most 16 characters when given (longer default names are shortened).
   * Each scales between `minNodes` (default 0) and `maxNodes`, runs spot pools as `LowPriority` VMs, and has
   * no public IPs and no SSH. Defaults to none, which leaves serverless compute.
   */
  gpuPools?: AzureGpuPoolArgs[];
  /** Seconds a node stays idle before it is released. Defaults to 120. */
  idleSecondsBeforeScaleDown?: number;
  /** Tags for every resource. Defaults to the trainkit tags only. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

const WORKSPACE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$/;
const COMPUTE_NAME_MAX = 16;

/**
 * An Azure ML workspace for training, private by default, with a system-assigned identity, a managed
 * network, identity-based access to its storage, and one AmlCompute GPU cluster per pool that scales to
 * zero, has no public IPs and no SSH, and runs spot pools at low priority.
 */
export class GpuCluster extends pulumi.ComponentResource {
  /** The Azure ML workspace. */
  public readonly workspace: machinelearningservices.Workspace;
  /** The workspace's storage account, when this component created it. */
  public readonly storageAccount?: storage.StorageAccount;
  /** The workspace's Key Vault, when this component created it. */
  public readonly keyVault?: keyvault.Vault;
  /** The Log Analytics workspace made for the diagnostics (30 days); undefined when `logAnalyticsWorkspaceId` is given. */
  public readonly logAnalytics?: operationalinsights.Workspace;
  /** The diagnostic setting sending the workspace's logs to Log Analytics. */
  public readonly diagnostics: monitor.DiagnosticSetting;
  /** The ARM id of the Log Analytics workspace the diagnostics go to. */
  public readonly logAnalyticsWorkspaceId: pulumi.Output<string>;
  /** The Application Insights component made for the workspace; undefined when `applicationInsightsId` is given. */
  public readonly applicationInsights?: applicationinsights.Component;
  /** The managed network's private endpoints to the registry (`registry`) and storage (`storage-<i>`). */
  public readonly outboundRules: Record<string, machinelearningservices.ManagedNetworkSettingsRule>;
  /** The workspace identity's grant, on each private endpoint's target, to approve that endpoint. */
  public readonly approvals: Record<string, authorization.RoleAssignment>;
  /** Every compute cluster by pool name. */
  public readonly computes: Record<string, machinelearningservices.Compute>;
  /** The compute name of each pool, what a job's `job_config.compute` takes. */
  public readonly computeNames: Record<string, string>;
  /** The VM size chosen for each pool, by pool name. */
  public readonly vmSizes: Record<string, InstanceShape>;
  /** The principal id of each compute cluster's system-assigned identity, which jobs on it run as. */
  public readonly computePrincipalIds: Record<string, pulumi.Output<string>>;
  /** The workspace's name, which jobs and `az ml` commands name it by. */
  public readonly workspaceName: pulumi.Output<string>;
  /** The workspace's ARM id, the scope of role assignments on it. */
  public readonly workspaceId: pulumi.Output<string>;
  /** The principal id of the workspace's system-assigned identity. */
  public readonly workspacePrincipalId: pulumi.Output<string>;

  constructor(name: string, args: GpuClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:GpuCluster", name, {}, opts);
    const owner = ownerOf(this, "GpuCluster", name);
    const resourceGroupName = requireResourceGroup(args?.resourceGroupName, owner);
    if (args.workspaceName !== undefined && !WORKSPACE_NAME.test(args.workspaceName)) {
      throw new ArgumentError(
        `${owner}: workspaceName must be 3 to 33 letters, digits, dashes or underscores, starting with a letter or digit; got ${shown(args.workspaceName)}`,
      );
    }
    if (
      typeof args.jobIdentityId === "string" &&
      !/\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i.test(args.jobIdentityId)
    ) {
      throw new ArgumentError(
        `${owner}: jobIdentityId must be the ARM id of a user-assigned managed identity (.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>); got ${shown(args.jobIdentityId)}`,
      );
    }
    const isolationMode = args.isolationMode ?? "AllowInternetOutbound";
    if (!ISOLATION_MODES.includes(isolationMode)) {
      throw new ArgumentError(
        `${owner}: isolationMode must be ${oneOf(ISOLATION_MODES)}; got ${shown(isolationMode)}`,
      );
    }
    const idle = args.idleSecondsBeforeScaleDown ?? 120;
    if (!Number.isInteger(idle) || idle < 0) {
      throw new ArgumentError(
        `${owner}: idleSecondsBeforeScaleDown must be a whole number of seconds, at least 0; got ${shown(idle)}`,
      );
    }
    (args.gpuPools ?? []).forEach((pool, i) => {
      for (const field of ["zones", "diskSizeGb", "labels"] as const) {
        if ((pool as unknown as Record<string, unknown>)[field] !== undefined) {
          throw new ArgumentError(
            `${owner}: gpuPools[${i}].${field} has no meaning for an Azure ML compute cluster; remove it`,
          );
        }
      }
      if (pool.name !== undefined && pool.name.length > COMPUTE_NAME_MAX) {
        throw new ArgumentError(
          `${owner}: gpuPools[${i}].name must be at most ${COMPUTE_NAME_MAX} characters, the limit of Azure ML compute names; got ${pool.name} (${pool.name.length})`,
        );
      }
    });
    const pools = resolveGpuPools(
      args.gpuPools,
      (pool, fields) => azureVmSizeFor(pool.gpu, pool.gpusPerNode, pool.vmSize, fields),
      "gpuPools",
      "vmSize",
    );
    const isPublic = args.publicNetworkAccess ?? false;
    if (isPublic) {
      pulumi.log.warn(
        `GpuCluster ${name}: the Azure ML workspace accepts connections from the internet; Entra ID credentials are the only gate.`,
        this,
      );
    }
    const tags = azureTags("gpu-cluster", args.tags);
    const parent = { parent: this };
    const where = { resourceGroupName, location: args.location };
    const suffix = nameSuffixFor(owner, name, args.nameSuffix, parent);
    const workspaceName = args.workspaceName ?? suffixedName(name, suffix, 33, { dashes: true });

    let storageAccountId = args.storageAccountId;
    if (storageAccountId === undefined) {
      this.storageAccount = new storage.StorageAccount(
        `${name}-ws`,
        secureStorageAccountArgs({
          ...where,
          accountName: suffixedName(`${name}ws`, suffix, 24),
          sku: "Standard_LRS",
          publicNetworkAccess: isPublic,
          tags,
        }),
        parent,
      );
      storageAccountId = this.storageAccount.id;
    }

    let keyVaultId = args.keyVaultId;
    if (keyVaultId === undefined) {
      this.keyVault = new keyvault.Vault(
        `${name}-kv`,
        {
          ...where,
          vaultName: suffixedName(`${name}-kv`, suffix, 24, { dashes: true }),
          properties: {
            tenantId: tenantIdFor(args.tenantId, parent),
            sku: { family: "A", name: "standard" },
            enableRbacAuthorization: true,
            enableSoftDelete: true,
            softDeleteRetentionInDays: 90,
            enablePurgeProtection: true,
            publicNetworkAccess: isPublic ? "Enabled" : "Disabled",
            networkAcls: { defaultAction: isPublic ? "Allow" : "Deny", bypass: "AzureServices" },
          },
          tags,
        },
        parent,
      );
      keyVaultId = this.keyVault.id;
    }

    let logAnalyticsId = args.logAnalyticsWorkspaceId;
    if (logAnalyticsId === undefined) {
      this.logAnalytics = logAnalyticsWorkspace(name, where, tags, parent);
      logAnalyticsId = this.logAnalytics.id;
    }
    this.logAnalyticsWorkspaceId = pulumi.output(logAnalyticsId);

    let applicationInsightsId = args.applicationInsightsId;
    if (applicationInsightsId === undefined) {
      // Classic Application Insights is retired; new components must send to a Log Analytics workspace.
      this.applicationInsights = new applicationinsights.Component(
        `${name}-insights`,
        {
          ...where,
          resourceName: boundedName(`${name}-insights`, 63),
          kind: "web",
          applicationType: "web",
          ingestionMode: "LogAnalytics",
          workspaceResourceId: logAnalyticsId,
          disableLocalAuth: true,
          tags,
        },
        parent,
      );
      applicationInsightsId = this.applicationInsights.id;
    }

    this.workspace = new machinelearningservices.Workspace(
      name,
      {
        ...where,
        workspaceName,
        kind: "Default",
        sku: { name: "Basic", tier: "Basic" },
        identity: identityWith(args.jobIdentityId),
        storageAccount: storageAccountId,
        keyVault: keyVaultId,
        applicationInsights: applicationInsightsId,
        containerRegistry: args.containerRegistryId,
        publicNetworkAccess: isPublic ? "Enabled" : "Disabled",
        allowPublicAccessWhenBehindVnet: false,
        // The storage account refuses shared keys, so the workspace reaches its own datastores as itself.
        systemDatastoresAuthMode: "Identity",
        // Outbound rules are separate resources (see `privateEndpointRule`), so that rules added later by
        // other components are not dropped when the workspace is updated.
        managedNetwork: { isolationMode },
        serverlessComputeSettings: { serverlessComputeNoPublicIP: true },
        friendlyName: `${name} (trainkit)`,
        tags,
      },
      parent,
    );

    this.diagnostics = new monitor.DiagnosticSetting(
      `${name}-diagnostics`,
      {
        name: "trainkit-logs",
        resourceUri: this.workspace.id,
        workspaceId: logAnalyticsId,
        logs: [{ categoryGroup: "allLogs", enabled: true }],
      },
      parent,
    );

    const targets: [string, pulumi.Input<string>, string][] = (args.privateStorageAccountIds ?? []).map(
      (id, i) => [`storage-${i}`, id, "blob"],
    );
    if (args.containerRegistryId !== undefined)
      targets.push(["registry", args.containerRegistryId, "registry"]);
    const workspacePrincipalId = this.workspace.identity.apply((identity) => identity?.principalId ?? "");
    this.outboundRules = {};
    this.approvals = {};
    for (const [key, serviceResourceId, subresourceTarget] of targets) {
      const made = privateEndpointRule(
        `${name}-${key}`,
        {
          resourceGroupName,
          workspaceName: this.workspace.name,
          workspacePrincipalId,
          ruleName: `trainkit-${key}`,
          serviceResourceId,
          subresourceTarget,
        },
        parent,
      );
      this.outboundRules[key] = made.rule;
      this.approvals[key] = made.approval;
    }

    this.computes = {};
    this.computeNames = {};
    this.vmSizes = {};
    this.computePrincipalIds = {};
    for (const pool of pools) {
      const computeName =
        pool.name.length <= COMPUTE_NAME_MAX ? pool.name : boundedName(pool.name, COMPUTE_NAME_MAX);
      this.vmSizes[pool.name] = pool.shape;
      this.computeNames[pool.name] = computeName;
      const compute = new machinelearningservices.Compute(
        `${name}-${pool.name}`,
        {
          resourceGroupName,
          workspaceName: this.workspace.name,
          computeName,
          location: args.location,
          identity: identityWith(args.jobIdentityId),
          properties: {
            computeType: "AmlCompute",
            // Local (key-based) auth would let holders of workspace keys act on the cluster; Entra ID only.
            disableLocalAuth: true,
            description: `${pool.gpusPerNode} x ${pool.gpu} per node (trainkit)`,
            properties: {
              vmSize: pool.shape.instanceType,
              vmPriority: pool.spot ? "LowPriority" : "Dedicated",
              osType: "Linux",
              scaleSettings: {
                minNodeCount: pool.minNodes,
                maxNodeCount: pool.maxNodes,
                nodeIdleTimeBeforeScaleDown: `PT${idle}S`,
              },
              enableNodePublicIp: false,
              remoteLoginPortPublicAccess: "Disabled",
            },
          },
          tags,
        },
        parent,
      );
      this.computes[pool.name] = compute;
      this.computePrincipalIds[pool.name] = compute.identity.apply((identity) => identity?.principalId ?? "");
    }

    this.workspaceName = this.workspace.name;
    this.workspaceId = this.workspace.id;
    this.workspacePrincipalId = workspacePrincipalId;
    this.registerOutputs({
      workspaceName: this.workspaceName,
      workspaceId: this.workspaceId,
      computeNames: this.computeNames,
    });
  }
}

/** The role a workspace's identity holds on each private endpoint target, and nowhere else. */
export const ENDPOINT_APPROVER_ROLE: AzureRole = "Azure AI Enterprise Network Connection Approver";

/**
 * The identity of a workspace or compute cluster: its own system-assigned identity, plus the jobs' identity
 * when there is one (Azure ML runs a job as a user-assigned identity only if the compute, or for serverless
 * jobs the workspace, carries it).
 */
function identityWith(jobIdentityId: pulumi.Input<string> | undefined) {
  return jobIdentityId === undefined
    ? { type: "SystemAssigned" }
    : { type: "SystemAssigned,UserAssigned", userAssignedIdentities: [jobIdentityId] };
}

/**
 * A private endpoint from a workspace's managed network to a storage account (`blob`) or a registry
 * (`registry`), so compute clusters reach it while its public network access is off, together with the
 * grant that lets the workspace's identity approve that endpoint on the target: `Azure AI Enterprise
 * Network Connection Approver` on the target resource only. Without it the endpoint stays pending and
 * jobs can neither pull images nor mount data.
 */
export function privateEndpointRule(
  name: string,
  args: {
    /** The resource group of the workspace. */
    resourceGroupName: pulumi.Input<string>;
    /** The workspace whose managed network gets the endpoint. */
    workspaceName: pulumi.Input<string>;
    /** The principal id of the workspace's system-assigned identity, which approves the endpoint. */
    workspacePrincipalId: pulumi.Input<string>;
    /** The outbound rule's name, unique in the workspace. */
    ruleName: string;
    /** The ARM id of the target storage account or registry. */
    serviceResourceId: pulumi.Input<string>;
    /** The target's private-link group: `blob` for a storage account, `registry` for a registry. */
    subresourceTarget: string;
  },
  opts: pulumi.CustomResourceOptions,
): {
  /** The managed network's outbound rule holding the private endpoint. */
  rule: machinelearningservices.ManagedNetworkSettingsRule;
  /** The workspace identity's approver grant on the target, which the rule depends on. */
  approval: authorization.RoleAssignment;
} {
  const approval = assignRole(
    `${name}-approver`,
    { principalId: args.workspacePrincipalId, role: ENDPOINT_APPROVER_ROLE, scope: args.serviceResourceId },
    opts,
  );
  const rule = new machinelearningservices.ManagedNetworkSettingsRule(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      workspaceName: args.workspaceName,
      ruleName: args.ruleName,
      properties: {
        type: "PrivateEndpoint",
        category: "UserDefined",
        destination: { serviceResourceId: args.serviceResourceId, subresourceTarget: args.subresourceTarget },
      },
    },
    // The endpoint is approved when the managed network provisions it, so the grant must exist first.
    { ...opts, dependsOn: [approval] },
  );
  return { rule, approval };
}
