import { createRequire } from "node:module";

// A stand-in for the Pulumi engine's side of a Construct call: one gRPC server with the Engine service (logs)
// and the ResourceMonitor service, recording every resource a component provider registers and answering
// each registration with its own inputs as outputs, as a preview with no cloud behind it would.

const pulumiRequire = createRequire(require.resolve("@pulumi/pulumi/package.json"));
const grpc = pulumiRequire("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
const resourcepb = pulumiRequire("./proto/resource_pb") as typeof import("@pulumi/pulumi/proto/resource_pb");
const resourcerpc = pulumiRequire(
  "./proto/resource_grpc_pb",
) as typeof import("@pulumi/pulumi/proto/resource_grpc_pb");
const enginepb = pulumiRequire("./proto/engine_pb") as typeof import("@pulumi/pulumi/proto/engine_pb");
const enginerpc = pulumiRequire(
  "./proto/engine_grpc_pb",
) as typeof import("@pulumi/pulumi/proto/engine_grpc_pb");
const emptypb = pulumiRequire(
  "google-protobuf/google/protobuf/empty_pb",
) as typeof import("google-protobuf/google/protobuf/empty_pb");

/** One RegisterResource call the fake engine received. */
export interface Registered {
  urn: string;
  type: string;
  name: string;
  parent: string;
  custom: boolean;
  inputs: Record<string, unknown>;
}

type Unary = (call: { request: never }, done: (err: Error | null, resp?: unknown) => void) => void;

/** The engine and resource monitor a component provider's Construct talks back to. */
export class FakeEngine {
  private constructor(
    private readonly server: InstanceType<typeof grpc.Server>,
    /** `host:port` to hand the provider as its engine and monitor address. */
    readonly address: string,
    /** Every registration, in the order received. */
    readonly registered: Registered[],
    /** Every message logged through the engine. */
    readonly logs: string[],
  ) {}

  static async start(project: string, stack: string): Promise<FakeEngine> {
    const server = new grpc.Server();
    const registered: Registered[] = [];
    const logs: string[] = [];
    const ok =
      (resp: unknown): Unary =>
      (_call, done) =>
        done(null, resp);
    const monitor: Record<string, Unary> = {
      supportsFeature: (call, done) => {
        const req = call.request as InstanceType<typeof resourcepb.SupportsFeatureRequest>;
        const resp = new resourcepb.SupportsFeatureResponse();
        resp.setHassupport(["secrets", "resourceReferences"].includes(req.getId()));
        done(null, resp);
      },
      registerResource: (call, done) => {
        const req = call.request as InstanceType<typeof resourcepb.RegisterResourceRequest>;
        const type = req.getType();
        const urn = `urn:pulumi:${stack}::${project}::${type}::${req.getName()}`;
        const inputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
        registered.push({
          urn,
          type,
          name: req.getName(),
          parent: req.getParent(),
          custom: req.getCustom(),
          inputs,
        });
        const resp = new resourcepb.RegisterResourceResponse();
        resp.setUrn(urn);
        if (req.getCustom()) resp.setId(`${req.getName()}-id`);
        if (req.getObject()) resp.setObject(req.getObject());
        done(null, resp);
      },
      registerResourceOutputs: ok(new emptypb.Empty()),
      invoke: (_call, done) => done(new Error("the fake engine answers no invokes")),
    };
    const engine: Record<string, Unary> = {
      log: (call, done) => {
        logs.push((call.request as InstanceType<typeof enginepb.LogRequest>).getMessage());
        done(null, new emptypb.Empty());
      },
      getRootResource: ok(new enginepb.GetRootResourceResponse()),
      setRootResource: ok(new enginepb.SetRootResourceResponse()),
    };
    server.addService(resourcerpc.ResourceMonitorService, monitor as never);
    server.addService(enginerpc.EngineService, engine as never);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    return new FakeEngine(server, `127.0.0.1:${port}`, registered, logs);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
