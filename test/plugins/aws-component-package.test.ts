import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GPUS } from "../../src/gpu";
import { ComponentHost, type PackageSchema } from "../helpers/component-host";
import { expectComponentsAsDeclared, expectTypesResolved, typeOf } from "../helpers/component-package";
import { declaredComponents } from "../helpers/component-sources";
import { FakeEngine } from "../helpers/fake-engine";
import { isSecret, plaintextOccurrences } from "../helpers/provider-host";

// plugins/aws served by Pulumi's own component provider host (`@pulumi/pulumi/cmd/run-plugin`, as the Node.js
// language host starts a PulumiPlugin.yaml folder), asked for its schema over gRPC. The schema is compared with
// what src/aws declares, read with the TypeScript compiler on its own. Construct is called as the engine calls
// it for a component declared in another language; the engine and resource monitor it talks back to are a
// stand-in (test/helpers/fake-engine.ts) that records registrations and echoes inputs as outputs. No Pulumi
// CLI and no AWS account take part.

const PKG = "trainkit-aws";
const token = (name: string) => `${PKG}:index:${name}`;
const typeRef = (name: string) => `#/types/${token(name)}`;
const declared = declaredComponents("aws");

let engine: FakeEngine;
let host: ComponentHost;
let schema: PackageSchema;

beforeAll(async () => {
  engine = await FakeEngine.start("platform", "dev");
  host = await ComponentHost.start("plugins/aws", engine.address);
  schema = await host.getSchema();
}, 600_000);

afterAll(async () => {
  await host?.close();
  await engine?.close();
});

describe("the AWS component package served by Pulumi's component provider host", () => {
  it("is named after plugins/aws/package.json and depends on the providers its outputs reference", () => {
    expect(schema.name).toBe(PKG);
    expect(schema.version).toBe("0.1.0");
    expect(schema.dependencies?.map((d) => d.name).sort()).toEqual(["aws", "kubernetes"]);
  });

  it("holds every component src/aws exports, with its inputs, outputs and JSDoc", () => {
    expect(declared.map((c) => c.name)).toEqual([
      "Bucket",
      "GpuCluster",
      "PodIdentity",
      "Registry",
      "SageMakerRole",
      "TrainingApi",
      "TrainingPlatform",
    ]);
    expectComponentsAsDeclared(schema, PKG, declared);
  });

  it("resolves every type reference, and types and describes every property of every object type", () => {
    expectTypesResolved(schema);
    expect(Object.values(schema.types).filter((t) => t.type === "object").length).toBeGreaterThan(8);
  });

  it("takes the platform's parts as named types, and string choices as enums", () => {
    const platform = schema.resources[token("TrainingPlatform")]?.inputProperties ?? {};
    expect(platform.api?.$ref).toBe(typeRef("TrainingApiSettings"));
    expect(platform.registry?.$ref).toBe(typeRef("RegistrySettings"));
    expect(platform.dataBucket?.$ref).toBe(typeRef("BucketSettings"));
    expect(platform.outputBucket?.$ref).toBe(typeRef("BucketSettings"));
    expect(platform.sagemakerRole?.$ref).toBe(typeRef("PlatformSageMakerRole"));
    expect(platform.jobServiceAccount?.$ref).toBe(typeRef("JobServiceAccountArgs"));
    expect(typeOf(schema, platform.jobServiceAccount?.$ref).required?.sort()).toEqual(["name", "namespace"]);
    const api = typeOf(schema, platform.api?.$ref);
    expect(api.required?.sort()).toEqual(["image", "subnetIds", "vpcId"]);
    expect(api.properties?.region).toBeUndefined();
    expect(api.properties?.sagemakerRoleArn).toBeUndefined();
    expect(api.properties?.accessLogs?.$ref).toBe(typeRef("AccessLogsArgs"));
    expect(api.properties?.apiKeys).toMatchObject({
      type: "object",
      additionalProperties: { type: "array" },
    });

    const cluster = typeOf(schema, platform.cluster?.$ref);
    expect(platform.cluster?.$ref).toBe(typeRef("GpuClusterSettings"));
    expect(cluster.properties?.region).toBeUndefined();
    const pool = typeOf(schema, cluster.properties?.gpuPools?.items?.$ref);
    expect(pool.properties?.zones).toBeUndefined();
    expect(typeOf(schema, pool.properties?.gpu?.$ref).enum?.map((m) => m.value)).toEqual([...GPUS]);
    expect(typeOf(schema, cluster.properties?.logTypes?.items?.$ref).enum?.map((m) => m.value)).toEqual([
      "api",
      "audit",
      "authenticator",
      "controllerManager",
      "scheduler",
    ]);
    expect(typeOf(schema, cluster.properties?.supportType?.$ref).enum?.map((m) => m.value)).toEqual([
      "STANDARD",
      "EXTENDED",
    ]);
    expect(typeOf(schema, cluster.properties?.clusterAutoscaler?.$ref).properties?.enabled?.type).toBe(
      "boolean",
    );
    expect(typeOf(schema, cluster.properties?.nvidiaDevicePlugin?.$ref).properties?.enabled?.type).toBe(
      "boolean",
    );
    expect(cluster.properties?.addonVersions).toMatchObject({
      type: "object",
      additionalProperties: { type: "string" },
    });

    const statements = schema.resources[token("PodIdentity")]?.inputProperties?.statements;
    const statement = typeOf(schema, statements?.items?.$ref);
    expect(statement.required?.sort()).toEqual(["Action", "Effect", "Resource"]);
    expect(typeOf(schema, statement.properties?.Effect?.$ref).enum?.map((m) => m.value)).toEqual([
      "Allow",
      "Deny",
    ]);
  });
});

describe("Construct of an AWS TrainingPlatform, as a program in another language declares it", () => {
  const KEY = "tk_live_0123456789abcdef";
  const SIG_KEY = "4dabf18193072939515e22adb298388d";
  const OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

  it("builds the TypeScript component from the inputs the SDKs send, under the component's own type", async () => {
    const { urn, state } = await host.construct({
      type: token("TrainingPlatform"),
      name: "ml",
      inputs: {
        region: "us-east-1",
        api: {
          image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/trainkit:0.1.0",
          vpcId: "vpc-0123",
          subnetIds: ["subnet-a", "subnet-b"],
          certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/abc",
          // A secret output value, as the SDKs send `config.require_secret(...)` to a component provider.
          apiKeys: { [SIG_KEY]: OUTPUT_VALUE_SIG, value: { [KEY]: ["team-vision"] }, secret: true },
        },
      },
      project: "platform",
      stack: "dev",
      config: {},
      monitor: engine.address,
    });
    const platformUrn = "urn:pulumi:dev::platform::trainkit:aws:TrainingPlatform::ml";
    expect(urn).toBe(platformUrn);
    const byName = (type: string, name: string) =>
      engine.registered.find((r) => r.type === type && r.name === name);
    expect(byName("trainkit:aws:TrainingApi", "ml-api")?.parent).toBe(platformUrn);
    expect(byName("aws:s3/bucket:Bucket", "ml-data")?.parent).toBe(
      byName("trainkit:aws:Bucket", "ml-data")?.urn,
    );
    const components = engine.registered.filter((r) => r.type.startsWith("trainkit:")).map((r) => r.type);
    // No EKS cluster here: building one asks the engine for invokes (the caller's account), which the
    // stand-in does not answer.
    expect(components).toEqual([
      "trainkit:aws:TrainingPlatform",
      "trainkit:aws:Registry",
      "trainkit:aws:Bucket",
      "trainkit:aws:Bucket",
      "trainkit:aws:SageMakerRole",
      "trainkit:aws:TrainingApi",
    ]);
    // The state holds exactly the outputs the schema declares.
    const declaredOutputs = Object.keys(schema.resources[token("TrainingPlatform")]?.properties ?? {});
    expect(Object.keys(state).sort()).toEqual(declaredOutputs.sort());
    expect(state.outputs).toMatchObject({ region: "us-east-1" });
  });

  it("keeps the API keys secret from the inputs to the Secrets Manager version, and nowhere else", () => {
    const versions = engine.registered.filter(
      (r) => r.type === "aws:secretsmanager/secretVersion:SecretVersion",
    );
    const keys = versions.find(
      (v) =>
        isSecret(v.inputs.secretString) &&
        String((v.inputs.secretString as { value: string }).value).includes(KEY),
    );
    expect(keys).toBeDefined();
    expect(JSON.parse(String((keys?.inputs.secretString as { value?: string } | undefined)?.value))).toEqual({
      [KEY]: ["team-vision"],
    });
    const plaintext = engine.registered.flatMap((r) =>
      plaintextOccurrences(r.inputs, KEY).map((at) => `${r.type} ${r.name}: ${at}`),
    );
    expect(plaintext).toEqual([]);
  });
});
