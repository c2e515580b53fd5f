import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** Resource inputs as the engine receives them: arbitrary trees that tests index into freely. */
// biome-ignore lint/suspicious/noExplicitAny: the shape differs per resource type, and tests assert on it.
export type Inputs = Record<string, any>;

/** One resource the program registered, as the engine would have received it. */
export interface RegisteredResource {
  /** The type token, e.g. `gcp:container/cluster:Cluster` or `trainkit:gcp:GpuCluster`. */
  type: string;
  /** The logical name given to the constructor. */
  name: string;
  /** The inputs after Pulumi resolved them, with secrets unwrapped (see `secretInputs`). */
  inputs: Inputs;
  /** Top-level input names whose value was marked secret by the program. */
  secretInputs: string[];
  /** The type token of the parent resource, or undefined for a resource created at the stack's top level. */
  parentType?: string;
  /** The provider reference (`<urn>::<id>`) the resource was registered with, when it was given one. */
  provider?: string;
  custom: boolean;
  /**
   * What the resource waits for, as `<type>::<name>` of each resource the engine was told it depends on
   * (its `dependsOn`, expanded to the custom resources inside components, and the resources its inputs
   * come from).
   */
  dependsOn: string[];
  /** Whether the resource was registered with `retainOnDelete` (left in the cloud by `pulumi destroy`). */
  retainOnDelete: boolean;
  /** Whether the resource was registered with `deleteBeforeReplace` (its old self deleted before a replacement). */
  deleteBeforeReplace: boolean;
}

export interface MockOptions {
  project?: string;
  stack?: string;
  /** Stack config, keyed `<namespace>:<key>` like `gcp:project`. */
  config?: Record<string, string>;
  /**
   * Output properties the cloud would compute for a resource (an email, a URI), merged over its inputs.
   * Each cloud's tests pass the few their components read. An `id` among them becomes the resource's id.
   */
  computed?: (resource: { type: string; name: string; inputs: Inputs }) => Record<string, unknown>;
  /**
   * The answer of a provider function (a data source such as `gcp:compute/getZones:getZones`), or
   * undefined to echo its inputs back. Each cloud's tests answer the few their components call.
   */
  invoke?: (token: string, inputs: Inputs) => Record<string, unknown> | undefined;
  /**
   * Which creation of the stack's resources this runtime stands for. A `NameSuffix` is drawn when it is created
   * and kept in the state, so every `pulumi up` of a stack reads the same suffix back until `pulumi destroy`;
   * the mocks derive it from the resource's URN and this number instead (see `nameSuffixComputed`). Runtimes
   * with the same generation are updates of one deployment; another generation is a deployment from a fresh
   * state: the same stack after `pulumi destroy`, or another team's stack of the same project and name.
   * Defaults to 0.
   */
  generation?: number;
}

export interface MockRuntime {
  /** Every resource registered so far, in registration order. */
  readonly resources: RegisteredResource[];
  /** The resources of one type token. */
  ofType(type: string): RegisteredResource[];
  /** The one resource of a type with this logical name; throws when there is none. */
  one(type: string, name: string): RegisteredResource;
  /** Every call of a provider function (an invoke such as `gcp:organizations/getProject:getProject`). */
  readonly calls: { token: string; inputs: Inputs }[];
  /** Waits until every outstanding registration has reached the mock monitor. */
  settle(): Promise<void>;
}

/** The parts of the engine's registration request the mocks read. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean | undefined;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE
  );
}

function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

/** The type token Pulumi gives trainkit's `NameSuffix`, a dynamic resource (src/components/name-suffix.ts). */
export const NAME_SUFFIX_TYPE = "pulumi-nodejs:dynamic/trainkit:NameSuffix";

/**
 * What the `NameSuffix` provider's create returns, stood in for: a suffix of the requested `length` in
 * lowercase letters and digits, and the same suffix as the resource's id. It is taken from a hash of the
 * resource's URN and the deployment's generation, so it is the same on every update of a stack and new after
 * a destroy, in another stack or project, or for another resource of the same stack.
 */
export function nameSuffixComputed(
  type: string,
  urn: string,
  generation: number,
  inputs: Inputs,
): Record<string, unknown> {
  if (type !== NAME_SUFFIX_TYPE) return {};
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const length = Number(inputs.length);
  let suffix = "";
  for (let block = 0; suffix.length < length; block++) {
    for (const byte of createHash("sha256").update(`${urn}#${generation}#${block}`).digest()) {
      suffix += alphabet[byte % alphabet.length];
    }
  }
  suffix = suffix.slice(0, length);
  return { id: suffix, suffix };
}

// The mock monitor sees only types and names; the parent is recovered from the URN it builds.
function parentTypeOf(urn: string): string | undefined {
  const qualified = urn.split("::")[2] ?? "";
  const chain = qualified.split("$");
  return chain.length > 1 ? chain[chain.length - 2] : undefined;
}

/**
 * Puts Pulumi's process-global runtime into mock mode and records every resource registered afterwards.
 * Vitest runs each test file in its own process, so one call per file, before any component is constructed;
 * a test that deploys a stack again (an update, or an up after a destroy) calls it again for a fresh runtime.
 */
export async function installPulumiMocks(options: MockOptions = {}): Promise<MockRuntime> {
  const resources: RegisteredResource[] = [];
  const calls: MockRuntime["calls"] = [];
  // The mock monitor hands `newResource` no dependencies, so they are read off each registration request
  // (by type and name) before it is passed on.
  const dependencies = new Map<string, string[]>();
  const retained = new Set<string>();
  const deletedFirst = new Set<string>();
  const urns = new Map<string, string>();
  const generation = options.generation ?? 0;
  const urnKey = (urn: string) => {
    const parts = urn.split("::");
    return `${(parts[2] ?? "").split("$").pop()}::${parts[3] ?? ""}`;
  };
  if (options.config) pulumi.runtime.setAllConfig(options.config);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const raw = (args.inputs ?? {}) as Record<string, unknown>;
        const inputs = unwrapSecrets(raw) as Inputs;
        const record: RegisteredResource = {
          type: args.type,
          name: args.name,
          inputs,
          secretInputs: Object.keys(raw).filter((k) => isSecretValue(raw[k])),
          custom: args.custom ?? true,
          ...(args.provider ? { provider: args.provider } : {}),
          dependsOn: dependencies.get(`${args.type}::${args.name}`) ?? [],
          retainOnDelete: retained.has(`${args.type}::${args.name}`),
          deleteBeforeReplace: deletedFirst.has(`${args.type}::${args.name}`),
        };
        resources.push(record);
        // A resource read rather than registered (`.get`) has no URN recorded; its type and name stand in.
        const urn = urns.get(`${args.type}::${args.name}`) ?? `${args.type}::${args.name}`;
        const { id, ...computed } = {
          ...nameSuffixComputed(args.type, urn, generation, inputs),
          ...options.computed?.({ type: args.type, name: args.name, inputs }),
        };
        // A cloud whose components parse resource ids (Azure's ARM ids) returns the id the cloud would give.
        return { id: typeof id === "string" ? id : `${args.name}-id`, state: { ...raw, ...computed } };
      },
      call(args) {
        calls.push({ token: args.token, inputs: args.inputs });
        return options.invoke?.(args.token, args.inputs) ?? args.inputs;
      },
    },
    options.project ?? "trainkit-test",
    options.stack ?? "test",
    false,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, callback: unknown): Promise<void>;
    newUrn(parent: string, type: string, name: string): string;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    dependencies.set(`${req.getType()}::${req.getName()}`, [
      ...new Set(req.getDependenciesList().map(urnKey)),
    ]);
    if (req.getRetainondelete()) retained.add(`${req.getType()}::${req.getName()}`);
    if (req.getDeletebeforereplace()) deletedFirst.add(`${req.getType()}::${req.getName()}`);
    urns.set(
      `${req.getType()}::${req.getName()}`,
      monitor.newUrn(req.getParent(), req.getType(), req.getName()),
    );
    return register(req, callback);
  };

  const settle = async () => {
    const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    await settings.waitForRPCs();
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      resources: Map<string, { urn: string }>;
    };
    const urns = [...monitor.resources.keys()];
    for (const record of resources) {
      const urn = urns.find((u) => u.endsWith(`::${record.name}`) && u.split("::")[2]?.endsWith(record.type));
      if (urn) record.parentType = parentTypeOf(urn);
    }
  };

  return {
    resources,
    calls,
    ofType: (type) => resources.filter((r) => r.type === type),
    one(type, name) {
      const found = resources.find((r) => r.type === type && r.name === name);
      if (!found) {
        const names = resources.filter((r) => r.type === type).map((r) => r.name);
        throw new Error(`no ${type} named ${name}; registered: ${names.join(", ") || "none"}`);
      }
      return found;
    },
    settle,
  };
}

/** The value an output resolves to. */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Whether an output is marked secret, so it is encrypted in state and masked in logs. */
export function isSecret<T>(output: pulumi.Output<T>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/**
 * The output properties GCP computes that trainkit's GCP components read: service account emails, the
 * Cloud Run URI, a GKE endpoint and CA, secret ids and versions, and the names GCP would generate.
 */
export function gcpComputed({ type, name, inputs }: { type: string; name: string; inputs: Inputs }) {
  const project = inputs.project ?? "mock-project";
  switch (type) {
    case "gcp:serviceaccount/account:Account":
      return {
        email: `${inputs.accountId}@${project}.iam.gserviceaccount.com`,
        project,
        uniqueId: `1${createHash("sha256").update(String(inputs.accountId)).digest("hex").replace(/\D/g, "").padEnd(20, "7").slice(0, 20)}`,
      };
    case "gcp:projects/iAMCustomRole:IAMCustomRole":
      return { name: `projects/${project}/roles/${inputs.roleId}` };
    case "gcp:compute/router:Router":
      return { name: inputs.name ?? name };
    case "gcp:cloudrunv2/service:Service":
      return { name: inputs.name ?? name, uri: `https://${name}-abc123-uc.a.run.app` };
    case "gcp:container/cluster:Cluster":
      return {
        name: inputs.name ?? name,
        endpoint: "203.0.113.10",
        masterAuth: { clusterCaCertificate: "Q0EtREFUQQ==" },
      };
    case "gcp:secretmanager/secret:Secret":
      return { secretId: inputs.secretId ?? name };
    case "gcp:secretmanager/secretVersion:SecretVersion":
      return { version: "1" };
    case "gcp:storage/bucket:Bucket":
    case "gcp:artifactregistry/repository:Repository":
      return { name: inputs.name ?? inputs.repositoryId ?? name };
    default:
      return {};
  }
}

interface MachineTypeZones {
  regions: Record<string, string[]>;
  machineTypes: Record<string, string[]>;
}

/** Which zones list which machine type, as published (see the fixture's `source`). */
export const MACHINE_TYPE_ZONES = JSON.parse(
  readFileSync(path.join(__dirname, "../fixtures/published/gcp/machine-type-zones.json"), "utf8"),
) as MachineTypeZones;

/**
 * A stand-in for Compute Engine's zone and machine-type lists (the `getZones` and `getMachineTypes` data
 * sources), answering from the published zones of each machine type. Only the filter trainkit sends
 * (`name = "<type>"`) is understood; any other is an error, so a changed query fails loudly.
 */
export function gcpInvoke(token: string, inputs: Inputs): Record<string, unknown> | undefined {
  if (token === "gcp:compute/getZones:getZones") {
    const names = MACHINE_TYPE_ZONES.regions[inputs.region];
    if (!names) throw new Error(`the zone fixture has no region ${inputs.region}`);
    return { names, id: inputs.region, project: inputs.project, region: inputs.region };
  }
  if (token === "gcp:compute/getMachineTypes:getMachineTypes") {
    const match = /^name = "([a-z0-9-]+)"$/.exec(inputs.filter ?? "");
    if (!match) throw new Error(`unexpected machine type filter ${inputs.filter}`);
    const zones = MACHINE_TYPE_ZONES.machineTypes[match[1]!];
    if (!zones) throw new Error(`the zone fixture has no machine type ${match[1]}`);
    const machineTypes = zones.includes(inputs.zone) ? [{ name: match[1], accelerators: [] }] : [];
    return {
      machineTypes,
      id: inputs.zone,
      project: inputs.project,
      zone: inputs.zone,
      filter: inputs.filter,
    };
  }
  return undefined;
}
