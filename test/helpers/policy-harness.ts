import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { expect } from "vitest";

/** What a policy is called with besides the resource: its config and the stack's tags. */
export interface PolicyCall {
  /** The policy's config, as `--policy-pack-config` would give it; defaults to none. */
  config?: Record<string, unknown>;
  /** The stack's tags. */
  stackTags?: Record<string, string>;
}

/**
 * Calls a policy's `validateResource` directly, with the arguments @pulumi/policy's analyzer builds for
 * one resource (its type token, inputs, config getter and stack tags), and returns the messages it reported.
 * No engine is involved; the pack test drives the same policies through the real analyzer server.
 */
export function violations(
  policy: ResourceValidationPolicy,
  type: string,
  props: Record<string, unknown>,
  call: PolicyCall = {},
): string[] {
  const reported: string[] = [];
  const args: ResourceValidationArgs = {
    type,
    props,
    urn: `urn:pulumi:test::trainkit::${type}::subject`,
    name: "subject",
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    stackTags: new Map(Object.entries(call.stackTags ?? {})),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => (call.config ?? {}) as T,
    notApplicable: (reason?: string): never => {
      throw new Error(`not applicable: ${reason}`);
    },
  };
  const validations = [policy.validateResource ?? []].flat();
  for (const validate of validations) validate(args, (message) => reported.push(message));
  return reported;
}

/** Every violation of every trainkit rule over resources a program registered, as `<rule> <type> <name>: <message>`. */
export function violationsOver(
  policies: readonly ResourceValidationPolicy[],
  resources: readonly { type: string; name: string; inputs: Record<string, unknown>; custom: boolean }[],
): string[] {
  return resources
    .filter((r) => r.custom)
    .flatMap((r) =>
      policies.flatMap((p) =>
        violations(p, r.type, r.inputs).map((m) => `${p.name} ${r.type} ${r.name}: ${m}`),
      ),
    );
}

/** {@link violationsOver}, split by each rule's default enforcement level. */
export function violationsByLevel(
  policies: readonly ResourceValidationPolicy[],
  resources: readonly { type: string; name: string; inputs: Record<string, unknown>; custom: boolean }[],
): { mandatory: string[]; advisory: string[] } {
  const of = (level: string) =>
    violationsOver(
      policies.filter((p) => (p.enforcementLevel ?? "advisory") === level),
      resources,
    );
  return { mandatory: of("mandatory"), advisory: of("advisory") };
}

type Registered = { type: string; name: string; inputs: Record<string, unknown>; custom: boolean };

/**
 * Asserts that components registered at least one resource of each of `types` (so the rules had something to
 * look at) and that no rule, mandatory or advisory, reports any of `resources`.
 */
export function expectEveryRuleKept(
  policies: readonly ResourceValidationPolicy[],
  resources: readonly Registered[],
  types: readonly string[],
): void {
  const registered = new Set(resources.map((r) => r.type));
  expect(
    types.filter((t) => !registered.has(t)),
    "resource types the components should have registered",
  ).toEqual([]);
  expect(violationsByLevel(policies, resources)).toEqual({ mandatory: [], advisory: [] });
}
