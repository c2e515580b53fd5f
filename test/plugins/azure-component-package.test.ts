import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GPUS } from "../../src/gpu";
import { ComponentHost, type PackageSchema } from "../helpers/component-host";
import { expectComponentsAsDeclared, expectTypesResolved, typeOf } from "../helpers/component-package";
import { declaredComponents } from "../helpers/component-sources";
import { FakeEngine } from "../helpers/fake-engine";

// plugins/azure served by Pulumi's own component provider host (`@pulumi/pulumi/cmd/run-plugin`, as the Node.js
// language host starts a PulumiPlugin.yaml folder), asked for its schema over gRPC. The schema is compared with
// what src/azure declares, read with the TypeScript compiler on its own. No Pulumi
// CLI and no Azure subscription take part.

const PKG = "trainkit-azure";
const token = (name: string) => `${PKG}:index:${name}`;
const typeRef = (name: string) => `#/types/${token(name)}`;
const declared = declaredComponents("azure");

let engine: FakeEngine;
let host: ComponentHost;
let schema: PackageSchema;

beforeAll(async () => {
  engine = await FakeEngine.start("platform", "dev");
  host = await ComponentHost.start("plugins/azure", engine.address);
  schema = await host.getSchema();
}, 600_000);

afterAll(async () => {
  await host?.close();
  await engine?.close();
});

describe("the Azure component package served by Pulumi's component provider host", () => {
  it("is named after plugins/azure/package.json and depends on the provider its outputs reference", () => {
    expect(schema.name).toBe(PKG);
    expect(schema.version).toBe("0.1.0");
    expect(schema.dependencies?.map((d) => d.name).sort()).toEqual(["azure-native"]);
  });

  it("holds every component src/azure exports, with its inputs, outputs and JSDoc", () => {
    expect(declared.map((c) => c.name)).toEqual([
      "Bucket",
      "GpuCluster",
      "Registry",
      "TrainingApi",
      "TrainingPlatform",
    ]);
    expectComponentsAsDeclared(schema, PKG, declared);
  });

  it("resolves every type reference, and types and describes every property of every object type", () => {
    expectTypesResolved(schema);
    expect(Object.values(schema.types).filter((t) => t.type === "object").length).toBeGreaterThan(5);
  });

  it("takes the platform's parts as named types, and string choices as enums", () => {
    const platform = schema.resources[token("TrainingPlatform")]?.inputProperties ?? {};
    expect(platform.api?.$ref).toBe(typeRef("TrainingApiSettings"));
    expect(platform.registry?.$ref).toBe(typeRef("RegistrySettings"));
    expect(platform.dataBucket?.$ref).toBe(typeRef("PlatformBucketArgs"));
    expect(platform.cluster?.$ref).toBe(typeRef("GpuClusterSettings"));
    const api = typeOf(schema, platform.api?.$ref);
    expect(api.required).toEqual(["image"]);
    for (const filled of [
      "resourceGroupName",
      "workspaceId",
      "registryId",
      "tenantId",
      "jobIdentityClientId",
    ])
      expect(api.properties?.[filled], filled).toBeUndefined();
    expect(api.properties?.privateDnsZoneIds?.$ref).toBe(typeRef("PrivateDnsZoneIdsArgs"));
    expect(api.properties?.apiKeys).toMatchObject({
      type: "object",
      additionalProperties: { type: "array" },
    });
    const registry = typeOf(schema, platform.registry?.$ref);
    expect(typeOf(schema, registry.properties?.sku?.$ref).enum?.map((m) => m.value)).toEqual([
      "Premium",
      "Standard",
    ]);
    const bucket = typeOf(schema, platform.dataBucket?.$ref);
    expect(bucket.properties?.datastoreName?.type).toBe("string");
    expect(bucket.properties?.datastore).toBeUndefined();
    const cluster = typeOf(schema, platform.cluster?.$ref);
    expect(typeOf(schema, cluster.properties?.isolationMode?.$ref).enum?.map((m) => m.value)).toEqual([
      "AllowInternetOutbound",
      "AllowOnlyApprovedOutbound",
    ]);
    const pool = typeOf(schema, cluster.properties?.gpuPools?.items?.$ref);
    expect(Object.keys(pool.properties ?? {}).sort()).toEqual([
      "gpu",
      "gpusPerNode",
      "maxNodes",
      "minNodes",
      "name",
      "spot",
      "vmSize",
    ]);
    expect(typeOf(schema, pool.properties?.gpu?.$ref).enum?.map((m) => m.value)).toEqual([...GPUS]);
  });
});
