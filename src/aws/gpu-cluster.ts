import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import { GPU_NODE_LABELS, GPU_TAINT, type GpuPoolArgs, resolveGpuPools } from "../components/gpu-pool";
import { execKubeconfig } from "../components/kubeconfig";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { ownerOf } from "../components/owners";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { ec2InstanceFor, type InstanceShape } from "../gpu";
import { arnParts, serviceTrustPolicy, type Tags } from "./settings";

/** A GPU managed node group on EKS: the cross-cloud pool description plus AWS's instance type and subnets. */
export interface AwsGpuPoolArgs extends Omit<GpuPoolArgs, "zones"> {
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
  /** Not used on AWS: node groups are placed by subnet. Set `subnetIds` to subnets in the zones you want. */
  zones?: never;
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

export const CONTROL_PLANE_LOG_TYPES = [
  "api",
  "audit",
  "authenticator",
  "controllerManager",
  "scheduler",
] as const;

export interface GpuClusterArgs {
  /**
   * Private subnets (at least two, in different zones) for the control plane's network interfaces and the
   * nodes. Nodes get no public IP; the subnets need a NAT gateway or VPC endpoints for ECR, S3 and STS.
   * Required: this component creates no VPC.
   */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The region of the cluster. Defaults to the provider's region. */
  region?: pulumi.Input<string>;
  /** The Kubernetes version (`1.33`). Defaults to the version EKS currently defaults to. */
  version?: pulumi.Input<string>;
  /**
   * Also expose the control plane endpoint on the internet (always with authentication), so `kubectl` and
   * `pulumi up` work from outside the VPC. Defaults to false: the endpoint is reachable only from the VPC and
   * networks connected to it. Restrict it with `publicAccessCidrs`.
   */
  publicEndpoint?: boolean;
  /**
   * CIDR blocks allowed to reach the public endpoint. Defaults to EKS's `0.0.0.0/0` when `publicEndpoint` is
   * on. Only valid with `publicEndpoint: true`.
   */
  publicAccessCidrs?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * A KMS key ARN for envelope encryption of Kubernetes secrets. Defaults to a new key with yearly rotation.
   */
  kmsKeyArn?: pulumi.Input<string>;
  /** Control plane log types sent to CloudWatch. Defaults to all five (`api`, `audit`, `authenticator`, `controllerManager`, `scheduler`). */
  logTypes?: (typeof CONTROL_PLANE_LOG_TYPES)[number][];
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
   * AL2023 NVIDIA AMI (drivers included; the NVIDIA device plugin is installed on the cluster, e.g. by
   * `trainkit/kubernetes`), and carries the taint `nvidia.com/gpu=present:NoSchedule`. Defaults to none.
   */
  gpuPools?: AwsGpuPoolArgs[];
  /** ARN of an existing IAM role for the nodes. Defaults to a new role holding only what nodes need. */
  nodeRoleArn?: pulumi.Input<string>;
  /** Tags for the cluster, its node groups and its other resources. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/** Managed policies the cluster role holds: EKS's documented minimum. */
export const CLUSTER_ROLE_POLICIES = ["AmazonEKSClusterPolicy"] as const;
/** Managed policies the node role holds: joining the cluster, pod networking, and pulling images. */
export const NODE_ROLE_POLICIES = [
  "AmazonEKSWorkerNodePolicy",
  "AmazonEKS_CNI_Policy",
  "AmazonEC2ContainerRegistryPullOnly",
] as const;

/** The AMI type of the GPU node groups: Amazon Linux 2023 with the NVIDIA driver and container toolkit. */
export const GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA";
const SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD";

const managedPolicy = (partition: string, policy: string) => `arn:${partition}:iam::aws:policy/${policy}`;

/**
 * An EKS cluster for training: a private API endpoint, Kubernetes secrets encrypted with KMS, control plane
 * logs, an OIDC provider for IAM roles for service accounts, a small system node group, and GPU node groups
 * that scale to zero, with IMDSv2 required on every node.
 */
export class GpuCluster extends pulumi.ComponentResource {
  public readonly cluster: aws.eks.Cluster;
  public readonly clusterRole: aws.iam.Role;
  public readonly nodeRole?: aws.iam.Role;
  /** Every managed policy attachment of the cluster and node roles. */
  public readonly rolePolicyAttachments: aws.iam.RolePolicyAttachment[];
  /** The key that encrypts Kubernetes secrets, when this component created it. */
  public readonly kmsKey?: aws.kms.Key;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly oidcProvider: aws.iam.OpenIdConnectProvider;
  /** Every node group by name: `system` and one per GPU pool. */
  public readonly nodeGroups: Record<string, aws.eks.NodeGroup>;
  /** The launch template of each node group, by node group name. */
  public readonly launchTemplates: Record<string, aws.ec2.LaunchTemplate>;
  /** The EC2 instance shape chosen for each GPU pool, by pool name. */
  public readonly gpuInstances: Record<string, InstanceShape>;
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
    if (publicEndpoint) {
      pulumi.log.warn(
        `GpuCluster ${name} has a public control plane endpoint: it is reachable from ${
          args.publicAccessCidrs === undefined ? "any address" : "the publicAccessCidrs"
        }, behind IAM authentication.`,
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
    const pools = resolveGpuPools(
      args.gpuPools,
      (pool, fields) => ec2InstanceFor(pool.gpu, pool.gpusPerNode, pool.instanceType, fields),
      "gpuPools",
      "instanceType",
    );
    if (pools.some((p) => p.name === "system")) {
      throw new ArgumentError(
        `${owner}: gpuPools names must not be "system", which names the system node group; rename the pool`,
      );
    }
    const tags = mergeLabels("gpu-cluster", args.tags);
    const parent = { parent: this };
    const region = args.region;
    const clusterName = boundedName(name, 100);

    this.clusterRole = new aws.iam.Role(
      `${name}-cluster`,
      {
        description: `EKS control plane of ${name} (trainkit)`,
        assumeRolePolicy: serviceTrustPolicy("eks.amazonaws.com"),
        tags,
      },
      parent,
    );
    const attach = (role: aws.iam.Role, roleKey: string, policy: string) =>
      new aws.iam.RolePolicyAttachment(
        `${name}-${roleKey}-${policy}`,
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
      this.kmsKey = new aws.kms.Key(
        `${name}-secrets`,
        {
          region,
          description: `Envelope encryption of Kubernetes secrets in EKS cluster ${clusterName} (trainkit)`,
          enableKeyRotation: true,
          deletionWindowInDays: 30,
          tags,
        },
        parent,
      );
      keyArn = this.kmsKey.arn;
    } else {
      keyArn = args.kmsKeyArn;
    }

    // EKS would create this group itself with logs kept forever; creating it first sets the retention.
    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-control-plane`,
      { region, name: `/aws/eks/${clusterName}/cluster`, retentionInDays: logRetentionDays, tags },
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
        deletionProtection: args.deletionProtection ?? true,
        tags,
      },
      // The name is fixed (the log group is named after it), so a replacement must delete the old cluster first.
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
    this.rolePolicyAttachments = [...clusterAttachments, ...nodeAttachments];

    this.launchTemplates = {};
    const launchTemplate = (group: string, diskSizeGb: pulumi.Input<number>) => {
      const template = new aws.ec2.LaunchTemplate(
        `${name}-${group}`,
        {
          region,
          description: `Nodes of ${group} in EKS cluster ${clusterName} (trainkit)`,
          metadataOptions: {
            httpEndpoint: "enabled",
            httpTokens: "required",
            // One hop keeps pods off the node's credentials: they get their own through the OIDC provider.
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
    const groupOpts = {
      ...parent,
      dependsOn: nodeAttachments,
      // The cluster autoscaler moves the desired size; a later `pulumi up` must not put it back.
      ignoreChanges: ["scalingConfig.desiredSize"],
    };
    this.nodeGroups = {
      system: new aws.eks.NodeGroup(
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
      ),
    };
    this.gpuInstances = {};
    for (const [i, pool] of pools.entries()) {
      const given = args.gpuPools?.[i];
      this.gpuInstances[pool.name] = pool.shape;
      this.nodeGroups[pool.name] = new aws.eks.NodeGroup(
        `${name}-${pool.name}`,
        {
          ...groupBase,
          subnetIds: given?.subnetIds ?? args.subnetIds,
          amiType: GPU_AMI_TYPE,
          capacityType: pool.spot ? "SPOT" : "ON_DEMAND",
          instanceTypes: [pool.shape.instanceType],
          // Nodes start at the minimum (zero by default) and the autoscaler adds them for pending GPU pods.
          scalingConfig: { minSize: pool.minNodes, maxSize: pool.maxNodes, desiredSize: pool.minNodes },
          launchTemplate: launchTemplate(pool.name, pool.diskSizeGb),
          taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: "NO_SCHEDULE" }],
          labels: pool.labels,
        },
        groupOpts,
      );
    }

    this.name = this.cluster.name;
    this.endpoint = this.cluster.endpoint;
    this.oidcProviderArn = this.oidcProvider.arn;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([this.cluster.arn, this.cluster.name, this.cluster.endpoint, this.cluster.certificateAuthority])
        .apply(([arn, eksName, endpoint, ca]) => eksKubeconfig(arn, eksName, endpoint, ca.data ?? "")),
    );

    this.registerOutputs({
      name: this.name,
      endpoint: this.endpoint,
      oidcProviderArn: this.oidcProviderArn,
      kubeconfig: this.kubeconfig,
    });
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
