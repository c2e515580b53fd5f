import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { GPU_NODE_LABELS, GPU_TAINT, type GpuPoolArgs, resolveGpuPools } from "../components/gpu-pool";
import { execKubeconfig } from "../components/kubeconfig";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { type GcpMachine, gcpMachineFor } from "../gpu";
import { gcpSetting, serviceAccountMember } from "./settings";

/** A GPU node pool on GKE: the cross-cloud pool description plus GCP's machine type override. */
export interface GcpGpuPoolArgs extends GpuPoolArgs {
  /**
   * The GCE machine type, when the default for the GPU and count does not suit (for example `g2-standard-16`
   * for one L4 with more CPU, or `a3-megagpu-8g` for eight H100s with faster networking). Defaults to the
   * catalogue's machine type for `gpu` and `gpusPerNode`. Must carry exactly `gpusPerNode` of `gpu`.
   */
  machineType?: string;
}

/** The small pool that runs cluster add-ons and the non-GPU pods, so GPU nodes can scale to zero. */
export interface SystemPoolArgs {
  /** Machine type of the system nodes. Defaults to `e2-standard-4`. */
  machineType?: pulumi.Input<string>;
  /** Fewest nodes per zone. Defaults to 1, since the add-ons must run somewhere. */
  minNodes?: number;
  /** Most nodes per zone. Defaults to 3. */
  maxNodes?: number;
}

export const RELEASE_CHANNELS = ["RAPID", "REGULAR", "STABLE", "EXTENDED"] as const;

export interface GpuClusterArgs {
  /** The GCP project. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /**
   * Where the cluster lives: a region (`us-central1`) for a regional control plane and nodes in three zones,
   * or a zone (`us-central1-a`) for a cheaper zonal cluster. Defaults to the stack's `gcp:region` config.
   */
  location?: pulumi.Input<string>;
  /** The VPC network. Defaults to the project's `default` network. */
  network?: pulumi.Input<string>;
  /**
   * The subnetwork for nodes. It should have Private Google Access on, since nodes have no public IP and
   * pull images from Artifact Registry over it. Defaults to the network's subnetwork in the region.
   */
  subnetwork?: pulumi.Input<string>;
  /** Name of the subnetwork's secondary range for pods. Defaults to a range GKE creates. Set with `servicesRangeName`. */
  podsRangeName?: pulumi.Input<string>;
  /** Name of the subnetwork's secondary range for services. Defaults to a range GKE creates. Set with `podsRangeName`. */
  servicesRangeName?: pulumi.Input<string>;
  /**
   * Make the control plane reachable only from inside the VPC. Nodes are private either way. Defaults to false,
   * so `pulumi up` and `kubectl` work from outside; then restrict `authorizedNetworks`.
   */
  privateEndpoint?: boolean;
  /**
   * The /28 range for the control plane of a VPC-peered private cluster. Defaults to none, which gives the
   * Private Service Connect control plane of current GKE versions.
   */
  masterIpv4CidrBlock?: pulumi.Input<string>;
  /**
   * CIDR blocks allowed to reach the control plane endpoint. Defaults to none, which leaves the endpoint open
   * to any address that holds Google credentials with access to the cluster.
   */
  authorizedNetworks?: pulumi.Input<
    pulumi.Input<{ cidrBlock: pulumi.Input<string>; displayName?: pulumi.Input<string> }>[]
  >;
  /** GKE release channel: `RAPID`, `REGULAR`, `STABLE` or `EXTENDED`. Defaults to `REGULAR`. */
  releaseChannel?: (typeof RELEASE_CHANNELS)[number];
  /**
   * Use GKE Dataplane V2 (eBPF), which enforces Kubernetes NetworkPolicy. Defaults to true. When false, the
   * cluster uses the legacy dataplane with Calico network policy enforcement instead.
   */
  dataplaneV2?: boolean;
  /**
   * Refuse to delete the cluster (`pulumi destroy` fails until this is set to false and applied).
   * Defaults to true.
   */
  deletionProtection?: pulumi.Input<boolean>;
  /** The system node pool. Defaults to one `e2-standard-4` node per zone, scaling to three. */
  systemPool?: SystemPoolArgs;
  /**
   * GPU node pools. Each scales between `minNodes` (default 0) and `maxNodes`, has GPU drivers installed by
   * GKE, and carries the taint `nvidia.com/gpu=present:NoSchedule`. Defaults to none.
   */
  gpuPools?: GcpGpuPoolArgs[];
  /**
   * Email of an existing service account for the nodes. Defaults to a new account holding only what nodes
   * need: writing logs and metrics, and reading Artifact Registry.
   */
  nodeServiceAccount?: pulumi.Input<string>;
  /** Labels for the cluster and its nodes' VMs. Defaults to the trainkit labels only. */
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Roles the node service account holds: GKE's documented minimum, plus pulling images. */
export const NODE_SERVICE_ACCOUNT_ROLES = [
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
  "roles/monitoring.viewer",
  "roles/stackdriver.resourceMetadata.writer",
  "roles/artifactregistry.reader",
] as const;

// Nodes get their permissions from IAM only, so the broad scope is narrowed by the service account's roles.
const NODE_OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"];

/**
 * A GKE Standard cluster for training: private nodes, workload identity, shielded nodes, a release channel,
 * network policy, a small system pool, and GPU pools that scale to zero with GKE-installed drivers.
 */
export class GpuCluster extends pulumi.ComponentResource {
  public readonly cluster: gcp.container.Cluster;
  /** Every node pool by name: `system` and one per GPU pool. */
  public readonly nodePools: Record<string, gcp.container.NodePool>;
  /** The service account the nodes run as, when this component created it. */
  public readonly nodeServiceAccount?: gcp.serviceaccount.Account;
  public readonly nodeServiceAccountRoles: gcp.projects.IAMMember[];
  public readonly nodeServiceAccountEmail: pulumi.Output<string>;
  /** The GCE machine chosen for each GPU pool, by pool name. */
  public readonly gpuMachines: Record<string, GcpMachine>;
  public readonly name: pulumi.Output<string>;
  /** The control plane's address (private when `privateEndpoint` is set). */
  public readonly endpoint: pulumi.Output<string>;
  /** A kubeconfig that authenticates through `gke-gcloud-auth-plugin`, usable by `@pulumi/kubernetes`. Secret. */
  public readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: GpuClusterArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:GpuCluster", name, {}, opts);
    const owner = `GpuCluster ${name}`;
    const project = gcpSetting(args.project, "project", "project", owner);
    const location = gcpSetting(args.location, "location", "region", owner);
    const releaseChannel = args.releaseChannel ?? "REGULAR";
    if (!RELEASE_CHANNELS.includes(releaseChannel)) {
      throw new ArgumentError(
        `${owner}: releaseChannel must be ${oneOf(RELEASE_CHANNELS)}; got ${shown(releaseChannel)}`,
      );
    }
    if ((args.podsRangeName === undefined) !== (args.servicesRangeName === undefined)) {
      throw new ArgumentError(
        `${owner}: podsRangeName and servicesRangeName must be set together; got only ${
          args.podsRangeName === undefined ? "servicesRangeName" : "podsRangeName"
        }`,
      );
    }
    const system = {
      machineType: args.systemPool?.machineType ?? "e2-standard-4",
      minNodes: args.systemPool?.minNodes ?? 1,
      maxNodes: args.systemPool?.maxNodes ?? 3,
    };
    if (
      !Number.isInteger(system.minNodes) ||
      system.minNodes < 0 ||
      !(system.maxNodes >= Math.max(1, system.minNodes))
    ) {
      throw new ArgumentError(
        `${owner}: systemPool.maxNodes must be a whole number of at least 1 and at least systemPool.minNodes (${system.minNodes}); got ${system.maxNodes}`,
      );
    }
    const pools = resolveGpuPools(args.gpuPools, (pool, fields) =>
      gcpMachineFor(pool.gpu, pool.gpusPerNode, pool.machineType, fields),
    );
    if (pools.some((p) => p.name === "system")) {
      throw new ArgumentError(
        `${owner}: gpuPools names must not be "system", which names the system pool; rename the pool`,
      );
    }
    const labels = mergeLabels("gpu-cluster", args.labels);
    const parent = { parent: this };

    if (args.nodeServiceAccount === undefined) {
      this.nodeServiceAccount = new gcp.serviceaccount.Account(
        `${name}-nodes`,
        {
          project,
          accountId: boundedName(`${name}-nodes`, 30),
          displayName: `GKE nodes of ${name} (trainkit)`,
        },
        parent,
      );
      this.nodeServiceAccountEmail = this.nodeServiceAccount.email;
      this.nodeServiceAccountRoles = NODE_SERVICE_ACCOUNT_ROLES.map(
        (role) =>
          new gcp.projects.IAMMember(
            `${name}-nodes-${role.split("/")[1]!.replace(/\./g, "-")}`,
            { project, role, member: serviceAccountMember(this.nodeServiceAccountEmail) },
            parent,
          ),
      );
    } else {
      this.nodeServiceAccountEmail = pulumi.output(args.nodeServiceAccount);
      this.nodeServiceAccountRoles = [];
    }

    const secureNode = {
      serviceAccount: this.nodeServiceAccountEmail,
      oauthScopes: NODE_OAUTH_SCOPES,
      shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
      workloadMetadataConfig: { mode: "GKE_METADATA" },
    };
    const dataplaneV2 = args.dataplaneV2 ?? true;

    this.cluster = new gcp.container.Cluster(
      name,
      {
        project,
        location,
        network: args.network,
        subnetwork: args.subnetwork,
        deletionProtection: args.deletionProtection ?? true,
        // GKE requires a node pool at creation; the default one is dropped for pools managed on their own,
        // and while it lives it runs as the least-privilege account, not the Compute Engine default.
        removeDefaultNodePool: true,
        initialNodeCount: 1,
        nodeConfig: secureNode,
        releaseChannel: { channel: releaseChannel },
        networkingMode: "VPC_NATIVE",
        ipAllocationPolicy: {
          clusterSecondaryRangeName: args.podsRangeName,
          servicesSecondaryRangeName: args.servicesRangeName,
        },
        privateClusterConfig: {
          enablePrivateNodes: true,
          enablePrivateEndpoint: args.privateEndpoint ?? false,
          masterIpv4CidrBlock: args.masterIpv4CidrBlock,
        },
        masterAuthorizedNetworksConfig:
          args.authorizedNetworks === undefined ? undefined : { cidrBlocks: args.authorizedNetworks },
        workloadIdentityConfig: { workloadPool: pulumi.interpolate`${project}.svc.id.goog` },
        enableShieldedNodes: true,
        enableLegacyAbac: false,
        datapathProvider: dataplaneV2 ? "ADVANCED_DATAPATH" : "LEGACY_DATAPATH",
        networkPolicy: dataplaneV2 ? undefined : { enabled: true, provider: "CALICO" },
        addonsConfig: dataplaneV2 ? undefined : { networkPolicyConfig: { disabled: false } },
        resourceLabels: labels,
      },
      {
        ...parent,
        dependsOn: this.nodeServiceAccountRoles,
        // These describe only the default pool, which is gone after creation; GKE then reports them
        // differently, and since they force replacement, a later update would plan to recreate the cluster.
        ignoreChanges: ["nodeConfig", "initialNodeCount"],
      },
    );

    const poolBase = {
      cluster: this.cluster.name,
      location: this.cluster.location,
      project: this.cluster.project,
      management: { autoRepair: true, autoUpgrade: true },
    };
    this.nodePools = {
      system: new gcp.container.NodePool(
        `${name}-system`,
        {
          ...poolBase,
          autoscaling: { minNodeCount: system.minNodes, maxNodeCount: system.maxNodes },
          nodeConfig: {
            ...secureNode,
            machineType: system.machineType,
            labels: { [GPU_NODE_LABELS.pool]: "system" },
            resourceLabels: labels,
          },
        },
        parent,
      ),
    };
    this.gpuMachines = {};
    for (const pool of pools) {
      this.gpuMachines[pool.name] = pool.shape;
      this.nodePools[pool.name] = new gcp.container.NodePool(
        `${name}-${pool.name}`,
        {
          ...poolBase,
          nodeLocations: pool.zones,
          // Nodes start at zero and the autoscaler adds them when a GPU pod is pending, so an idle pool is free.
          initialNodeCount: 0,
          autoscaling: {
            totalMinNodeCount: pool.minNodes,
            totalMaxNodeCount: pool.maxNodes,
            // Spot GPUs are scarce per zone: take capacity wherever it is instead of balancing zones.
            locationPolicy: pool.spot ? "ANY" : "BALANCED",
          },
          nodeConfig: {
            ...secureNode,
            machineType: pool.shape.machineType,
            spot: pool.spot,
            diskSizeGb: pool.diskSizeGb,
            imageType: "COS_CONTAINERD",
            guestAccelerators: [
              {
                type: pool.shape.gkeAcceleratorType,
                count: pool.gpusPerNode,
                gpuDriverInstallationConfig: { gpuDriverVersion: "DEFAULT" },
              },
            ],
            taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: "NO_SCHEDULE" }],
            labels: pool.labels,
            resourceLabels: labels,
          },
        },
        parent,
      );
    }

    this.name = this.cluster.name;
    this.endpoint = this.cluster.endpoint;
    this.kubeconfig = pulumi.secret(
      pulumi
        .all([
          this.cluster.name,
          this.cluster.endpoint,
          this.cluster.masterAuth,
          this.cluster.project,
          this.cluster.location,
        ])
        .apply(([clusterName, endpoint, auth, proj, loc]) =>
          gkeKubeconfig(`gke_${proj}_${loc}_${clusterName}`, endpoint, auth.clusterCaCertificate ?? ""),
        ),
    );

    this.registerOutputs({
      name: this.name,
      endpoint: this.endpoint,
      kubeconfig: this.kubeconfig,
      nodeServiceAccountEmail: this.nodeServiceAccountEmail,
    });
  }
}

/**
 * A kubeconfig whose user runs `gke-gcloud-auth-plugin` for a fresh token on each use, so it holds no
 * credential of its own and does not expire the way an embedded access token would.
 */
export function gkeKubeconfig(context: string, endpoint: string, caCertificate: string): string {
  return execKubeconfig(context, `https://${endpoint}`, caCertificate, {
    command: "gke-gcloud-auth-plugin",
    installHint:
      "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin " +
      "(see https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl)",
    provideClusterInfo: true,
  });
}
