import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GPUS } from "../../src/gpu";
import {
  ComponentHost,
  type PackageSchema,
  type SchemaObject,
  type SchemaProperty,
} from "../helpers/component-host";
import { missingType, typeOf as typeIn } from "../helpers/component-package";
import { declaredComponents } from "../helpers/component-sources";
import { FakeEngine } from "../helpers/fake-engine";
import { isSecret, plaintextOccurrences, REPO_ROOT } from "../helpers/provider-host";

// plugins/gcp served by Pulumi's own component provider host (`@pulumi/pulumi/cmd/run-plugin`, started as the
// Node.js language host starts a PulumiPlugin.yaml folder) and asked for its schema over gRPC. The schema is
// compared against what src/gcp declares, read with the TypeScript compiler on its own, and against the
// Python and YAML example programs. Construct is called as the engine calls it for a component declared in
// another language; the engine and resource monitor it talks back to are a stand-in (test/helpers/fake-engine.ts)
// that records the registrations and echoes inputs as outputs. No Pulumi CLI takes part.

const PKG = "trainkit-gcp";
const token = (name: string) => `${PKG}:index:${name}`;
const typeRef = (name: string) => `#/types/${token(name)}`;
const declared = declaredComponents("gcp");

let engine: FakeEngine;
let host: ComponentHost;
let schema: PackageSchema;

beforeAll(async () => {
  engine = await FakeEngine.start("platform", "dev");
  host = await ComponentHost.start("plugins/gcp", engine.address);
  schema = await host.getSchema();
}, 600_000);

afterAll(async () => {
  await host?.close();
  await engine?.close();
});

/** The object or enum type `ref` names in the served schema. */
const typeOf = (ref: string | undefined): SchemaObject => typeIn(schema, ref);

function camelToSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

describe("the GCP component package served by Pulumi's component provider host", () => {
  it("is named after plugins/gcp/package.json and depends on the gcp provider its outputs reference", () => {
    expect(schema.name).toBe(PKG);
    expect(schema.version).toBe("0.1.0");
    expect(schema.dependencies?.map((d) => d.name)).toEqual(["gcp"]);
  });

  it("holds every component src/gcp exports, each with its class's description", () => {
    expect(declared.map((c) => c.name)).toEqual([
      "Bucket",
      "GpuCluster",
      "ProjectApis",
      "Registry",
      "TrainingApi",
      "TrainingPlatform",
    ]);
    expect(Object.keys(schema.resources).sort()).toEqual(declared.map((c) => token(c.name)));
    for (const c of declared) {
      const resource = schema.resources[token(c.name)];
      expect(resource?.isComponent, c.name).toBe(true);
      expect(c.doc.length, c.name).toBeGreaterThan(20);
      expect(resource?.description, c.name).toBe(c.doc);
    }
  });

  it("holds every input of every component with a type, its JSDoc as description, and whether it is required", () => {
    for (const c of declared) {
      const resource = schema.resources[token(c.name)] as SchemaObject;
      const inputs = resource.inputProperties ?? {};
      expect(Object.keys(inputs).sort(), c.name).toEqual(c.inputs.map((i) => i.name).sort());
      for (const input of c.inputs) {
        const where = `${c.name}.${input.name}`;
        expect(missingType(inputs[input.name]), where).toBeUndefined();
        expect(input.doc, where).not.toBe("");
        expect(inputs[input.name]?.description, where).toBe(input.doc);
      }
      expect(resource.requiredInputs ?? [], c.name).toEqual(
        c.inputs
          .filter((i) => !i.optional)
          .map((i) => i.name)
          .sort(),
      );
    }
  });

  it("holds every public field of every component as an output with a type and its JSDoc as description", () => {
    for (const c of declared) {
      const outputs = schema.resources[token(c.name)]?.properties ?? {};
      expect(Object.keys(outputs).sort(), c.name).toEqual(c.outputs.map((o) => o.name).sort());
      for (const output of c.outputs) {
        const where = `${c.name}.${output.name}`;
        expect(missingType(outputs[output.name]), where).toBeUndefined();
        expect(output.doc, where).not.toBe("");
        expect(outputs[output.name]?.description, where).toBe(output.doc);
      }
    }
  });

  it("resolves every type reference, and types and describes every property of every object type", () => {
    const refs = JSON.stringify(schema).match(/"#\/types\/[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) expect(() => typeOf(JSON.parse(ref))).not.toThrow();
    const objects = Object.entries(schema.types).filter(([, t]) => t.type === "object");
    expect(objects.length).toBeGreaterThan(5);
    for (const [name, type] of objects) {
      for (const [prop, def] of Object.entries(type.properties ?? {})) {
        expect(missingType(def), `${name}.${prop}`).toBeUndefined();
        expect(def.description ?? "", `${name}.${prop}`).not.toBe("");
        expect(def.description, `${name}.${prop}`).not.toContain("[object Object]");
      }
    }
  });

  it("takes the platform's parts as named types, a GPU as an enum of the catalogue, and the keys as a map", () => {
    const platform = schema.resources[token("TrainingPlatform")]?.inputProperties ?? {};
    expect(platform.api?.$ref).toBe(typeRef("TrainingApiSettings"));
    expect(platform.registry?.$ref).toBe(typeRef("RegistrySettings"));
    expect(platform.dataBucket?.$ref).toBe(typeRef("BucketSettings"));
    expect(platform.cluster?.$ref).toBe(typeRef("PlatformCluster"));
    const cluster = typeOf(platform.cluster?.$ref);
    expect(cluster.properties?.location?.type).toBe("string");
    expect(cluster.properties?.project).toBeUndefined();
    const pool = typeOf(cluster.properties?.gpuPools?.items?.$ref);
    expect(typeOf(pool.properties?.gpu?.$ref).enum?.map((m) => m.value)).toEqual([...GPUS]);
    expect(typeOf(cluster.properties?.releaseChannel?.$ref).enum?.map((m) => m.value)).toEqual([
      "RAPID",
      "REGULAR",
      "STABLE",
      "EXTENDED",
    ]);
    const api = typeOf(platform.api?.$ref);
    expect(api.required).toEqual(["image"]);
    expect(api.properties?.apiKeys).toMatchObject({
      type: "object",
      additionalProperties: { type: "array" },
    });
    expect(api.properties?.apiKeysJson?.type).toBe("string");
  });
});

describe("Construct of a TrainingPlatform, as a program in another language declares it", () => {
  const KEY = "tk_live_0123456789abcdef";
  const SIG_KEY = "4dabf18193072939515e22adb298388d";
  const OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

  it("builds the TypeScript component from the inputs the SDKs send, under the component's own type", async () => {
    const { urn, state } = await host.construct({
      type: token("TrainingPlatform"),
      name: "ml",
      inputs: {
        project: "my-project",
        region: "us-central1",
        // A secret output value: how the SDKs send `config.require_secret(...)` to a component provider, since
        // the engine supports output values in Construct.
        api: {
          image: "us-docker.pkg.dev/my-project/tk/trainkit:0.1.0",
          apiKeys: { [SIG_KEY]: OUTPUT_VALUE_SIG, value: { [KEY]: ["team-vision"] }, secret: true },
        },
      },
      project: "platform",
      stack: "dev",
      config: {},
      monitor: engine.address,
    });
    const platformUrn = "urn:pulumi:dev::platform::trainkit:gcp:TrainingPlatform::ml";
    expect(urn).toBe(platformUrn);
    const byName = (type: string, name: string) =>
      engine.registered.find((r) => r.type === type && r.name === name);
    const apiUrn = byName("trainkit:gcp:TrainingApi", "ml-api")?.urn;
    expect(byName("trainkit:gcp:TrainingApi", "ml-api")?.parent).toBe(platformUrn);
    expect(byName("gcp:cloudrunv2/service:Service", "ml-api")?.parent).toBe(apiUrn);
    expect(byName("gcp:storage/bucket:Bucket", "ml-data")?.inputs).toMatchObject({
      project: "my-project",
      location: "us-central1",
      publicAccessPrevention: "enforced",
      uniformBucketLevelAccess: true,
    });
    expect(engine.registered.filter((r) => r.type.startsWith("trainkit:")).map((r) => r.type)).toEqual([
      "trainkit:gcp:TrainingPlatform",
      "trainkit:gcp:ProjectApis",
      "trainkit:gcp:Registry",
      "trainkit:gcp:Bucket",
      "trainkit:gcp:Bucket",
      "trainkit:gcp:TrainingApi",
    ]);
    // The state holds exactly the outputs the schema declares.
    const declaredOutputs = Object.keys(schema.resources[token("TrainingPlatform")]?.properties ?? {});
    expect(Object.keys(state).sort()).toEqual(declaredOutputs.sort());
    expect(state.jobServiceAccount).toMatchObject({
      urn: "urn:pulumi:dev::platform::gcp:serviceaccount/account:Account::ml-jobs",
    });
    expect(state.outputs).toMatchObject({ project: "my-project", region: "us-central1" });
  });

  it("keeps the API keys secret from the inputs to the Secret Manager version, and nowhere else", () => {
    const version = engine.registered.find((r) => r.type === "gcp:secretmanager/secretVersion:SecretVersion");
    const secretData = version?.inputs.secretData;
    expect(isSecret(secretData)).toBe(true);
    expect(JSON.parse((secretData as { value: string }).value)).toEqual({ [KEY]: ["team-vision"] });
    const plaintext = engine.registered.flatMap((r) =>
      plaintextOccurrences(r.inputs, KEY).map((at) => `${r.type} ${r.name}: ${at}`),
    );
    expect(plaintext).toEqual([]);
  });
});

describe("the example programs against the GCP component package's schema", () => {
  /** Checks an object literal against an object type: known keys, required keys present, enum values. */
  function checkObject(
    where: string,
    value: Record<string, unknown>,
    props: Record<string, SchemaProperty>,
    required: string[],
  ): string[] {
    const problems: string[] = [];
    for (const key of required) if (!(key in value)) problems.push(`${where}: ${key} is required`);
    for (const [key, v] of Object.entries(value)) {
      const def = props[key];
      if (!def) {
        problems.push(`${where}: ${key} is not an input`);
        continue;
      }
      problems.push(...checkValue(`${where}.${key}`, v, def));
    }
    return problems;
  }

  function checkValue(where: string, v: unknown, def: SchemaProperty): string[] {
    if (typeof v === "string" && v.startsWith("${")) return [];
    if (def.$ref !== undefined) {
      const t = typeOf(def.$ref);
      if (t.enum) {
        return t.enum.some((m) => m.value === v)
          ? []
          : [`${where}: ${JSON.stringify(v)} is not one of the enum`];
      }
      if (typeof v !== "object" || v === null) return [`${where}: expected an object`];
      return checkObject(where, v as Record<string, unknown>, t.properties ?? {}, t.required ?? []);
    }
    if (def.type === "array") {
      if (!Array.isArray(v)) return [`${where}: expected a list`];
      return v.flatMap((item, i) => checkValue(`${where}[${i}]`, item, def.items as SchemaProperty));
    }
    if (def.type === "object") return typeof v === "object" ? [] : [`${where}: expected a map`];
    const scalar = def.type === "integer" ? "number" : def.type;
    return typeof v === scalar ? [] : [`${where}: expected a ${def.type}, got ${JSON.stringify(v)}`];
  }

  it("finds every class the Python program calls, with only keyword arguments the schema has, and their required ones", () => {
    const program = path.join(REPO_ROOT, "examples/python-platform/__main__.py");
    const out = execFileSync("python3", [path.join(__dirname, "python_calls.py"), program, "trainkit_gcp"], {
      encoding: "utf8",
    });
    const { calls, reads } = JSON.parse(out) as {
      calls: {
        name: string;
        positional: number;
        keywords: Record<string, unknown>;
        variable: string | null;
      }[];
      reads: { variable: string; field: string; attribute: string }[];
    };
    expect(calls.map((c) => c.name)).toEqual([
      "TrainingPlatform",
      "TrainingApiSettingsArgs",
      "PlatformClusterArgs",
      "GcpGpuPoolArgsArgs",
    ]);
    const problems: string[] = [];
    const resourceOf = new Map<string, SchemaObject>();
    for (const call of calls) {
      // The Python SDK names a component's class after it and an object type's input class `<Type>Args`,
      // so the type GcpGpuPoolArgs is the class GcpGpuPoolArgsArgs.
      const resource = schema.resources[token(call.name)];
      const type = call.name.endsWith("Args") ? schema.types[token(call.name.slice(0, -4))] : undefined;
      const target = resource ?? type;
      if (!target) {
        problems.push(`${call.name}: no such component or type`);
        continue;
      }
      if (resource && call.variable) resourceOf.set(call.variable, resource);
      const props = (resource ? resource.inputProperties : type?.properties) ?? {};
      const required = (resource ? resource.requiredInputs : type?.required) ?? [];
      const bySnake = new Map(Object.entries(props).map(([k, v]) => [camelToSnake(k), [k, v] as const]));
      for (const req of required) {
        if (!(camelToSnake(req) in call.keywords))
          problems.push(`${call.name}: ${camelToSnake(req)} is required`);
      }
      for (const [kw, literal] of Object.entries(call.keywords)) {
        const found = bySnake.get(kw);
        if (!found) problems.push(`${call.name}: ${kw} is not an input`);
        else if (literal !== null) problems.push(...checkValue(`${call.name}.${kw}`, literal, found[1]));
      }
    }
    for (const read of reads.filter((r) => resourceOf.has(r.variable))) {
      const field = resourceOf.get(read.variable)?.properties?.[read.field];
      const fields = field?.$ref ? Object.keys(typeOf(field.$ref).properties ?? {}).map(camelToSnake) : [];
      if (!fields.includes(read.attribute))
        problems.push(`${read.variable}.${read.field}.${read.attribute} is not an output`);
    }
    expect(problems).toEqual([]);
  });

  it("finds every resource type, property and required input of the YAML program", () => {
    const dir = path.join(REPO_ROOT, "examples/yaml-platform");
    const program = parse(readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as {
      packages: Record<string, string>;
      resources: Record<string, { type: string; properties?: Record<string, unknown> }>;
      outputs: Record<string, string>;
    };
    expect(existsSync(path.join(dir, program.packages[PKG] ?? "", "PulumiPlugin.yaml"))).toBe(true);
    const problems: string[] = [];
    for (const [name, res] of Object.entries(program.resources)) {
      const resource = schema.resources[res.type];
      if (!resource) {
        problems.push(`${name}: no component ${res.type}`);
        continue;
      }
      problems.push(
        ...checkObject(
          name,
          res.properties ?? {},
          resource.inputProperties ?? {},
          resource.requiredInputs ?? [],
        ),
      );
    }
    for (const [name, expr] of Object.entries(program.outputs)) {
      const [variable, field] = /^\$\{(\w+)\.(\w+)\}$/.exec(expr)?.slice(1) ?? [];
      const type = program.resources[variable ?? ""]?.type ?? "";
      if (!schema.resources[type]?.properties?.[field ?? ""])
        problems.push(`output ${name}: ${expr} is not an output`);
    }
    expect(problems).toEqual([]);
  });
});
