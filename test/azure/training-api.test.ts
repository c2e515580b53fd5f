import { beforeAll, describe, expect, it } from "vitest";
import { AZURE_ROLES, TrainingApi, type TrainingApiArgs } from "../../src/azure";
import { armId, azureComputed, MOCK_SUBSCRIPTION } from "../helpers/azure-computed";
import { type Inputs, installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const APP = "azure-native:app:ContainerApp";
const ENVIRONMENT = "azure-native:app:ManagedEnvironment";
const ROLE = "azure-native:authorization:RoleAssignment";
const SECRET = "azure-native:keyvault:Secret";
const VAULT = "azure-native:keyvault:Vault";
const NETWORK = "azure-native:network:VirtualNetwork";
const SUBNET = "azure-native:network:Subnet";
const ENDPOINT = "azure-native:network:PrivateEndpoint";
const DNS_GROUP = "azure-native:network:PrivateDnsZoneGroup";
const ZONE = "azure-native:privatedns:PrivateZone";
const LINK = "azure-native:privatedns:VirtualNetworkLink";
const RECORD = "azure-native:privatedns:PrivateRecordSet";
const DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting";
const LOGS = "azure-native:operationalinsights:Workspace";

const API_KEY = "tk_live_0123456789abcdef";
const WORKSPACE_ID = armId("ml-rg", "Microsoft.MachineLearningServices", "workspaces", "acme-ml");
const REGISTRY_ID = armId("ml-rg", "Microsoft.ContainerRegistry", "registries", "acmeimages");
const args: TrainingApiArgs = {
  resourceGroupName: "api-rg",
  image: "acmeimages.azurecr.io/trainkit:0.1.0",
  workspaceId: WORKSPACE_ID,
  registryId: REGISTRY_ID,
  registryServer: "acmeimages.azurecr.io",
  apiKeys: { [API_KEY]: ["team-vision"] },
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({
    computed: azureComputed,
    config: { "azure-native:tenantId": "tenant-0000" },
  });
});

async function build(name: string, extra: Partial<TrainingApiArgs> = {}) {
  const api = new TrainingApi(name, { ...args, ...extra });
  await mocks.settle();
  return api;
}

function envOf(name: string): Record<string, Inputs> {
  const container = mocks.one(APP, name).inputs.template.containers[0];
  return Object.fromEntries(container.env.map((e: { name: string }) => [e.name, e]));
}

const roleName = (definitionId: string) =>
  Object.entries(AZURE_ROLES).find(([, guid]) => definitionId.endsWith(`/${guid}`))?.[0];

describe("TrainingApi", () => {
  it("grants its identity exactly AzureML Data Scientist on the workspace, AcrPull on the registry and Key Vault Secrets User on its secret", async () => {
    await build("least");
    const grants = mocks.ofType(ROLE).filter((r) => r.name.startsWith("least-"));
    expect(grants.every((g) => g.inputs.principalId === "principal-of-least-identity")).toBe(true);
    expect(grants.every((g) => g.inputs.principalType === "ServicePrincipal")).toBe(true);
    expect(grants.map((g) => [roleName(g.inputs.roleDefinitionId), g.inputs.scope]).sort()).toEqual(
      [
        ["AzureML Data Scientist", WORKSPACE_ID],
        ["AcrPull", REGISTRY_ID],
        [
          "Key Vault Secrets User",
          `${armId("api-rg", "Microsoft.KeyVault", "vaults", mocks.one(VAULT, "least-kv").inputs.vaultName)}/secrets/api-keys`,
        ],
      ].sort(),
    );
    expect(grants[0]!.inputs.roleDefinitionId).toBe(
      `/subscriptions/${MOCK_SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/${AZURE_ROLES["AzureML Data Scientist"]}`,
    );
  });

  it("holds no Owner, Contributor or subscription-wide role", async () => {
    await build("noowner", { databaseUrl: "postgresql://api:pw@10.0.0.5:5432/trainkit" });
    const grants = mocks.ofType(ROLE).filter((r) => r.name.startsWith("noowner-"));
    expect(grants.length).toBe(4);
    const definitions = grants.map((g) => g.inputs.roleDefinitionId as string);
    for (const broad of ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c"]) {
      expect(definitions.some((d) => d.endsWith(broad))).toBe(false);
    }
    for (const g of grants) {
      expect(g.inputs.scope).not.toMatch(/^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?$/);
    }
  });

  it("keeps the API keys in an RBAC-mode Key Vault as a secret and references them from the app", async () => {
    await build("keys");
    const vault = mocks.one(VAULT, "keys-kv").inputs;
    expect(vault.properties).toMatchObject({
      enableRbacAuthorization: true,
      enablePurgeProtection: true,
      tenantId: "tenant-0000",
    });
    const secret = mocks.one(SECRET, "keys-api-keys");
    expect(secret.secretInputs).toContain("properties");
    expect(JSON.parse(secret.inputs.properties.value)).toEqual({ [API_KEY]: ["team-vision"] });
    const appInputs = mocks.one(APP, "keys").inputs;
    expect(appInputs.configuration.secrets).toEqual([
      {
        name: "api-keys",
        keyVaultUrl: `https://${vault.vaultName}.vault.azure.net/secrets/api-keys`,
        identity: armId(
          "api-rg",
          "Microsoft.ManagedIdentity",
          "userAssignedIdentities",
          mocks.one("azure-native:managedidentity:UserAssignedIdentity", "keys-identity").inputs.resourceName,
        ),
      },
    ]);
    expect(envOf("keys").TRAINKIT_API_KEYS).toEqual({ name: "TRAINKIT_API_KEYS", secretRef: "api-keys" });
    expect(JSON.stringify(appInputs)).not.toContain(API_KEY);
  });

  it("runs as its user-assigned identity and pulls its image with it", async () => {
    await build("ident");
    const appInputs = mocks.one(APP, "ident").inputs;
    const identityId = appInputs.identity.userAssignedIdentities[0];
    expect(appInputs.identity.type).toBe("UserAssigned");
    expect(identityId).toMatch(/\/userAssignedIdentities\/ident-api-[0-9a-f]{6}$/);
    expect(appInputs.configuration.registries).toEqual([
      { server: "acmeimages.azurecr.io", identity: identityId },
    ]);
    expect(envOf("ident").AZURE_CLIENT_ID!.value).toBe("client-of-ident-identity");
  });

  it("runs only the azure-ml backend and passes the Azure ML workspace to the server as environment variables", async () => {
    await build("wire");
    const env = envOf("wire");
    expect(env.TRAINKIT_BACKENDS!.value).toBe("azure-ml");
    expect(env.TRAINKIT_AZUREML_SUBSCRIPTION_ID!.value).toBe(MOCK_SUBSCRIPTION);
    expect(env.TRAINKIT_AZUREML_RESOURCE_GROUP!.value).toBe("ml-rg");
    expect(env.TRAINKIT_AZUREML_WORKSPACE!.value).toBe("acme-ml");
    expect(env.HOST!.value).toBe("0.0.0.0");
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it("accepts internal traffic only by default", async () => {
    await build("internal");
    expect(mocks.one(APP, "internal").inputs.configuration.ingress).toEqual({
      external: false,
      targetPort: 8080,
      transport: "auto",
      allowInsecure: false,
    });
  });

  it("opens ingress to the internet only when public is true", async () => {
    await build("open", { public: true });
    expect(mocks.one(APP, "open").inputs.configuration.ingress.external).toBe(true);
  });

  it("places a new environment in the given subnet with an internal load balancer, and endpoints in the other", async () => {
    const vnet = armId("net-rg", "Microsoft.Network", "virtualNetworks", "hub");
    await build("vnet", {
      infrastructureSubnetId: `${vnet}/subnets/apps`,
      privateEndpointSubnetId: `${vnet}/subnets/endpoints`,
    });
    expect(mocks.one(ENVIRONMENT, "vnet-env").inputs.vnetConfiguration).toEqual({
      infrastructureSubnetId: `${vnet}/subnets/apps`,
      internal: true,
    });
    expect(mocks.one(ENDPOINT, "vnet-vault").inputs.subnet).toMatchObject({
      id: `${vnet}/subnets/endpoints`,
    });
    expect(mocks.ofType(NETWORK).filter((r) => r.name.startsWith("vnet-"))).toEqual([]);
    for (const zone of ["vnet-vault-dns", "vnet-registry-dns", "vnet-env-dns"]) {
      expect(mocks.one(LINK, zone).inputs.virtualNetwork).toEqual({ id: vnet });
    }
  });

  it("makes a virtual network when given no subnet: a delegated /23 for the environment and a /24 for endpoints", async () => {
    const api = await build("net");
    expect(mocks.one(NETWORK, "net-vnet").inputs.addressSpace).toEqual({ addressPrefixes: ["10.42.0.0/16"] });
    expect(mocks.one(SUBNET, "net-apps").inputs).toMatchObject({
      subnetName: "apps",
      addressPrefix: "10.42.0.0/23",
      delegations: [{ name: "apps", serviceName: "Microsoft.App/environments" }],
    });
    expect(mocks.one(SUBNET, "net-endpoints").inputs).toMatchObject({
      subnetName: "endpoints",
      addressPrefix: "10.42.2.0/24",
      privateEndpointNetworkPolicies: "Disabled",
    });
    const subnetId = await outputValue(api.subnets!.apps.id);
    expect(mocks.one(ENVIRONMENT, "net-env").inputs.vnetConfiguration).toEqual({
      infrastructureSubnetId: subnetId,
      internal: true,
    });
  });

  it("reaches the Key Vault and the registry through private endpoints, resolved by private DNS, and closes the vault", async () => {
    await build("pl");
    const vaultId = armId(
      "api-rg",
      "Microsoft.KeyVault",
      "vaults",
      mocks.one(VAULT, "pl-kv").inputs.vaultName,
    );
    for (const [group, target, zone] of [
      ["vault", vaultId, "privatelink.vaultcore.azure.net"],
      ["registry", REGISTRY_ID, "privatelink.azurecr.io"],
    ] as const) {
      expect(mocks.one(ENDPOINT, `pl-${group}`).inputs.privateLinkServiceConnections).toEqual([
        { name: group, privateLinkServiceId: target, groupIds: [group] },
      ]);
      expect(mocks.one(ZONE, `pl-${group}-dns`).inputs.privateZoneName).toBe(zone);
      expect(mocks.one(DNS_GROUP, `pl-${group}`).inputs.privateDnsZoneConfigs).toEqual([
        { name: group, privateDnsZoneId: armId("api-rg", "Microsoft.Network", "privateDnsZones", zone) },
      ]);
    }
    expect(mocks.one(VAULT, "pl-kv").inputs.properties).toMatchObject({
      publicNetworkAccess: "Disabled",
      networkAcls: { defaultAction: "Deny", bypass: "AzureServices" },
    });
    // The first revision pulls and reads secrets through these, so they come first.
    expect(mocks.one(APP, "pl").dependsOn).toEqual(
      expect.arrayContaining([`${ENDPOINT}::pl-vault`, `${DNS_GROUP}::pl-registry`, `${LINK}::pl-vault-dns`]),
    );
  });

  it("resolves the internal app's name to the environment's private IP everywhere in the network", async () => {
    await build("dns");
    expect(mocks.one(ZONE, "dns-env-dns").inputs.privateZoneName).toMatch(
      /\.westeurope\.azurecontainerapps\.io$/,
    );
    expect(mocks.one(RECORD, "dns-env-dns").inputs).toMatchObject({
      recordType: "A",
      relativeRecordSetName: "*",
      aRecords: [{ ipv4Address: "10.42.0.4" }],
    });
  });

  it("uses given private DNS zones instead of making them", async () => {
    const vaultZone = armId(
      "dns-rg",
      "Microsoft.Network",
      "privateDnsZones",
      "privatelink.vaultcore.azure.net",
    );
    await build("zones", { privateDnsZoneIds: { vault: vaultZone } });
    expect(mocks.one(DNS_GROUP, "zones-vault").inputs.privateDnsZoneConfigs[0].privateDnsZoneId).toBe(
      vaultZone,
    );
    expect(mocks.ofType(ZONE).map((r) => r.name)).not.toContain("zones-vault-dns");
    expect(mocks.ofType(ZONE).map((r) => r.name)).toContain("zones-registry-dns");
  });

  it("sends the environment's logs to Log Analytics through a diagnostic setting, with no workspace key", async () => {
    await build("logs");
    expect(mocks.one(ENVIRONMENT, "logs-env").inputs.appLogsConfiguration).toEqual({
      destination: "azure-monitor",
    });
    const setting = mocks.one(DIAGNOSTICS, "logs-env-logs").inputs;
    expect(setting.resourceUri).toBe(
      armId(
        "api-rg",
        "Microsoft.App",
        "managedEnvironments",
        mocks.one(ENVIRONMENT, "logs-env").inputs.environmentName,
      ),
    );
    expect(setting.workspaceId).toBe(
      armId(
        "api-rg",
        "Microsoft.OperationalInsights",
        "workspaces",
        mocks.one(LOGS, "logs-logs").inputs.workspaceName,
      ),
    );
    expect(setting.logs).toEqual([{ categoryGroup: "allLogs", enabled: true }]);
  });

  it("keeps the vault public behind RBAC, and makes no network, for an environment given from outside", async () => {
    await build("given", {
      managedEnvironmentId: armId("api-rg", "Microsoft.App", "managedEnvironments", "shared"),
    });
    expect(mocks.one(VAULT, "given-kv").inputs.properties.publicNetworkAccess).toBe("Enabled");
    expect(
      mocks.resources.filter((r) => r.name.startsWith("given-") && r.type.includes(":network:")),
    ).toEqual([]);
  });

  it("refuses network settings that cannot go together, naming the fields and the fix", () => {
    expect(() => new TrainingApi("half", { ...args, infrastructureSubnetId: "/x/subnets/apps" })).toThrow(
      "TrainingApi half: infrastructureSubnetId needs privateEndpointSubnetId, a subnet of the same network for the private endpoints to the Key Vault and registry; got only infrastructureSubnetId",
    );
    expect(() => new TrainingApi("space", { ...args, addressSpace: "10.42.0.0/20" })).toThrow(
      "TrainingApi space: addressSpace must be a /16 such as 10.42.0.0/16 (the environment takes its first /23, private endpoints the /24 after it); got 10.42.0.0/20",
    );
  });

  it("runs one replica, ready on /readyz and live on /livez, without a database URL", async () => {
    await build("single");
    const template = mocks.one(APP, "single").inputs.template;
    expect(template.scale).toEqual({ minReplicas: 1, maxReplicas: 1 });
    const probes = template.containers[0].probes;
    expect(probes.map((p: Inputs) => [p.type, p.httpGet.path, p.httpGet.port])).toEqual([
      ["Startup", "/readyz", 8080],
      ["Liveness", "/livez", 8080],
      ["Readiness", "/readyz", 8080],
    ]);
  });

  it("keeps the database URL in the Key Vault and scales out when one is given", async () => {
    await build("durable", { databaseUrl: "postgresql://api:pw@10.0.0.5:5432/trainkit" });
    expect(envOf("durable").DATABASE_URL).toEqual({ name: "DATABASE_URL", secretRef: "database-url" });
    expect(mocks.one(SECRET, "durable-database-url").secretInputs).toContain("properties");
    expect(mocks.one(APP, "durable").inputs.template.scale).toEqual({ minReplicas: 1, maxReplicas: 3 });
    expect(JSON.stringify(mocks.one(APP, "durable").inputs)).not.toContain("pw@");
  });

  it("outputs the app's HTTPS URL", async () => {
    const api = await build("url");
    expect(await outputValue(api.url)).toMatch(/^https:\/\/url-[0-9a-f]{6}\.mock\.azurecontainerapps\.io$/);
  });

  it("refuses more than one replica without a database URL, saying why and how to fix it", () => {
    expect(() => new TrainingApi("many", { ...args, maxReplicas: 3 })).toThrow(
      "TrainingApi many: maxReplicas must be 1 when databaseUrl is not set, since each replica would keep its own embedded database; got 3. Set databaseUrl to a Postgres URL to run more.",
    );
  });

  it("refuses a registry id without its server", () => {
    expect(() => new TrainingApi("half", { ...args, registryServer: undefined })).toThrow(
      "TrainingApi half: registryId and registryServer must be set together; got only registryId",
    );
  });

  it("refuses extra env that would override a variable it manages", () => {
    expect(() => new TrainingApi("clash", { ...args, env: { AZURE_CLIENT_ID: "x" } })).toThrow(
      "TrainingApi clash: env must not set AZURE_CLIENT_ID, which this component sets; use the matching argument instead",
    );
  });
});
