import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { TYPES } from "../../src/policy";
import { published } from "../helpers/published";

// The property paths the policy rules read, against the providers' schemas as the installed SDKs declare
// them (@pulumi/gcp, @pulumi/aws, @pulumi/azure-native and @pulumi/kubernetes type declarations, which are
// generated from each provider's schema). The excerpt names the versions it was taken from.

interface Excerpt {
  packages: Record<string, string>;
  resources: Record<
    string,
    { package: string; file: string; args: { file: string; interface: string }; properties: string[] }
  >;
  inputs: Record<string, Record<string, string[]>>;
  enums: Record<string, Record<string, string[]>>;
}
const EXCERPT = published<Excerpt>("pulumi-providers/policy-properties.json");
const root = (pkg: string) => path.join(__dirname, "../../node_modules", pkg);
const read = (pkg: string, file: string) => readFileSync(path.join(root(pkg), file), "utf8");

// The body of `interface <name> {` inside the namespace path (`container`, `batch.v1`) of a types file.
function interfaceBody(text: string, qualified: string): string {
  const parts = qualified.split(".");
  const name = parts.pop()!;
  let at = 0;
  for (const ns of parts) {
    const found = text.slice(at).search(new RegExp(`\\bnamespace ${ns} \\{`));
    expect(found, `namespace ${ns} of ${qualified}`).toBeGreaterThanOrEqual(0);
    at += found;
  }
  const start = text.indexOf(`interface ${name} {`, at);
  expect(start, `interface ${qualified}`).toBeGreaterThanOrEqual(0);
  const indent = text.slice(text.lastIndexOf("\n", start) + 1, start);
  return text.slice(start, text.indexOf(`\n${indent}}`, start));
}

const hasField = (body: string, field: string) => new RegExp(`\\n\\s+${field}\\??:`).test(body);

describe("the provider property excerpt the policies rely on", () => {
  it("was taken from the provider versions installed here", () => {
    for (const [pkg, version] of Object.entries(EXCERPT.packages)) {
      expect(JSON.parse(read(pkg, "package.json")).version, pkg).toBe(version);
    }
  });

  it("lists every type token the rules match, and each is the token its SDK registers", () => {
    expect(Object.keys(EXCERPT.resources).sort()).toEqual(
      Object.values(TYPES)
        .filter((t) => !t.startsWith("pulumi-nodejs:"))
        .sort(),
    );
    for (const [token, r] of Object.entries(EXCERPT.resources)) {
      expect(read(r.package, r.file), token).toContain(`__pulumiType = '${token}'`);
    }
  });

  it("names top-level properties each resource's Args interface has", () => {
    for (const [token, r] of Object.entries(EXCERPT.resources)) {
      const text = read(r.package, r.args.file);
      const body = text.slice(text.indexOf(`export interface ${r.args.interface} {`));
      for (const p of r.properties) expect(hasField(body, p), `${token}.${p}`).toBe(true);
    }
  });

  it("names nested fields their input types have", () => {
    for (const [pkg, types] of Object.entries(EXCERPT.inputs)) {
      const text = read(pkg, "types/input.d.ts");
      for (const [qualified, fields] of Object.entries(types)) {
        const body = interfaceBody(text, qualified);
        for (const f of fields) expect(hasField(body, f), `${pkg} ${qualified}.${f}`).toBe(true);
      }
    }
  });

  it("uses enum values the providers define", () => {
    for (const [pkg, enums] of Object.entries(EXCERPT.enums)) {
      for (const [qualified, values] of Object.entries(enums)) {
        const [module, name] = qualified.split(".");
        const text = read(pkg, `types/enums/${module}/index.d.ts`);
        const start = text.indexOf(`export declare const ${name}: {`);
        expect(start, qualified).toBeGreaterThanOrEqual(0);
        const body = text.slice(start, text.indexOf("};", start));
        for (const v of values) expect(body, `${qualified}.${v}`).toContain(`: "${v}";`);
      }
    }
  });
});

describe("the GKE control plane access excerpt", () => {
  it("quotes the doc comments of the installed @pulumi/gcp, word for word", () => {
    const excerpt = published<{
      package: string;
      version: string;
      file: string;
      fields: Record<string, string>;
    }>("pulumi-providers/gke-control-plane-access.json");
    expect(JSON.parse(read(excerpt.package, "package.json")).version).toBe(excerpt.version);
    const text = read(excerpt.package, excerpt.file);
    for (const [qualified, quoted] of Object.entries(excerpt.fields)) {
      const [iface, field] = qualified.split(".") as [string, string];
      const body = interfaceBody(text, `container.${iface}`);
      const at = body.search(new RegExp(`\\n\\s+${field}\\?:`));
      expect(at, qualified).toBeGreaterThan(0);
      const comment = body.slice(body.lastIndexOf("/**", at), at);
      const words = comment
        .replace(/^\s*\/\*\*|\*\/\s*$/g, "")
        .split("\n")
        .map((l) => l.replace(/^\s*\* ?/, "").trim())
        .filter(Boolean)
        .join(" ");
      expect(words, qualified).toBe(quoted);
    }
  });
});

describe("the TrainingJob type token", () => {
  it("is the one pulumi.dynamic.Resource builds from trainkit's module and type names", () => {
    const dynamic = read("@pulumi/pulumi", "dynamic/index.js");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the template literal of @pulumi/pulumi's source, as text.
    expect(dynamic).toContain('`pulumi-nodejs:dynamic${module ? `/${module}` : ""}:${type}`');
    const job = readFileSync(path.join(__dirname, "../../src/job/training-job.ts"), "utf8");
    expect(job).toMatch(/"trainkit",\s*"TrainingJob",\s*\);/);
    expect(TYPES.trainingJob).toBe("pulumi-nodejs:dynamic/trainkit:TrainingJob");
  });
});
