import { expect } from "vitest";
import type { PackageSchema, SchemaObject, SchemaProperty } from "./component-host";
import type { DeclaredComponent } from "./component-sources";

// The checks every cloud's component package test makes of the schema Pulumi's component provider host
// infers: one component per class the cloud folder exports, every input and output typed and described with
// its JSDoc, every type reference resolving. Each returns the problems found, so a test shows them all at once.

const SCALARS = ["string", "number", "integer", "boolean"];

/** Why `prop` has no usable type, or undefined when it has one (arrays and maps down to their elements). */
export function missingType(prop: SchemaProperty | undefined): string | undefined {
  if (!prop) return "no property";
  if (prop.$ref !== undefined) return undefined;
  if (prop.type === "array") return missingType(prop.items);
  if (prop.type === "object") return missingType(prop.additionalProperties);
  return SCALARS.includes(prop.type ?? "") ? undefined : `type ${prop.type}`;
}

/** The object or enum type `ref` (`#/types/<token>`) names in `schema`; throws when there is none. */
export function typeOf(schema: PackageSchema, ref: string | undefined): SchemaObject {
  const name = ref?.replace("#/types/", "") ?? "";
  const found = schema.types[name];
  if (!found) throw new Error(`no type ${ref}`);
  return found;
}

/** Checks the schema's components against the declared ones: same set, descriptions, inputs and outputs. */
export function expectComponentsAsDeclared(
  schema: PackageSchema,
  pkg: string,
  declared: DeclaredComponent[],
): void {
  const token = (name: string) => `${pkg}:index:${name}`;
  expect(Object.keys(schema.resources).sort()).toEqual(declared.map((c) => token(c.name)).sort());
  const problems: string[] = [];
  const same = (where: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want))
      problems.push(`${where}: ${JSON.stringify(got)} instead of ${JSON.stringify(want)}`);
  };
  for (const c of declared) {
    const resource = schema.resources[token(c.name)] as SchemaObject;
    same(`${c.name} isComponent`, resource.isComponent, true);
    if (c.doc.length < 20) problems.push(`${c.name}: class has no JSDoc`);
    same(`${c.name} description`, resource.description, c.doc);
    const inputs = resource.inputProperties ?? {};
    same(`${c.name} inputs`, Object.keys(inputs).sort(), c.inputs.map((i) => i.name).sort());
    for (const input of c.inputs) {
      const where = `${c.name}.${input.name}`;
      const missing = missingType(inputs[input.name]);
      if (missing) problems.push(`${where}: ${missing}`);
      if (input.doc === "") problems.push(`${where}: no JSDoc`);
      same(`${where} description`, inputs[input.name]?.description, input.doc);
    }
    same(
      `${c.name} requiredInputs`,
      resource.requiredInputs ?? [],
      c.inputs
        .filter((i) => !i.optional)
        .map((i) => i.name)
        .sort(),
    );
    const outputs = resource.properties ?? {};
    same(`${c.name} outputs`, Object.keys(outputs).sort(), c.outputs.map((o) => o.name).sort());
    for (const output of c.outputs) {
      const where = `${c.name}.${output.name}`;
      const missing = missingType(outputs[output.name]);
      if (missing) problems.push(`${where}: ${missing}`);
      if (output.doc === "") problems.push(`${where}: no JSDoc`);
      same(`${where} description`, outputs[output.name]?.description, output.doc);
    }
  }
  expect(problems).toEqual([]);
}

/** Checks that every type reference resolves and every property of every object type is typed and described. */
export function expectTypesResolved(schema: PackageSchema): void {
  const problems: string[] = [];
  const refs = JSON.stringify(schema).match(/"#\/types\/[^"]+"/g) ?? [];
  for (const ref of new Set(refs)) {
    const name = (JSON.parse(ref) as string).replace("#/types/", "");
    if (!schema.types[name]) problems.push(`no type ${name}`);
  }
  for (const [name, type] of Object.entries(schema.types)) {
    if (type.type !== "object") continue;
    for (const [prop, def] of Object.entries(type.properties ?? {})) {
      const missing = missingType(def);
      if (missing) problems.push(`${name}.${prop}: ${missing}`);
      if ((def.description ?? "") === "") problems.push(`${name}.${prop}: no description`);
      if (def.description?.includes("[object Object]")) problems.push(`${name}.${prop}: [object Object]`);
    }
  }
  expect(problems).toEqual([]);
}
