import { beforeAll, describe, expect, it } from "vitest";
import { API_VERTEX_PERMISSIONS, TrainingApi, type TrainingApiArgs } from "../../src/gcp";
import published from "../fixtures/published/gcp/limits.json";
import {
  gcpComputed,
  gcpInvoke,
  type Inputs,
  installPulumiMocks,
  type MockRuntime,
  outputValue,
  type RegisteredResource,
} from "../helpers/pulumi-mocks";

const SERVICE = "gcp:cloudrunv2/service:Service";
const INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember";
const SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion";
const CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole";
const API = "gcp:projects/service:Service";
const IAM_TYPES = [
  "gcp:projects/iAMMember:IAMMember",
  "gcp:serviceaccount/iAMMember:IAMMember",
  "gcp:storage/bucketIAMMember:BucketIAMMember",
  "gcp:secretmanager/secretIamMember:SecretIamMember",
];

const API_KEY = "tk_live_0123456789abcdef";
const JOB_SA = "jobs@acme-ml.iam.gserviceaccount.com";
const args: TrainingApiArgs = {
  project: "acme-ml",
  region: "us-central1",
  image: "us-central1-docker.pkg.dev/acme-ml/images/trainkit:0.1.0",
  jobServiceAccountEmail: JOB_SA,
  stagingBucket: "acme-ml-output",
  buckets: ["acme-ml-data"],
  apiKeys: { [API_KEY]: ["team-vision"] },
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed, invoke: gcpInvoke });
});

async function build(name: string, extra: Partial<TrainingApiArgs> = {}) {
  const api = new TrainingApi(name, { ...args, ...extra });
  await mocks.settle();
  return api;
}

function grantsOf(prefix: string): RegisteredResource[] {
  return mocks.resources.filter((r) => IAM_TYPES.includes(r.type) && r.name.startsWith(`${prefix}-`));
}

function envOf(name: string): Inputs {
  const container = mocks.one(SERVICE, name).inputs.template.containers[0];
  return Object.fromEntries(container.envs.map((e: { name: string }) => [e.name, e]));
}

describe("TrainingApi", () => {
  it("grants its service account exactly the listed roles, each on the narrowest resource", async () => {
    await build("least");
    const grants = grantsOf("least").map((g): Inputs => ({ ...g.inputs, type: g.type }));
    const member = grants[0]!.member;
    expect(member).toMatch(/^serviceAccount:least-api-[0-9a-f]{6}@acme-ml\.iam\.gserviceaccount\.com$/);
    expect(grants.every((g) => g.member === member)).toBe(true);
    const role = mocks.one(CUSTOM_ROLE, "least-vertex-jobs").inputs;
    expect(role.roleId).toMatch(/^trainkit_vertex_jobs_\d{21}$/);
    expect(
      grants.map((g) => [g.role, g.project ?? g.serviceAccountId ?? g.bucket ?? g.secretId]).sort(),
    ).toEqual(
      [
        [`projects/acme-ml/roles/${role.roleId}`, "acme-ml"],
        ["roles/iam.serviceAccountUser", `projects/acme-ml/serviceAccounts/${JOB_SA}`],
        ["roles/storage.objectAdmin", "acme-ml-output"],
        ["roles/storage.objectAdmin", "acme-ml-data"],
        ["roles/secretmanager.secretAccessor", "acme-ml"],
      ].sort(),
    );
    const secretGrant = grants.find((g) => g.role === "roles/secretmanager.secretAccessor")!;
    expect(secretGrant.secretId).toBe("least-api-keys");
  });

  it("holds no owner or editor role anywhere", async () => {
    await build("noowner", { databaseUrl: "postgresql://api@10.0.0.5:5432/trainkit" });
    const roles = grantsOf("noowner").map((g) => g.inputs.role);
    expect(roles.length).toBe(6);
    for (const broad of [
      "roles/owner",
      "roles/editor",
      "roles/iam.serviceAccountAdmin",
      "roles/aiplatform.admin",
    ]) {
      expect(roles).not.toContain(broad);
    }
    expect(
      grantsOf("noowner")
        .filter((g) => g.type === "gcp:projects/iAMMember:IAMMember")
        .map((g) => g.inputs.role),
    ).toEqual([expect.stringMatching(/^projects\/acme-ml\/roles\/trainkit_vertex_jobs_/)]);
  });

  it("keeps the API keys in Secret Manager as a secret and injects them by reference, pinned to the version", async () => {
    await build("keys");
    const version = mocks.one(SECRET_VERSION, "keys-api-keys");
    expect(version.secretInputs).toContain("secretData");
    expect(JSON.parse(version.inputs.secretData)).toEqual({ [API_KEY]: ["team-vision"] });
    expect(envOf("keys").TRAINKIT_API_KEYS).toEqual({
      name: "TRAINKIT_API_KEYS",
      valueSource: { secretKeyRef: { secret: "keys-api-keys", version: "1" } },
    });
    expect(JSON.stringify(mocks.one(SERVICE, "keys").inputs)).not.toContain(API_KEY);
  });

  it("accepts the API keys as a JSON string too", async () => {
    await build("keystr", { apiKeys: undefined, apiKeysJson: JSON.stringify({ [API_KEY]: ["a", "b"] }) });
    expect(JSON.parse(mocks.one(SECRET_VERSION, "keystr-api-keys").inputs.secretData)).toEqual({
      [API_KEY]: ["a", "b"],
    });
  });

  it("refuses both spellings of the keys at once, and neither", async () => {
    await expect(build("keyboth", { apiKeysJson: "{}" })).rejects.toThrow(
      "apiKeys and apiKeysJson are two spellings of the same keys; set only one",
    );
    await expect(build("keynone", { apiKeys: undefined })).rejects.toThrow(
      /apiKeys must be set to the keys and the accounts each may act for .*, or apiKeysJson to that JSON; got nothing/,
    );
  });

  it("accepts internal traffic only and lets nobody invoke it by default", async () => {
    await build("internal");
    expect(mocks.one(SERVICE, "internal").inputs.ingress).toBe("INGRESS_TRAFFIC_INTERNAL_ONLY");
    expect(mocks.ofType(INVOKER).filter((r) => r.name.startsWith("internal"))).toEqual([]);
  });

  it("opens to the internet with allUsers as invoker only when public is true", async () => {
    await build("open", { public: true });
    expect(mocks.one(SERVICE, "open").inputs.ingress).toBe("INGRESS_TRAFFIC_ALL");
    expect(mocks.one(INVOKER, "open-public").inputs).toMatchObject({
      role: "roles/run.invoker",
      member: "allUsers",
      name: "open",
      location: "us-central1",
    });
  });

  it("lets the listed invokers call it while staying internal", async () => {
    await build("callers", { invokers: ["serviceAccount:ci@acme-ml.iam.gserviceaccount.com"] });
    expect(mocks.one(SERVICE, "callers").inputs.ingress).toBe("INGRESS_TRAFFIC_INTERNAL_ONLY");
    expect(mocks.one(INVOKER, "callers-invoker-0").inputs.member).toBe(
      "serviceAccount:ci@acme-ml.iam.gserviceaccount.com",
    );
  });

  it("runs only the vertex-ai backend and passes its settings to the server as environment variables", async () => {
    await build("vertex");
    const env = envOf("vertex");
    expect(env.TRAINKIT_BACKENDS.value).toBe("vertex-ai");
    expect(env.TRAINKIT_VERTEX_PROJECT.value).toBe("acme-ml");
    expect(env.TRAINKIT_VERTEX_REGION.value).toBe("us-central1");
    expect(env.TRAINKIT_VERTEX_SERVICE_ACCOUNT.value).toBe(JOB_SA);
    expect(env.TRAINKIT_VERTEX_STAGING_BUCKET.value).toBe("gs://acme-ml-output");
    expect(env.HOST.value).toBe("0.0.0.0");
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it("runs as its own service account, one always-on instance with CPU always allocated, without a database URL", async () => {
    await build("single");
    const template = mocks.one(SERVICE, "single").inputs.template;
    expect(template.serviceAccount).toMatch(/^single-api-[0-9a-f]{6}@acme-ml\.iam\.gserviceaccount\.com$/);
    expect(template.scaling).toEqual({ minInstanceCount: 1, maxInstanceCount: 1 });
    expect(template.containers[0].resources.cpuIdle).toBe(false);
    expect(template.containers[0].image).toBe(args.image);
  });

  it("starts taking traffic once /readyz answers and is restarted when /livez stops answering", async () => {
    await build("probes");
    const container = mocks.one(SERVICE, "probes").inputs.template.containers[0];
    expect(container.startupProbe).toEqual({
      httpGet: { path: "/readyz" },
      periodSeconds: 2,
      failureThreshold: 30,
    });
    expect(container.livenessProbe).toEqual({
      httpGet: { path: "/livez" },
      periodSeconds: 10,
      failureThreshold: 3,
    });
  });

  it("keeps the database URL in Secret Manager and scales out when one is given", async () => {
    const url = "postgresql://api:pw@10.0.0.5:5432/trainkit";
    await build("durable", { databaseUrl: url });
    expect(envOf("durable").DATABASE_URL.valueSource).toEqual({
      secretKeyRef: { secret: "durable-database-url", version: "1" },
    });
    expect(mocks.one(SECRET_VERSION, "durable-database-url").secretInputs).toContain("secretData");
    expect(mocks.one(SERVICE, "durable").inputs.template.scaling).toEqual({
      minInstanceCount: 0,
      maxInstanceCount: 3,
    });
    expect(JSON.stringify(mocks.one(SERVICE, "durable").inputs)).not.toContain("pw@");
  });

  it("outputs the service URL", async () => {
    const api = await build("url");
    expect(await outputValue(api.url)).toBe("https://url-abc123-uc.a.run.app");
  });

  it("refuses more than one instance without a database URL, saying why and how to fix it", () => {
    expect(() => new TrainingApi("many", { ...args, maxInstances: 3 })).toThrow(
      "TrainingApi many: maxInstances must be 1 when databaseUrl is not set, since each instance would keep its own embedded database; got 3. Set databaseUrl to a Postgres URL to run more.",
    );
  });

  it("refuses extra env that would override a variable it manages", () => {
    expect(() => new TrainingApi("clash", { ...args, env: { TRAINKIT_API_KEYS: "{}" } })).toThrow(
      "TrainingApi clash: env must not set TRAINKIT_API_KEYS, which this component sets; use the matching argument instead",
    );
  });

  it("submits, reads, lists and cancels Vertex AI custom jobs through a custom role holding exactly those permissions", async () => {
    await build("vertex");
    const { source: _source, ...permissions } = published.vertexCustomJobPermissions;
    expect([...API_VERTEX_PERMISSIONS].sort()).toEqual(Object.values(permissions).sort());
    expect(mocks.one(CUSTOM_ROLE, "vertex-vertex-jobs").inputs.permissions.sort()).toEqual(
      Object.values(permissions).sort(),
    );
  });

  it("enables the APIs it calls, kept on after destroy, and every resource it creates waits for them", async () => {
    await build("fresh");
    const services = mocks.ofType(API).filter((r) => r.name.startsWith("fresh-apis-"));
    expect(services.map((r) => r.inputs.service).sort()).toEqual([
      "aiplatform.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "iam.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
    ]);
    expect(services.every((r) => r.inputs.disableOnDestroy === false)).toBe(true);
    const needs = services.map((r) => `${API}::${r.name}`);
    const own = mocks.resources.filter((r) => r.custom && r.name.startsWith("fresh") && r.type !== API);
    expect(own.length).toBeGreaterThan(8);
    for (const resource of own) expect(resource.dependsOn).toEqual(expect.arrayContaining(needs));
  });

  it("takes a Google ID token from outside when externalIngress is set, without letting everyone invoke it", async () => {
    await build("outside", { externalIngress: true, invokers: ["user:ml-lead@example.com"] });
    expect(mocks.one(SERVICE, "outside").inputs.ingress).toBe(published.cloudRunIngress.all);
    const invokers = mocks.ofType(INVOKER).filter((r) => r.name.startsWith("outside-"));
    expect(invokers.map((r) => [r.inputs.role, r.inputs.member])).toEqual([
      [published.cloudRunIngress.invokerRole, "user:ml-lead@example.com"],
    ]);
  });

  it("reaches a private database through Direct VPC egress to private ranges only", async () => {
    await build("privdb", {
      databaseUrl: "postgresql://api@10.20.0.3:5432/trainkit",
      vpcEgress: { subnetwork: "projects/acme-ml/regions/us-central1/subnetworks/ml", tags: ["train-api"] },
    });
    const vpcAccess = mocks.one(SERVICE, "privdb").inputs.template.vpcAccess;
    expect(vpcAccess).toEqual({
      networkInterfaces: [
        { subnetwork: "projects/acme-ml/regions/us-central1/subnetworks/ml", tags: ["train-api"] },
      ],
      egress: "PRIVATE_RANGES_ONLY",
    });
    expect(published.cloudRunVpcEgress.egress).toContain(vpcAccess.egress);
  });

  it("has no VPC access unless asked", async () => {
    await build("novpc");
    expect(mocks.one(SERVICE, "novpc").inputs.template.vpcAccess).toBeUndefined();
  });
});
