import { beforeAll, describe, it } from "vitest";
import { GpuSupport, TrainingApi, TrainingPlatform } from "../../src/kubernetes";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { kubernetesComputed } from "../helpers/fake-kubernetes";
import { expectEveryRuleKept } from "../helpers/policy-harness";
import { installPulumiMocks, type MockRuntime } from "../helpers/pulumi-mocks";

// trainkit's Kubernetes components held to the policy pack: every resource each registers with its fewest
// arguments (Pulumi's mock runtime, no cluster), run through every rule.

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: kubernetesComputed });
});

describe("the Kubernetes components under the policy pack", () => {
  it("keep every rule with each component's fewest arguments", async () => {
    const image = "registry.example/trainkit:0.1.0";
    const apiKeys = { tk_live_0123456789abcdef: ["team-vision"] };
    new TrainingPlatform("plat", { image, apiKeys });
    new GpuSupport("gpus");
    new TrainingApi("api", { image, apiKeys, jobsNamespace: "ml-jobs" });
    await mocks.settle();
    // The components declare no Job; training jobs come later, through the Train API.
    expectEveryRuleKept(TRAINKIT_POLICIES, mocks.resources, [
      "kubernetes:apps/v1:DaemonSet",
      "kubernetes:apps/v1:Deployment",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    ]);
  });
});
