import * as app from "@pulumi/azure-native/app";
import type * as authorization from "@pulumi/azure-native/authorization";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as monitor from "@pulumi/azure-native/monitor";
import * as network from "@pulumi/azure-native/network";
import type * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as privatedns from "@pulumi/azure-native/privatedns";
import * as pulumi from "@pulumi/pulumi";
import { suffixedName } from "../components/name-suffix";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import * as trainApi from "../components/train-api";
import {
  linkedZone,
  PRIVATE_LINK_ZONES,
  type PrivateLinkGroup,
  privateEndpointTo,
  subnetsOf,
  virtualNetworkOf,
} from "./private-network";
import {
  type AzureRole,
  assignRole,
  azureTags,
  logAnalyticsWorkspace,
  nameOf,
  nameSuffixFor,
  requireResourceGroup,
  resourceGroupOf,
  subscriptionOf,
  tenantIdFor,
} from "./settings";

/** Inputs of the Azure `TrainingApi`, on top of the settings every cloud's Train API takes. */
export interface TrainingApiArgs extends TrainingApiSettings {
  /** The resource group of the app, its identity and its Key Vault. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
  /**
   * The random suffix of the Key Vault's name, which is global and kept for 7 days after deletion (4 to 16
   * lowercase letters or digits). Defaults to one drawn when the API is first deployed and kept in the
   * stack's state: the same on every update, new after `pulumi destroy`.
   */
  nameSuffix?: pulumi.Input<string>;
  /**
   * The ARM id of the Azure ML workspace jobs are submitted to (a `GpuCluster`'s `workspaceId`). The
   * API's identity holds `AzureML Data Scientist` on this workspace and nowhere else. Required.
   */
  workspaceId: pulumi.Input<string>;
  /**
   * The ARM id of the registry the image is pulled from (a `Registry`'s `registryId`): the API's identity
   * gets `AcrPull` on it and pulls with it. Set with `registryServer`. Defaults to none: the image is pulled
   * anonymously, so it must be in a public registry.
   */
  registryId?: pulumi.Input<string>;
  /** The registry's login server (`<name>.azurecr.io`, a `Registry`'s `url`). Set with `registryId`. */
  registryServer?: pulumi.Input<string>;
  /**
   * The Entra ID tenant of the Key Vault. Defaults to the stack's `azure-native:tenantId` config, or else the
   * tenant of the credentials Pulumi runs with.
   */
  tenantId?: pulumi.Input<string>;
  /**
   * The client id of the user-assigned identity every job is submitted with (the job body's `identity`);
   * it must be attached to the workspace and its compute clusters (a `GpuCluster`'s `jobIdentityId`).
   * Defaults to none: jobs then name no identity and Azure ML runs them with the submitter's token.
   */
  jobIdentityClientId?: pulumi.Input<string>;
}

/** The subnets a `TrainingApi` makes in its own network. */
export interface ApiSubnets {
  /** The environment's subnet, delegated to `Microsoft.App/environments`. */
  apps: network.Subnet;
  /** The subnet of the private endpoints to the Key Vault and the registry. */
  endpoints: network.Subnet;
}

/** Private DNS zones of the Train API's private endpoints, when they exist already. */
export interface PrivateDnsZoneIdsArgs {
  /** The ARM id of a `privatelink.vaultcore.azure.net` zone. Defaults to a new zone. */
  vault?: pulumi.Input<string>;
  /** The ARM id of a `privatelink.azurecr.io` zone. Defaults to a new zone. */
  registry?: pulumi.Input<string>;
}

/** The settings of the Azure `TrainingApi` a `TrainingPlatform` passes on as they are. */
export interface TrainingApiSettings extends trainApi.TrainingApiCommonArgs {
  /**
   * Accept requests from the internet (`ingress.external: true`); the API keys are then the only gate.
   * Defaults to false: ingress is internal to the environment's virtual network, where its name resolves
   * through a private DNS zone linked to that network; reach it from there (a runner in the network or a
   * peered one, a VPN).
   */
  public?: boolean;
  /**
   * The ARM id of an existing Container Apps environment. It must already reach the registry and Key Vault
   * (a virtual network with private endpoints, or public access on them); the vault made here then keeps
   * public network access on, with Azure RBAC as its gate. Defaults to a new environment in a virtual
   * network. Conflicts with `infrastructureSubnetId` and `addressSpace`.
   */
  managedEnvironmentId?: pulumi.Input<string>;
  /**
   * A subnet of your virtual network for a new environment (at least /27, delegated to
   * `Microsoft.App/environments`). Set with `privateEndpointSubnetId`. Defaults to a subnet of a new
   * virtual network (see `addressSpace`). Conflicts with `managedEnvironmentId`.
   */
  infrastructureSubnetId?: pulumi.Input<string>;
  /**
   * A subnet for the private endpoints to the Key Vault and the registry, in the same virtual network as
   * `infrastructureSubnetId` (or one peered with it). Required with `infrastructureSubnetId`; defaults to a
   * subnet of the new virtual network otherwise.
   */
  privateEndpointSubnetId?: pulumi.Input<string>;
  /**
   * The address space of the virtual network made when no `infrastructureSubnetId` is given: a /16, of
   * which the environment takes the first /23 and the private endpoints the next /24. Pick one that does
   * not overlap a network you will peer it with. Defaults to `10.42.0.0/16`.
   */
  addressSpace?: string;
  /**
   * Existing private DNS zones to register the private endpoints in, by service: `vault`
   * (`privatelink.vaultcore.azure.net`) and `registry` (`privatelink.azurecr.io`). A zone name exists once
   * per resource group, so a second API in one resource group, or a network whose DNS is already set up,
   * passes its zones here. Defaults to new zones, linked to the environment's virtual network.
   */
  privateDnsZoneIds?: PrivateDnsZoneIdsArgs;
  /**
   * The ARM id of the Log Analytics workspace the environment's logs (the API's console and system logs) go
   * to, through a diagnostic setting. Defaults to a new workspace keeping 30 days.
   */
  logAnalyticsWorkspaceId?: pulumi.Input<string>;
  /**
   * Fewest replicas. Defaults to 1: the reconciler that moves jobs through their states runs inside the
   * app, so scaling to zero would stop job tracking.
   */
  minReplicas?: number;
  /** Most replicas. Defaults to 1 without `databaseUrl`, which it must then stay at; 3 with it. */
  maxReplicas?: number;
  /** CPU cores per replica (Container Apps sizes: 0.25 to 4 in steps of 0.25). Defaults to 0.5. */
  cpu?: number;
  /** Memory per replica, twice the CPU in GiB for consumption plans (`1Gi` for 0.5 CPU). Defaults to `1Gi`. */
  memory?: pulumi.Input<string>;
  /** Tags for every resource. Defaults to the trainkit tags only. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The roles the API's identity holds, each on one resource only: submitting jobs, pulling its image. */
export const API_WORKSPACE_ROLE: AzureRole = "AzureML Data Scientist";
/** The role the API's identity holds on the registry (`registryId`) only, to pull its image. */
export const API_REGISTRY_ROLE: AzureRole = "AcrPull";
/** The role the API's identity holds on each of its own secrets only. */
export const API_SECRET_ROLE: AzureRole = "Key Vault Secrets User";

const PORT = trainApi.TRAIN_API_PORT;

const MANAGED_ENV = [
  ...trainApi.SERVER_MANAGED_ENV,
  "TRAINKIT_AZUREML_SUBSCRIPTION_ID",
  "TRAINKIT_AZUREML_RESOURCE_GROUP",
  "TRAINKIT_AZUREML_WORKSPACE",
  "TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID",
  "AZURE_CLIENT_ID",
];

/** The TrainingApi parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  privateEndpoints: Partial<Record<PrivateLinkGroup, network.PrivateEndpoint>>;
}>();

/**
 * The Train API on Azure Container Apps, submitting jobs to Azure ML as its own user-assigned managed
 * identity (AzureML Data Scientist on the workspace, AcrPull on the registry, Key Vault Secrets User on its
 * secrets, nothing else), with its API keys in an RBAC-mode Key Vault, internal unless `public: true`.
 */
export class TrainingApi extends pulumi.ComponentResource {
  /** The user-assigned managed identity the app runs as and submits jobs with. */
  public readonly identity: managedidentity.UserAssignedIdentity;
  /** Every role assignment the identity holds, one resource each. */
  public readonly roleAssignments: authorization.RoleAssignment[];
  /** The Key Vault of the API's secrets: RBAC mode, purge protection on, public network access off unless `managedEnvironmentId` is given. */
  public readonly vault: keyvault.Vault;
  /** The Key Vault secret holding the API keys (`TRAINKIT_API_KEYS`); its value is secret. */
  public readonly apiKeysSecret: keyvault.Secret;
  /** The secret holding `databaseUrl`, whose value is secret; undefined without `databaseUrl`. */
  public readonly databaseUrlSecret?: keyvault.Secret;
  /** The Container Apps environment made in the virtual network; undefined when `managedEnvironmentId` is given. */
  public readonly environment?: app.ManagedEnvironment;
  /** The virtual network made for the environment, when no `infrastructureSubnetId` was given. */
  public readonly virtualNetwork?: network.VirtualNetwork;
  /** The environment's subnet and the private endpoints' subnet, when this component made them. */
  public readonly subnets?: ApiSubnets;
  /** The private endpoints to the Key Vault (`vault`) and the registry (`registry`), by service. */
  get privateEndpoints(): Partial<Record<PrivateLinkGroup, network.PrivateEndpoint>> {
    return offSchema.get(this, "privateEndpoints");
  }
  /** The Log Analytics workspace made for the environment's logs, when none was given. */
  public readonly logAnalytics?: operationalinsights.Workspace;
  /** The diagnostic setting sending the environment's logs to Log Analytics, for a new environment. */
  public readonly diagnostics?: monitor.DiagnosticSetting;
  /** The container app running the server. */
  public readonly app: app.ContainerApp;
  /** The app's HTTPS URL, the `apiUrl` a `TrainingJob` sends jobs to. */
  public readonly url: pulumi.Output<string>;
  /** The principal id of the API's identity. */
  public readonly principalId: pulumi.Output<string>;
  /** The client id of the API's identity (its `AZURE_CLIENT_ID`). */
  public readonly clientId: pulumi.Output<string>;

  constructor(name: string, args: TrainingApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:TrainingApi", name, {}, opts);
    const owner = ownerOf(this, "TrainingApi", name);
    if (args?.image === undefined)
      throw new ArgumentError(`${owner}: image must be set to the Train API image; got nothing`);
    const resourceGroupName = requireResourceGroup(args.resourceGroupName, owner);
    if (args.workspaceId === undefined) {
      throw new ArgumentError(
        `${owner}: workspaceId must be set to the ARM id of the Azure ML workspace jobs go to; got nothing`,
      );
    }
    const apiKeysJson = trainApi.apiKeysJson(owner, args);
    if ((args.registryId === undefined) !== (args.registryServer === undefined)) {
      throw new ArgumentError(
        `${owner}: registryId and registryServer must be set together; got only ${
          args.registryId === undefined ? "registryServer" : "registryId"
        }`,
      );
    }
    if (args.managedEnvironmentId !== undefined && args.infrastructureSubnetId !== undefined) {
      throw new ArgumentError(
        `${owner}: infrastructureSubnetId applies only to a new environment; got it together with managedEnvironmentId (set the subnet on that environment instead)`,
      );
    }
    if (args.managedEnvironmentId !== undefined && args.addressSpace !== undefined) {
      throw new ArgumentError(
        `${owner}: addressSpace applies only to the virtual network of a new environment; got it together with managedEnvironmentId (remove one)`,
      );
    }
    if (args.infrastructureSubnetId !== undefined && args.addressSpace !== undefined) {
      throw new ArgumentError(
        `${owner}: addressSpace sizes the virtual network made when no infrastructureSubnetId is given; got both (remove addressSpace, or infrastructureSubnetId to have a network made)`,
      );
    }
    if ((args.infrastructureSubnetId === undefined) !== (args.privateEndpointSubnetId === undefined)) {
      throw new ArgumentError(
        args.infrastructureSubnetId === undefined
          ? `${owner}: privateEndpointSubnetId goes with infrastructureSubnetId, in your own virtual network; got only privateEndpointSubnetId (set infrastructureSubnetId too, or remove it to have a network made)`
          : `${owner}: infrastructureSubnetId needs privateEndpointSubnetId, a subnet of the same network for the private endpoints to the Key Vault and registry; got only infrastructureSubnetId`,
      );
    }
    const newNetwork = args.managedEnvironmentId === undefined && args.infrastructureSubnetId === undefined;
    const subnetRanges = newNetwork ? subnetsOf(owner, args.addressSpace ?? "10.42.0.0/16") : undefined;
    const durable = args.databaseUrl !== undefined;
    const maxReplicas = args.maxReplicas ?? (durable ? 3 : 1);
    const minReplicas = args.minReplicas ?? 1;
    if (!Number.isInteger(maxReplicas) || maxReplicas < 1) {
      throw new ArgumentError(
        `${owner}: maxReplicas must be a whole number, at least 1; got ${shown(maxReplicas)}`,
      );
    }
    if (!durable && maxReplicas !== 1) {
      throw new ArgumentError(
        `${owner}: maxReplicas must be 1 when databaseUrl is not set, since each replica would keep its own embedded database; got ${maxReplicas}. Set databaseUrl to a Postgres URL to run more.`,
      );
    }
    if (!Number.isInteger(minReplicas) || minReplicas < 0 || minReplicas > maxReplicas) {
      throw new ArgumentError(
        `${owner}: minReplicas must be a whole number from 0 to maxReplicas (${maxReplicas}); got ${shown(minReplicas)}`,
      );
    }
    const cpu = args.cpu ?? 0.5;
    if (!(cpu >= 0.25 && cpu <= 4 && Number.isInteger(cpu * 4))) {
      throw new ArgumentError(`${owner}: cpu must be 0.25 to 4 in steps of 0.25; got ${shown(cpu)}`);
    }
    trainApi.rejectManagedEnv(owner, args.env, MANAGED_ENV);
    const isPublic = args.public ?? false;
    const tags = azureTags("training-api", args.tags);
    const parent = { parent: this };
    const where = { resourceGroupName, location: args.location };

    let infrastructureSubnetId = args.infrastructureSubnetId;
    let endpointSubnetId = args.privateEndpointSubnetId;
    if (subnetRanges !== undefined) {
      this.virtualNetwork = new network.VirtualNetwork(
        `${name}-vnet`,
        {
          ...where,
          virtualNetworkName: boundedName(`${name}-vnet`, 64),
          addressSpace: { addressPrefixes: [args.addressSpace ?? "10.42.0.0/16"] },
          tags,
        },
        // The subnets are their own resources; the network's own list would fight them on every update.
        { ...parent, ignoreChanges: ["subnets"] },
      );
      const inNetwork = { resourceGroupName, virtualNetworkName: this.virtualNetwork.name };
      const apps = new network.Subnet(
        `${name}-apps`,
        {
          ...inNetwork,
          subnetName: "apps",
          addressPrefix: subnetRanges.apps,
          delegations: [{ name: "apps", serviceName: "Microsoft.App/environments" }],
        },
        parent,
      );
      const endpoints = new network.Subnet(
        `${name}-endpoints`,
        {
          ...inNetwork,
          subnetName: "endpoints",
          addressPrefix: subnetRanges.endpoints,
          privateEndpointNetworkPolicies: "Disabled",
        },
        // Azure refuses a second subnet write on one network while the first is in progress.
        { ...parent, dependsOn: [apps] },
      );
      this.subnets = { apps, endpoints };
      infrastructureSubnetId = apps.id;
      endpointSubnetId = endpoints.id;
    }
    const privateAccess = endpointSubnetId !== undefined;

    this.identity = new managedidentity.UserAssignedIdentity(
      `${name}-identity`,
      { ...where, resourceName: boundedName(`${name}-api`, 128), tags },
      parent,
    );
    this.principalId = this.identity.principalId;
    this.clientId = this.identity.clientId;
    const grant = (suffix: string, role: AzureRole, scope: pulumi.Input<string>) =>
      assignRole(`${name}-${suffix}`, { principalId: this.identity.principalId, role, scope }, parent);

    const grants = [grant("submit-jobs", API_WORKSPACE_ROLE, args.workspaceId)];
    if (args.registryId !== undefined) grants.push(grant("pull-images", API_REGISTRY_ROLE, args.registryId));

    this.vault = new keyvault.Vault(
      `${name}-kv`,
      {
        ...where,
        vaultName: suffixedName(`${name}-kv`, nameSuffixFor(owner, name, args.nameSuffix, parent), 24, {
          dashes: true,
        }),
        properties: {
          tenantId: tenantIdFor(args.tenantId, parent),
          sku: { family: "A", name: "standard" },
          // Access is by Azure RBAC per secret, not vault-wide access policies.
          enableRbacAuthorization: true,
          enableSoftDelete: true,
          softDeleteRetentionInDays: 7,
          enablePurgeProtection: true,
          enabledForDeployment: false,
          enabledForTemplateDeployment: false,
          enabledForDiskEncryption: false,
          // With a private endpoint the environment reads secrets through it and the vault takes no
          // connection from the internet (ARM, which writes the secrets, is not one). An environment given
          // from outside may have no route to one, so its vault stays public, with RBAC as the gate.
          publicNetworkAccess: privateAccess ? "Disabled" : "Enabled",
          ...(privateAccess ? { networkAcls: { defaultAction: "Deny", bypass: "AzureServices" } } : {}),
        },
        tags,
      },
      parent,
    );

    const secret = (suffix: string, value: pulumi.Input<string>) => {
      const s = new keyvault.Secret(
        `${name}-${suffix}`,
        {
          resourceGroupName,
          vaultName: this.vault.name,
          secretName: suffix,
          properties: { value: pulumi.secret(value), contentType: "text/plain" },
          tags,
        },
        parent,
      );
      grants.push(grant(`${suffix}-read`, API_SECRET_ROLE, s.id));
      return s;
    };
    this.apiKeysSecret = secret("api-keys", apiKeysJson);
    this.databaseUrlSecret =
      args.databaseUrl === undefined ? undefined : secret("database-url", args.databaseUrl);
    this.roleAssignments = grants;

    // Private endpoints to the vault and the registry, resolvable by their usual names in the network.
    const networkReady: pulumi.Resource[] = [];
    offSchema.set(this, "privateEndpoints", {});
    if (endpointSubnetId !== undefined) {
      const virtualNetworkId = virtualNetworkOf(endpointSubnetId);
      const targets: [PrivateLinkGroup, pulumi.Input<string>][] = [["vault", this.vault.id]];
      if (args.registryId !== undefined) targets.push(["registry", args.registryId]);
      for (const [group, serviceId] of targets) {
        let zoneId = args.privateDnsZoneIds?.[group];
        if (zoneId === undefined) {
          const made = linkedZone(
            `${name}-${group}-dns`,
            { resourceGroupName, zoneName: PRIVATE_LINK_ZONES[group], virtualNetworkId, tags },
            parent,
          );
          networkReady.push(made.link);
          zoneId = made.zone.id;
        }
        const { endpoint, dns } = privateEndpointTo(
          `${name}-${group}`,
          { ...where, subnetId: endpointSubnetId, serviceId, group, zoneId, tags },
          parent,
        );
        networkReady.push(endpoint, dns);
        this.privateEndpoints[group] = endpoint;
      }
    }

    let environmentId = args.managedEnvironmentId;
    if (environmentId === undefined) {
      let logAnalyticsId = args.logAnalyticsWorkspaceId;
      if (logAnalyticsId === undefined) {
        this.logAnalytics = logAnalyticsWorkspace(name, where, tags, parent);
        logAnalyticsId = this.logAnalytics.id;
      }
      this.environment = new app.ManagedEnvironment(
        `${name}-env`,
        {
          ...where,
          environmentName: boundedName(`${name}-env`, 32),
          vnetConfiguration: { infrastructureSubnetId, internal: !isPublic },
          // Logs leave through diagnostic settings (below), which need no workspace key in the environment.
          appLogsConfiguration: { destination: "azure-monitor" },
          workloadProfiles: [{ name: "Consumption", workloadProfileType: "Consumption" }],
          tags,
        },
        parent,
      );
      this.diagnostics = new monitor.DiagnosticSetting(
        `${name}-env-logs`,
        {
          name: "trainkit-logs",
          resourceUri: this.environment.id,
          workspaceId: logAnalyticsId,
          logs: [{ categoryGroup: "allLogs", enabled: true }],
        },
        parent,
      );
      environmentId = this.environment.id;
      if (!isPublic && infrastructureSubnetId !== undefined) {
        // An internal environment answers on one private IP for every app under its default domain; this
        // zone makes `<app>.<default domain>` resolve to it everywhere in the virtual network.
        const { zone, link } = linkedZone(
          `${name}-env-dns`,
          {
            resourceGroupName,
            zoneName: this.environment.defaultDomain,
            virtualNetworkId: virtualNetworkOf(infrastructureSubnetId),
            tags,
          },
          parent,
        );
        const record = new privatedns.PrivateRecordSet(
          `${name}-env-dns`,
          {
            resourceGroupName,
            privateZoneName: zone.name,
            recordType: "A",
            relativeRecordSetName: "*",
            ttl: 300,
            aRecords: [{ ipv4Address: this.environment.staticIp }],
          },
          parent,
        );
        networkReady.push(link, record);
      }
    }

    const appSecrets = [
      { name: "api-keys", keyVaultUrl: this.apiKeysSecret.properties.secretUri, identity: this.identity.id },
      ...(this.databaseUrlSecret
        ? [
            {
              name: "database-url",
              keyVaultUrl: this.databaseUrlSecret.properties.secretUri,
              identity: this.identity.id,
            },
          ]
        : []),
    ];
    const env = [
      ...trainApi.serverEnv("azure-ml", "/tmp/trainkit"),
      { name: "TRAINKIT_AZUREML_SUBSCRIPTION_ID", value: subscriptionOf(args.workspaceId) },
      { name: "TRAINKIT_AZUREML_RESOURCE_GROUP", value: resourceGroupOf(args.workspaceId) },
      { name: "TRAINKIT_AZUREML_WORKSPACE", value: nameOf(args.workspaceId) },
      ...(args.jobIdentityClientId === undefined
        ? []
        : [{ name: "TRAINKIT_AZUREML_JOB_IDENTITY_CLIENT_ID", value: args.jobIdentityClientId }]),
      // DefaultAzureCredential picks the user-assigned identity by this client id.
      { name: "AZURE_CLIENT_ID", value: this.identity.clientId },
      { name: "TRAINKIT_API_KEYS", secretRef: "api-keys" },
      ...(this.databaseUrlSecret ? [{ name: "DATABASE_URL", secretRef: "database-url" }] : []),
      ...trainApi.extraEnv(args.env),
    ];
    const probe = (type: string, path: string, extra: Record<string, number>) => ({
      type,
      httpGet: { path, port: PORT },
      ...extra,
    });

    if (isPublic) {
      pulumi.log.warn(
        `TrainingApi ${name} is public: anyone on the internet can reach it, and its API keys are the only gate.`,
        this,
      );
    }

    this.app = new app.ContainerApp(
      name,
      {
        ...where,
        containerAppName: boundedName(name, 32),
        managedEnvironmentId: environmentId,
        workloadProfileName: args.managedEnvironmentId === undefined ? "Consumption" : undefined,
        identity: { type: "UserAssigned", userAssignedIdentities: [this.identity.id] },
        configuration: {
          activeRevisionsMode: "Single",
          ingress: {
            external: isPublic,
            targetPort: PORT,
            transport: "auto",
            allowInsecure: false,
          },
          secrets: appSecrets,
          registries:
            args.registryServer === undefined
              ? undefined
              : [{ server: args.registryServer, identity: this.identity.id }],
        },
        template: {
          containers: [
            {
              name: "train-api",
              image: args.image,
              env,
              resources: { cpu, memory: args.memory ?? "1Gi" },
              probes: [
                probe("Startup", trainApi.TRAIN_API_READY_PATH, { periodSeconds: 2, failureThreshold: 30 }),
                probe("Liveness", trainApi.TRAIN_API_LIVE_PATH, { periodSeconds: 10, failureThreshold: 3 }),
                probe("Readiness", trainApi.TRAIN_API_READY_PATH, { periodSeconds: 5, failureThreshold: 3 }),
              ],
            },
          ],
          scale: { minReplicas, maxReplicas },
        },
        tags,
      },
      // The app reads its secrets and pulls its image as the identity, through the private endpoints, when
      // a revision starts, so the role assignments and the endpoints with their DNS must exist first.
      { ...parent, dependsOn: [...grants, ...networkReady] },
    );

    this.url = this.app.configuration.apply((c) => `https://${c?.ingress?.fqdn ?? ""}`);
    this.registerOutputs({ url: this.url, principalId: this.principalId, clientId: this.clientId });
  }
}
