import { beforeAll, describe, expect, it } from "vitest";
import { TrainingPlatform } from "../../src/aws";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { awsComputed, awsInvoke } from "../helpers/aws-computed";
import { violationsOver } from "../helpers/policy-harness";
import { installPulumiMocks, type MockRuntime } from "../helpers/pulumi-mocks";

// trainkit's own AWS components held to the policy pack: the inputs of every resource a TrainingPlatform
// with an EKS GPU cluster registers (Pulumi's mock runtime, no cloud), run through every rule.

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed, invoke: awsInvoke });
});

describe("the AWS components under the policy pack", () => {
  it("keep every rule", async () => {
    new TrainingPlatform("ml", {
      region: "us-east-1",
      api: {
        image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/bootstrap:trainkit-0.1.0",
        apiKeys: { tk_live_0123456789abcdef: ["team-vision"] },
        vpcId: "vpc-0a1b2c3d",
        subnetIds: ["subnet-private-a", "subnet-private-b"],
        certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab",
      },
      dataBucket: { bucketName: "acme-ml-data" },
      outputBucket: { bucketName: "acme-ml-output" },
      cluster: {
        subnetIds: ["subnet-private-a", "subnet-private-b"],
        gpuPools: [{ name: "h100", gpu: "nvidia-h100-80gb", gpusPerNode: 8, maxNodes: 2 }],
      },
    });
    await mocks.settle();
    expect(mocks.resources.some((r) => r.type === "aws:eks/nodeGroup:NodeGroup")).toBe(true);
    expect(
      mocks.resources.some((r) => r.type === "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"),
    ).toBe(true);
    expect(violationsOver(TRAINKIT_POLICIES, mocks.resources)).toEqual([]);
  });
});
