import { beforeAll, describe, expect, it } from "vitest";
import { Bucket, GpuCluster, Registry, SageMakerRole, TrainingApi, TrainingPlatform } from "../../src/aws";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { awsComputed, awsInvoke } from "../helpers/aws-computed";
import { expectEveryRuleKept, violationsOver } from "../helpers/policy-harness";
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

  it("keep every rule with each component's fewest arguments", async () => {
    const subnetIds = ["subnet-private-a", "subnet-private-b"];
    const image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bootstrap:trainkit-0.1.0";
    const apiKeys = { tk_live_0123456789abcdef: ["team-vision"] };
    // The API refuses plain HTTP unless told, so a certificate is among its fewest arguments.
    const certificateArn =
      "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab";
    new TrainingPlatform("min", {
      region: "us-east-1",
      api: { image, apiKeys, vpcId: "vpc-0a1b2c3d", subnetIds, certificateArn },
    });
    new GpuCluster("mincluster", { subnetIds });
    new Registry("minimages", {});
    new Bucket("mindata", {});
    new SageMakerRole("minrole", { outputBucketArns: ["arn:aws:s3:::acme-output"] });
    new TrainingApi("minapi", {
      region: "us-east-1",
      image,
      apiKeys,
      vpcId: "vpc-0a1b2c3d",
      subnetIds,
      sagemakerRoleArn: "arn:aws:iam::123456789012:role/ml-sagemaker",
      outputS3Uri: "s3://acme-output/models",
      certificateArn,
    });
    await mocks.settle();
    const mine = mocks.resources.filter((r) => r.name.startsWith("min"));
    // No TrainingJob or GPU Job is among the components, so the one advisory rule has nothing to say.
    expectEveryRuleKept(TRAINKIT_POLICIES, mine, [
      "aws:eks/cluster:Cluster",
      "aws:ecr/repository:Repository",
      "aws:s3/bucket:Bucket",
      "aws:iam/role:Role",
      "aws:ecs/service:Service",
    ]);
  });
});
