import * as path from "node:path";
import { PluginProcess, pulumiRequire } from "./plugin-process";
import { REPO_ROOT } from "./provider-host";

// The component provider host of a `PulumiPlugin.yaml` folder with `runtime: nodejs`, started as Pulumi's
// Node.js language host starts a plugin: `@pulumi/pulumi/cmd/run-plugin <folder>` run in that folder,
// printing the port of its gRPC ResourceProvider server on stdout. No engine and no Pulumi CLI take part.

const provpb = pulumiRequire("./proto/provider_pb") as typeof import("@pulumi/pulumi/proto/provider_pb");
const structpb = pulumiRequire(
  "google-protobuf/google/protobuf/struct_pb",
) as typeof import("google-protobuf/google/protobuf/struct_pb");

/** A property of a Pulumi package schema, as far as the tests read it. */
export interface SchemaProperty {
  type?: string;
  $ref?: string;
  items?: SchemaProperty;
  additionalProperties?: SchemaProperty;
  description?: string;
  optional?: boolean;
  plain?: boolean;
}

/** A resource or object type of a Pulumi package schema. */
export interface SchemaObject {
  type?: string;
  isComponent?: boolean;
  description?: string;
  inputProperties?: Record<string, SchemaProperty>;
  requiredInputs?: string[];
  properties?: Record<string, SchemaProperty>;
  required?: string[];
  enum?: { name: string; value: string | number; description?: string }[];
}

/** The parts of a Pulumi package schema the tests read. */
export interface PackageSchema {
  name: string;
  version: string;
  description?: string;
  resources: Record<string, SchemaObject>;
  types: Record<string, SchemaObject>;
  dependencies?: { name: string; version: string }[];
}

/** A running component provider host, driven over gRPC as the engine drives it. */
export class ComponentHost {
  private constructor(private readonly plugin: PluginProcess) {}

  /**
   * Starts the host of the plugin folder `dir` (relative to the repository) and waits for its port. The engine
   * passes its own address as the one argument; Construct needs it, GetSchema does not.
   */
  static async start(dir: string, engineAddress?: string): Promise<ComponentHost> {
    const cwd = path.join(REPO_ROOT, dir);
    const script = path.join(REPO_ROOT, "node_modules/@pulumi/pulumi/cmd/run-plugin");
    const args = [cwd, ...(engineAddress ? [engineAddress] : [])];
    return new ComponentHost(await PluginProcess.start("component host", script, args, { cwd }));
  }

  /** What the host wrote to stderr so far. */
  get logs(): string {
    return this.plugin.stderr;
  }

  private get client() {
    return this.plugin.client;
  }

  /** GetSchema, as `pulumi package add` and the SDK generators call it. */
  async getSchema(): Promise<PackageSchema> {
    const req = new provpb.GetSchemaRequest();
    const resp = await new Promise<import("@pulumi/pulumi/proto/provider_pb").GetSchemaResponse>(
      (resolve, reject) => {
        this.client.getSchema(req, (err, r) =>
          err ? reject(new Error(err.details ?? err.message)) : resolve(r),
        );
      },
    );
    return JSON.parse(resp.getSchema()) as PackageSchema;
  }

  /** Construct, as the engine calls it for a component a program in another language declares. */
  async construct(request: {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
    project: string;
    stack: string;
    config: Record<string, string>;
    monitor: string;
  }): Promise<{ urn: string; state: Record<string, unknown> }> {
    const req = new provpb.ConstructRequest();
    req.setProject(request.project);
    req.setStack(request.stack);
    req.setDryrun(true);
    req.setParallel(1);
    req.setMonitorendpoint(request.monitor);
    req.setType(request.type);
    req.setName(request.name);
    req.setInputs(structpb.Struct.fromJavaScript(request.inputs as Record<string, never>));
    for (const [k, v] of Object.entries(request.config)) req.getConfigMap().set(k, v);
    const resp = await new Promise<import("@pulumi/pulumi/proto/provider_pb").ConstructResponse>(
      (resolve, reject) => {
        this.client.construct(req, (err, r) =>
          err ? reject(new Error(err.details ?? err.message)) : resolve(r),
        );
      },
    );
    return { urn: resp.getUrn(), state: (resp.getState()?.toJavaScript() ?? {}) as Record<string, unknown> };
  }

  close(): Promise<void> {
    return this.plugin.close();
  }
}
