import * as authorization from "@pulumi/azure-native/authorization";
import * as operationalinsights from "@pulumi/azure-native/operationalinsights";
import * as pulumi from "@pulumi/pulumi";
import { mergeLabels } from "../components/labels";
import { checkSuffix, NameSuffix } from "../components/name-suffix";
import { boundedName } from "../components/naming";
import { ArgumentError, shown } from "../components/sentences";

/**
 * The Azure built-in roles trainkit assigns, by the name the portal shows, with their role definition
 * GUIDs (the same in every tenant). Nothing here is broader than the one job it is granted for.
 */
export const AZURE_ROLES = {
  /** Everything in an Azure ML workspace (submitting jobs among it) except creating or deleting compute and changing the workspace itself. */
  "AzureML Data Scientist": "f6c7c914-8db3-469d-8ca1-694a8f32e121",
  /**
   * Approves private endpoint connections to Azure AI's dependency resources (storage, registries, Key
   * Vaults, ...): what an Azure ML workspace's identity needs on each target of a managed-network private
   * endpoint rule, so that the endpoint it creates there is approved.
   */
  "Azure AI Enterprise Network Connection Approver": "b556d68e-0be0-4f35-a333-ad7ee1ce17ea",
  /** Pulls images from a container registry. */
  AcrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
  /** Reads secret values from a Key Vault in RBAC mode. */
  "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
  /** Lists containers and reads blobs. */
  "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  /** Reads, writes and deletes blobs and containers. */
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
} as const;
/** The name of one of `AZURE_ROLES`, what `assignRole` takes. */
export type AzureRole = keyof typeof AZURE_ROLES;

/**
 * The resource providers a `TrainingPlatform` deploys to. A subscription must be registered for each
 * before its first resource (`az provider register --namespace <ns>`, once per subscription, by someone
 * allowed to register providers there, such as an Owner or Contributor); otherwise Azure answers `MissingSubscriptionRegistration`, and
 * azure-native does not register them itself. `Microsoft.Network` is also what Azure ML's managed network
 * makes its private endpoints with. `Microsoft.Authorization` and `Microsoft.Resources` are always registered.
 */
export const AZURE_RESOURCE_PROVIDERS = [
  "Microsoft.App",
  "Microsoft.ContainerRegistry",
  "Microsoft.Insights",
  "Microsoft.KeyVault",
  "Microsoft.MachineLearningServices",
  "Microsoft.ManagedIdentity",
  "Microsoft.Network",
  "Microsoft.OperationalInsights",
  "Microsoft.Storage",
] as const;

/** The command that registers every provider in `AZURE_RESOURCE_PROVIDERS` on the current subscription. */
export const REGISTER_PROVIDERS_COMMAND = `for ns in ${AZURE_RESOURCE_PROVIDERS.join(" ")}; do az provider register --namespace "$ns" --wait; done`;

/** Tags for an Azure resource: the user's plus the trainkit ones (`managed-by`, `trainkit-component`). */
export function azureTags(component: string, user?: pulumi.Input<Record<string, pulumi.Input<string>>>) {
  return mergeLabels(component, user);
}

/** The subscription id in an ARM resource id (`/subscriptions/<id>/resourceGroups/...`). */
export function subscriptionOf(resourceId: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(resourceId).apply((id) => armPart(id, "subscriptions"));
}

/** The resource group in an ARM resource id. */
export function resourceGroupOf(resourceId: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(resourceId).apply((id) => armPart(id, "resourceGroups"));
}

/** The last segment of an ARM resource id: the resource's own name. */
export function nameOf(resourceId: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(resourceId).apply((id) => id.split("/").filter(Boolean).pop() ?? "");
}

function armPart(id: string, key: string): string {
  const parts = id.split("/");
  const at = parts.findIndex((p) => p.toLowerCase() === key.toLowerCase());
  const value = at >= 0 ? parts[at + 1] : undefined;
  if (!value) throw new ArgumentError(`an ARM resource id must contain /${key}/<value>; got ${shown(id)}`);
  return value;
}

/**
 * One role assignment of a built-in role to a managed identity, on exactly `scope`. The role definition id
 * is built from the scope's own subscription, so no lookup of the deploying identity is needed.
 */
export function assignRole(
  name: string,
  args: {
    /** The principal id of the managed identity (or other service principal) that gets the role. */
    principalId: pulumi.Input<string>;
    /** The built-in role, by its name in `AZURE_ROLES`. */
    role: AzureRole;
    /** The ARM id of the one resource (or resource group) the role holds on. */
    scope: pulumi.Input<string>;
  },
  opts: pulumi.CustomResourceOptions,
): authorization.RoleAssignment {
  return new authorization.RoleAssignment(
    name,
    {
      principalId: args.principalId,
      // Without it ARM looks the principal up in Entra ID, which fails for an identity created seconds ago.
      principalType: "ServicePrincipal",
      roleDefinitionId: pulumi.interpolate`/subscriptions/${subscriptionOf(args.scope)}/providers/Microsoft.Authorization/roleDefinitions/${AZURE_ROLES[args.role]}`,
      scope: args.scope,
      description: `${args.role} (trainkit)`,
    },
    opts,
  );
}

/**
 * `value`, or the stack's `azure-native:tenantId` config, or the tenant of the credentials Pulumi runs
 * with. Key Vaults need it by value.
 */
export function tenantIdFor(value: pulumi.Input<string> | undefined, opts?: pulumi.InvokeOptions) {
  if (value !== undefined) return pulumi.output(value);
  const fromConfig = new pulumi.Config("azure-native").get("tenantId");
  if (fromConfig) return pulumi.output(fromConfig);
  return authorization.getClientConfigOutput(opts).tenantId;
}

/** The resource group every Azure component requires, checked so that a missing one fails at preview. */
export function requireResourceGroup(value: pulumi.Input<string> | undefined, owner: string) {
  if (value === undefined || value === "") {
    throw new ArgumentError(
      `${owner}: resourceGroupName must be set to the resource group to create it in; got ${shown(value)}`,
    );
  }
  return value;
}

/**
 * The suffix of a component's globally unique names: `given` (a parent's, or one the user pins), or else
 * a `NameSuffix` made for the component, drawn once and kept in the stack's state.
 */
export function nameSuffixFor(
  owner: string,
  name: string,
  given: pulumi.Input<string> | undefined,
  opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
  if (given === undefined) return new NameSuffix(`${name}-suffix`, {}, opts).suffix;
  // A plain string is checked now, so `pulumi preview` names the field; an output when it is known.
  if (typeof given === "string") return pulumi.output(checkSuffix(owner, "nameSuffix", given));
  return pulumi.output(given).apply((s) => checkSuffix(owner, "nameSuffix", s));
}

/**
 * The Log Analytics workspace a component sends its logs to when the user names none (`<name>-logs`,
 * pay-as-you-go, 30 days' retention).
 */
export function logAnalyticsWorkspace(
  name: string,
  where: { resourceGroupName: pulumi.Input<string>; location?: pulumi.Input<string> },
  tags: pulumi.Input<Record<string, pulumi.Input<string>>>,
  opts: pulumi.CustomResourceOptions,
): operationalinsights.Workspace {
  return new operationalinsights.Workspace(
    `${name}-logs`,
    {
      ...where,
      workspaceName: boundedName(`${name}-logs`, 63),
      sku: { name: "PerGB2018" },
      retentionInDays: 30,
      tags,
    },
    opts,
  );
}
