import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzer from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POLICY_PACK_NAME, TRAINKIT_POLICIES, TYPES } from "../../src/policy";
import { ensureBuilt } from "../helpers/provider-build";
import { REPO_ROOT } from "../helpers/provider-host";
import { installedFromTarball, type UserProject } from "../helpers/provider-project";

// The shipped pack as a user reaches it: trainkit packed and installed into a scratch project, and
// `node_modules/trainkit/policy` started the way the Pulumi CLI's Node.js language host starts a policy pack
// (@pulumi/pulumi's run-policy-pack launcher in the pack's directory, which prints the port of the analyzer
// server @pulumi/policy serves). The test then speaks the engine's side of the Analyzer gRPC protocol to
// it: no stand-in, only no engine.

let project: UserProject;
let pack: ChildProcess;
let client: AnalyzerClient;

const call = <Req, Res>(
  method: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  req: Req,
) =>
  new Promise<Res>((resolve, reject) =>
    method.call(client, req, (err, res) => (err ? reject(err) : resolve(res))),
  );

async function analyze(type: string, props: Record<string, unknown>) {
  const req = new analyzer.AnalyzeRequest()
    .setType(type)
    .setName("subject")
    .setUrn(`urn:pulumi:dev::training::${type}::subject`)
    .setProperties(Struct.fromJavaScript(props as Record<string, never>))
    .setOptions(new analyzer.AnalyzerResourceOptions());
  const res = await call<analyzer.AnalyzeRequest, analyzer.AnalyzeResponse>(client.analyze, req);
  return res.getDiagnosticsList().map((d) => ({
    policy: d.getPolicyname(),
    pack: `${d.getPolicypackname()}@v${d.getPolicypackversion()}`,
    level: d.getEnforcementlevel(),
    message: d.getMessage(),
  }));
}

beforeAll(async () => {
  ensureBuilt();
  project = installedFromTarball();
  const packDir = path.join(project.dir, "node_modules/trainkit/policy");
  const launcher = path.join(project.dir, "node_modules/@pulumi/pulumi/cmd/run-policy-pack");
  pack = spawn(process.execPath, [launcher, "127.0.0.1:0", "."], {
    cwd: packDir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  pack.stderr!.on("data", (chunk) => {
    stderr += chunk;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    pack.stdout!.on("data", (chunk) => {
      out += chunk;
      const line = out.match(/^(\d+)\n/);
      if (line) resolve(Number(line[1]));
    });
    pack.on("exit", (code) => reject(new Error(`the policy pack exited with ${code}: ${stderr}`)));
  });
  client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  // Building dist/ and packing the tarball can take minutes on a busy machine.
}, 300_000);

afterAll(() => {
  client?.close();
  pack?.kill();
  project?.remove();
});

describe("the shipped policy pack", () => {
  it("serves every trainkit rule with its default enforcement level and config schema", async () => {
    const info = await call<Empty, analyzer.AnalyzerInfo>(client.getAnalyzerInfo, new Empty());
    expect(info.getName()).toBe(POLICY_PACK_NAME);
    expect(info.getVersion()).toBe(
      JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")).version,
    );
    const policies = info.getPoliciesList();
    expect(policies.map((p) => p.getName())).toEqual(TRAINKIT_POLICIES.map((p) => p.name));
    const level = (name: string) => policies.find((p) => p.getName() === name)!.getEnforcementlevel();
    expect(level("trainkit-gpu-allowed-accelerators")).toBe(analyzer.EnforcementLevel.MANDATORY);
    expect(level("trainkit-job-runtime-limit")).toBe(analyzer.EnforcementLevel.ADVISORY);
    const schema = policies
      .find((p) => p.getName() === "trainkit-gpu-max-count")!
      .getConfigschema()!
      .getProperties()!
      .toJavaScript();
    expect(schema.maxGpusPerPool).toMatchObject({ type: "integer", default: 64 });
  });

  it("reports a hand-written EKS node group without the GPU taint, as the engine receives it", async () => {
    const diagnostics = await analyze(TYPES.eksNodeGroup, {
      clusterName: "training",
      instanceTypes: ["p5.48xlarge"],
      capacityType: "ON_DEMAND",
      scalingConfig: { minSize: 0, maxSize: 2, desiredSize: 0 },
    });
    expect(diagnostics).toEqual([
      {
        policy: "trainkit-gpu-nodes-tainted",
        pack: "trainkit@v0.1.0",
        level: analyzer.EnforcementLevel.MANDATORY,
        // The analyzer puts the rule's description before the violation's own sentence.
        message:
          "GPU node pools carry the nvidia.com/gpu NoSchedule taint, so only GPU pods are scheduled there.\n" +
          "GPU pool of p5.48xlarge has no nvidia.com/gpu NoSchedule taint, so any pod may take its nodes; add taints (key nvidia.com/gpu, effect NO_SCHEDULE)",
      },
    ]);
  });

  it("applies the config and enforcement levels the engine sends", async () => {
    const configured = (properties: Record<string, unknown>, level: analyzer.EnforcementLevel) =>
      new analyzer.PolicyConfig()
        .setEnforcementlevel(level)
        .setProperties(Struct.fromJavaScript(properties as Record<string, never>));
    const req = new analyzer.ConfigureAnalyzerRequest();
    req
      .getPolicyconfigMap()
      .set(
        "trainkit-gpu-allowed-accelerators",
        configured({ allowedGpus: ["nvidia-l4"] }, analyzer.EnforcementLevel.ADVISORY),
      );
    req
      .getPolicyconfigMap()
      .set("trainkit-gpu-nodes-tainted", configured({}, analyzer.EnforcementLevel.DISABLED));
    await call<analyzer.ConfigureAnalyzerRequest, Empty>(client.configure, req);
    const diagnostics = await analyze(TYPES.eksNodeGroup, {
      clusterName: "training",
      instanceTypes: ["p5.48xlarge"],
      scalingConfig: { minSize: 0, maxSize: 2, desiredSize: 0 },
    });
    expect(diagnostics.map((d) => [d.policy, d.level])).toEqual([
      ["trainkit-gpu-allowed-accelerators", analyzer.EnforcementLevel.ADVISORY],
    ]);
    expect(diagnostics[0]!.message.split("\n")[1]).toBe(
      "instanceTypes[0] is p5.48xlarge (nvidia-h100-80gb), which is not an allowed GPU; allowed: nvidia-l4. Choose one of them, or add it to allowedGpus in the policy pack config",
    );
  });

  it("passes a resource that keeps every rule", async () => {
    expect(
      await analyze(TYPES.gcsBucket, {
        location: "US",
        publicAccessPrevention: "enforced",
        uniformBucketLevelAccess: true,
      }),
    ).toEqual([]);
  });
});
