import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComponentHost, type PackageSchema } from "../helpers/component-host";
import { expectComponentsAsDeclared, expectTypesResolved, typeOf } from "../helpers/component-package";
import { declaredComponents } from "../helpers/component-sources";
import { FakeEngine } from "../helpers/fake-engine";
import { isSecret, plaintextOccurrences } from "../helpers/provider-host";

// plugins/kubernetes served by Pulumi's own component provider host (`@pulumi/pulumi/cmd/run-plugin`, as the
// Node.js language host starts a PulumiPlugin.yaml folder), asked for its schema over gRPC. The schema is
// compared with what src/kubernetes declares, read with the TypeScript compiler on its own. Construct is called
// as the engine calls it for a component declared in another language; the engine and resource monitor it
// talks back to are a stand-in (test/helpers/fake-engine.ts) that records registrations and echoes inputs as
// outputs: it tests how our components react, not what a cluster does. No Pulumi CLI and no cluster take part.

const PKG = "trainkit-kubernetes";
const token = (name: string) => `${PKG}:index:${name}`;
const typeRef = (name: string) => `#/types/${token(name)}`;
const declared = declaredComponents("kubernetes");

let engine: FakeEngine;
let host: ComponentHost;
let schema: PackageSchema;

beforeAll(async () => {
  engine = await FakeEngine.start("platform", "dev");
  host = await ComponentHost.start("plugins/kubernetes", engine.address);
  schema = await host.getSchema();
}, 600_000);

afterAll(async () => {
  await host?.close();
  await engine?.close();
});

describe("the Kubernetes component package served by Pulumi's component provider host", () => {
  it("is named after plugins/kubernetes/package.json and depends on the kubernetes provider its outputs reference", () => {
    expect(schema.name).toBe(PKG);
    expect(schema.version).toBe("0.1.0");
    expect(schema.dependencies?.map((d) => d.name)).toEqual(["kubernetes"]);
  });

  it("holds every component src/kubernetes exports, with its inputs, outputs and JSDoc", () => {
    expect(declared.map((c) => c.name)).toEqual(["GpuSupport", "TrainingApi", "TrainingPlatform"]);
    expectComponentsAsDeclared(schema, PKG, declared);
  });

  it("resolves every type reference, and types and describes every property of every object type", () => {
    expectTypesResolved(schema);
    expect(Object.values(schema.types).filter((t) => t.type === "object").length).toBeGreaterThanOrEqual(6);
  });

  it("takes the installer as an enum and the platform's GPU support, Kueue quota and API as named types", () => {
    const gpuSupport = schema.resources[token("GpuSupport")]?.inputProperties ?? {};
    expect(typeOf(schema, gpuSupport.installer?.$ref).enum?.map((m) => m.value)).toEqual([
      "nvidia-device-plugin",
      "gpu-operator",
      "none",
    ]);
    const kueue = typeOf(schema, gpuSupport.kueue?.$ref);
    expect(kueue.required?.sort()).toEqual(["gpuQuota", "namespace"]);
    expect(kueue.properties?.nodeLabels).toMatchObject({
      type: "object",
      additionalProperties: { type: "string" },
    });

    const platform = schema.resources[token("TrainingPlatform")]?.inputProperties ?? {};
    expect(platform.gpu?.$ref).toBe(typeRef("PlatformGpuArgs"));
    const gpu = typeOf(schema, platform.gpu?.$ref);
    expect(gpu.properties?.enabled?.type).toBe("boolean");
    expect(gpu.properties?.installer?.$ref).toBe(typeRef("GpuInstaller"));
    expect(gpu.properties?.kueue).toBeUndefined();
    expect(platform.kueue?.$ref).toBe(typeRef("KueueQuotaArgs"));
    expect(typeOf(schema, platform.kueue?.$ref).properties?.namespace).toBeUndefined();
    expect(platform.api?.$ref).toBe(typeRef("TrainingApiSettings"));
    const api = typeOf(schema, platform.api?.$ref);
    // What the platform fills in itself is not among the API settings.
    for (const filled of ["image", "apiKeys", "namespace", "jobsNamespace", "jobServiceAccount"])
      expect(api.properties?.[filled], filled).toBeUndefined();
    expect(typeOf(schema, api.properties?.dataVolume?.$ref).properties?.emptyDir?.type).toBe("boolean");
    expect(api.properties?.resources?.$ref).toBe(typeRef("ApiResourcesArgs"));
    expect(platform.apiKeys).toMatchObject({ type: "object", additionalProperties: { type: "array" } });
  });

  it("leaves Kueue's custom resources and child components out of the outputs, and gives their names instead", () => {
    const gpu = schema.resources[token("GpuSupport")]?.properties ?? {};
    for (const offSchema of ["resourceFlavor", "clusterQueue", "localQueue"])
      expect(gpu[offSchema], offSchema).toBeUndefined();
    expect(gpu.queueName?.type).toBe("string");
    expect(gpu.clusterQueueName?.type).toBe("string");
    const platform = schema.resources[token("TrainingPlatform")]?.properties ?? {};
    expect(platform.api).toBeUndefined();
    expect(platform.gpuSupport).toBeUndefined();
    expect(platform.jobServiceAccount?.$ref).toContain("kubernetes:core%2Fv1:ServiceAccount");
  });
});

describe("Construct of a Kubernetes TrainingPlatform, as a program in another language declares it", () => {
  const KEY = "tk_live_0123456789abcdef";
  const SIG_KEY = "4dabf18193072939515e22adb298388d";
  const OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

  it("builds the TypeScript component from the inputs the SDKs send, under the component's own type", async () => {
    const { urn, state } = await host.construct({
      type: token("TrainingPlatform"),
      name: "ml",
      inputs: {
        image: "registry.example/trainkit:0.1.0",
        // A secret output value, as the SDKs send `config.require_secret(...)` to a component provider.
        apiKeys: { [SIG_KEY]: OUTPUT_VALUE_SIG, value: { [KEY]: ["team-vision"] }, secret: true },
        gpu: { installer: "none" },
        kueue: { gpuQuota: 8 },
        api: { dataVolume: { size: "20Gi" }, resources: { memory: "1Gi" }, allowFromNamespaces: ["ml"] },
      },
      project: "platform",
      stack: "dev",
      config: {},
      monitor: engine.address,
    });
    const platformUrn = "urn:pulumi:dev::platform::trainkit:kubernetes:TrainingPlatform::ml";
    expect(urn).toBe(platformUrn);
    const byName = (type: string, name: string) =>
      engine.registered.find((r) => r.type === type && r.name === name);
    expect(byName("trainkit:kubernetes:TrainingApi", "ml-api")?.parent).toBe(platformUrn);
    expect(byName("trainkit:kubernetes:GpuSupport", "ml-gpu")?.parent).toBe(platformUrn);
    expect(
      engine.registered.filter((r) => r.type.startsWith("trainkit:")).map((r) => `${r.type} ${r.name}`),
    ).toEqual([
      "trainkit:kubernetes:TrainingPlatform ml",
      "trainkit:kubernetes:GpuSupport ml-gpu",
      "trainkit:kubernetes:TrainingApi ml-api",
    ]);
    // installer none: no device plugin; the Kueue quota in the jobs' namespace; the API settings passed on.
    expect(engine.registered.some((r) => r.type === "kubernetes:apps/v1:DaemonSet")).toBe(false);
    const cq = byName("kubernetes:kueue.x-k8s.io/v1beta1:ClusterQueue", "ml-gpu-cluster-queue");
    expect(JSON.stringify(cq?.inputs)).toContain('"nominalQuota":8');
    expect(byName("kubernetes:core/v1:PersistentVolumeClaim", "ml-api-data")?.inputs).toMatchObject({
      spec: { resources: { requests: { storage: "20Gi" } } },
    });
    // The state holds exactly the outputs the schema declares.
    const declaredOutputs = Object.keys(schema.resources[token("TrainingPlatform")]?.properties ?? {});
    expect(Object.keys(state).sort()).toEqual(declaredOutputs.sort());
    expect(state.jobServiceAccount).toMatchObject({
      urn: "urn:pulumi:dev::platform::kubernetes:core/v1:ServiceAccount::ml-job-runner",
    });
    expect(state.apiUrl).toMatch(/^http:\/\/.*\.trainkit\.svc\.cluster\.local$/);
  });

  it("keeps the API keys secret from the inputs to the Kubernetes Secret, and nowhere else", () => {
    const secret = engine.registered.find((r) => r.type === "kubernetes:core/v1:Secret");
    const data = secret?.inputs.stringData;
    expect(isSecret(data)).toBe(true);
    expect(JSON.parse((data as { value: { TRAINKIT_API_KEYS: string } }).value.TRAINKIT_API_KEYS)).toEqual({
      [KEY]: ["team-vision"],
    });
    const plaintext = engine.registered.flatMap((r) =>
      plaintextOccurrences(r.inputs, KEY).map((at) => `${r.type} ${r.name}: ${at}`),
    );
    expect(plaintext).toEqual([]);
  });

  it("turns a GpuSupport with an installer the enum does not hold into an error naming the field", async () => {
    await expect(
      host.construct({
        type: token("GpuSupport"),
        name: "odd",
        inputs: { installer: "amd" },
        project: "platform",
        stack: "dev",
        config: {},
        monitor: engine.address,
      }),
    ).rejects.toThrow(/installer must be one of nvidia-device-plugin, gpu-operator, none; got amd/);
  });
});
