import { beforeAll, describe, expect, it } from "vitest";
import { TrainingPlatform, type TrainingPlatformArgs } from "../../src/aws";
import { awsComputed, awsInvoke } from "../helpers/aws-computed";
import { statementsOf } from "../helpers/iam-policies";
import { installPulumiMocks, isSecret, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition";
const BUCKET = "aws:s3/bucket:Bucket";
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";

const args: TrainingPlatformArgs = {
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
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed, invoke: awsInvoke });
});

async function build(name: string, extra: Partial<TrainingPlatformArgs> = {}) {
  const platform = new TrainingPlatform(name, { ...args, ...extra });
  await mocks.settle();
  return platform;
}

describe("TrainingPlatform", () => {
  it("composes a registry, two buckets, the SageMaker role and the API, and no cluster unless asked", async () => {
    const platform = await build("ml");
    const components = mocks.resources
      .filter((r) => !r.custom && r.name.startsWith("ml-"))
      .map((r) => [r.type, r.name, r.parentType]);
    expect(components.sort()).toEqual(
      [
        ["trainkit:aws:Registry", "ml-images", "trainkit:aws:TrainingPlatform"],
        ["trainkit:aws:Bucket", "ml-data", "trainkit:aws:TrainingPlatform"],
        ["trainkit:aws:Bucket", "ml-output", "trainkit:aws:TrainingPlatform"],
        ["trainkit:aws:SageMakerRole", "ml-sagemaker", "trainkit:aws:TrainingPlatform"],
        ["trainkit:aws:TrainingApi", "ml-api", "trainkit:aws:TrainingPlatform"],
      ].sort(),
    );
    expect(platform.cluster).toBeUndefined();
  });

  it("limits the SageMaker role to the platform's buckets and registry, for the platform's account", async () => {
    await build("jobs");
    const s = Object.fromEntries(
      statementsOf(mocks.one(ROLE_POLICY, "jobs-sagemaker").inputs.policy).map((x) => [x.Sid, x]),
    );
    expect(s.ReadData?.Resource).toEqual(["arn:aws:s3:::acme-ml-data/*"]);
    expect(s.ReadWriteOutput?.Resource).toEqual(["arn:aws:s3:::acme-ml-output/*"]);
    expect(s.PullImages?.Resource).toEqual([
      expect.stringMatching(/^arn:aws:ecr:us-east-1:123456789012:repository\/jobs-images-[0-9a-f]{6}$/),
    ]);
    expect(
      JSON.parse(mocks.one(ROLE, "jobs-sagemaker").inputs.assumeRolePolicy).Statement[0].Condition,
    ).toEqual({
      StringEquals: { "aws:SourceAccount": "123456789012" },
    });
  });

  it("points the API at the SageMaker role and the output bucket's models prefix, and lets it pass that role only", async () => {
    await build("wire");
    const env = Object.fromEntries(
      JSON.parse(mocks.one(TASK_DEFINITION, "wire-api").inputs.containerDefinitions)[0].environment.map(
        (e: { name: string; value: string }) => [e.name, e.value],
      ),
    );
    expect(env.TRAINKIT_SAGEMAKER_ROLE_ARN).toBe("arn:aws:iam::123456789012:role/wire-sagemaker");
    expect(env.TRAINKIT_SAGEMAKER_OUTPUT_S3_URI).toBe("s3://acme-ml-output/models");
    expect(env.TRAINKIT_SAGEMAKER_REGION).toBe("us-east-1");
    const passRole = statementsOf(mocks.one(ROLE_POLICY, "wire-api-task").inputs.policy).find(
      (x) => x.Action === "iam:PassRole",
    );
    expect(passRole?.Resource).toBe("arn:aws:iam::123456789012:role/wire-sagemaker");
  });

  it("outputs what a TrainingJob or another stack needs", async () => {
    const platform = await build("out");
    const o = platform.outputs;
    expect({
      region: await outputValue(o.region),
      dataBucketUrl: await outputValue(o.dataBucketUrl),
      outputBucketUrl: await outputValue(o.outputBucketUrl),
      sagemakerRoleArn: await outputValue(o.sagemakerRoleArn),
      apiTaskRoleArn: await outputValue(o.apiTaskRoleArn),
    }).toEqual({
      region: "us-east-1",
      dataBucketUrl: "s3://acme-ml-data",
      outputBucketUrl: "s3://acme-ml-output",
      sagemakerRoleArn: "arn:aws:iam::123456789012:role/out-sagemaker",
      apiTaskRoleArn: "arn:aws:iam::123456789012:role/out-api-task",
    });
    expect(await outputValue(o.registryUrl)).toMatch(
      /^123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/out-images-[0-9a-f]{6}$/,
    );
    expect(await outputValue(o.apiUrl)).toMatch(
      /^https:\/\/internal-out-api-1234567890\.us-east-1\.elb\.amazonaws\.com$/,
    );
    expect(o.kubeconfig).toBeUndefined();
  });

  it("adds an EKS cluster when cluster args are given, with its kubeconfig as a secret output", async () => {
    const platform = await build("eks", {
      cluster: {
        subnetIds: ["subnet-private-a", "subnet-private-b"],
        gpuPools: [{ gpu: "nvidia-l4", maxNodes: 2, spot: true }],
      },
    });
    expect(mocks.one("trainkit:aws:GpuCluster", "eks-eks").parentType).toBe("trainkit:aws:TrainingPlatform");
    expect(mocks.one("aws:eks/nodeGroup:NodeGroup", "eks-eks-nvidia-l4-x1-spot").inputs.capacityType).toBe(
      "SPOT",
    );
    expect(await isSecret(platform.outputs.kubeconfig!)).toBe(true);
    expect(await outputValue(platform.outputs.oidcProviderArn!)).toMatch(
      /^arn:aws:iam::123456789012:oidc-provider\//,
    );
  });

  it("lets the jobs' service account on the cluster read the data and write the output bucket, through Pod Identity", async () => {
    const platform = await build("podjobs", {
      cluster: {
        subnetIds: ["subnet-private-a", "subnet-private-b"],
        gpuPools: [{ gpu: "nvidia-l4", maxNodes: 2 }],
      },
      jobServiceAccount: { namespace: "trainkit", name: "default" },
    });
    expect(
      mocks.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "podjobs-jobs").inputs,
    ).toMatchObject({
      namespace: "trainkit",
      serviceAccount: "default",
      roleArn: "arn:aws:iam::123456789012:role/podjobs-jobs",
    });
    // A one-item list is written as its item in a Pod Identity role's policy, which IAM reads the same way.
    expect(statementsOf(mocks.one(ROLE_POLICY, "podjobs-jobs").inputs.policy)).toEqual([
      {
        Sid: "ListPlatformBuckets",
        Effect: "Allow",
        Action: ["s3:GetBucketLocation", "s3:ListBucket"],
        Resource: ["arn:aws:s3:::acme-ml-data", "arn:aws:s3:::acme-ml-output"],
      },
      { Sid: "ReadData", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::acme-ml-data/*" },
      {
        Sid: "ReadWriteOutput",
        Effect: "Allow",
        Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        Resource: "arn:aws:s3:::acme-ml-output/*",
      },
    ]);
    expect(await outputValue(platform.outputs.jobRoleArn!)).toBe(
      "arn:aws:iam::123456789012:role/podjobs-jobs",
    );
  });

  it("gives jobs on the cluster no role unless a service account is named", async () => {
    const platform = await build("norole", {
      cluster: { subnetIds: ["subnet-private-a", "subnet-private-b"] },
    });
    expect(platform.jobIdentity).toBeUndefined();
    expect(platform.outputs.jobRoleArn).toBeUndefined();
    expect(
      mocks
        .ofType("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        .filter((r) => r.name.startsWith("norole-jobs")),
    ).toEqual([]);
  });

  it("gives the service account named in jobServiceAccount the jobs' role, and refuses one without a cluster", async () => {
    await build("named", {
      cluster: { subnetIds: ["subnet-private-a", "subnet-private-b"] },
      jobServiceAccount: { namespace: "ml-jobs", name: "trainer" },
    });
    expect(
      mocks.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "named-jobs").inputs,
    ).toMatchObject({
      namespace: "ml-jobs",
      serviceAccount: "trainer",
    });
    expect(
      () => new TrainingPlatform("nocluster", { ...args, jobServiceAccount: { namespace: "a", name: "b" } }),
    ).toThrow(
      "TrainingPlatform nocluster: jobServiceAccount must not be set without cluster, since only jobs on the EKS cluster run as it; set cluster or drop jobServiceAccount",
    );
  });

  it("passes opening-up choices through to its parts", async () => {
    await build("loose", {
      dataBucket: { bucketName: "acme-scratch", forceDestroy: true },
      api: {
        ...args.api,
        public: true,
        certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d",
        loadBalancerSubnetIds: ["subnet-public-a", "subnet-public-b"],
      },
    });
    expect(mocks.one(BUCKET, "loose-data").inputs.forceDestroy).toBe(true);
    expect(mocks.one(BUCKET, "loose-output").inputs.forceDestroy).toBe(false);
    expect(mocks.one(LOAD_BALANCER, "loose-api").inputs.internal).toBe(false);
  });
});
