import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import {
  GPU_NODE_LABELS,
  GPU_TAINT,
  type GpuPoolArgs,
  type GpuPoolShapeArgs,
  resolveGpuPools,
} from "../components/gpu-pool";
import { execKubeconfig } from "../components/kubeconfig";
import { GPU_RESOURCE } from "../components/kubernetes";
import { mergeLabels } from "../components/labels";
import { NameSuffix } from "../components/name-suffix";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { ec2InstanceFor, type InstanceShape } from "../gpu";
import { GpuSupport } from "../kubernetes/gpu-support";
import { PodIdentity, type PodIdentityArgs, serviceAccountTrustPolicy } from "./pod-identity";
import {
  arnParts,
  identityStatements,
  type PolicyStatement,
  policyDocument,
  serviceTrustPolicy,
  type Tags,
} from "./settings";

/** A GPU managed node group on EKS: the cross-cloud pool description plus AWS's instance type and subnets. */
export interface AwsGpuPoolArgs extends GpuPoolShapeArgs {
  /**
   * The EC2 instance type, when the default for the GPU and count does not suit (for example `g6.4xlarge`
   * for one L4 with more CPU). Defaults to the catalogue's instance type for `gpu` and `gpusPerNode`. Must
   * carry exactly `gpusPerNode` of `gpu`.
   */
  instanceType?: string;
  /**
   * Private subnets for this pool's nodes, to pin it to the zones that have its GPU. Defaults to the cluster's
   * `subnetIds`. EKS places nodes by subnet, so this takes the place of `zones` on other clouds.
   */
  subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Several instance types for a spot pool, so the node group can draw on more spot capacity pools. Each must
   * carry exactly `gpusPerNode` of `gpu`, so the autoscaler's picture of a node holds whichever type comes.
   * Defaults to the one `instanceType`. Only with `spot: true`; conflicts with `instanceType`.
   */
  instanceTypes?: string[];
  /**
   * Run the pool's nodes in an EC2 capacity reservation: an On-Demand Capacity Reservation (`id` or a
   * reservation resource group's `resourceGroupArn`), or a Capacity Block for ML (`id` of the block with
   * `capacityBlock: true`, which makes the node group's capacity type `CAPACITY_BLOCK`). The pool's subnets
   * must be in the reservation's zone. Defaults to none (plain on-demand or spot). Conflicts with `spot`.
   */
  capacityReservation?: AwsCapacityReservation;
  /**
   * Elastic Fabric Adapter interfaces per node, for multi-node training over NCCL: one per network card the
   * instance type has (EC2's `EfaInfo.MaximumEfaInterfaces`: 4 on p4d/p4de, 32 on p5/p5e, 16 on p5en). The
   * nodes also go into a cluster placement group and a security group that lets them reach each other on
   * every port. Requires `subnetIds` with exactly one subnet, since a cluster placement group lives in one
   * zone. Defaults to 0 (no EFA).
   */
  efaInterfaces?: number;
}

/** Where a pool's nodes are bought from when it uses reserved capacity. */
export interface AwsCapacityReservation {
  /** The reservation's id (`cr-...`). Conflicts with `resourceGroupArn`. */
  id?: pulumi.Input<string>;
  /** The ARN of a capacity reservation resource group. Conflicts with `id` and `capacityBlock`. */
  resourceGroupArn?: pulumi.Input<string>;
  /** The reservation is a Capacity Block for ML. Defaults to false. Requires `id`. */
  capacityBlock?: boolean;
}

/** The Cluster Autoscaler `GpuCluster` installs with Helm. */
export interface ClusterAutoscalerArgs {
  /** Install it. Defaults to true; false leaves scaling to you. */
  enabled?: boolean;
  /** The `cluster-autoscaler` chart version. Defaults to `9.59.0` (Cluster Autoscaler 1.35). */
  chartVersion?: pulumi.Input<string>;
  /**
   * The Cluster Autoscaler image tag, which should match the cluster's Kubernetes minor version. Defaults to
   * `v1.<minor>.0` when `version` is given as `1.<minor>`, else to the chart's own (1.35).
   */
  imageTag?: pulumi.Input<string>;
}

/** The small node group that runs cluster add-ons and the non-GPU pods, so GPU nodes can scale to zero. */
export interface SystemNodeGroupArgs {
  /** Instance type of the system nodes. Defaults to `m6i.large`. */
  instanceType?: pulumi.Input<string>;
  /** Fewest nodes. Defaults to 1, since the add-ons must run somewhere. */
  minNodes?: number;
  /** Most nodes. Defaults to 3. */
  maxNodes?: number;
  /** Root volume size in GB. Defaults to 50. */
  diskSizeGb?: pulumi.Input<number>;
}

/** The EKS control plane log types `logTypes` may name; all are on by default. */
export const ControlPlaneLogType = {
  /** The Kubernetes API server's logs. */
  Api: "api",
  /** The audit log of calls to the API server. */
  Audit: "audit",
  /** The authenticator's logs (IAM principals mapped to Kubernetes users). */
  Authenticator: "authenticator",
  /** The controller manager's logs. */
  ControllerManager: "controllerManager",
  /** The scheduler's logs. */
  Scheduler: "scheduler",
} as const;
export type ControlPlaneLogType = (typeof ControlPlaneLogType)[keyof typeof ControlPlaneLogType];
export const CONTROL_PLANE_LOG_TYPES: readonly ControlPlaneLogType[] = Object.values(ControlPlaneLogType);

/** EKS's support policies for a cluster's Kubernetes version. */
export const SupportType = {
  /** Upgrade the control plane when standard support for its version ends. */
  Standard: "STANDARD",
  /** Keep the version in extended support, at extra cost per hour. */
  Extended: "EXTENDED",
} as const;
export type SupportType = (typeof SupportType)[keyof typeof SupportType];

/** The NVIDIA device plugin of a `GpuCluster`. */
export interface NvidiaDevicePluginArgs {
  /** Install it. Defaults to true; false when you install it yourself (for example with NVIDIA's GPU operator). */
  enabled?: boolean;
  /** The device plugin image. Defaults to `GpuSupport`'s, `nvcr.io/nvidia/k8s-device-plugin:v0.17.0`. */
  image?: pulumi.Input<string>;
}

/** Inputs of `GpuCluster`. */
export interface GpuClusterArgs extends GpuClusterSettings {
  /** The region of the cluster. Defaults to the provider's region. */
  region?: pulumi.Input<string>;
}

/** The settings of a `GpuCluster` a `TrainingPlatform` passes on as they are. */
export interface GpuClusterSettings {
  /**
   * Private subnets (at least two, in different zones) for the control plane's network interfaces and the
   * nodes. Nodes get no public IP; the subnets need a NAT gateway or VPC endpoints for ECR, S3 and STS.
   * Required: this component creates no VPC.
   */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The Kubernetes version (`1.33`). Defaults to the version EKS currently defaults to. */
  version?: pulumi.Input<string>;
  /**
   * Also expose the control plane endpoint on the internet (always with authentication), so `kubectl` and
   * `pulumi up` work from outside the VPC. Defaults to false: the endpoint is reachable only from the VPC and
   * networks connected to it. Restrict it with `publicAccessCidrs`.
   */
  publicEndpoint?: boolean;
  /**
   * CIDR blocks allowed to reach the public endpoint, e.g. your office's and your CI runner's egress addresses.
   * Required with `publicEndpoint: true` (EKS would otherwise open it to `0.0.0.0/0`; give that explicitly to
   * mean it, and the policy pack's `trainkit-kubernetes-api-private` rule reports it). Only valid with
   * `publicEndpoint: true`.
   */
  publicAccessCidrs?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * A KMS key ARN for envelope encryption of Kubernetes secrets. Defaults to a new key with yearly rotation.
   */
  kmsKeyArn?: pulumi.Input<string>;
  /** Control plane log types sent to CloudWatch. Defaults to all five (`api`, `audit`, `authenticator`, `controllerManager`, `scheduler`). */
  logTypes?: ControlPlaneLogType[];
  /** Days to keep control plane logs. Defaults to 90. */
  logRetentionDays?: number;
  /**
   * Refuse to delete the cluster (`pulumi destroy` fails until this is set to false and applied).
   * Defaults to true.
   */
  deletionProtection?: pulumi.Input<boolean>;
  /** The system node group. Defaults to one `m6i.large` node, scaling to three. */
  systemNodeGroup?: SystemNodeGroupArgs;
  /**
   * GPU managed node groups. Each scales between `minNodes` (default 0) and `maxNodes`, runs the EKS
   * AL2023 NVIDIA AMI (drivers included), and carries the taint `nvidia.com/gpu=present:NoSchedule`; the
   * Cluster Autoscaler adds nodes for pending GPU pods. Defaults to none.
   */
  gpuPools?: AwsGpuPoolArgs[];
  /**
   * EKS's support policy for the cluster's Kubernetes version: `STANDARD` upgrades the control plane when
   * standard support ends; `EXTENDED` keeps the version for longer, at extra cost per hour. Defaults to
   * `STANDARD`, since EKS itself defaults to `EXTENDED`.
   */
  supportType?: SupportType;
  /**
   * Versions of the managed add-ons (`vpc-cni`, `kube-proxy`, `coredns`, `eks-pod-identity-agent`,
   * `aws-ebs-csi-driver`), by add-on name. Defaults to the version EKS picks for the cluster's Kubernetes version.
   */
  addonVersions?: Record<string, pulumi.Input<string>>;
  /**
   * The Cluster Autoscaler, which scales the node groups (GPU pools from zero) for pending pods, running on the
   * system nodes with its own least-privilege role through EKS Pod Identity. Defaults to on with the settings
   * of `ClusterAutoscalerArgs`; `enabled: false` leaves scaling to you (then GPU pods wait for nodes you add).
   */
  clusterAutoscaler?: ClusterAutoscalerArgs;
  /**
   * The NVIDIA device plugin (`trainkit/kubernetes`'s `GpuSupport`) on GPU nodes only, tolerating the GPU
   * taint, so pods can ask for `nvidia.com/gpu`. Defaults to on; false when you install it yourself (for
   * example with NVIDIA's GPU operator): `enabled: false`.
   */
  nvidiaDevicePlugin?: NvidiaDevicePluginArgs;
  /**
   * A `gp3` StorageClass (EBS CSI driver, encrypted, bound when the pod is scheduled) marked as the cluster's
   * default, so PersistentVolumeClaims without a class get a volume. Defaults to true.
   */
  defaultStorageClass?: boolean;
  /**
   * A KMS key ARN for the control plane's log group. Defaults to the key that encrypts Kubernetes secrets:
   * the new key, whose policy lets CloudWatch Logs use it for that log group only, or the given `kmsKeyArn`,
   * whose policy must then allow `logs.<region>.amazonaws.com` to use it.
   */
  logKmsKeyArn?: pulumi.Input<string>;
  /** ARN of an existing IAM role for the nodes. Defaults to a new role holding only what nodes need. */
  nodeRoleArn?: pulumi.Input<string>;
  /** Tags for the cluster, its node groups and its other resources. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/** Managed policies the cluster role holds: EKS's documented minimum. */
export const CLUSTER_ROLE_POLICIES = ["AmazonEKSClusterPolicy"] as const;
/**
 * Managed policies the node role holds: joining the cluster and pulling images. Pod networking's permissions
 * belong to the `vpc-cni` add-on's own role, not to every node.
 */
export const NODE_ROLE_POLICIES = [
  "AmazonEKSWorkerNodePolicy",
  "AmazonEC2ContainerRegistryPullOnly",
] as const;

/** The EKS add-ons every `GpuCluster` manages. */
export const EKS_ADDONS = [
  "vpc-cni",
  "kube-proxy",
  "eks-pod-identity-agent",
  "coredns",
  "aws-ebs-csi-driver",
] as const;
/** The name of one managed add-on, the key of `addonVersions` and of `GpuCluster.addons`. */
export type EksAddonName = (typeof EKS_ADDONS)[number];
/** The managed policy of the `vpc-cni` add-on's role (IRSA for its `aws-node` service account). */
export const VPC_CNI_POLICY = "AmazonEKS_CNI_Policy";
/** The managed policy of the EBS CSI driver's role (Pod Identity for `ebs-csi-controller-sa`). */
export const EBS_CSI_POLICY = "service-role/AmazonEBSCSIDriverPolicy";
/** The service account of the EBS CSI driver's controller, which its Pod Identity role is bound to. */
export const EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa";

/** The Helm chart (name, pinned version and repository) the Cluster Autoscaler is installed from. */
export const CLUSTER_AUTOSCALER_CHART = {
  /** The chart's name in its repository. */
  chart: "cluster-autoscaler",
  /** The pinned chart version. */
  version: "9.59.0",
  /** The Helm repository URL. */
  repo: "https://kubernetes.github.io/autoscaler",
} as const;
/** The namespace the Cluster Autoscaler runs in. */
export const CLUSTER_AUTOSCALER_NAMESPACE = "kube-system";
/** The Cluster Autoscaler's service account, which its Pod Identity role is bound to. */
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";
/** The read-only calls the Cluster Autoscaler makes to find node groups and instance shapes. */
export const CLUSTER_AUTOSCALER_READ_ACTIONS = [
  "autoscaling:DescribeAutoScalingGroups",
  "autoscaling:DescribeAutoScalingInstances",
  "autoscaling:DescribeLaunchConfigurations",
  "autoscaling:DescribeScalingActivities",
  "ec2:DescribeImages",
  "ec2:DescribeInstanceTypes",
  "ec2:DescribeLaunchTemplateVersions",
  "ec2:GetInstanceTypesFromInstanceRequirements",
] as const;
/** The two calls that change capacity, allowed only on this cluster's Auto Scaling groups. */
export const CLUSTER_AUTOSCALER_WRITE_ACTIONS = [
  "autoscaling:SetDesiredCapacity",
  "autoscaling:TerminateInstanceInAutoScalingGroup",
] as const;

/** The GPU instance types that support EFA, as the EKS EFA device plugin chart lists them. */
export const EFA_GPU_INSTANCE_TYPES = [
  "g4dn.8xlarge",
  "g4dn.12xlarge",
  "g4dn.16xlarge",
  "g4dn.metal",
  "g5.8xlarge",
  "g5.12xlarge",
  "g5.16xlarge",
  "g5.24xlarge",
  "g5.48xlarge",
  "g6.8xlarge",
  "g6.12xlarge",
  "g6.16xlarge",
  "g6.24xlarge",
  "g6.48xlarge",
  "g6e.8xlarge",
  "g6e.12xlarge",
  "g6e.16xlarge",
  "g6e.24xlarge",
  "g6e.48xlarge",
  "gr6.8xlarge",
  "p3dn.24xlarge",
  "p4d.24xlarge",
  "p4de.24xlarge",
  "p5.4xlarge",
  "p5.48xlarge",
  "p5e.48xlarge",
  "p5en.48xlarge",
  "p6-b200.48xlarge",
  "p6-b300.48xlarge",
  "p6e-gb200.36xlarge",
  "p6e-gb300.36xlarge",
] as const;

/** The EFA device plugin chart, which advertises `vpc.amazonaws.com/efa` on EFA nodes. */
export const EFA_DEVICE_PLUGIN_CHART = {
  /** The chart's name in its repository. */
  chart: "aws-efa-k8s-device-plugin",
  /** The pinned chart version. */
  version: "v0.5.30",
  /** The Helm repository URL. */
  repo: "https://aws.github.io/eks-charts",
} as const;

/** The node label the Cluster Autoscaler on AWS reads as "this node has GPUs", naming the GPU. */
export const CLUSTER_AUTOSCALER_GPU_LABEL = "k8s.amazonaws.com/accelerator";

/** The tag prefix the Cluster Autoscaler reads a node group's labels, taints and resources from at zero nodes. */
const NODE_TEMPLATE = "k8s.io/cluster-autoscaler/node-template";

/** The longest name EKS accepts for a cluster. */
const EKS_CLUSTER_NAME_MAX = 100;
/** Characters in the suffix of a cluster's name: lowercase letters and digits, about 2.2 billion choices. */
const CLUSTER_NAME_SUFFIX_LENGTH = 6;
/** The log group EKS sends a cluster's control plane logs to; `GpuCluster` creates it first to set its retention and key. */
const controlPlaneLogGroupName = (clusterName: string) => `/aws/eks/${clusterName}/cluster`;

/** The Auto Scaling group tag marking a group as this cluster's, which the autoscaler's writes are limited to. */
export const clusterOwnerTag = (clusterName: string) => `k8s.io/cluster-autoscaler/${clusterName}`;

/**
 * The Cluster Autoscaler's permissions: read calls on any resource (they take none narrower), EKS's node group
 * description for this cluster's node groups only, and changing capacity only of Auto Scaling groups tagged as
 * this cluster's.
 */
export function clusterAutoscalerPolicy(clusterArn: string): string {
  const { partition, region, account, resource } = arnParts(clusterArn);
  const clusterName = resource.replace(/^cluster\//, "");
  return policyDocument([
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
      Resource: `arn:${partition}:eks:${region}:${account}:nodegroup/${clusterName}/*/*`,
    },
    {
      Sid: "ScaleClusterNodeGroups",
      Effect: "Allow",
      Action: [...CLUSTER_AUTOSCALER_WRITE_ACTIONS],
      Resource: "*",
      Condition: { StringEquals: { [`aws:ResourceTag/${clusterOwnerTag(clusterName)}`]: "owned" } },
    },
  ]);
}

/**
 * The policy of the key this component creates: the account administers it through IAM (the default key
 * policy), and CloudWatch Logs in the region may use it for the control plane's log group and no other.
 */
export function clusterKeyPolicy(partition: string, region: string, account: string, logGroupName: string) {
  return policyDocument([
    {
      Sid: "AccountAdministersKey",
      Effect: "Allow",
      Principal: { AWS: `arn:${partition}:iam::${account}:root` },
      Action: "kms:*",
      Resource: "*",
    },
    {
      Sid: "ControlPlaneLogGroup",
      Effect: "Allow",
      Principal: { Service: `logs.${region}.amazonaws.com` },
      Action: ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
      Resource: "*",
      Condition: {
        ArnEquals: {
          "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${region}:${account}:log-group:${logGroupName}`,
        },
      },
    },
  ]);
}

/** The AMI type of the GPU node groups: Amazon Linux 2023 with the NVIDIA driver and container toolkit. */
export const GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA";
const SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD";

const managedPolicy = (partition: string, policy: string) => `arn:${partition}:iam::aws:policy/${policy}`;

/** A GPU pool with its AWS-only settings checked. */
interface AwsPool {
  instanceTypes: string[];
  capacityType: "ON_DEMAND" | "SPOT" | "CAPACITY_BLOCK";
  reservation?: AwsCapacityReservation;
  efaInterfaces: number;
}

function awsPoolSettings(owner: string, pool: AwsGpuPoolArgs, at: string, gpusPerNode: number): AwsPool {
  const spot = pool.spot ?? false;
  let instanceTypes: string[] = [];
  if (pool.instanceTypes !== undefined) {
    if (!spot) {
      throw new ArgumentError(
        `${owner}: ${at}.instanceTypes must be set only on spot pools, where more types mean more spot capacity; set ${at}.spot: true or give one ${at}.instanceType`,
      );
    }
    if (pool.instanceType !== undefined) {
      throw new ArgumentError(
        `${owner}: ${at}.instanceType and ${at}.instanceTypes must not both be set; list every type in ${at}.instanceTypes`,
      );
    }
    if (!Array.isArray(pool.instanceTypes) || pool.instanceTypes.length === 0) {
      throw new ArgumentError(
        `${owner}: ${at}.instanceTypes must list at least one instance type; got ${shown(pool.instanceTypes)}`,
      );
    }
    instanceTypes = pool.instanceTypes.map(
      (t, j) =>
        ec2InstanceFor(pool.gpu, gpusPerNode, t, {
          gpu: `${at}.gpu`,
          count: `${at}.gpusPerNode`,
          type: `${at}.instanceTypes[${j}]`,
        }).instanceType,
    );
  }
  const reservation = pool.capacityReservation;
  let capacityType: AwsPool["capacityType"] = spot ? "SPOT" : "ON_DEMAND";
  if (reservation !== undefined) {
    if (spot) {
      throw new ArgumentError(
        `${owner}: ${at}.capacityReservation must not be set on a spot pool, since reserved capacity is bought on-demand or as a Capacity Block; drop ${at}.spot or the reservation`,
      );
    }
    const given = [reservation.id, reservation.resourceGroupArn].filter((v) => v !== undefined).length;
    if (given !== 1) {
      throw new ArgumentError(
        `${owner}: ${at}.capacityReservation must set exactly one of id and resourceGroupArn; got ${given === 0 ? "neither" : "both"}`,
      );
    }
    if (reservation.capacityBlock) {
      if (reservation.id === undefined) {
        throw new ArgumentError(
          `${owner}: ${at}.capacityReservation.capacityBlock needs the Capacity Block's id (cr-...) in ${at}.capacityReservation.id, not a resource group`,
        );
      }
      capacityType = "CAPACITY_BLOCK";
    }
  }
  const efaInterfaces = wholeNumberArg(owner, `${at}.efaInterfaces`, pool.efaInterfaces, {
    least: 0,
    most: 32,
    fallback: 0,
  });
  if (efaInterfaces > 0) {
    const subnets = pool.subnetIds;
    if (subnets === undefined || (Array.isArray(subnets) && subnets.length !== 1)) {
      throw new ArgumentError(
        `${owner}: ${at}.subnetIds must be exactly one subnet when ${at}.efaInterfaces is set, since EFA nodes share a cluster placement group in one zone; got ${subnets === undefined ? "nothing" : `${(subnets as unknown[]).length} subnets`}`,
      );
    }
  }
  return { instanceTypes, capacityType, reservation, efaInterfaces };
}

/** The GpuCluster parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  addons: Record<EksAddonName, aws.eks.Addon>;
  ebsCsiIdentity: PodIdentity;
  clusterAutoscalerIdentity: PodIdentity | undefined;
  gpuSupport: GpuSupport | undefined;
  /** The `region` the cluster was given, which `podIdentity` passes on. */
  regionArg: pulumi.Input<string> | undefined;
  nameSuffix: NameSuffix;
}>();

/**
 * An EKS cluster for training: a private API endpoint, Kubernetes secrets and control plane logs encrypted with
 * KMS, standard support only, the managed add-ons (VPC CNI, kube-proxy, CoreDNS, Pod Identity agent, EBS CSI
 * driver) with their own roles, a default gp3 StorageClass, a small system node group, GPU node groups that the
 * Cluster Autoscaler scales from zero, the NVIDIA device plugin on GPU nodes, and IMDSv2 required on every node.
 */
export class GpuCluster extends pulumi.ComponentResource {
  /** The EKS cluster. */
  public readonly cluster: aws.eks.Cluster;
  /** The IAM role the EKS control plane assumes, holding `CLUSTER_ROLE_POLICIES` only. */
  public readonly clusterRole: aws.iam.Role;
  /** The IAM role of every node; undefined when `nodeRoleArn` names an existing role. */
  public readonly nodeRole?: aws.iam.Role;
  /** Every managed policy attachment of the cluster, node and `vpc-cni` roles. */
  public readonly rolePolicyAttachments: aws.iam.RolePolicyAttachment[];
  /** The key that encrypts Kubernetes secrets and the control plane logs, when this component created it. */
  public readonly kmsKey?: aws.kms.Key;
  /** The CloudWatch log group of the control plane logs, kept `logRetentionDays` days and encrypted with KMS. */
  public readonly logGroup: aws.cloudwatch.LogGroup;
  /** The IAM OIDC provider of the cluster's service account issuer, for IAM roles for service accounts. */
  public readonly oidcProvider: aws.iam.OpenIdConnectProvider;
  /** Every node group by name: `system` and one per GPU pool. */
  public readonly nodeGroups: Record<string, aws.eks.NodeGroup>;
  /** The launch template of each node group, by node group name. */
  public readonly launchTemplates: Record<string, aws.ec2.LaunchTemplate>;
  /** The EC2 instance shape chosen for each GPU pool, by pool name. */
  public readonly gpuInstances: Record<string, InstanceShape>;
  /** The managed add-ons by name. */
  get addons(): Record<EksAddonName, aws.eks.Addon> {
    return offSchema.get(this, "addons");
  }
  /** The `vpc-cni` add-on's role (IAM roles for service accounts, through the OIDC provider). */
  public readonly vpcCniRole: aws.iam.Role;
  /**
   * The random suffix of the cluster's name (its `suffix` output: 6 lowercase letters and digits), drawn when
   * the cluster is first created and kept in the stack's state, so every `pulumi up` keeps the name and the
   * first `pulumi up` after `pulumi destroy` draws a new one. Replacing it on purpose
   * (`pulumi up --replace <its URN>`) replaces the cluster under a new name.
   */
  get nameSuffix(): NameSuffix {
    return offSchema.get(this, "nameSuffix");
  }
  /** The EBS CSI driver's role, associated with its service account by the add-on. */
  get ebsCsiIdentity(): PodIdentity {
    return offSchema.get(this, "ebsCsiIdentity");
  }
  /** The Auto Scaling group tags the Cluster Autoscaler reads: ownership, and each GPU pool's labels, taint and GPUs. */
  public readonly autoscalingTags: aws.autoscaling.Tag[];
  /** The cluster placement group of each EFA pool, by pool name. */
  public readonly placementGroups: Record<string, aws.ec2.PlacementGroup>;
  /** The security group letting EFA nodes reach each other, when a pool uses EFA. */
  public readonly efaSecurityGroup?: aws.ec2.SecurityGroup;
  /** The Kubernetes provider for this cluster, through the kubeconfig below. */
  public readonly kubernetesProvider?: k8s.Provider;
  /** The Cluster Autoscaler's role and Pod Identity association; undefined when `clusterAutoscaler` is false. */
  get clusterAutoscalerIdentity(): PodIdentity | undefined {
    return offSchema.get(this, "clusterAutoscalerIdentity");
  }
  /** The Cluster Autoscaler's Helm release; undefined when `clusterAutoscaler` is false. */
  public readonly clusterAutoscaler?: k8s.helm.v3.Release;
  /** The default `gp3` StorageClass; undefined when `defaultStorageClass` is false. */
  public readonly storageClass?: k8s.storage.v1.StorageClass;
  /** The EFA device plugin, when a pool uses EFA. */
  public readonly efaDevicePlugin?: k8s.helm.v3.Release;
  /** The NVIDIA device plugin on the GPU nodes; undefined when `nvidiaDevicePlugin` is false. */
  get gpuSupport(): GpuSupport | undefined {
    return offSchema.get(this, "gpuSupport");
  }
  /** The EKS cluster's name, the `clusterName` of `PodIdentity` and of `aws eks update-kubeconfig`. */
  public readonly name: pulumi.Output<string>;
  /** The control plane's HTTPS address (private unless `publicEndpoint` is set). */
  public readonly endpoint: pulumi.Output<string>;
  /** ARN of the IAM OIDC provider, the federated principal of IAM roles for service accounts. */
  public readonly oidcProviderArn: pulumi.Output<string>;
  /** A kubeconfig that authenticates through `aws eks get-token`, usable by `@pulumi/kubernetes`. Secret. */
  public readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: GpuClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:GpuCluster", name, {}, opts);
    const owner = ownerOf(this, "GpuCluster", name);
    if (args?.subnetIds === undefined) {
      throw new ArgumentError(
        `${owner}: subnetIds must be set to at least two private subnets in different zones; got nothing`,
      );
    }
    const publicEndpoint = args.publicEndpoint ?? false;
    if (args.publicAccessCidrs !== undefined && !publicEndpoint) {
      throw new ArgumentError(
        `${owner}: publicAccessCidrs must not be set while publicEndpoint is false, since there is no public endpoint to restrict; set publicEndpoint: true as well or drop publicAccessCidrs`,
      );
    }
    // EKS would open a public endpoint to 0.0.0.0/0, which the policy pack reports; as on GKE, the networks
    // are asked for rather than left open by default.
    if (publicEndpoint && args.publicAccessCidrs === undefined) {
      throw new ArgumentError(
        `${owner}: publicAccessCidrs must list the networks that may reach the public endpoint, such as your ` +
          `office's and your CI runner's egress addresses (["203.0.113.0/24"]), when publicEndpoint is true; got ` +
          "nothing, which EKS would open to any address (0.0.0.0/0)",
      );
    }
    if (publicEndpoint) {
      pulumi.log.warn(
        `GpuCluster ${name} has a public control plane endpoint: it is reachable from the publicAccessCidrs, behind IAM authentication.`,
        this,
      );
    }
    const logTypes = args.logTypes ?? [...CONTROL_PLANE_LOG_TYPES];
    const unknownLog = logTypes.find((t) => !(CONTROL_PLANE_LOG_TYPES as readonly string[]).includes(t));
    if (unknownLog !== undefined) {
      throw new ArgumentError(
        `${owner}: logTypes must contain only ${oneOf(CONTROL_PLANE_LOG_TYPES)}; got ${shown(unknownLog)}`,
      );
    }
    const supportType = args.supportType ?? "STANDARD";
    if (supportType !== "STANDARD" && supportType !== "EXTENDED") {
      throw new ArgumentError(
        `${owner}: supportType must be STANDARD or EXTENDED; got ${shown(supportType)}`,
      );
    }
    const unknownAddon = Object.keys(args.addonVersions ?? {}).find(
      (a) => !(EKS_ADDONS as readonly string[]).includes(a),
    );
    if (unknownAddon !== undefined) {
      throw new ArgumentError(
        `${owner}: addonVersions must name only ${oneOf(EKS_ADDONS)}; got ${shown(unknownAddon)}`,
      );
    }
    const logRetentionDays = wholeNumberArg(owner, "logRetentionDays", args.logRetentionDays, {
      least: 1,
      fallback: 90,
      unit: "days",
    });
    const system = {
      instanceType: args.systemNodeGroup?.instanceType ?? "m6i.large",
      minNodes: wholeNumberArg(owner, "systemNodeGroup.minNodes", args.systemNodeGroup?.minNodes, {
        least: 0,
        fallback: 1,
      }),
      maxNodes: args.systemNodeGroup?.maxNodes ?? 3,
      diskSizeGb: args.systemNodeGroup?.diskSizeGb ?? 50,
    };
    if (!Number.isInteger(system.maxNodes) || system.maxNodes < Math.max(1, system.minNodes)) {
      throw new ArgumentError(
        `${owner}: systemNodeGroup.maxNodes must be a whole number of at least 1 and at least systemNodeGroup.minNodes (${system.minNodes}); got ${shown(system.maxNodes)}`,
      );
    }
    const zoned = (args.gpuPools ?? []).findIndex((p) => (p as GpuPoolArgs).zones !== undefined);
    if (zoned >= 0) {
      throw new ArgumentError(
        `${owner}: gpuPools[${zoned}].zones is not used on AWS, where node groups are placed by subnet; set gpuPools[${zoned}].subnetIds to private subnets in those zones instead`,
      );
    }
    const awsPools = new Map<string, AwsPool>();
    const pools = resolveGpuPools(
      args.gpuPools,
      (pool, fields, at) => {
        const shape = ec2InstanceFor(
          pool.gpu,
          pool.gpusPerNode,
          pool.instanceTypes?.[0] ?? pool.instanceType,
          {
            ...fields,
            ...(pool.instanceTypes ? { type: `${at}.instanceTypes[0]` } : {}),
          },
        );
        awsPools.set(at, awsPoolSettings(owner, pool, at, pool.gpusPerNode));
        return shape;
      },
      "gpuPools",
      "instanceType",
    );
    for (const [i, pool] of pools.entries()) {
      const settings = awsPools.get(`gpuPools[${i}]`)!;
      if (settings.efaInterfaces === 0) continue;
      const types = settings.instanceTypes.length > 0 ? settings.instanceTypes : [pool.shape.instanceType];
      const without = types.find((t) => !(EFA_GPU_INSTANCE_TYPES as readonly string[]).includes(t));
      if (without !== undefined) {
        throw new ArgumentError(
          `${owner}: gpuPools[${i}].efaInterfaces must be 0 for ${without}, which has no EFA; pick an EFA instance type (${oneOf(EFA_GPU_INSTANCE_TYPES.filter((t) => t.startsWith("p")))}) or drop efaInterfaces`,
        );
      }
    }
    if (pools.some((p) => p.name === "system")) {
      throw new ArgumentError(
        `${owner}: gpuPools names must not be "system", which names the system node group; rename the pool`,
      );
    }
    const tags = mergeLabels("gpu-cluster", args.tags);
    const parent = { parent: this };
    const region = args.region;
    // Off the schema: the analyzer makes even private fields outputs.
    offSchema.set(this, "regionArg", region);

    this.clusterRole = new aws.iam.Role(
      `${name}-cluster`,
      {
        description: `EKS control plane of ${name} (trainkit)`,
        assumeRolePolicy: serviceTrustPolicy("eks.amazonaws.com"),
        tags,
      },
      parent,
    );
    // EKS goes on delivering control plane logs for a while after a cluster is deleted, and re-creates its log
    // group to hold them, so a new cluster of the same name could not create its own group. Each creation of the
    // cluster therefore gets a name of its own: a random suffix kept in the stack's state, the same on every
    // `pulumi up` and drawn again after `pulumi destroy`.
    const nameSuffix = new NameSuffix(`${name}-name-suffix`, { length: CLUSTER_NAME_SUFFIX_LENGTH }, parent);
    offSchema.set(this, "nameSuffix", nameSuffix);
    const stem = boundedName(name, EKS_CLUSTER_NAME_MAX - 1 - CLUSTER_NAME_SUFFIX_LENGTH);
    const clusterName = pulumi.interpolate`${stem}-${nameSuffix.suffix}`;
    const logGroupName = clusterName.apply(controlPlaneLogGroupName);
    const attach = (role: aws.iam.Role, roleKey: string, policy: string) =>
      new aws.iam.RolePolicyAttachment(
        `${name}-${roleKey}-${policy.split("/").pop()}`,
        {
          role: role.name,
          // The partition (aws, aws-cn, aws-us-gov) is read off the role's own ARN rather than assumed.
          policyArn: role.arn.apply((arn) => managedPolicy(arnParts(arn).partition, policy)),
        },
        parent,
      );
    const clusterAttachments = CLUSTER_ROLE_POLICIES.map((p) => attach(this.clusterRole, "cluster", p));

    let keyArn: pulumi.Input<string>;
    if (args.kmsKeyArn === undefined) {
      const regionName = aws.getRegionOutput({ region }, parent).region;
      this.kmsKey = new aws.kms.Key(
        `${name}-secrets`,
        {
          region,
          description: pulumi.interpolate`Envelope encryption of Kubernetes secrets and control plane logs of EKS cluster ${clusterName} (trainkit)`,
          enableKeyRotation: true,
          deletionWindowInDays: 30,
          policy: pulumi
            .all([this.clusterRole.arn, regionName, logGroupName])
            .apply(([roleArn, r, group]) => {
              const { partition, account } = arnParts(roleArn);
              return clusterKeyPolicy(partition, r, account, group);
            }),
          tags,
        },
        parent,
      );
      keyArn = this.kmsKey.arn;
    } else {
      keyArn = args.kmsKeyArn;
    }

    // EKS would create this group itself with logs kept forever and unencrypted; creating it first sets both.
    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-control-plane`,
      {
        region,
        name: logGroupName,
        retentionInDays: logRetentionDays,
        kmsKeyId: args.logKmsKeyArn ?? keyArn,
        tags,
      },
      parent,
    );

    this.cluster = new aws.eks.Cluster(
      name,
      {
        region,
        name: clusterName,
        version: args.version,
        roleArn: this.clusterRole.arn,
        vpcConfig: {
          subnetIds: args.subnetIds,
          endpointPrivateAccess: true,
          endpointPublicAccess: publicEndpoint,
          publicAccessCidrs: publicEndpoint ? args.publicAccessCidrs : undefined,
        },
        encryptionConfig: { provider: { keyArn }, resources: ["secrets"] },
        enabledClusterLogTypes: logTypes,
        // Access entries instead of the aws-auth ConfigMap; whoever runs `pulumi up` starts as cluster admin.
        accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
        upgradePolicy: { supportType },
        deletionProtection: args.deletionProtection ?? true,
        tags,
      },
      // A replacement (for an input EKS cannot change in place, such as the cluster role) keeps the suffix, so
      // the name, and the log group named after it, which stays in the state; EKS holds one cluster per name,
      // so deleting the old cluster first is what lets the new one take it.
      { ...parent, dependsOn: [...clusterAttachments, this.logGroup], deleteBeforeReplace: true },
    );

    this.oidcProvider = new aws.iam.OpenIdConnectProvider(
      `${name}-oidc`,
      {
        url: this.cluster.identities.apply((ids) => ids[0]?.oidcs?.[0]?.issuer ?? ""),
        clientIdLists: ["sts.amazonaws.com"],
        tags,
      },
      parent,
    );

    const addonVersions = args.addonVersions ?? {};
    const addon = (
      addonName: EksAddonName,
      extra: Partial<aws.eks.AddonArgs>,
      dependsOn: pulumi.Resource[],
    ) =>
      new aws.eks.Addon(
        `${name}-${addonName}`,
        {
          region,
          clusterName: this.cluster.name,
          addonName,
          addonVersion: addonVersions[addonName],
          // EKS installs vpc-cni, kube-proxy and coredns itself; the managed add-on takes them over.
          resolveConflictsOnCreate: "OVERWRITE",
          resolveConflictsOnUpdate: "PRESERVE",
          tags,
          ...extra,
        },
        { ...parent, dependsOn },
      );

    // Pods networking runs before any pod identity agent can, so vpc-cni gets its role through the OIDC provider.
    this.vpcCniRole = new aws.iam.Role(
      `${name}-vpc-cni`,
      {
        description: pulumi.interpolate`The vpc-cni add-on (aws-node) of EKS cluster ${clusterName} (trainkit)`,
        assumeRolePolicy: this.oidcProvider.arn.apply((arn) =>
          serviceAccountTrustPolicy(arn, "kube-system", "aws-node"),
        ),
        tags,
      },
      parent,
    );
    const vpcCniAttachment = attach(this.vpcCniRole, "vpc-cni", VPC_CNI_POLICY);
    const early = {
      "vpc-cni": addon("vpc-cni", { serviceAccountRoleArn: this.vpcCniRole.arn }, [vpcCniAttachment]),
      "kube-proxy": addon("kube-proxy", {}, []),
      "eks-pod-identity-agent": addon("eks-pod-identity-agent", {}, []),
    };

    let nodeRoleArn: pulumi.Input<string>;
    const nodeAttachments: aws.iam.RolePolicyAttachment[] = [];
    if (args.nodeRoleArn === undefined) {
      this.nodeRole = new aws.iam.Role(
        `${name}-nodes`,
        {
          description: `EKS nodes of ${name} (trainkit)`,
          assumeRolePolicy: serviceTrustPolicy("ec2.amazonaws.com"),
          tags,
        },
        parent,
      );
      nodeAttachments.push(...NODE_ROLE_POLICIES.map((p) => attach(this.nodeRole!, "nodes", p)));
      nodeRoleArn = this.nodeRole.arn;
    } else {
      nodeRoleArn = args.nodeRoleArn;
    }
    this.rolePolicyAttachments = [...clusterAttachments, ...nodeAttachments, vpcCniAttachment];

    this.placementGroups = {};
    if ([...awsPools.values()].some((p) => p.efaInterfaces > 0)) {
      const vpcId = this.cluster.vpcConfig.apply((v) => v.vpcId ?? "");
      this.efaSecurityGroup = new aws.ec2.SecurityGroup(
        `${name}-efa`,
        {
          region,
          vpcId,
          description: pulumi.interpolate`EFA traffic between GPU nodes of EKS cluster ${clusterName} (trainkit)`,
          tags,
        },
        parent,
      );
      // EFA needs every protocol and port open between the nodes, and nothing more.
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-efa-in`,
        {
          region,
          securityGroupId: this.efaSecurityGroup.id,
          referencedSecurityGroupId: this.efaSecurityGroup.id,
          ipProtocol: "-1",
          tags,
        },
        parent,
      );
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-efa-out`,
        {
          region,
          securityGroupId: this.efaSecurityGroup.id,
          referencedSecurityGroupId: this.efaSecurityGroup.id,
          ipProtocol: "-1",
          tags,
        },
        parent,
      );
    }

    this.launchTemplates = {};
    const launchTemplate = (
      group: string,
      diskSizeGb: pulumi.Input<number>,
      extra: Partial<aws.ec2.LaunchTemplateArgs> = {},
    ) => {
      const template = new aws.ec2.LaunchTemplate(
        `${name}-${group}`,
        {
          region,
          description: pulumi.interpolate`Nodes of ${group} in EKS cluster ${clusterName} (trainkit)`,
          metadataOptions: {
            httpEndpoint: "enabled",
            httpTokens: "required",
            // One hop keeps pods off the node's credentials: they get their own through Pod Identity or IRSA.
            httpPutResponseHopLimit: 1,
          },
          blockDeviceMappings: [
            {
              deviceName: "/dev/xvda",
              ebs: {
                volumeSize: diskSizeGb,
                volumeType: "gp3",
                encrypted: "true",
                deleteOnTermination: "true",
              },
            },
          ],
          tagSpecifications: [
            { resourceType: "instance", tags },
            { resourceType: "volume", tags },
          ],
          tags,
          ...extra,
        },
        parent,
      );
      this.launchTemplates[group] = template;
      return { id: template.id, version: pulumi.interpolate`${template.latestVersion}` };
    };

    const groupBase = {
      region,
      clusterName: this.cluster.name,
      nodeRoleArn,
      updateConfig: { maxUnavailable: 1 },
      tags,
    };
    const earlyAddons = Object.values(early);
    const groupOpts = {
      ...parent,
      // Nodes join only once pod networking has its role, and the pod identity agent is there for add-ons.
      dependsOn: [...nodeAttachments, ...earlyAddons],
      // The cluster autoscaler moves the desired size; a later `pulumi up` must not put it back.
      ignoreChanges: ["scalingConfig.desiredSize"],
    };
    const systemGroup = new aws.eks.NodeGroup(
      `${name}-system`,
      {
        ...groupBase,
        subnetIds: args.subnetIds,
        amiType: SYSTEM_AMI_TYPE,
        capacityType: "ON_DEMAND",
        instanceTypes: [system.instanceType],
        scalingConfig: {
          minSize: system.minNodes,
          maxSize: system.maxNodes,
          desiredSize: Math.max(1, system.minNodes),
        },
        launchTemplate: launchTemplate("system", system.diskSizeGb),
        labels: { [GPU_NODE_LABELS.pool]: "system" },
      },
      groupOpts,
    );
    this.nodeGroups = { system: systemGroup };
    this.gpuInstances = {};
    this.autoscalingTags = [];
    const asgTag = (
      group: string,
      nodeGroup: aws.eks.NodeGroup,
      key: pulumi.Input<string>,
      value: pulumi.Input<string>,
      resourceName: string,
    ) => {
      this.autoscalingTags.push(
        new aws.autoscaling.Tag(
          `${name}-${group}-${resourceName}`,
          {
            region,
            autoscalingGroupName: nodeGroup.resources.apply((r) => r[0]?.autoscalingGroups?.[0]?.name ?? ""),
            // Hints for the autoscaler about the group, not tags for the instances it launches.
            tag: { key, value, propagateAtLaunch: false },
          },
          parent,
        ),
      );
    };
    const templateTag = (group: string, nodeGroup: aws.eks.NodeGroup, key: string, value: string) =>
      asgTag(
        group,
        nodeGroup,
        key,
        value,
        key.replace(`${NODE_TEMPLATE}/`, "").replace(/[^a-zA-Z0-9-]+/g, "-"),
      );
    // EKS tags a managed node group's Auto Scaling group the same way; tagging it here as well is what the
    // autoscaler's write permission is conditioned on, so that condition does not rest on EKS's habit.
    const ownership = (group: string, nodeGroup: aws.eks.NodeGroup) => {
      asgTag(group, nodeGroup, "k8s.io/cluster-autoscaler/enabled", "true", "autoscaler-enabled");
      asgTag(group, nodeGroup, clusterName.apply(clusterOwnerTag), "owned", "autoscaler-owner");
    };
    ownership("system", systemGroup);
    for (const [i, pool] of pools.entries()) {
      const given = args.gpuPools?.[i];
      const settings = awsPools.get(`gpuPools[${i}]`)!;
      this.gpuInstances[pool.name] = pool.shape;
      // Labelled at join, so the autoscaler counts the node as a GPU node before the device plugin reports in.
      const labels: Record<string, string> = { ...pool.labels, [CLUSTER_AUTOSCALER_GPU_LABEL]: pool.gpu };
      const extra: Partial<aws.ec2.LaunchTemplateArgs> = {};
      const reservation = settings.reservation;
      if (reservation) {
        labels[GPU_NODE_LABELS.capacity] = reservation.capacityBlock ? "capacity-block" : "reservation";
        extra.capacityReservationSpecification = {
          capacityReservationTarget: reservation.id
            ? { capacityReservationId: reservation.id }
            : { capacityReservationResourceGroupArn: reservation.resourceGroupArn },
        };
        if (reservation.capacityBlock) extra.instanceMarketOptions = { marketType: "capacity-block" };
      }
      if (settings.efaInterfaces > 0) {
        const placementGroup = new aws.ec2.PlacementGroup(
          `${name}-${pool.name}`,
          { region, strategy: "cluster", tags },
          parent,
        );
        this.placementGroups[pool.name] = placementGroup;
        extra.placement = { groupName: placementGroup.name };
        // With interfaces in the template EKS adds no security group, so the cluster's goes on each one.
        const groups = [
          this.cluster.vpcConfig.apply((v) => v.clusterSecurityGroupId ?? ""),
          this.efaSecurityGroup!.id,
        ];
        extra.networkInterfaces = Array.from({ length: settings.efaInterfaces }, (_, card) => ({
          networkCardIndex: card,
          deviceIndex: card === 0 ? 0 : 1,
          interfaceType: "efa",
          deleteOnTermination: "true",
          securityGroups: groups,
        }));
      }
      const nodeGroup = new aws.eks.NodeGroup(
        `${name}-${pool.name}`,
        {
          ...groupBase,
          subnetIds: given?.subnetIds ?? args.subnetIds,
          amiType: GPU_AMI_TYPE,
          capacityType: settings.capacityType,
          instanceTypes:
            settings.instanceTypes.length > 0 ? settings.instanceTypes : [pool.shape.instanceType],
          // Nodes start at the minimum (zero by default) and the autoscaler adds them for pending GPU pods.
          scalingConfig: { minSize: pool.minNodes, maxSize: pool.maxNodes, desiredSize: pool.minNodes },
          launchTemplate: launchTemplate(pool.name, pool.diskSizeGb, extra),
          taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: "NO_SCHEDULE" }],
          labels,
        },
        groupOpts,
      );
      this.nodeGroups[pool.name] = nodeGroup;
      // At zero nodes the autoscaler knows a group only from these tags: what it would carry, where, and how.
      ownership(pool.name, nodeGroup);
      templateTag(
        pool.name,
        nodeGroup,
        `${NODE_TEMPLATE}/resources/${GPU_RESOURCE}`,
        String(pool.gpusPerNode),
      );
      if (settings.efaInterfaces > 0) {
        templateTag(
          pool.name,
          nodeGroup,
          `${NODE_TEMPLATE}/resources/vpc.amazonaws.com/efa`,
          String(settings.efaInterfaces),
        );
      }
      templateTag(
        pool.name,
        nodeGroup,
        `${NODE_TEMPLATE}/taint/${GPU_TAINT.key}`,
        `${GPU_TAINT.value}:${GPU_TAINT.effect}`,
      );
      for (const [key, value] of Object.entries(labels)) {
        templateTag(pool.name, nodeGroup, `${NODE_TEMPLATE}/label/${key}`, value);
      }
    }

    // CoreDNS and the EBS CSI controller are Deployments: they need a node to become active.
    offSchema.set(
      this,
      "ebsCsiIdentity",
      new PodIdentity(
        `${name}-ebs-csi`,
        {
          clusterName: this.cluster.name,
          namespace: "kube-system",
          serviceAccount: EBS_CSI_SERVICE_ACCOUNT,
          managedPolicyArns: [
            this.clusterRole.arn.apply((arn) => managedPolicy(arnParts(arn).partition, EBS_CSI_POLICY)),
          ],
          // The add-on makes and owns the association.
          associate: false,
          region,
          tags,
        },
        parent,
      ),
    );
    offSchema.set(this, "addons", {
      ...early,
      coredns: addon("coredns", {}, [systemGroup]),
      "aws-ebs-csi-driver": addon(
        "aws-ebs-csi-driver",
        {
          podIdentityAssociations: [
            { roleArn: this.ebsCsiIdentity.roleArn, serviceAccount: EBS_CSI_SERVICE_ACCOUNT },
          ],
        },
        [systemGroup, early["eks-pod-identity-agent"], ...this.ebsCsiIdentity.rolePolicyAttachments],
      ),
    });

    this.name = this.cluster.name;
    this.endpoint = this.cluster.endpoint;
    this.oidcProviderArn = this.oidcProvider.arn;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.cluster.arn, this.cluster.name, this.cluster.endpoint, this.cluster.certificateAuthority])
        .apply(([arn, eksName, endpoint, ca]) => eksKubeconfig(arn, eksName, endpoint, ca.data ?? "")),
    );

    // `false` is what these took before they became objects; JavaScript callers may still pass it.
    const autoscalerArg = args.clusterAutoscaler as ClusterAutoscalerArgs | false | undefined;
    const pluginArg = args.nvidiaDevicePlugin as NvidiaDevicePluginArgs | false | undefined;
    const autoscaler =
      autoscalerArg === false || autoscalerArg?.enabled === false ? false : (autoscalerArg ?? {});
    const devicePlugin = pluginArg === false || pluginArg?.enabled === false ? false : (pluginArg ?? {});
    const storageClass = args.defaultStorageClass ?? true;
    const efa = [...awsPools.values()].some((p) => p.efaInterfaces > 0);
    if (autoscaler !== false || devicePlugin !== false || storageClass || efa) {
      this.kubernetesProvider = new k8s.Provider(
        `${name}-k8s`,
        { kubeconfig: this.kubeconfig },
        { ...parent, dependsOn: [systemGroup] },
      );
      const inCluster = { parent: this, provider: this.kubernetesProvider };
      if (autoscaler !== false) {
        // The autoscaler is released per Kubernetes minor version; a pinned cluster version picks its match.
        const pinned = typeof args.version === "string" ? /^1\.(\d+)$/.exec(args.version) : null;
        const imageTag = autoscaler.imageTag ?? (pinned ? `v1.${pinned[1]}.0` : undefined);
        const autoscalerIdentity = new PodIdentity(
          `${name}-autoscaler`,
          {
            clusterName: this.cluster.name,
            namespace: CLUSTER_AUTOSCALER_NAMESPACE,
            serviceAccount: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT,
            statements: this.cluster.arn.apply((arn) =>
              identityStatements(JSON.parse(clusterAutoscalerPolicy(arn)).Statement as PolicyStatement[]),
            ),
            region,
            tags,
          },
          { ...parent, dependsOn: [early["eks-pod-identity-agent"]] },
        );
        offSchema.set(this, "clusterAutoscalerIdentity", autoscalerIdentity);
        this.clusterAutoscaler = new k8s.helm.v3.Release(
          `${name}-autoscaler`,
          {
            chart: CLUSTER_AUTOSCALER_CHART.chart,
            version: autoscaler.chartVersion ?? CLUSTER_AUTOSCALER_CHART.version,
            repositoryOpts: { repo: CLUSTER_AUTOSCALER_CHART.repo },
            namespace: CLUSTER_AUTOSCALER_NAMESPACE,
            values: {
              cloudProvider: "aws",
              awsRegion: this.cluster.arn.apply((arn) => arnParts(arn).region),
              autoDiscovery: { clusterName: this.cluster.name },
              fullnameOverride: "cluster-autoscaler",
              rbac: { serviceAccount: { create: true, name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT } },
              nodeSelector: { [GPU_NODE_LABELS.pool]: "system" },
              extraArgs: {
                // Fill the cheapest fit first, and spread a scale-up over pools that are the same in all but zone.
                expander: "least-waste",
                "balance-similar-node-groups": true,
              },
              ...(imageTag !== undefined ? { image: { tag: imageTag } } : {}),
            },
          },
          { ...inCluster, dependsOn: [autoscalerIdentity, ...this.autoscalingTags] },
        );
      }
      if (storageClass) {
        this.storageClass = new k8s.storage.v1.StorageClass(
          `${name}-gp3`,
          {
            metadata: {
              name: "gp3",
              annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
            },
            provisioner: "ebs.csi.aws.com",
            // The volume is made in the zone the pod lands in, not wherever the claim happened first.
            volumeBindingMode: "WaitForFirstConsumer",
            allowVolumeExpansion: true,
            reclaimPolicy: "Delete",
            parameters: { type: "gp3", encrypted: "true" },
          },
          { ...inCluster, dependsOn: [this.addons["aws-ebs-csi-driver"]] },
        );
      }
      if (efa) {
        // Without it no pod can ask for the EFA interfaces; it runs only on the EFA instance types it lists.
        this.efaDevicePlugin = new k8s.helm.v3.Release(
          `${name}-efa`,
          {
            chart: EFA_DEVICE_PLUGIN_CHART.chart,
            version: EFA_DEVICE_PLUGIN_CHART.version,
            repositoryOpts: { repo: EFA_DEVICE_PLUGIN_CHART.repo },
            namespace: "kube-system",
            values: { tolerations: [{ key: GPU_TAINT.key, operator: "Exists", effect: GPU_TAINT.effect }] },
          },
          inCluster,
        );
      }
      if (devicePlugin !== false) {
        offSchema.set(
          this,
          "gpuSupport",
          new GpuSupport(
            `${name}-gpu`,
            {
              installer: "nvidia-device-plugin",
              ...(devicePlugin.image !== undefined ? { devicePluginImage: devicePlugin.image } : {}),
            },
            { parent: this, providers: { kubernetes: this.kubernetesProvider } },
          ),
        );
      }
    }

    this.registerOutputs({
      name: this.name,
      endpoint: this.endpoint,
      oidcProviderArn: this.oidcProviderArn,
      kubeconfig: this.kubeconfig,
    });
  }

  /**
   * AWS permissions for the pods of one service account on this cluster, through EKS Pod Identity: a role only
   * that namespace and service account may assume, holding `statements` and `managedPolicyArns`.
   */
  podIdentity(
    name: string,
    args: Omit<PodIdentityArgs, "clusterName" | "region">,
    opts?: pulumi.ComponentResourceOptions,
  ): PodIdentity {
    return new PodIdentity(
      name,
      { ...args, clusterName: this.name, region: offSchema.get(this, "regionArg") },
      { parent: this, dependsOn: [this.addons["eks-pod-identity-agent"]], ...opts },
    );
  }
}

/**
 * A kubeconfig for an EKS cluster whose user runs `aws eks get-token` (the AWS CLI) for a fresh token on each
 * use, named by the cluster's ARN as `aws eks update-kubeconfig` names it.
 */
export function eksKubeconfig(clusterArn: string, clusterName: string, endpoint: string, caData: string) {
  const { region } = arnParts(clusterArn);
  return execKubeconfig(clusterArn, endpoint, caData, {
    command: "aws",
    args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"],
    installHint:
      "Install the AWS CLI v2 and sign in (aws configure or aws sso login): see https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html",
  });
}
