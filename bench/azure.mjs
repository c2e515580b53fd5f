// What the Azure components cost over writing the same resources with @pulumi/azure-native by hand, under
// Pulumi's mock runtime, and what importing trainkit/azure costs over importing the azure-native modules
// it uses (and over the whole @pulumi/azure-native package).
// Run after `npm run build`: node bench/azure.mjs [platforms-per-run] [runs]
import { runPlatformBench } from "./lib/platform-bench.mjs";

// The azure-native modules trainkit/azure imports, one per Azure service.
const MODULES = [
  "app",
  "applicationinsights",
  "authorization",
  "containerregistry",
  "keyvault",
  "machinelearningservices",
  "managedidentity",
  "monitor",
  "network",
  "operationalinsights",
  "privatedns",
  "storage",
].map((m) => `@pulumi/azure-native/${m}`);

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
const ARM = {
  "azure-native:storage:StorageAccount": ["Microsoft.Storage/storageAccounts", "accountName"],
  "azure-native:containerregistry:Registry": ["Microsoft.ContainerRegistry/registries", "registryName"],
  "azure-native:machinelearningservices:Workspace": [
    "Microsoft.MachineLearningServices/workspaces",
    "workspaceName",
  ],
  "azure-native:keyvault:Vault": ["Microsoft.KeyVault/vaults", "vaultName"],
  "azure-native:keyvault:Secret": ["Microsoft.KeyVault/vaults/v/secrets", "secretName"],
  "azure-native:managedidentity:UserAssignedIdentity": [
    "Microsoft.ManagedIdentity/userAssignedIdentities",
    "resourceName",
  ],
  "azure-native:app:ManagedEnvironment": ["Microsoft.App/managedEnvironments", "environmentName"],
  "azure-native:operationalinsights:Workspace": ["Microsoft.OperationalInsights/workspaces", "workspaceName"],
  "azure-native:applicationinsights:Component": ["Microsoft.Insights/components", "resourceName"],
};

const tags = { "managed-by": "trainkit" };
const roleId = (scope, guid) =>
  scope.apply(
    (s) => `/subscriptions/${s.split("/")[2]}/providers/Microsoft.Authorization/roleDefinitions/${guid}`,
  );

// The resources TrainingPlatform registers (with one GPU pool), written directly against azure-native
// with the same inputs, as a team would without trainkit.
function handWritten(az, pulumi, i) {
  const resourceGroupName = "bench-rg";
  const where = { resourceGroupName, location: "westeurope" };
  const grant = (n, principalId, guid, scope) =>
    new az.authorization.RoleAssignment(n, {
      principalId,
      principalType: "ServicePrincipal",
      roleDefinitionId: roleId(scope, guid),
      scope,
    });
  const account = (n, accountName, publicNetworkAccess) =>
    new az.storage.StorageAccount(n, {
      ...where,
      accountName,
      kind: "StorageV2",
      sku: { name: "Standard_LRS" },
      accessTier: "Hot",
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      minimumTlsVersion: "TLS1_2",
      enableHttpsTrafficOnly: true,
      allowCrossTenantReplication: false,
      publicNetworkAccess,
      networkRuleSet: { defaultAction: "Deny", bypass: "AzureServices" },
      tags,
    });
  const registry = new az.containerregistry.Registry(`h${i}-images`, {
    ...where,
    registryName: `h${i}images`,
    sku: { name: "Premium" },
    adminUserEnabled: false,
    anonymousPullEnabled: false,
    publicNetworkAccess: "Disabled",
    networkRuleBypassOptions: "AzureServices",
    policies: { retentionPolicy: { status: "enabled", days: 7 }, exportPolicy: { status: "disabled" } },
    tags,
  });
  const wsStorage = account(`h${i}-ws`, `h${i}ws`, "Disabled");
  const kv = new az.keyvault.Vault(`h${i}-kv`, {
    ...where,
    vaultName: `h${i}-kv`,
    properties: {
      tenantId: "bench-tenant",
      sku: { family: "A", name: "standard" },
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 90,
      enablePurgeProtection: true,
      publicNetworkAccess: "Disabled",
      networkAcls: { defaultAction: "Deny", bypass: "AzureServices" },
    },
    tags,
  });
  const logs = new az.operationalinsights.Workspace(`h${i}-logs`, {
    ...where,
    workspaceName: `h${i}-logs`,
    sku: { name: "PerGB2018" },
    retentionInDays: 30,
    tags,
  });
  const insights = new az.applicationinsights.Component(`h${i}-insights`, {
    ...where,
    resourceName: `h${i}-insights`,
    kind: "web",
    applicationType: "web",
    ingestionMode: "LogAnalytics",
    workspaceResourceId: logs.id,
    disableLocalAuth: true,
    tags,
  });
  const ws = new az.machinelearningservices.Workspace(`h${i}-ml`, {
    ...where,
    workspaceName: `h${i}-ml`,
    kind: "Default",
    sku: { name: "Basic", tier: "Basic" },
    identity: { type: "SystemAssigned" },
    storageAccount: wsStorage.id,
    keyVault: kv.id,
    applicationInsights: insights.id,
    containerRegistry: registry.id,
    publicNetworkAccess: "Disabled",
    allowPublicAccessWhenBehindVnet: false,
    systemDatastoresAuthMode: "Identity",
    managedNetwork: { isolationMode: "AllowInternetOutbound" },
    serverlessComputeSettings: { serverlessComputeNoPublicIP: true },
    tags,
  });
  const rule = (n, ruleName, serviceResourceId, subresourceTarget) =>
    new az.machinelearningservices.ManagedNetworkSettingsRule(n, {
      resourceGroupName,
      workspaceName: ws.name,
      ruleName,
      properties: {
        type: "PrivateEndpoint",
        category: "UserDefined",
        destination: { serviceResourceId, subresourceTarget },
      },
    });
  rule(`h${i}-registry-rule`, "trainkit-registry", registry.id, "registry");
  const compute = new az.machinelearningservices.Compute(`h${i}-gpu`, {
    resourceGroupName,
    workspaceName: ws.name,
    computeName: "gpu-cluster",
    location: "westeurope",
    identity: { type: "SystemAssigned" },
    properties: {
      computeType: "AmlCompute",
      disableLocalAuth: true,
      properties: {
        vmSize: "Standard_NC24ads_A100_v4",
        vmPriority: "Dedicated",
        osType: "Linux",
        scaleSettings: { minNodeCount: 0, maxNodeCount: 2, nodeIdleTimeBeforeScaleDown: "PT120S" },
        enableNodePublicIp: false,
        remoteLoginPortPublicAccess: "Disabled",
      },
    },
    tags,
  });
  const bucket = (suffix, datastore) => {
    const acct = account(`h${i}-${suffix}`, `h${i}${suffix}`, "Disabled");
    const inAccount = { resourceGroupName, accountName: acct.name };
    const svc = new az.storage.BlobServiceProperties(`h${i}-${suffix}`, {
      ...inAccount,
      blobServicesName: "default",
      isVersioningEnabled: true,
      deleteRetentionPolicy: { enabled: true, days: 7 },
      containerDeleteRetentionPolicy: { enabled: true, days: 7 },
    });
    const container = new az.storage.BlobContainer(`h${i}-${suffix}`, {
      ...inAccount,
      containerName: suffix,
      publicAccess: "None",
    });
    new az.storage.ManagementPolicy(
      `h${i}-${suffix}`,
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
                actions: { version: { delete: { daysAfterCreationGreaterThan: 30 } } },
              },
            },
          ],
        },
      },
      { dependsOn: [svc] },
    );
    new az.machinelearningservices.Datastore(`h${i}-${suffix}`, {
      resourceGroupName,
      workspaceName: ws.name,
      name: datastore,
      properties: {
        datastoreType: "AzureBlob",
        accountName: acct.name,
        containerName: container.name,
        endpoint: "core.windows.net",
        protocol: "https",
        resourceGroup: resourceGroupName,
        subscriptionId: acct.id.apply((id) => id.split("/")[2]),
        credentials: { credentialsType: "None" },
        serviceDataAccessAuthIdentity: "WorkspaceSystemAssignedIdentity",
      },
    });
    rule(`h${i}-${suffix}-rule`, `trainkit-${suffix}`, acct.id, "blob");
    return acct;
  };
  const data = bucket("data", "traindata");
  const output = bucket("output", "trainoutput");
  for (const [who, principal] of [
    ["ws", ws.identity.apply((x) => x.principalId)],
    ["gpu", compute.identity.apply((x) => x.principalId)],
  ]) {
    grant(`h${i}-${who}-read`, principal, "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", data.id);
    grant(`h${i}-${who}-write`, principal, "ba92f5b4-2d11-453d-a403-e96b0029c9fe", output.id);
    grant(`h${i}-${who}-pull`, principal, "7f951dda-4ed3-4680-a7ca-43fe172d538d", registry.id);
  }
  const identity = new az.managedidentity.UserAssignedIdentity(`h${i}-api-identity`, {
    ...where,
    resourceName: `h${i}-api`,
    tags,
  });
  const grants = [
    grant(`h${i}-api-submit`, identity.principalId, "f6c7c914-8db3-469d-8ca1-694a8f32e121", ws.id),
    grant(`h${i}-api-pull`, identity.principalId, "7f951dda-4ed3-4680-a7ca-43fe172d538d", registry.id),
  ];
  const vault = new az.keyvault.Vault(`h${i}-api-kv`, {
    ...where,
    vaultName: `h${i}-api-kv`,
    properties: {
      tenantId: "bench-tenant",
      sku: { family: "A", name: "standard" },
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      softDeleteRetentionInDays: 7,
      enablePurgeProtection: true,
      publicNetworkAccess: "Enabled",
    },
    tags,
  });
  const secret = new az.keyvault.Secret(`h${i}-api-keys`, {
    resourceGroupName,
    vaultName: vault.name,
    secretName: "api-keys",
    properties: { value: pulumi.secret('{"bench-key-0123456789":["bench"]}'), contentType: "text/plain" },
    tags,
  });
  grants.push(
    grant(`h${i}-api-keys-read`, identity.principalId, "4633458b-17de-408a-b874-0445c86b69e6", secret.id),
  );
  const env = new az.app.ManagedEnvironment(`h${i}-api-env`, {
    ...where,
    environmentName: `h${i}-api-env`,
    workloadProfiles: [{ name: "Consumption", workloadProfileType: "Consumption" }],
    tags,
  });
  const probe = (type) => ({ type, httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 5 });
  new az.app.ContainerApp(
    `h${i}-api`,
    {
      ...where,
      containerAppName: `h${i}-api`,
      managedEnvironmentId: env.id,
      workloadProfileName: "Consumption",
      identity: { type: "UserAssigned", userAssignedIdentities: [identity.id] },
      configuration: {
        activeRevisionsMode: "Single",
        ingress: { external: false, targetPort: 8080, transport: "auto", allowInsecure: false },
        secrets: [{ name: "api-keys", keyVaultUrl: secret.properties.secretUri, identity: identity.id }],
        registries: [{ server: registry.loginServer, identity: identity.id }],
      },
      template: {
        containers: [
          {
            name: "train-api",
            image: "bench.azurecr.io/trainkit:0.1.0",
            env: [
              { name: "HOST", value: "0.0.0.0" },
              { name: "PORT", value: "8080" },
              { name: "TRAINKIT_AZUREML_SUBSCRIPTION_ID", value: ws.id.apply((x) => x.split("/")[2]) },
              { name: "TRAINKIT_AZUREML_RESOURCE_GROUP", value: resourceGroupName },
              { name: "TRAINKIT_AZUREML_WORKSPACE", value: ws.name },
              { name: "AZURE_CLIENT_ID", value: identity.clientId },
              { name: "TRAINKIT_API_KEYS", secretRef: "api-keys" },
            ],
            resources: { cpu: 0.5, memory: "1Gi" },
            probes: [probe("Startup"), probe("Liveness"), probe("Readiness")],
          },
        ],
        scale: { minReplicas: 1, maxReplicas: 1 },
      },
      tags,
    },
    { dependsOn: grants },
  );
}

const platformArgs = (i) => ({
  resourceGroupName: "bench-rg",
  location: "westeurope",
  api: { image: "bench.azurecr.io/trainkit:0.1.0", apiKeys: { "bench-key-0123456789": ["bench"] } },
  cluster: { gpuPools: [{ name: "gpu-cluster", gpu: "nvidia-a100-80gb", maxNodes: 2 }] },
  registry: { registryName: `p${i}images` },
});

const modules = MODULES.join(",");

await runPlatformBench(import.meta.url, {
  cloud: "azure",
  provider: (require) => Object.fromEntries(MODULES.map((m) => [m.split("/").pop(), require(m)])),
  newResource({ type, name, inputs }) {
    const arm = ARM[type];
    const given = arm ? (inputs[arm[1]] ?? name) : name;
    const id = arm
      ? `/subscriptions/${SUBSCRIPTION}/resourceGroups/${inputs.resourceGroupName}/providers/${arm[0]}/${given}`
      : `${name}-id`;
    const extra = { name: given };
    if (type.endsWith("UserAssignedIdentity")) Object.assign(extra, { principalId: name, clientId: name });
    if (type.startsWith("azure-native:machinelearningservices:Workspace") || type.endsWith(":Compute"))
      extra.identity = { type: "SystemAssigned", principalId: name };
    if (type.endsWith("Registry")) extra.loginServer = `${given}.azurecr.io`;
    if (type.endsWith("StorageAccount"))
      extra.primaryEndpoints = { blob: `https://${given}.blob.core.windows.net/` };
    if (type.endsWith("keyvault:Secret"))
      extra.properties = { secretUri: `https://v.vault.azure.net/secrets/${given}` };
    return { id, state: { ...inputs, ...extra } };
  },
  config: { "azure-native:tenantId": "bench-tenant" },
  platformArgs,
  handWritten,
  imports: {
    targets: { "trainkit/azure": "trainkit/azure", modules, root: "@pulumi/azure-native" },
    over: modules,
    print(m) {
      console.log(
        `  require("trainkit/azure")                     ${m["trainkit/azure"].toFixed(1).padStart(8)} ms`,
      );
      console.log(
        `  the ${MODULES.length} azure-native modules it uses           ${m.modules.toFixed(1).padStart(8)} ms`,
      );
      console.log(`  require("@pulumi/azure-native") (whole)       ${m.root.toFixed(1).padStart(8)} ms`);
      console.log(
        `  ratio trainkit/azure / its modules:           ${(m["trainkit/azure"] / m.modules).toFixed(2)}`,
      );
      console.log(
        `  ratio trainkit/azure / whole azure-native:    ${(m["trainkit/azure"] / m.root).toFixed(2)}`,
      );
      console.log(`  trainkit/azure on top of its loaded modules:  ${m.extra.toFixed(1)} ms`);
    },
  },
});
