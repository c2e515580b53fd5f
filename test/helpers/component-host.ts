import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import * as path from "node:path";
import { REPO_ROOT } from "./provider-host";

// The component provider host of a `PulumiPlugin.yaml` folder with `runtime: nodejs`, started as Pulumi's
// Node.js language host starts a plugin: `@pulumi/pulumi/cmd/run-plugin <folder>` run in that folder,
// printing the port of its gRPC ResourceProvider server on stdout. No engine and no Pulumi CLI take part.

const pulumiRequire = createRequire(require.resolve("@pulumi/pulumi/package.json"));
const grpc = pulumiRequire("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const provpb = pulumiRequire("./proto/provider_pb") as typeof import("@pulumi/pulumi/proto/provider_pb");
const provrpc = pulumiRequire(
  "./proto/provider_grpc_pb",
) as typeof import("@pulumi/pulumi/proto/provider_grpc_pb");

const structpb = pulumiRequire(
  "google-protobuf/google/protobuf/struct_pb",
) as typeof import("google-protobuf/google/protobuf/struct_pb");

type Client = InstanceType<typeof provrpc.ResourceProviderClient>;

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
  private stderrText = "";

  private constructor(
    private readonly child: ChildProcess,
    private readonly client: Client,
  ) {
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderrText += chunk.toString();
    });
  }

  /**
   * Starts the host of the plugin folder `dir` (relative to the repository) and waits for its port. The engine
   * passes its own address as the one argument; Construct needs it, GetSchema does not.
   */
  static async start(dir: string, engineAddress?: string): Promise<ComponentHost> {
    const cwd = path.join(REPO_ROOT, dir);
    const script = path.join(REPO_ROOT, "node_modules/@pulumi/pulumi/cmd/run-plugin");
    const child = spawn(process.execPath, [script, cwd, ...(engineAddress ? [engineAddress] : [])], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      let err = "";
      child.stderr?.on("data", (c: Buffer) => {
        err += c.toString();
      });
      child.stdout?.on("data", (c: Buffer) => {
        out += c.toString();
        const line = /^(\d+)\s*$/m.exec(out);
        if (line) resolve(Number(line[1]));
      });
      child.once("exit", (code) => reject(new Error(`component host exited with ${code}: ${err}${out}`)));
      child.once("error", reject);
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new ComponentHost(child, client);
  }

  /** What the host wrote to stderr so far. */
  get logs(): string {
    return this.stderrText;
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

  async close(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await exited;
  }
}
