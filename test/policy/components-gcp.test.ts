import { beforeAll, describe, expect, it } from "vitest";
import { TrainingPlatform } from "../../src/gcp";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { violationsOver } from "../helpers/policy-harness";
import { gcpComputed, gcpInvoke, installPulumiMocks, type MockRuntime } from "../helpers/pulumi-mocks";

// trainkit's own GCP components held to the policy pack: the inputs of every resource a TrainingPlatform
// with a GPU cluster registers (Pulumi's mock runtime, no cloud), run through every rule.

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed, invoke: gcpInvoke });
});

const platform = (name: string, cluster: ConstructorParameters<typeof TrainingPlatform>[1]["cluster"]) =>
  new TrainingPlatform(name, {
    project: "acme-ml",
    region: "us-central1",
    api: {
      image: "us-central1-docker.pkg.dev/acme-ml/ml-images/trainkit:0.1.0",
      apiKeys: { tk_live_0123456789abcdef: ["team-vision"] },
    },
    dataBucket: { bucketName: `${name}-data` },
    outputBucket: { bucketName: `${name}-output` },
    cluster,
  });

describe("the GCP components under the policy pack", () => {
  it("keep every rule with a private endpoint", async () => {
    platform("private", {
      privateEndpoint: true,
      gpuPools: [{ name: "l4", gpu: "nvidia-l4", maxNodes: 4 }],
    });
    await mocks.settle();
    const registered = mocks.resources.filter((r) => r.name.startsWith("private"));
    expect(registered.some((r) => r.type === "gcp:container/nodePool:NodePool")).toBe(true);
    expect(violationsOver(TRAINKIT_POLICIES, registered)).toEqual([]);
  });

  it("break only the Kubernetes API rule when the cluster's endpoint is public to any address", async () => {
    platform("public", { gpuPools: [{ name: "l4", gpu: "nvidia-l4", maxNodes: 4 }] });
    await mocks.settle();
    const registered = mocks.resources.filter((r) => r.name.startsWith("public"));
    expect(violationsOver(TRAINKIT_POLICIES, registered).map((v) => v.split(":")[0])).toEqual([
      "trainkit-kubernetes-api-private gcp",
    ]);
  });
});
