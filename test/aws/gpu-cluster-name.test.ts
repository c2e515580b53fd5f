import { describe, expect, it } from "vitest";
import { GpuCluster, type GpuClusterArgs } from "../../src/aws";
import { awsComputed, awsInvoke, MOCK_ACCOUNT, MOCK_REGION } from "../helpers/aws-computed";
import { statementsOf } from "../helpers/iam-policies";
import { published } from "../helpers/published";
import { installPulumiMocks, type MockRuntime, NAME_SUFFIX_TYPE, outputValue } from "../helpers/pulumi-mocks";

// Under Pulumi's mock runtime, each deployment below installs the runtime afresh. Runtimes of one generation are
// updates of one stack (`pulumi up` again, the NameSuffix read back from the state); a new generation is a
// `pulumi up` after `pulumi destroy`, which draws the NameSuffix again (see `nameSuffixComputed`). That the real
// NameSuffix provider keeps its suffix across updates is proven in test/components/name-suffix.test.ts.

const CLUSTER = "aws:eks/cluster:Cluster";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";
const KMS_KEY = "aws:kms/key:Key";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
const ADDON = "aws:eks/addon:Addon";
const ASG_TAG = "aws:autoscaling/tag:Tag";

const CONTROL_PLANE_LOGS = published<{ logGroupNameFormat: string; clusterNamePlaceholder: string }>(
  "aws-docs/eks-control-plane-logs.json",
);
const RECREATED = published<{ issues: { number: number; excerpts: { text: string }[] }[] }>(
  "terraform-aws-eks-issues/log-group-recreated.json",
);

const subnetIds = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"];

interface Deployment {
  mocks: MockRuntime;
  cluster: GpuCluster;
  /** The name the EKS cluster was created with. */
  clusterName: string;
  /** The name of the control plane log group. */
  logGroupName: string;
  /** The `suffix` of the cluster's NameSuffix. */
  suffix: string;
}

/** Runs one `pulumi up` of a stack holding one GpuCluster, as deployment `generation` of that stack. */
async function deploy(
  generation: number,
  name = "ml",
  args: Partial<GpuClusterArgs> = {},
): Promise<Deployment> {
  const mocks = await installPulumiMocks({ computed: awsComputed, invoke: awsInvoke, generation });
  const cluster = new GpuCluster(name, { subnetIds, gpuPools: [{ gpu: "nvidia-l4", maxNodes: 2 }], ...args });
  await mocks.settle();
  return {
    mocks,
    cluster,
    clusterName: mocks.one(CLUSTER, name).inputs.name,
    logGroupName: mocks.one(LOG_GROUP, `${name}-control-plane`).inputs.name,
    suffix: await outputValue(cluster.nameSuffix.suffix),
  };
}

/** The log group name EKS's documentation gives for a cluster, with the cluster's name in place of its example's. */
function documentedLogGroup(clusterName: string): string {
  const format = /`([^`]+)`/.exec(CONTROL_PLANE_LOGS.logGroupNameFormat)?.[1] ?? "";
  expect(format).toContain(CONTROL_PLANE_LOGS.clusterNamePlaceholder);
  return format.replace(CONTROL_PLANE_LOGS.clusterNamePlaceholder, clusterName);
}

describe("GpuCluster: a name of its own for each creation of the cluster", () => {
  it("ends the cluster's name with a 6-character NameSuffix of its own, and outputs that name", async () => {
    const { mocks, cluster, clusterName, suffix } = await deploy(0);
    const nameSuffix = mocks.one(NAME_SUFFIX_TYPE, "ml-name-suffix");
    expect(nameSuffix.inputs.length).toBe(6);
    expect(nameSuffix.parentType).toBe("trainkit:aws:GpuCluster");
    expect(suffix).toMatch(/^[a-z0-9]{6}$/);
    expect(clusterName).toMatch(new RegExp(`^ml-[0-9a-f]{6}-${suffix}$`));
    expect(await outputValue(cluster.name)).toBe(clusterName);
  });

  it("keeps the cluster's and its log group's names on every update of the stack", async () => {
    const first = await deploy(0);
    const update = await deploy(0);
    // The same suffix, read back from the state, not a name that merely happens to be fixed.
    expect(update.suffix).toBe(first.suffix);
    expect(update.clusterName.endsWith(`-${update.suffix}`)).toBe(true);
    expect(update.clusterName).toBe(first.clusterName);
    expect(update.logGroupName).toBe(first.logGroupName);
  });

  it("names the cluster and its log group anew after destroy then up, since EKS re-creates the old group", async () => {
    const quoted = RECREATED.issues.flatMap((i) => i.excerpts.map((e) => e.text)).join("\n");
    expect(quoted).toContain("created again by EKS service linked role AWSServiceRoleForAmazonEKS");
    expect(quoted).toContain("The specified log group already exists");
    const before = await deploy(0);
    const after = await deploy(1);
    expect(after.clusterName).not.toBe(before.clusterName);
    expect(after.logGroupName).not.toBe(before.logGroupName);
    expect(after.suffix).not.toBe(before.suffix);
    // Only the suffix changes; the readable part before it stays.
    expect(after.clusterName.slice(0, -6)).toBe(before.clusterName.slice(0, -6));
  });

  it("names the log group exactly as EKS names the control plane log group of the cluster it creates", async () => {
    for (const generation of [0, 1]) {
      const { clusterName, logGroupName, suffix } = await deploy(generation);
      expect(clusterName.endsWith(`-${suffix}`)).toBe(true);
      expect(logGroupName).toBe(documentedLogGroup(clusterName));
    }
  });

  it("lets CloudWatch Logs use the new key only for the log group of the cluster created with it", async () => {
    const before = await deploy(0);
    const after = await deploy(1);
    const condition = statementsOf(after.mocks.one(KMS_KEY, "ml-secrets").inputs.policy).find(
      (s) => s.Sid === "ControlPlaneLogGroup",
    )?.Condition;
    expect(condition).toEqual({
      ArnEquals: {
        "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${after.logGroupName}`,
      },
    });
    expect(JSON.stringify(condition)).not.toContain(before.clusterName);
    expect(after.mocks.one(KMS_KEY, "ml-secrets").inputs.description).toBe(
      `Envelope encryption of Kubernetes secrets and control plane logs of EKS cluster ${after.clusterName} (trainkit)`,
    );
  });

  it("puts the generated name on the node groups, the add-ons and the autoscaler's owner tag and policy", async () => {
    const { mocks, clusterName, suffix } = await deploy(1);
    expect(clusterName).toMatch(new RegExp(`^ml-[0-9a-f]{6}-${suffix}$`));
    for (const group of ["ml-system", "ml-nvidia-l4-x1"]) {
      expect(mocks.one(NODE_GROUP, group).inputs.clusterName).toBe(clusterName);
      expect(mocks.one(ASG_TAG, `${group}-autoscaler-owner`).inputs.tag).toEqual({
        key: `k8s.io/cluster-autoscaler/${clusterName}`,
        value: "owned",
        propagateAtLaunch: false,
      });
    }
    for (const addon of mocks.ofType(ADDON)) expect(addon.inputs.clusterName).toBe(clusterName);
    const scale = statementsOf(mocks.one(ROLE_POLICY, "ml-autoscaler").inputs.policy).find(
      (s) => s.Sid === "ScaleClusterNodeGroups",
    );
    expect(scale?.Condition).toEqual({
      StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${clusterName}`]: "owned" },
    });
  });

  it("deletes the old cluster before creating its replacement, which keeps the suffix and so the name", async () => {
    const { mocks } = await deploy(0);
    expect(mocks.one(CLUSTER, "ml").deleteBeforeReplace).toBe(true);
    // The suffix is drawn again only for another length, and its length is all it is given: no input of the
    // cluster reaches it, so replacing the cluster keeps it.
    const nameSuffix = mocks.one(NAME_SUFFIX_TYPE, "ml-name-suffix");
    const { __provider, ...inputs } = nameSuffix.inputs;
    expect(inputs).toEqual({ length: 6 });
    expect(nameSuffix.dependsOn).toEqual([]);
  });

  it("keeps a long component name within EKS's 100 characters, suffix included", async () => {
    const name = `training-${"x".repeat(120)}`;
    const { clusterName, suffix } = await deploy(0, name);
    expect(clusterName.length).toBe(100);
    expect(clusterName).toMatch(new RegExp(`^training-x+-[0-9a-f]{6}-${suffix}$`));
  });
});
