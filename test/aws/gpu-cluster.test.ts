import { beforeAll, describe, expect, it } from "vitest";
import {
  type AwsGpuPoolArgs,
  GPU_AMI_TYPE,
  GpuCluster,
  type GpuClusterArgs,
  NODE_ROLE_POLICIES,
} from "../../src/aws";
import { awsComputed, awsInvoke } from "../helpers/aws-computed";
import { installPulumiMocks, isSecret, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const CLUSTER = "aws:eks/cluster:Cluster";
const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const ROLE = "aws:iam/role:Role";
const OIDC = "aws:iam/openIdConnectProvider:OpenIdConnectProvider";
const KMS_KEY = "aws:kms/key:Key";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";

const subnetIds = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"];

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed, invoke: awsInvoke });
});

async function build(name: string, args: Partial<GpuClusterArgs> = {}) {
  const cluster = new GpuCluster(name, { subnetIds, ...args });
  await mocks.settle();
  return cluster;
}

describe("GpuCluster", () => {
  it("keeps the API endpoint private, in the given subnets, with access entries and deletion protection", async () => {
    await build("private");
    const cluster = mocks.one(CLUSTER, "private").inputs;
    expect(cluster.vpcConfig).toEqual({
      subnetIds,
      endpointPrivateAccess: true,
      endpointPublicAccess: false,
    });
    expect(cluster.accessConfig).toEqual({
      authenticationMode: "API",
      bootstrapClusterCreatorAdminPermissions: true,
    });
    expect(cluster.deletionProtection).toBe(true);
    // The stack's hash, then the suffix drawn for this creation of the cluster.
    expect(cluster.name).toMatch(/^private-[0-9a-f]{6}-[a-z0-9]{6}$/);
  });

  it("encrypts Kubernetes secrets with a new rotating KMS key", async () => {
    await build("kms");
    expect(mocks.one(KMS_KEY, "kms-secrets").inputs).toMatchObject({
      enableKeyRotation: true,
      deletionWindowInDays: 30,
    });
    expect(mocks.one(CLUSTER, "kms").inputs.encryptionConfig).toEqual({
      provider: { keyArn: "arn:aws:kms:us-east-1:123456789012:key/kms-secrets" },
      resources: ["secrets"],
    });
  });

  it("uses a given KMS key instead of creating one", async () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/byo";
    await build("byokey", { kmsKeyArn: key });
    expect(mocks.ofType(KMS_KEY).filter((r) => r.name.startsWith("byokey"))).toEqual([]);
    expect(mocks.one(CLUSTER, "byokey").inputs.encryptionConfig.provider).toEqual({ keyArn: key });
  });

  it("sends all five control plane logs to a log group it creates with a 90-day retention", async () => {
    await build("logs");
    const name = mocks.one(CLUSTER, "logs").inputs.name;
    expect(mocks.one(CLUSTER, "logs").inputs.enabledClusterLogTypes).toEqual([
      "api",
      "audit",
      "authenticator",
      "controllerManager",
      "scheduler",
    ]);
    expect(mocks.one(LOG_GROUP, "logs-control-plane").inputs).toMatchObject({
      name: `/aws/eks/${name}/cluster`,
      retentionInDays: 90,
    });
  });

  it("registers the cluster's OIDC issuer as an IAM identity provider for service accounts", async () => {
    const cluster = await build("irsa");
    expect(mocks.one(OIDC, "irsa-oidc").inputs).toMatchObject({
      url: "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF",
      clientIdLists: ["sts.amazonaws.com"],
    });
    expect(await outputValue(cluster.oidcProviderArn)).toBe(
      "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF",
    );
  });

  it("opens a public endpoint only when asked, restricted to the given CIDRs", async () => {
    await build("public", { publicEndpoint: true, publicAccessCidrs: ["203.0.113.0/24"] });
    expect(mocks.one(CLUSTER, "public").inputs.vpcConfig).toEqual({
      subnetIds,
      endpointPrivateAccess: true,
      endpointPublicAccess: true,
      publicAccessCidrs: ["203.0.113.0/24"],
    });
  });

  it("runs a small on-demand system node group of one to three m6i.large nodes", async () => {
    await build("sys");
    const group = mocks.one(NODE_GROUP, "sys-system").inputs;
    expect(group.scalingConfig).toEqual({ minSize: 1, maxSize: 3, desiredSize: 1 });
    expect(group.instanceTypes).toEqual(["m6i.large"]);
    expect(group.capacityType).toBe("ON_DEMAND");
    expect(group.taints).toBeUndefined();
  });

  it("builds a GPU node group from zero on the NVIDIA AMI with the GPU taint and GPU labels", async () => {
    const cluster = await build("l4", { gpuPools: [{ gpu: "nvidia-l4", maxNodes: 4 }] });
    const group = mocks.one(NODE_GROUP, "l4-nvidia-l4-x1").inputs;
    expect(group.scalingConfig).toEqual({ minSize: 0, maxSize: 4, desiredSize: 0 });
    expect(group.amiType).toBe(GPU_AMI_TYPE);
    expect(group.amiType).toBe("AL2023_x86_64_NVIDIA");
    expect(group.instanceTypes).toEqual(["g6.xlarge"]);
    expect(group.capacityType).toBe("ON_DEMAND");
    expect(group.taints).toEqual([{ key: "nvidia.com/gpu", value: "present", effect: "NO_SCHEDULE" }]);
    expect(group.labels).toEqual({
      "trainkit.dev/gpu": "nvidia-l4",
      "trainkit.dev/gpus-per-node": "1",
      "trainkit.dev/pool": "nvidia-l4-x1",
      "trainkit.dev/capacity": "on-demand",
      "k8s.amazonaws.com/accelerator": "nvidia-l4",
    });
    expect(group.subnetIds).toEqual(subnetIds);
    expect(Object.keys(cluster.nodeGroups)).toEqual(["system", "nvidia-l4-x1"]);
    expect(cluster.gpuInstances["nvidia-l4-x1"]?.instanceType).toBe("g6.xlarge");
  });

  it("requires IMDSv2 with one hop and encrypts the root volume on every node", async () => {
    await build("imds", { gpuPools: [{ gpu: "nvidia-t4", maxNodes: 1, diskSizeGb: 300 }] });
    for (const group of ["system", "nvidia-t4-x1"]) {
      const template = mocks.one(LAUNCH_TEMPLATE, `imds-${group}`).inputs;
      expect(template.metadataOptions).toEqual({
        httpEndpoint: "enabled",
        httpTokens: "required",
        httpPutResponseHopLimit: 1,
      });
      expect(template.blockDeviceMappings[0].ebs).toMatchObject({ encrypted: "true", volumeType: "gp3" });
      expect(mocks.one(NODE_GROUP, `imds-${group}`).inputs.launchTemplate).toEqual({
        id: `imds-${group}-id`,
        version: "1",
      });
    }
    expect(mocks.one(LAUNCH_TEMPLATE, "imds-nvidia-t4-x1").inputs.blockDeviceMappings[0].ebs.volumeSize).toBe(
      300,
    );
    expect(mocks.one(LAUNCH_TEMPLATE, "imds-system").inputs.blockDeviceMappings[0].ebs.volumeSize).toBe(50);
  });

  it("uses spot capacity only for a pool that asks, on the pool's own subnets", async () => {
    await build("spot", {
      gpuPools: [
        { gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 2, spot: true, subnetIds: ["subnet-zone-a"] },
        { gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 1 },
      ],
    });
    const spot = mocks.one(NODE_GROUP, "spot-nvidia-a100-80gb-x8-spot").inputs;
    expect(spot.capacityType).toBe("SPOT");
    expect(spot.instanceTypes).toEqual(["p4de.24xlarge"]);
    expect(spot.subnetIds).toEqual(["subnet-zone-a"]);
    expect(spot.labels["trainkit.dev/capacity"]).toBe("spot");
    expect(mocks.one(NODE_GROUP, "spot-nvidia-a100-80gb-x8").inputs.capacityType).toBe("ON_DEMAND");
  });

  it("gives the node role exactly the worker and image-pull managed policies, and the cluster role EKS's", async () => {
    await build("roles");
    const attached = (prefix: string) =>
      mocks
        .ofType(ATTACHMENT)
        .filter((r) => r.name.startsWith(prefix))
        .map((r) => r.inputs.policyArn)
        .sort();
    expect(attached("roles-nodes-")).toEqual([
      "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
      "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]);
    expect(NODE_ROLE_POLICIES).not.toContain("AmazonEKS_CNI_Policy");
    expect(attached("roles-cluster-")).toEqual(["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]);
    expect(JSON.parse(mocks.one(ROLE, "roles-nodes").inputs.assumeRolePolicy).Statement[0].Principal).toEqual(
      {
        Service: "ec2.amazonaws.com",
      },
    );
  });

  it("outputs a secret kubeconfig that authenticates through aws eks get-token", async () => {
    const cluster = await build("kc");
    expect(await isSecret(cluster.kubeconfig)).toBe(true);
    const config = JSON.parse(await outputValue(cluster.kubeconfig));
    const name = mocks.one(CLUSTER, "kc").inputs.name;
    expect(config["current-context"]).toBe(`arn:aws:eks:us-east-1:123456789012:cluster/${name}`);
    expect(config.clusters[0].cluster).toEqual({
      server: "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
      "certificate-authority-data": "Q0EtREFUQQ==",
    });
    expect(config.users[0].user.exec).toMatchObject({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "aws",
      args: ["eks", "get-token", "--cluster-name", name, "--region", "us-east-1", "--output", "json"],
    });
  });

  it("parents every resource it creates to itself or to a component of its own", async () => {
    await build("tree", { gpuPools: [{ gpu: "nvidia-t4", maxNodes: 1 }] });
    const mine = mocks.resources.filter((r) => r.name.startsWith("tree"));
    const components = mine.filter((r) => !r.custom && r.name !== "tree");
    expect(components.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      "trainkit:aws:PodIdentity tree-autoscaler",
      "trainkit:aws:PodIdentity tree-ebs-csi",
      "trainkit:kubernetes:GpuSupport tree-gpu",
    ]);
    expect(new Set(components.map((r) => r.parentType))).toEqual(new Set(["trainkit:aws:GpuCluster"]));
    const custom = mine.filter((r) => r.custom);
    expect(new Set(custom.map((r) => r.parentType))).toEqual(
      new Set(["trainkit:aws:GpuCluster", "trainkit:aws:PodIdentity", "trainkit:kubernetes:GpuSupport"]),
    );
  });
});

describe("GpuCluster argument checks", () => {
  it("rejects a GPU count AWS does not sell the GPU in, naming the pool's field", () => {
    expect(
      () =>
        new GpuCluster("bad-count", {
          subnetIds,
          gpuPools: [{ gpu: "nvidia-l4", gpusPerNode: 2, maxNodes: 1 }],
        }),
    ).toThrow("gpuPools[0].gpusPerNode must be 1, 4 or 8 for nvidia-l4 on EC2; got 2");
  });

  it("rejects an instance type that does not carry the pool's GPU", () => {
    expect(
      () =>
        new GpuCluster("bad-type", {
          subnetIds,
          gpuPools: [{ gpu: "nvidia-l4", gpusPerNode: 1, instanceType: "g6.12xlarge", maxNodes: 1 }],
        }),
    ).toThrow(
      "gpuPools[0].instanceType must be one of g6.xlarge, g6.2xlarge, g6.4xlarge, g6.8xlarge, g6.16xlarge, gr6.4xlarge or gr6.8xlarge for 1 nvidia-l4 per node on EC2; got g6.12xlarge (g6.12xlarge goes with 4, so set gpuPools[0].gpusPerNode to 4 or pick another type)",
    );
  });

  it("rejects zones, saying that subnets place node groups on AWS", () => {
    expect(
      () =>
        new GpuCluster("zoned", {
          subnetIds,
          // A JavaScript caller can still pass `zones`, which the type no longer has.
          gpuPools: [{ gpu: "nvidia-t4", maxNodes: 1, zones: ["us-east-1a"] } as AwsGpuPoolArgs],
        }),
    ).toThrow(
      "GpuCluster zoned: gpuPools[0].zones is not used on AWS, where node groups are placed by subnet; set gpuPools[0].subnetIds to private subnets in those zones instead",
    );
  });

  it("rejects public access CIDRs without a public endpoint", () => {
    expect(() => new GpuCluster("cidrs", { subnetIds, publicAccessCidrs: ["203.0.113.0/24"] })).toThrow(
      "GpuCluster cidrs: publicAccessCidrs must not be set while publicEndpoint is false, since there is no public endpoint to restrict; set publicEndpoint: true as well or drop publicAccessCidrs",
    );
  });

  it("refuses a public endpoint without publicAccessCidrs, which EKS would open to any address", () => {
    expect(() => new GpuCluster("open", { subnetIds, publicEndpoint: true })).toThrow(
      "GpuCluster open: publicAccessCidrs must list the networks that may reach the public endpoint, such as your office's and your CI runner's egress addresses ([\"203.0.113.0/24\"]), when publicEndpoint is true; got nothing, which EKS would open to any address (0.0.0.0/0)",
    );
  });

  it("rejects a cluster without subnets", () => {
    expect(() => new GpuCluster("nosubnets", {} as GpuClusterArgs)).toThrow(
      "GpuCluster nosubnets: subnetIds must be set to at least two private subnets in different zones; got nothing",
    );
  });
});
