import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";

// A Pulumi plugin started as the engine starts one: a Node.js process that serves the ResourceProvider gRPC
// service and prints its port on stdout, then a gRPC client of it. Both the dynamic provider host
// (provider-host.ts) and the component provider host (component-host.ts) are started this way.

/** `require` from @pulumi/pulumi's own folder, for its generated protobuf modules and its gRPC library. */
export const pulumiRequire = createRequire(require.resolve("@pulumi/pulumi/package.json"));
const grpc = pulumiRequire("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const provrpc = pulumiRequire(
  "./proto/provider_grpc_pb",
) as typeof import("@pulumi/pulumi/proto/provider_grpc_pb");

/** A gRPC client of a plugin's ResourceProvider service. */
export type ProviderClient = InstanceType<typeof provrpc.ResourceProviderClient>;

/** A running plugin process and a client of its gRPC server. */
export class PluginProcess {
  private constructor(
    private readonly child: ChildProcess,
    /** The client of the plugin's ResourceProvider service. */
    readonly client: ProviderClient,
    private readonly output: { stdout: string; stderr: string },
  ) {}

  /**
   * Runs `script` with `args` under this Node.js in `cwd` and waits for the port line on stdout; rejects with
   * what the process wrote when it exits first. `what` names the plugin in that error.
   */
  static async start(
    what: string,
    script: string,
    args: string[],
    options: { cwd: string; env?: NodeJS.ProcessEnv },
  ): Promise<PluginProcess> {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Everything the process writes, from its first byte, stays readable through the instance.
    const output = { stdout: "", stderr: "" };
    child.stdout?.on("data", (c: Buffer) => {
      output.stdout += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      output.stderr += c.toString();
    });
    const port = await new Promise<number>((resolve, reject) => {
      const onData = () => {
        const line = /^(\d+)\s*$/m.exec(output.stdout);
        if (!line) return;
        child.stdout?.off("data", onData);
        child.off("exit", onExit);
        resolve(Number(line[1]));
      };
      const onExit = (code: number | null) =>
        reject(
          new Error(`${what} exited with ${code} before printing its port: ${output.stderr}${output.stdout}`),
        );
      child.stdout?.on("data", onData);
      child.once("exit", onExit);
      child.once("error", reject);
    });
    const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new PluginProcess(child, client, output);
  }

  /** What the process wrote to stdout so far, its port line included. */
  get stdout(): string {
    return this.output.stdout;
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.output.stderr;
  }

  /** Closes the client and stops the process (SIGTERM), waiting for it to exit. */
  async close(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.kill("SIGTERM");
    await exited;
  }
}
