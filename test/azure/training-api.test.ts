import { beforeAll, describe, expect, it } from "vitest";
import { AZURE_ROLES, TrainingApi, type TrainingApiArgs } from "../../src/azure";
import { armId, azureComputed, MOCK_SUBSCRIPTION } from "../helpers/azure-computed";
import { type Inputs, installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const APP = "azure-native:app:ContainerApp";
const ENVIRONMENT = "azure-native:app:ManagedEnvironment";
const ROLE = "azure-native:authorization:RoleAssignment";
const SECRET = "azure-native:keyvault:Secret";
const VAULT = "azure-native:keyvault:Vault";

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

  it("places a new environment in the given subnet with an internal load balancer", async () => {
    await build("vnet", { infrastructureSubnetId: "/subnets/apps" });
    expect(mocks.one(ENVIRONMENT, "vnet-env").inputs.vnetConfiguration).toEqual({
      infrastructureSubnetId: "/subnets/apps",
      internal: true,
    });
  });

  it("runs one replica with a /healthz probe without a database URL", async () => {
    await build("single");
    const template = mocks.one(APP, "single").inputs.template;
    expect(template.scale).toEqual({ minReplicas: 1, maxReplicas: 1 });
    const probes = template.containers[0].probes;
    expect(probes.map((p: Inputs) => [p.type, p.httpGet.path, p.httpGet.port])).toEqual([
      ["Startup", "/healthz", 8080],
      ["Liveness", "/healthz", 8080],
      ["Readiness", "/healthz", 8080],
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
