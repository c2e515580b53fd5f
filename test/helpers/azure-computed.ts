import type { Inputs } from "./pulumi-mocks";

/** The subscription the mock Azure resources live in. */
export const MOCK_SUBSCRIPTION = "00000000-1111-2222-3333-444444444444";

const PROVIDERS: Record<string, [namespace: string, kind: string, nameKey: string]> = {
  "azure-native:storage:StorageAccount": ["Microsoft.Storage", "storageAccounts", "accountName"],
  "azure-native:containerregistry:Registry": ["Microsoft.ContainerRegistry", "registries", "registryName"],
  "azure-native:machinelearningservices:Workspace": [
    "Microsoft.MachineLearningServices",
    "workspaces",
    "workspaceName",
  ],
  "azure-native:keyvault:Vault": ["Microsoft.KeyVault", "vaults", "vaultName"],
  "azure-native:managedidentity:UserAssignedIdentity": [
    "Microsoft.ManagedIdentity",
    "userAssignedIdentities",
    "resourceName",
  ],
  "azure-native:app:ManagedEnvironment": ["Microsoft.App", "managedEnvironments", "environmentName"],
  "azure-native:operationalinsights:Workspace": [
    "Microsoft.OperationalInsights",
    "workspaces",
    "workspaceName",
  ],
  "azure-native:applicationinsights:Component": ["Microsoft.Insights", "components", "resourceName"],
  "azure-native:network:VirtualNetwork": ["Microsoft.Network", "virtualNetworks", "virtualNetworkName"],
  "azure-native:network:PrivateEndpoint": ["Microsoft.Network", "privateEndpoints", "privateEndpointName"],
  "azure-native:privatedns:PrivateZone": ["Microsoft.Network", "privateDnsZones", "privateZoneName"],
};

/** The ARM id Azure gives a resource of `namespace/kind` named `name` in a resource group. */
export function armId(resourceGroup: string, namespace: string, kind: string, name: string): string {
  return `/subscriptions/${MOCK_SUBSCRIPTION}/resourceGroups/${resourceGroup}/providers/${namespace}/${kind}/${name}`;
}

/**
 * The output properties Azure computes that trainkit's Azure components read: ARM ids (from which the
 * components take subscription, resource group and names), the blob endpoint, the registry's login
 * server, identities' principal and client ids, Key Vault secret URIs and the Container App's FQDN.
 * Pass as `installPulumiMocks({ computed: azureComputed })`.
 */
export function azureComputed({ type, name, inputs }: { type: string; name: string; inputs: Inputs }) {
  const provider = PROVIDERS[type];
  const rg = inputs.resourceGroupName ?? "mock-rg";
  if (provider) {
    const [namespace, kind, nameKey] = provider;
    const given = (inputs[nameKey] as string | undefined) ?? name;
    const id = armId(rg, namespace, kind, given);
    const extra: Record<string, unknown> = {};
    switch (type) {
      case "azure-native:storage:StorageAccount":
        extra.primaryEndpoints = { blob: `https://${given}.blob.core.windows.net/` };
        break;
      case "azure-native:containerregistry:Registry":
        extra.loginServer = `${given.toLowerCase()}.azurecr.io`;
        break;
      case "azure-native:machinelearningservices:Workspace":
        extra.identity = { ...inputs.identity, principalId: `principal-of-${name}` };
        break;
      case "azure-native:app:ManagedEnvironment":
        extra.defaultDomain = `${given}.westeurope.azurecontainerapps.io`;
        extra.staticIp = "10.42.0.4";
        break;
      case "azure-native:managedidentity:UserAssignedIdentity":
        extra.principalId = `principal-of-${name}`;
        extra.clientId = `client-of-${name}`;
        break;
    }
    return { id, name: given, ...extra };
  }
  switch (type) {
    case "azure-native:machinelearningservices:Compute":
      return {
        name: inputs.computeName ?? name,
        identity: { ...inputs.identity, principalId: `principal-of-${name}` },
      };
    case "azure-native:network:Subnet":
      return {
        id: `${armId(rg, "Microsoft.Network", "virtualNetworks", inputs.virtualNetworkName)}/subnets/${inputs.subnetName}`,
        name: inputs.subnetName,
      };
    case "azure-native:storage:BlobContainer":
      return { name: inputs.containerName ?? name };
    case "azure-native:machinelearningservices:Datastore":
      return { name: inputs.name ?? name };
    case "azure-native:keyvault:Secret": {
      const secretName = inputs.secretName ?? name;
      return {
        id: `${armId(rg, "Microsoft.KeyVault", "vaults", inputs.vaultName)}/secrets/${secretName}`,
        name: secretName,
        properties: {
          ...inputs.properties,
          secretUri: `https://${inputs.vaultName}.vault.azure.net/secrets/${secretName}`,
        },
      };
    }
    case "azure-native:app:ContainerApp":
      return {
        configuration: {
          ...inputs.configuration,
          ingress: {
            ...inputs.configuration?.ingress,
            fqdn: `${inputs.containerAppName ?? name}.mock.azurecontainerapps.io`,
          },
        },
      };
    default:
      return {};
  }
}
