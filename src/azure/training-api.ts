import * as app from "@pulumi/azure-native/app";
import type * as authorization from "@pulumi/azure-native/authorization";
import * as keyvault from "@pulumi/azure-native/keyvault";
import * as managedidentity from "@pulumi/azure-native/managedidentity";
import * as pulumi from "@pulumi/pulumi";
import { boundedName } from "../components/naming";
import { ArgumentError, shown } from "../components/sentences";
import * as trainApi from "../components/train-api";
import { suffixedName } from "./name-suffix";
import {
  type AzureRole,
  assignRole,
  azureTags,
  nameOf,
  nameSuffixFor,
  requireResourceGroup,
  resourceGroupOf,
  subscriptionOf,
  tenantIdFor,
} from "./settings";

export interface TrainingApiArgs extends trainApi.TrainingApiCommonArgs {
  /** The resource group of the app, its identity and its Key Vault. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
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
   * The client id of the user-assigned identity every job is submitted with (the job body's `identity`);
   * it must be attached to the workspace and its compute clusters (a `GpuCluster`'s `jobIdentityId`).
   * Defaults to none: jobs then name no identity and Azure ML runs them with the submitter's token.
   */
  jobIdentityClientId?: pulumi.Input<string>;
  /**
   * Accept requests from the internet (`ingress.external: true`); the API keys are then the only gate.
   * Defaults to false: ingress is internal to the Container Apps environment (and to its virtual network
   * when `infrastructureSubnetId` is set).
   */
  public?: boolean;
  /**
   * The ARM id of an existing Container Apps environment. Defaults to a new environment, placed in
   * `infrastructureSubnetId` when that is given.
   */
  managedEnvironmentId?: pulumi.Input<string>;
  /**
   * A subnet (at least /27, delegated to `Microsoft.App/environments`) for a new environment, which then
   * has only a private IP in it, so callers in the virtual network can reach an internal API. Defaults to
   * none: an internal API is then reachable only from other apps in the same environment. Conflicts with
   * `managedEnvironmentId`.
   */
  infrastructureSubnetId?: pulumi.Input<string>;
  /**
   * The Entra ID tenant of the Key Vault. Defaults to the stack's `azure-native:tenantId` config, or else the
   * tenant of the credentials Pulumi runs with.
   */
  tenantId?: pulumi.Input<string>;
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
  /**
   * The random suffix of the Key Vault's name, which is global and kept for 7 days after deletion (4 to 16
   * lowercase letters or digits). Defaults to one drawn when the API is first deployed and kept in the
   * stack's state: the same on every update, new after `pulumi destroy`.
   */
  nameSuffix?: pulumi.Input<string>;
  /** Tags for every resource. Defaults to the trainkit tags only. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** The roles the API's identity holds, each on one resource only: submitting jobs, pulling its image. */
export const API_WORKSPACE_ROLE: AzureRole = "AzureML Data Scientist";
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

/**
 * The Train API on Azure Container Apps, submitting jobs to Azure ML as its own user-assigned managed
 * identity (AzureML Data Scientist on the workspace, AcrPull on the registry, Key Vault Secrets User on its
 * secrets, nothing else), with its API keys in an RBAC-mode Key Vault, internal unless `public: true`.
 */
export class TrainingApi extends pulumi.ComponentResource {
  public readonly identity: managedidentity.UserAssignedIdentity;
  /** Every role assignment the identity holds, one resource each. */
  public readonly roleAssignments: authorization.RoleAssignment[];
  public readonly vault: keyvault.Vault;
  public readonly apiKeysSecret: keyvault.Secret;
  public readonly databaseUrlSecret?: keyvault.Secret;
  public readonly environment?: app.ManagedEnvironment;
  public readonly app: app.ContainerApp;
  /** The app's HTTPS URL, the `apiUrl` a `TrainingJob` sends jobs to. */
  public readonly url: pulumi.Output<string>;
  /** The principal id of the API's identity. */
  public readonly principalId: pulumi.Output<string>;
  /** The client id of the API's identity (its `AZURE_CLIENT_ID`). */
  public readonly clientId: pulumi.Output<string>;

  constructor(name: string, args: TrainingApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:TrainingApi", name, {}, opts);
    const owner = `TrainingApi ${name}`;
    if (args?.image === undefined)
      throw new ArgumentError(`${owner}: image must be set to the Train API image; got nothing`);
    const resourceGroupName = requireResourceGroup(args.resourceGroupName, owner);
    if (args.workspaceId === undefined) {
      throw new ArgumentError(
        `${owner}: workspaceId must be set to the ARM id of the Azure ML workspace jobs go to; got nothing`,
      );
    }
    if (args.apiKeys === undefined) {
      throw new ArgumentError(`${owner}: apiKeys must be set to the TRAINKIT_API_KEYS JSON; got nothing`);
    }
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
          // Container Apps fetches referenced secrets over the vault's public endpoint unless its
          // environment is in a virtual network with a private endpoint to the vault; RBAC is the gate.
          publicNetworkAccess: "Enabled",
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
    this.apiKeysSecret = secret("api-keys", trainApi.apiKeysJson(args.apiKeys));
    this.databaseUrlSecret =
      args.databaseUrl === undefined ? undefined : secret("database-url", args.databaseUrl);
    this.roleAssignments = grants;

    let environmentId = args.managedEnvironmentId;
    if (environmentId === undefined) {
      this.environment = new app.ManagedEnvironment(
        `${name}-env`,
        {
          ...where,
          environmentName: boundedName(`${name}-env`, 32),
          vnetConfiguration:
            args.infrastructureSubnetId === undefined
              ? undefined
              : { infrastructureSubnetId: args.infrastructureSubnetId, internal: !isPublic },
          workloadProfiles: [{ name: "Consumption", workloadProfileType: "Consumption" }],
          tags,
        },
        parent,
      );
      environmentId = this.environment.id;
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
    const probe = (type: string, extra: Record<string, number>) => ({
      type,
      httpGet: { path: trainApi.TRAIN_API_HEALTH_PATH, port: PORT },
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
                probe("Startup", { periodSeconds: 2, failureThreshold: 30 }),
                probe("Liveness", { periodSeconds: 10, failureThreshold: 3 }),
                probe("Readiness", { periodSeconds: 5, failureThreshold: 3 }),
              ],
            },
          ],
          scale: { minReplicas, maxReplicas },
        },
        tags,
      },
      // The app reads its secrets and pulls its image as the identity when a revision starts, so the
      // role assignments must exist first.
      { ...parent, dependsOn: grants },
    );

    this.url = this.app.configuration.apply((c) => `https://${c?.ingress?.fqdn ?? ""}`);
    this.registerOutputs({ url: this.url, principalId: this.principalId, clientId: this.clientId });
  }
}
