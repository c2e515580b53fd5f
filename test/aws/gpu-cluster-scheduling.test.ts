import { beforeAll, describe, expect, it } from "vitest";
import {
  CLUSTER_AUTOSCALER_READ_ACTIONS,
  CLUSTER_AUTOSCALER_WRITE_ACTIONS,
  EFA_GPU_INSTANCE_TYPES,
  EKS_ADDONS,
  GpuCluster,
  type GpuClusterArgs,
} from "../../src/aws";
import { awsComputed, awsInvoke } from "../helpers/aws-computed";
import { allowedActions, statementsOf } from "../helpers/iam-policies";
import { published } from "../helpers/published";
import { type Inputs, installPulumiMocks, type MockRuntime } from "../helpers/pulumi-mocks";

// Everything here runs under Pulumi's mock runtime: it proves which resources and inputs trainkit registers
// for a GPU pod to be scheduled from zero nodes, checked against AWS's and the Cluster Autoscaler's published
// facts. It does not prove how EKS, EC2 or the autoscaler behave.

const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";
const LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate";
const ADDON = "aws:eks/addon:Addon";
const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const ASG_TAG = "aws:autoscaling/tag:Tag";
const CLUSTER = "aws:eks/cluster:Cluster";
const KMS_KEY = "aws:kms/key:Key";
const LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup";
const PLACEMENT_GROUP = "aws:ec2/placementGroup:PlacementGroup";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const HELM = "kubernetes:helm.sh/v3:Release";
const STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass";
const DAEMON_SET = "kubernetes:apps/v1:DaemonSet";
const K8S_PROVIDER = "pulumi:providers:kubernetes";

interface EksModel {
  CapacityTypes: string[];
  AMITypes: string[];
  TaintEffect: string[];
  SupportType: string[];
  UpgradePolicyRequestDocumentation: string;
  ResolveConflicts: string[];
  AddonPodIdentityAssociations: { required: string[]; members: string[] };
}
interface Ec2Model {
  CapacityReservationPreference: string[];
  MarketType: string[];
  NetworkInterfaceType: string[];
  PlacementStrategy: string[];
}
interface AutoscalerDoc {
  fullFeaturesPolicy: { readActions: string[]; writeActions: string[] };
  autoDiscoveryTags: string[];
  nodeTemplateTags: { label: string; taint: string; taintValue: string; resources: string };
  chart: { name: string; version: string; appVersion: string; repository: string };
  gpuNodeLabel: { key: string };
  releaseTags: string[];
  values: { autoDiscovery: string[]; topLevel: string[]; rbacServiceAccount: string[] };
}
interface PodIdentityDoc {
  principal: { Service: string };
  actions: string[];
  conditionKeys: string[];
}
const EKS = published<EksModel>("aws-botocore/eks-node-groups-and-addons.json");
const EC2 = published<Ec2Model>("aws-botocore/ec2-launch-template-capacity.json");
const CA = published<AutoscalerDoc>("cluster-autoscaler/aws.json");
const POD_IDENTITY = published<PodIdentityDoc>("aws-docs/eks-pod-identity-trust.json");
const EFA_CHART = published<{
  chart: { name: string; version: string; repository: string };
  supportedInstanceTypes: string[];
}>("eks-charts/aws-efa-k8s-device-plugin.json");
const LOGS_KEY = published<{
  principal: { Service: string };
  actions: string[];
  conditionOperator: string;
  conditionKey: string;
}>("aws-docs/cloudwatch-logs-kms-key-policy.json");

const subnetIds = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"];
const l4Pool = { gpu: "nvidia-l4" as const, maxNodes: 4 };

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed, invoke: awsInvoke });
});

async function build(name: string, args: Partial<GpuClusterArgs> = {}) {
  const cluster = new GpuCluster(name, { subnetIds, gpuPools: [l4Pool], ...args });
  await mocks.settle();
  return { cluster, eksName: mocks.one(CLUSTER, name).inputs.name as string };
}

const tagsOf = (prefix: string): Inputs =>
  Object.fromEntries(
    mocks
      .ofType(ASG_TAG)
      .filter((r) => r.name.startsWith(prefix))
      .map((r) => [r.inputs.tag.key, r.inputs]),
  );

describe("GpuCluster: the Cluster Autoscaler scales GPU pools from zero", () => {
  it("installs the published cluster-autoscaler chart on the system nodes, discovering this cluster's groups", async () => {
    const { eksName } = await build("ca");
    const release = mocks.one(HELM, "ca-autoscaler");
    expect(release.inputs).toMatchObject({
      chart: CA.chart.name,
      version: CA.chart.version,
      repositoryOpts: { repo: CA.chart.repository },
      namespace: "kube-system",
    });
    expect(release.inputs.values).toEqual({
      cloudProvider: "aws",
      awsRegion: "us-east-1",
      autoDiscovery: { clusterName: eksName },
      fullnameOverride: "cluster-autoscaler",
      rbac: { serviceAccount: { create: true, name: "cluster-autoscaler" } },
      nodeSelector: { "trainkit.dev/pool": "system" },
      extraArgs: { expander: "least-waste", "balance-similar-node-groups": true },
    });
    // Every value key set is one the chart's values.yaml has.
    const known = new Set([...CA.values.topLevel, "autoDiscovery", "rbac"]);
    expect(Object.keys(release.inputs.values).filter((k) => !known.has(k))).toEqual([]);
    expect(release.provider).toMatch(/pulumi:providers:kubernetes::ca-k8s::/);
    expect(mocks.one(K8S_PROVIDER, "ca-k8s").dependsOn).toContain(`${NODE_GROUP}::ca-system`);
  });

  it("gives the autoscaler a role through EKS Pod Identity, for its service account only", async () => {
    await build("caid");
    expect(mocks.one(ASSOCIATION, "caid-autoscaler").inputs).toMatchObject({
      namespace: "kube-system",
      serviceAccount: "cluster-autoscaler",
      roleArn: "arn:aws:iam::123456789012:role/caid-autoscaler",
    });
    const trust = statementsOf(mocks.one(ROLE, "caid-autoscaler").inputs.assumeRolePolicy);
    expect(trust).toEqual([
      {
        Sid: "AllowEksPodIdentity",
        Effect: "Allow",
        Principal: POD_IDENTITY.principal,
        Action: POD_IDENTITY.actions,
        Condition: {
          StringEquals: {
            [POD_IDENTITY.conditionKeys[0]!]: "kube-system",
            [POD_IDENTITY.conditionKeys[1]!]: "cluster-autoscaler",
          },
        },
      },
    ]);
    expect(mocks.one(HELM, "caid-autoscaler").dependsOn).toContain(`${ASSOCIATION}::caid-autoscaler`);
  });

  it("allows the autoscaler the published actions, with EKS and capacity changes limited to this cluster", async () => {
    const { eksName } = await build("capol");
    const statements = statementsOf(mocks.one(ROLE_POLICY, "capol-autoscaler").inputs.policy);
    expect(statements).toEqual([
      {
        Sid: "DescribeScalingGroups",
        Effect: "Allow",
        Action: [...CLUSTER_AUTOSCALER_READ_ACTIONS],
        Resource: "*",
      },
      {
        Sid: "DescribeClusterNodeGroups",
        Effect: "Allow",
        Action: "eks:DescribeNodegroup",
        Resource: `arn:aws:eks:us-east-1:123456789012:nodegroup/${eksName}/*/*`,
      },
      {
        Sid: "ScaleClusterNodeGroups",
        Effect: "Allow",
        Action: [...CLUSTER_AUTOSCALER_WRITE_ACTIONS],
        Resource: "*",
        Condition: { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/${eksName}`]: "owned" } },
      },
    ]);
    expect(allowedActions(statements)).toEqual(
      [...CA.fullFeaturesPolicy.readActions, ...CA.fullFeaturesPolicy.writeActions].sort(),
    );
  });

  it("tags a GPU pool's Auto Scaling group with its GPUs, taint and labels for scaling from zero", async () => {
    const { eksName } = await build("tags");
    const tags = tagsOf("tags-nvidia-l4-x1-");
    const label = (key: string) => CA.nodeTemplateTags.label.replace("<label-name>", key);
    expect(Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, v.tag.value]))).toEqual({
      [CA.autoDiscoveryTags[0]!]: "true",
      [`k8s.io/cluster-autoscaler/${eksName}`]: "owned",
      [CA.nodeTemplateTags.resources.replace("<resource-name>", "nvidia.com/gpu")]: "1",
      [CA.nodeTemplateTags.taint.replace("<taint-name>", "nvidia.com/gpu")]: "present:NoSchedule",
      [label("trainkit.dev/gpu")]: "nvidia-l4",
      [label("trainkit.dev/gpus-per-node")]: "1",
      [label("trainkit.dev/pool")]: "nvidia-l4-x1",
      [label("trainkit.dev/capacity")]: "on-demand",
      [label(CA.gpuNodeLabel.key)]: "nvidia-l4",
    });
    for (const tag of Object.values(tags)) {
      expect(tag.autoscalingGroupName).toBe("eks-tags-nvidia-l4-x1-asg");
      expect(tag.tag.propagateAtLaunch).toBe(false);
    }
    // The taint hint names the same taint the node group puts on its nodes.
    const taint = mocks.one(NODE_GROUP, "tags-nvidia-l4-x1").inputs.taints[0];
    expect(EKS.TaintEffect).toContain(taint.effect);
    expect(`${taint.value}:NoSchedule`).toBe(
      tags[CA.nodeTemplateTags.taint.replace("<taint-name>", taint.key)].tag.value,
    );
  });

  it("tags the system group as this cluster's, with no GPU hints", async () => {
    const { eksName } = await build("systags");
    expect(Object.keys(tagsOf("systags-system-")).sort()).toEqual(
      ["k8s.io/cluster-autoscaler/enabled", `k8s.io/cluster-autoscaler/${eksName}`].sort(),
    );
  });

  it("uses only capacity types, AMI types and taint effects the EKS API defines", async () => {
    await build("enums", {
      gpuPools: [l4Pool, { gpu: "nvidia-l4", maxNodes: 2, spot: true }],
    });
    for (const group of mocks.ofType(NODE_GROUP).filter((r) => r.name.startsWith("enums-"))) {
      expect(EKS.CapacityTypes).toContain(group.inputs.capacityType);
      expect(EKS.AMITypes).toContain(group.inputs.amiType);
      for (const t of group.inputs.taints ?? []) expect(EKS.TaintEffect).toContain(t.effect);
    }
  });

  it("labels GPU nodes at join as the autoscaler's GPU label asks, so it does not scale out twice", async () => {
    await build("gpulabel");
    expect(mocks.one(NODE_GROUP, "gpulabel-nvidia-l4-x1").inputs.labels[CA.gpuNodeLabel.key]).toBe(
      "nvidia-l4",
    );
    expect(mocks.one(NODE_GROUP, "gpulabel-system").inputs.labels[CA.gpuNodeLabel.key]).toBeUndefined();
  });

  it("runs the autoscaler release of the cluster's pinned minor version, else the chart's", async () => {
    await build("pinned", { version: "1.33" });
    const tag = mocks.one(HELM, "pinned-autoscaler").inputs.values.image.tag;
    expect(tag).toBe("v1.33.0");
    expect(CA.releaseTags).toContain(`cluster-autoscaler-${tag.slice(1)}`);
    await build("unpinned");
    expect(mocks.one(HELM, "unpinned-autoscaler").inputs.values.image).toBeUndefined();
    expect(CA.releaseTags).toContain(`cluster-autoscaler-${CA.chart.appVersion}`);
  });

  it("installs no autoscaler when told not to", async () => {
    await build("noca", { clusterAutoscaler: { enabled: false } });
    expect(mocks.ofType(HELM).filter((r) => r.name.startsWith("noca"))).toEqual([]);
    expect(mocks.ofType(ASSOCIATION).filter((r) => r.name.startsWith("noca"))).toEqual([]);
  });
});

describe("GpuCluster: managed add-ons and storage", () => {
  it("manages the five add-ons, taking over the ones EKS installed itself", async () => {
    await build("addons", { addonVersions: { coredns: "v1.12.1-eksbuild.2" } });
    const addons = mocks.ofType(ADDON).filter((r) => r.name.startsWith("addons-"));
    expect(addons.map((r) => r.inputs.addonName).sort()).toEqual([...EKS_ADDONS].sort());
    for (const a of addons) {
      expect(EKS.ResolveConflicts).toContain(a.inputs.resolveConflictsOnCreate);
      expect(a.inputs.resolveConflictsOnCreate).toBe("OVERWRITE");
    }
    expect(mocks.one(ADDON, "addons-coredns").inputs.addonVersion).toBe("v1.12.1-eksbuild.2");
    expect(mocks.one(ADDON, "addons-kube-proxy").inputs.addonVersion).toBeUndefined();
  });

  it("rejects a version for an add-on it does not manage", () => {
    expect(
      () =>
        new GpuCluster("badaddon", { subnetIds, addonVersions: { "aws-efs-csi-driver": "v2.1.0" } as never }),
    ).toThrow(
      "GpuCluster badaddon: addonVersions must name only vpc-cni, kube-proxy, eks-pod-identity-agent, coredns or aws-ebs-csi-driver; got aws-efs-csi-driver",
    );
  });

  it("gives vpc-cni its own role through the OIDC provider, for aws-node only", async () => {
    await build("cni");
    expect(mocks.one(ADDON, "cni-vpc-cni").inputs.serviceAccountRoleArn).toBe(
      "arn:aws:iam::123456789012:role/cni-vpc-cni",
    );
    const issuer = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF";
    expect(statementsOf(mocks.one(ROLE, "cni-vpc-cni").inputs.assumeRolePolicy)).toEqual([
      {
        Sid: "AllowServiceAccountToken",
        Effect: "Allow",
        Principal: { Federated: `arn:aws:iam::123456789012:oidc-provider/${issuer}` },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: "system:serviceaccount:kube-system:aws-node",
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ]);
    expect(mocks.one(ATTACHMENT, "cni-vpc-cni-AmazonEKS_CNI_Policy").inputs.policyArn).toBe(
      "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    );
  });

  it("gives the EBS CSI driver its managed policy through a Pod Identity association the add-on owns", async () => {
    await build("ebs");
    const association = mocks.one(ADDON, "ebs-aws-ebs-csi-driver").inputs.podIdentityAssociations;
    expect(association).toEqual([
      { roleArn: "arn:aws:iam::123456789012:role/ebs-ebs-csi", serviceAccount: "ebs-csi-controller-sa" },
    ]);
    expect(Object.keys(association[0]).sort()).toEqual([...EKS.AddonPodIdentityAssociations.members].sort());
    expect(mocks.ofType(ASSOCIATION).filter((r) => r.name.startsWith("ebs-ebs"))).toEqual([]);
    expect(
      mocks
        .ofType(ATTACHMENT)
        .filter((r) => r.name.startsWith("ebs-ebs-csi"))
        .map((r) => r.inputs.policyArn),
    ).toEqual(["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"]);
    expect(statementsOf(mocks.one(ROLE, "ebs-ebs-csi").inputs.assumeRolePolicy)).toEqual([
      {
        Sid: "AllowEksPodIdentity",
        Effect: "Allow",
        Principal: POD_IDENTITY.principal,
        Action: POD_IDENTITY.actions,
        Condition: {
          StringEquals: {
            "aws:RequestTag/kubernetes-namespace": "kube-system",
            "aws:RequestTag/kubernetes-service-account": "ebs-csi-controller-sa",
          },
        },
      },
    ]);
    expect(mocks.ofType(ROLE_POLICY).filter((r) => r.name.startsWith("ebs-ebs-csi"))).toEqual([]);
  });

  it("starts nodes after pod networking, and the Deployment add-ons after the system nodes", async () => {
    await build("order");
    for (const group of ["order-system", "order-nvidia-l4-x1"]) {
      expect(mocks.one(NODE_GROUP, group).dependsOn).toEqual(
        expect.arrayContaining([
          `${ADDON}::order-vpc-cni`,
          `${ADDON}::order-kube-proxy`,
          `${ADDON}::order-eks-pod-identity-agent`,
        ]),
      );
    }
    expect(mocks.one(ADDON, "order-coredns").dependsOn).toContain(`${NODE_GROUP}::order-system`);
    expect(mocks.one(ADDON, "order-aws-ebs-csi-driver").dependsOn).toEqual(
      expect.arrayContaining([`${NODE_GROUP}::order-system`, `${ADDON}::order-eks-pod-identity-agent`]),
    );
  });

  it("makes an encrypted gp3 StorageClass the default, after the EBS CSI driver", async () => {
    await build("sc");
    const sc = mocks.one(STORAGE_CLASS, "sc-gp3");
    expect(sc.inputs).toMatchObject({
      metadata: { name: "gp3", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: "ebs.csi.aws.com",
      volumeBindingMode: "WaitForFirstConsumer",
      parameters: { type: "gp3", encrypted: "true" },
    });
    expect(sc.dependsOn).toContain(`${ADDON}::sc-aws-ebs-csi-driver`);
  });
});

describe("GpuCluster: the NVIDIA device plugin", () => {
  it("runs the device plugin on GPU nodes only, tolerating the GPU taint", async () => {
    await build("dp");
    const ds = mocks.one(DAEMON_SET, "dp-gpu-device-plugin");
    const spec = ds.inputs.spec.template.spec;
    expect(spec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
    const keys =
      spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.map(
        (t: { matchExpressions: { key: string }[] }) => t.matchExpressions[0]!.key,
      );
    // The GPU node groups carry this label, so the plugin lands on each of their nodes.
    expect(keys).toContain("trainkit.dev/gpu");
    expect(mocks.one(NODE_GROUP, "dp-nvidia-l4-x1").inputs.labels["trainkit.dev/gpu"]).toBe("nvidia-l4");
    expect(ds.provider).toMatch(/pulumi:providers:kubernetes::dp-k8s::/);
  });

  it("leaves the device plugin out when told, and the Kubernetes provider when nothing runs in the cluster", async () => {
    await build("nodp", { nvidiaDevicePlugin: { enabled: false } });
    expect(mocks.ofType(DAEMON_SET).filter((r) => r.name.startsWith("nodp"))).toEqual([]);
    await build("nok8s", {
      nvidiaDevicePlugin: { enabled: false },
      clusterAutoscaler: { enabled: false },
      defaultStorageClass: false,
    });
    expect(mocks.ofType(K8S_PROVIDER).filter((r) => r.name.startsWith("nok8s"))).toEqual([]);
  });
});

describe("GpuCluster: capacity for the big GPUs", () => {
  it("launches a pool into an On-Demand Capacity Reservation", async () => {
    await build("odcr", {
      gpuPools: [
        {
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 8,
          maxNodes: 2,
          capacityReservation: { id: "cr-0123456789abcdef0" },
        },
      ],
    });
    const template = mocks.one(LAUNCH_TEMPLATE, "odcr-nvidia-h100-80gb-x8").inputs;
    expect(template.capacityReservationSpecification).toEqual({
      capacityReservationTarget: { capacityReservationId: "cr-0123456789abcdef0" },
    });
    expect(template.instanceMarketOptions).toBeUndefined();
    const group = mocks.one(NODE_GROUP, "odcr-nvidia-h100-80gb-x8").inputs;
    expect(group.capacityType).toBe("ON_DEMAND");
    expect(group.labels["trainkit.dev/capacity"]).toBe("reservation");
  });

  it("launches a pool into a reservation resource group", async () => {
    const arn = "arn:aws:resource-groups:us-east-1:123456789012:group/p5-reservations";
    await build("crg", {
      gpuPools: [
        {
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 8,
          maxNodes: 2,
          capacityReservation: { resourceGroupArn: arn },
        },
      ],
    });
    expect(
      mocks.one(LAUNCH_TEMPLATE, "crg-nvidia-h100-80gb-x8").inputs.capacityReservationSpecification,
    ).toEqual({ capacityReservationTarget: { capacityReservationResourceGroupArn: arn } });
  });

  it("runs a Capacity Block pool as CAPACITY_BLOCK with the capacity-block market type", async () => {
    await build("block", {
      gpuPools: [
        {
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 8,
          maxNodes: 4,
          capacityReservation: { id: "cr-0fedcba9876543210", capacityBlock: true },
        },
      ],
    });
    const group = mocks.one(NODE_GROUP, "block-nvidia-h100-80gb-x8").inputs;
    expect(group.capacityType).toBe("CAPACITY_BLOCK");
    expect(EKS.CapacityTypes).toContain(group.capacityType);
    expect(group.labels["trainkit.dev/capacity"]).toBe("capacity-block");
    const template = mocks.one(LAUNCH_TEMPLATE, "block-nvidia-h100-80gb-x8").inputs;
    expect(template.instanceMarketOptions).toEqual({ marketType: "capacity-block" });
    expect(EC2.MarketType).toContain(template.instanceMarketOptions.marketType);
    expect(template.capacityReservationSpecification.capacityReservationTarget).toEqual({
      capacityReservationId: "cr-0fedcba9876543210",
    });
    expect(
      tagsOf("block-nvidia-h100-80gb-x8-")[
        "k8s.io/cluster-autoscaler/node-template/label/trainkit.dev/capacity"
      ].tag.value,
    ).toBe("capacity-block");
  });

  it("gives a spot pool several instance types carrying the same GPUs", async () => {
    await build("multi", {
      gpuPools: [
        {
          gpu: "nvidia-l4",
          maxNodes: 4,
          spot: true,
          instanceTypes: ["g6.xlarge", "g6.2xlarge", "g6.4xlarge"],
        },
      ],
    });
    const group = mocks.one(NODE_GROUP, "multi-nvidia-l4-x1-spot").inputs;
    expect(group.instanceTypes).toEqual(["g6.xlarge", "g6.2xlarge", "g6.4xlarge"]);
    expect(group.capacityType).toBe("SPOT");
  });

  it("gives an EFA pool one EFA interface per network card, a cluster placement group and an EFA security group", async () => {
    await build("efa", {
      gpuPools: [
        {
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 8,
          maxNodes: 4,
          efaInterfaces: 32,
          subnetIds: ["subnet-zone-a"],
        },
      ],
    });
    const placement = mocks.one(PLACEMENT_GROUP, "efa-nvidia-h100-80gb-x8").inputs;
    expect(placement.strategy).toBe("cluster");
    expect(EC2.PlacementStrategy).toContain(placement.strategy);
    const template = mocks.one(LAUNCH_TEMPLATE, "efa-nvidia-h100-80gb-x8").inputs;
    expect(template.placement).toEqual({ groupName: "efa-nvidia-h100-80gb-x8" });
    expect(template.networkInterfaces).toHaveLength(32);
    expect(template.networkInterfaces[0]).toEqual({
      networkCardIndex: 0,
      deviceIndex: 0,
      interfaceType: "efa",
      deleteOnTermination: "true",
      securityGroups: ["sg-0cluster", "efa-efa-id"],
    });
    expect(template.networkInterfaces[31]).toMatchObject({ networkCardIndex: 31, deviceIndex: 1 });
    for (const ni of template.networkInterfaces) expect(EC2.NetworkInterfaceType).toContain(ni.interfaceType);
    expect(mocks.one(INGRESS, "efa-efa-in").inputs).toMatchObject({
      securityGroupId: "efa-efa-id",
      referencedSecurityGroupId: "efa-efa-id",
      ipProtocol: "-1",
    });
    expect(
      tagsOf("efa-nvidia-h100-80gb-x8-")[
        "k8s.io/cluster-autoscaler/node-template/resources/vpc.amazonaws.com/efa"
      ].tag.value,
    ).toBe("32");
  });

  it("installs the EFA device plugin chart on the GPU nodes when a pool uses EFA, and not otherwise", async () => {
    await build("efaplugin", {
      gpuPools: [
        { gpu: "nvidia-h100-80gb", gpusPerNode: 8, maxNodes: 2, efaInterfaces: 32, subnetIds: ["s-a"] },
      ],
    });
    const release = mocks.one(HELM, "efaplugin-efa");
    expect(release.inputs).toMatchObject({
      chart: EFA_CHART.chart.name,
      version: EFA_CHART.chart.version,
      repositoryOpts: { repo: EFA_CHART.chart.repository },
      namespace: "kube-system",
      values: { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] },
    });
    expect(EFA_CHART.supportedInstanceTypes).toContain("p5.48xlarge");
    expect(mocks.ofType(HELM).filter((r) => r.name === "enums-efa" || r.name === "tags-efa")).toEqual([]);
  });

  it("knows exactly the GPU instance types the EFA chart lists as supporting EFA", () => {
    const gpuFamilies =
      /^(g4dn|g5|g6|g6e|gr6|p3dn|p4d|p4de|p5|p5e|p5en|p6-b200|p6-b300|p6e-gb200|p6e-gb300)\./;
    expect([...EFA_GPU_INSTANCE_TYPES].sort()).toEqual(
      EFA_CHART.supportedInstanceTypes.filter((t) => gpuFamilies.test(t)).sort(),
    );
  });

  it("rejects EFA on an instance type without it", () => {
    expect(
      () =>
        new GpuCluster("noefa", {
          subnetIds,
          gpuPools: [{ gpu: "nvidia-l4", maxNodes: 1, efaInterfaces: 1, subnetIds: ["s-a"] }],
        }),
    ).toThrow(
      "GpuCluster noefa: gpuPools[0].efaInterfaces must be 0 for g6.xlarge, which has no EFA; pick an EFA instance type (p3dn.24xlarge, p4d.24xlarge, p4de.24xlarge, p5.4xlarge, p5.48xlarge, p5e.48xlarge, p5en.48xlarge, p6-b200.48xlarge, p6-b300.48xlarge, p6e-gb200.36xlarge or p6e-gb300.36xlarge) or drop efaInterfaces",
    );
  });

  it("rejects reserved capacity on a spot pool", () => {
    expect(
      () =>
        new GpuCluster("spotres", {
          subnetIds,
          gpuPools: [{ gpu: "nvidia-l4", maxNodes: 1, spot: true, capacityReservation: { id: "cr-1" } }],
        }),
    ).toThrow(
      "GpuCluster spotres: gpuPools[0].capacityReservation must not be set on a spot pool, since reserved capacity is bought on-demand or as a Capacity Block; drop gpuPools[0].spot or the reservation",
    );
  });

  it("rejects a Capacity Block given as a resource group", () => {
    expect(
      () =>
        new GpuCluster("blockrg", {
          subnetIds,
          gpuPools: [
            {
              gpu: "nvidia-h100-80gb",
              gpusPerNode: 8,
              maxNodes: 1,
              capacityReservation: {
                resourceGroupArn: "arn:aws:resource-groups:us-east-1:1:group/g",
                capacityBlock: true,
              },
            },
          ],
        }),
    ).toThrow(
      "GpuCluster blockrg: gpuPools[0].capacityReservation.capacityBlock needs the Capacity Block's id (cr-...) in gpuPools[0].capacityReservation.id, not a resource group",
    );
  });

  it("rejects several instance types on an on-demand pool, and a type with other GPUs", () => {
    expect(
      () =>
        new GpuCluster("odmulti", {
          subnetIds,
          gpuPools: [{ gpu: "nvidia-l4", maxNodes: 1, instanceTypes: ["g6.xlarge", "g6.2xlarge"] }],
        }),
    ).toThrow(
      "GpuCluster odmulti: gpuPools[0].instanceTypes must be set only on spot pools, where more types mean more spot capacity; set gpuPools[0].spot: true or give one gpuPools[0].instanceType",
    );
    expect(
      () =>
        new GpuCluster("badmulti", {
          subnetIds,
          gpuPools: [
            { gpu: "nvidia-l4", maxNodes: 1, spot: true, instanceTypes: ["g6.xlarge", "g6.12xlarge"] },
          ],
        }),
    ).toThrow(/gpuPools\[0\]\.instanceTypes\[1\] must be one of .* got g6\.12xlarge/);
  });

  it("rejects an EFA pool that is not pinned to one subnet", () => {
    expect(
      () =>
        new GpuCluster("efazones", {
          subnetIds,
          gpuPools: [{ gpu: "nvidia-h100-80gb", gpusPerNode: 8, maxNodes: 2, efaInterfaces: 32 }],
        }),
    ).toThrow(
      "GpuCluster efazones: gpuPools[0].subnetIds must be exactly one subnet when gpuPools[0].efaInterfaces is set, since EFA nodes share a cluster placement group in one zone; got nothing",
    );
  });
});

describe("GpuCluster: support policy and log encryption", () => {
  it("stays on standard support unless asked, since EKS's own default is extended", async () => {
    expect(EKS.UpgradePolicyRequestDocumentation).toContain("The default value is EXTENDED");
    await build("std");
    expect(mocks.one(CLUSTER, "std").inputs.upgradePolicy).toEqual({ supportType: "STANDARD" });
    await build("ext", { supportType: "EXTENDED" });
    expect(mocks.one(CLUSTER, "ext").inputs.upgradePolicy).toEqual({ supportType: "EXTENDED" });
    expect(EKS.SupportType).toEqual(expect.arrayContaining(["STANDARD", "EXTENDED"]));
    expect(() => new GpuCluster("badsupport", { subnetIds, supportType: "LTS" as never })).toThrow(
      "GpuCluster badsupport: supportType must be STANDARD or EXTENDED; got LTS",
    );
  });

  it("encrypts the control plane logs with the cluster's key, which CloudWatch Logs may use for that group only", async () => {
    const { eksName } = await build("logkms");
    const keyArn = "arn:aws:kms:us-east-1:123456789012:key/logkms-secrets";
    expect(mocks.one(LOG_GROUP, "logkms-control-plane").inputs.kmsKeyId).toBe(keyArn);
    expect(statementsOf(mocks.one(KMS_KEY, "logkms-secrets").inputs.policy)).toEqual([
      {
        Sid: "AccountAdministersKey",
        Effect: "Allow",
        Principal: { AWS: "arn:aws:iam::123456789012:root" },
        Action: "kms:*",
        Resource: "*",
      },
      {
        Sid: "ControlPlaneLogGroup",
        Effect: "Allow",
        Principal: { Service: "logs.us-east-1.amazonaws.com" },
        Action: ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        Resource: "*",
        Condition: {
          ArnEquals: {
            "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/${eksName}/cluster`,
          },
        },
      },
    ]);
    const logs = statementsOf(mocks.one(KMS_KEY, "logkms-secrets").inputs.policy)[1]!;
    expect(logs.Principal).toEqual({ Service: LOGS_KEY.principal.Service.replace("<region>", "us-east-1") });
    expect([logs.Action].flat().sort()).toEqual([...LOGS_KEY.actions].sort());
    expect(Object.keys(logs.Condition?.[LOGS_KEY.conditionOperator] ?? {})).toEqual([LOGS_KEY.conditionKey]);
  });

  it("encrypts the logs with a separate key when given one", async () => {
    const logKey = "arn:aws:kms:us-east-1:123456789012:key/logs";
    await build("logbyo", { logKmsKeyArn: logKey });
    expect(mocks.one(LOG_GROUP, "logbyo-control-plane").inputs.kmsKeyId).toBe(logKey);
  });
});

describe("GpuCluster.podIdentity", () => {
  it("gives a workload's service account a role of its own through a Pod Identity association", async () => {
    const { cluster, eksName } = await build("wl");
    cluster.podIdentity("wl-jobs", {
      namespace: "trainkit",
      serviceAccount: "default",
      statements: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::data/*"] }],
    });
    await mocks.settle();
    expect(mocks.one(ASSOCIATION, "wl-jobs").inputs).toMatchObject({
      clusterName: eksName,
      namespace: "trainkit",
      serviceAccount: "default",
      roleArn: "arn:aws:iam::123456789012:role/wl-jobs",
    });
    expect(statementsOf(mocks.one(ROLE_POLICY, "wl-jobs").inputs.policy)).toEqual([
      { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::data/*" },
    ]);
    expect(mocks.one("trainkit:aws:PodIdentity", "wl-jobs").parentType).toBe("trainkit:aws:GpuCluster");
  });
});
