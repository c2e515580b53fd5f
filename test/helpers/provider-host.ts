import { existsSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PluginProcess, type ProviderClient, pulumiRequire } from "./plugin-process";

// An engine stand-in for dynamic resources: the program side runs under Pulumi's mock runtime (to
// get the inputs, serialized provider included, exactly as a program registers them), and the
// provider side is the real dynamic provider host from @pulumi/pulumi, started as its own process
// and called over gRPC the way the engine calls it.

export const REPO_ROOT = path.resolve(__dirname, "../..");

const provpb = pulumiRequire("./proto/provider_pb") as typeof import("@pulumi/pulumi/proto/provider_pb");
const statuspb = pulumiRequire("./proto/status_pb") as typeof import("@pulumi/pulumi/proto/status_pb");
const structpb = pulumiRequire(
  "google-protobuf/google/protobuf/struct_pb",
) as typeof import("google-protobuf/google/protobuf/struct_pb");

/** The marker and value the engine uses for a secret inside a property bag. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** What the engine sends for a value not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type PropertyBag = Record<string, unknown>;

export function secret(value: unknown): PropertyBag {
  return { [SECRET_SIG_KEY]: SECRET_SIG, value };
}

export function isSecret(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as PropertyBag)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** A copy without secret markers: what a provider that does not accept secrets is sent. */
export function revealSecrets(value: unknown): unknown {
  if (isSecret(value)) return revealSecrets(value.value);
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)]));
  }
  return value;
}

/**
 * The engine's treatment of what a provider that does not accept secrets returns: an output whose
 * input of the same name was secret becomes secret (recursing into objects both sides have), and
 * so does every output named in `additionalSecretOutputs`.
 */
export function annotateSecrets(
  outs: PropertyBag,
  ins: PropertyBag,
  additional: readonly string[] = [],
): PropertyBag {
  const result: PropertyBag = {};
  for (const [key, value] of Object.entries(outs)) {
    const input = ins[key];
    if (additional.includes(key) || containsSecret(input)) {
      result[key] = isSecret(value) ? value : secret(value);
    } else if (isPlainObject(value) && isPlainObject(input)) {
      result[key] = annotateSecrets(value, input);
    } else {
      result[key] = value;
    }
  }
  return result;
}

function containsSecret(value: unknown): boolean {
  if (isSecret(value)) return true;
  if (value && typeof value === "object") return Object.values(value).some(containsSecret);
  return false;
}

function isPlainObject(value: unknown): value is PropertyBag {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isSecret(value);
}

/** Every place `needle` occurs in `value` other than inside a secret: the paths of plaintext copies. */
export function plaintextOccurrences(value: unknown, needle: string, at = ""): string[] {
  if (isSecret(value)) return [];
  if (typeof value === "string") return value.includes(needle) ? [at || "(root)"] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => plaintextOccurrences(v, needle, `${at}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => plaintextOccurrences(v, needle, at ? `${at}.${k}` : k));
  }
  return [];
}

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, withoutUndefined(v)]),
    );
  }
  return value;
}

function toStruct(bag: PropertyBag) {
  return structpb.Struct.fromJavaScript(withoutUndefined(bag) as Record<string, never>);
}

function fromStruct(struct: { toJavaScript(): PropertyBag } | undefined): PropertyBag {
  return struct ? struct.toJavaScript() : {};
}

// ---------------------------------------------------------------------------------------------
// The program side.

type Settled = pulumi.Resource | pulumi.Output<unknown>;

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** The inputs as the engine receives them from the program: secrets marked, unknowns as UNKNOWN. */
  readonly inputs: PropertyBag;
  /** The outputs the resource asked the engine to store as secrets, from its RegisterResource request. */
  readonly additionalSecretOutputs: string[];
}

/**
 * Runs `build` under Pulumi's mock runtime and returns what each resource registered, once the
 * resources and outputs `build` returned have settled. With
 * `preview`, outputs of other resources that are not known yet reach the engine as UNKNOWN.
 */
export async function registerWithMocks(
  build: () => Settled | Settled[] | Promise<Settled | Settled[]>,
  options: { preview?: boolean; project?: string; stack?: string } = {},
): Promise<Registration[]> {
  const project = options.project ?? "trainkit";
  const stack = options.stack ?? "test";
  const registrations: Registration[] = [];
  const secretOutputsByUrn = new Map<string, string[]>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const urn = `urn:pulumi:${stack}::${project}::${args.type}::${args.name}`;
        registrations.push({
          type: args.type,
          name: args.name,
          urn,
          inputs: unknownsAsWire(args.inputs) as PropertyBag,
          additionalSecretOutputs: secretOutputsByUrn.get(urn) ?? [],
        });
        return { id: options.preview ? undefined : `${args.name}-id`, state: {} };
      },
      call: () => ({}),
    },
    project,
    stack,
    options.preview ?? false,
  );
  recordSecretOutputs(secretOutputsByUrn, project, stack);
  const built = await build();
  const waitFor = (Array.isArray(built) ? built : [built]).map((r) =>
    pulumi.Resource.isInstance(r) ? r.urn : r,
  );
  await Promise.all(waitFor.map((o) => new Promise<unknown>((resolve) => o.apply(resolve))));
  return registrations;
}

interface RegisterResourceRequest {
  getType(): string;
  getName(): string;
  getAdditionalsecretoutputsList(): string[];
}

type RegisterResource = (req: RegisterResourceRequest, callback: (...results: unknown[]) => void) => void;

// The mock runtime hands `newResource` only the inputs, but resource options such as
// additionalSecretOutputs travel in the RegisterResource request the runtime sends its monitor,
// so the monitor is wrapped to read them from there before it calls `newResource`.
function recordSecretOutputs(byUrn: Map<string, string[]>, project: string, stack: string): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as
    | { registerResource: RegisterResource }
    | undefined;
  if (!monitor) throw new Error("the mock runtime installed no resource monitor");
  const registerResource = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) => {
    const urn = `urn:pulumi:${stack}::${project}::${req.getType()}::${req.getName()}`;
    byUrn.set(urn, req.getAdditionalsecretoutputsList());
    registerResource(req, callback);
  };
}

/** The mock monitor hands unknowns to `newResource` as objects; the engine sends them as UNKNOWN. */
function unknownsAsWire(value: unknown): unknown {
  if (
    value &&
    typeof value === "object" &&
    (value as { __pulumiUnknown?: boolean }).__pulumiUnknown === true
  ) {
    return UNKNOWN;
  }
  if (Array.isArray(value)) return value.map(unknownsAsWire);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unknownsAsWire(v)]));
  }
  return value;
}

/** The serialized provider a dynamic resource registered (its `__provider` input). */
export function serializedProvider(registration: Registration): string {
  const text = registration.inputs.__provider;
  if (typeof text !== "string") throw new Error(`${registration.name} registered no __provider string`);
  return text;
}

// ---------------------------------------------------------------------------------------------
// The provider side.

export interface CheckOutcome {
  readonly inputs: PropertyBag;
  readonly failures: { property: string; reason: string }[];
}

export interface DiffOutcome {
  readonly changes: "none" | "some" | "unknown";
  readonly replaces: string[];
  readonly deleteBeforeReplace: boolean;
}

export interface ResourceState {
  readonly id: string;
  /** Outputs as the engine records them (secrets marked). */
  readonly outputs: PropertyBag;
  /** Outputs exactly as the provider host sent them back. */
  readonly raw: PropertyBag;
}

/** A failed Create or Update. `initFailed` is set when the host reported ErrorResourceInitFailed. */
export class ProviderCallError extends Error {
  constructor(
    message: string,
    readonly initFailed?: { id: string; properties: PropertyBag; reasons: string[] },
  ) {
    super(message);
    this.name = "ProviderCallError";
  }
}

export interface ProviderHostOptions {
  /** Directory the host runs in: the project directory, as the engine starts it. Defaults to the repository. */
  readonly cwd?: string;
  /** Stack configuration sent in Configure, namespaced (`trainkit:apiUrl`); use `secret()` for secrets. */
  readonly config?: PropertyBag;
  /** The host's environment. Defaults to this process's environment without any TRAINKIT_* variable. */
  readonly env?: NodeJS.ProcessEnv;
  /** Outputs the engine marks secret whatever the provider returns (the resource's additionalSecretOutputs). */
  readonly additionalSecretOutputs?: readonly string[];
}

type Client = ProviderClient;

/** A running dynamic provider host, driven as the engine drives it. */
export class ProviderHost {
  private constructor(
    private readonly plugin: PluginProcess,
    private readonly secretOutputs: readonly string[],
  ) {}

  private get client(): Client {
    return this.plugin.client;
  }

  static async start(options: ProviderHostOptions = {}): Promise<ProviderHost> {
    const cwd = options.cwd ?? REPO_ROOT;
    // The engine's pulumi-resource-pulumi-nodejs script runs the host of the project's own @pulumi/pulumi.
    const script = path.join(cwd, "node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js");
    if (!existsSync(script)) throw new Error(`no dynamic provider host at ${script}`);
    const env = options.env ?? withoutTrainkitEnv(process.env);
    const plugin = await PluginProcess.start("provider host", script, ["127.0.0.1:0"], { cwd, env });
    const host = new ProviderHost(plugin, options.additionalSecretOutputs ?? ["apiKey"]);
    await host.configure(options.config ?? {});
    return host;
  }

  /** Everything the host wrote to stderr and stdout so far (the port line included). */
  get logs(): string {
    return this.plugin.stdout + this.plugin.stderr;
  }

  private async configure(config: PropertyBag): Promise<void> {
    const req = new provpb.ConfigureRequest();
    req.setArgs(toStruct(config));
    for (const [key, value] of Object.entries(config)) {
      const plain = revealSecrets(value);
      req.getVariablesMap().set(key, typeof plain === "string" ? plain : JSON.stringify(plain));
    }
    req.setAcceptsecrets(true);
    req.setAcceptresources(true);
    const resp = await this.unary<import("@pulumi/pulumi/proto/provider_pb").ConfigureResponse>(
      "configure",
      req,
    );
    if (resp.getAcceptsecrets()) {
      throw new Error("this harness strips secrets the way the engine does for hosts that refuse them");
    }
  }

  async check(urn: string, olds: PropertyBag, news: PropertyBag): Promise<CheckOutcome> {
    const req = new provpb.CheckRequest();
    req.setUrn(urn);
    req.setOlds(toStruct(revealSecrets(olds) as PropertyBag));
    req.setNews(toStruct(revealSecrets(news) as PropertyBag));
    req.setRandomseed(Buffer.alloc(32));
    const resp = await this.unary<import("@pulumi/pulumi/proto/provider_pb").CheckResponse>("check", req);
    return {
      inputs: annotateSecrets(fromStruct(resp.getInputs()), news),
      failures: resp.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
    };
  }

  async diff(id: string, urn: string, olds: PropertyBag, news: PropertyBag): Promise<DiffOutcome> {
    const req = new provpb.DiffRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setOlds(toStruct(revealSecrets(olds) as PropertyBag));
    req.setNews(toStruct(revealSecrets(news) as PropertyBag));
    const resp = await this.unary<import("@pulumi/pulumi/proto/provider_pb").DiffResponse>("diff", req);
    const changes = resp.getChanges();
    const kinds = provpb.DiffResponse.DiffChanges;
    return {
      changes: changes === kinds.DIFF_SOME ? "some" : changes === kinds.DIFF_NONE ? "none" : "unknown",
      replaces: resp.getReplacesList(),
      deleteBeforeReplace: resp.getDeletebeforereplace(),
    };
  }

  async create(urn: string, inputs: PropertyBag, timeoutSeconds = 0): Promise<ResourceState> {
    const req = new provpb.CreateRequest();
    req.setUrn(urn);
    req.setProperties(toStruct(revealSecrets(inputs) as PropertyBag));
    req.setTimeout(timeoutSeconds);
    const resp = await this.unary<import("@pulumi/pulumi/proto/provider_pb").CreateResponse>("create", req);
    const raw = fromStruct(resp.getProperties());
    return { id: resp.getId(), raw, outputs: annotateSecrets(raw, inputs, this.secretOutputs) };
  }

  /** Read as `pulumi refresh` calls it. `undefined` when the provider reported the resource gone. */
  async read(
    id: string,
    urn: string,
    state: PropertyBag,
    inputs: PropertyBag,
  ): Promise<ResourceState | undefined> {
    const req = new provpb.ReadRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setProperties(toStruct(revealSecrets(state) as PropertyBag));
    req.setInputs(toStruct(revealSecrets(inputs) as PropertyBag));
    const resp = await this.unary<import("@pulumi/pulumi/proto/provider_pb").ReadResponse>("read", req);
    if (resp.getId() === "") return undefined;
    const raw = fromStruct(resp.getProperties());
    return {
      id: resp.getId(),
      raw,
      outputs: annotateSecrets(raw, { ...inputs, ...state }, this.secretOutputs),
    };
  }

  async update(id: string, urn: string, olds: PropertyBag, news: PropertyBag): Promise<ResourceState> {
    const req = new provpb.UpdateRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setOlds(toStruct(revealSecrets(olds) as PropertyBag));
    req.setNews(toStruct(revealSecrets(news) as PropertyBag));
    const resp = await this.unary<import("@pulumi/pulumi/proto/provider_pb").UpdateResponse>("update", req);
    const raw = fromStruct(resp.getProperties());
    return { id, raw, outputs: annotateSecrets(raw, news, this.secretOutputs) };
  }

  async delete(id: string, urn: string, state: PropertyBag): Promise<void> {
    const req = new provpb.DeleteRequest();
    req.setId(id);
    req.setUrn(urn);
    req.setProperties(toStruct(revealSecrets(state) as PropertyBag));
    await this.unary("delete", req);
  }

  close(): Promise<void> {
    return this.plugin.close();
  }

  private unary<T>(method: string, req: unknown): Promise<T> {
    type Unary = (this: Client, req: unknown, done: (err: GrpcError | null, resp: T) => void) => void;
    const fn = (this.client as unknown as Record<string, Unary | undefined>)[method];
    if (!fn) throw new Error(`no gRPC method ${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(this.client, req, (err, resp) => {
        if (err) reject(decodeError(method, err));
        else resolve(resp);
      });
    });
  }
}

type GrpcError = Error & { metadata?: unknown; details?: string };

/** Unpacks ErrorResourceInitFailed from `grpc-status-details-bin`, where the host puts it. */
function decodeError(
  method: string,
  err: Error & { metadata?: unknown; details?: string },
): ProviderCallError {
  const message = err.details ?? err.message;
  const metadata = err.metadata as { get(key: string): (string | Buffer)[] } | undefined;
  const bin = metadata?.get("grpc-status-details-bin")[0];
  if (bin instanceof Buffer) {
    const status = statuspb.Status.deserializeBinary(new Uint8Array(bin));
    for (const detail of status.getDetailsList()) {
      if (detail.getTypeName() !== "pulumirpc.ErrorResourceInitFailed") continue;
      const init = provpb.ErrorResourceInitFailed.deserializeBinary(detail.getValue_asU8());
      return new ProviderCallError(`${method}: ${message}`, {
        id: init.getId(),
        properties: fromStruct(init.getProperties()),
        reasons: init.getReasonsList(),
      });
    }
  }
  return new ProviderCallError(`${method}: ${message}`);
}

function withoutTrainkitEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("TRAINKIT_")));
}
