import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { GPU_NODE_LABELS, GPU_TAINT, type GpuPoolArgs, resolveGpuPools } from "../components/gpu-pool";
import { execKubeconfig } from "../components/kubeconfig";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { type GcpMachine, gcpMachineFor } from "../gpu";
import { poolPurchase } from "./node-pools";
import { apiDependencies, type ProjectApis } from "./project-apis";
import { gcpSetting, serviceAccountMember } from "./settings";
import { isZone, needsZoneLookup, offeredZones, regionOf } from "./zones";

/**
 * A GPU node pool on GKE: the cross-cloud pool description plus GCP's machine type, boot disk and the ways
 * GCP sells the big GPUs (spot, flex-start, reservations), which are mutually exclusive.
 */
export interface GcpGpuPoolArgs extends GpuPoolArgs {
  /**
   * The GCE machine type, when the default for the GPU and count does not suit (for example `g2-standard-16`
   * for one L4 with more CPU, or `a3-megagpu-8g` for eight H100s with faster networking). Defaults to the
   * catalogue's machine type for `gpu` and `gpusPerNode`. Must carry exactly `gpusPerNode` of `gpu`.
   */
  machineType?: string;
  /**
   * Boot disk type: `pd-balanced`, `pd-ssd`, `pd-standard` or `hyperdisk-balanced`. Defaults to
   * `hyperdisk-balanced` for machine series that take Hyperdisk only (A3 Ultra, A4, A4X) and to GKE's default
   * (`pd-balanced`) otherwise. A Persistent Disk type is refused for the Hyperdisk-only series.
   */
  diskType?: string;
  /**
   * Take nodes only from this specific reservation: its name, or `projects/<owner>/reservations/<name>` for a
   * reservation shared from another project. Defaults to none (on-demand or spot capacity, consuming any
   * matching reservation GKE finds). Conflicts with `spot`, `flexStart` and `queuedProvisioning`.
   */
  reservation?: string;
  /**
   * Obtain nodes through flex-start (Dynamic Workload Scheduler): a pending GPU pod waits until GCE can
   * provide the node, which then runs for at most seven days. Needs GKE 1.32.2-gke.1652000 or later. Defaults
   * to false. Conflicts with `spot` and `reservation`.
   */
  flexStart?: boolean;
  /**
   * Flex-start with queued provisioning: nodes come only through ProvisioningRequests (Kueue's
   * ProvisioningRequest admission check creates them), all of a job's nodes at once. Implies `flexStart`.
   * Defaults to false. Conflicts with `spot` and `reservation`.
   */
  queuedProvisioning?: boolean;
  /**
   * Place the nodes close together (a COMPACT placement policy) for lower latency between them in multi-node
   * training; the pool then lives in one zone. Defaults to false.
   */
  compactPlacement?: boolean;
}

/** A CIDR block allowed to reach the control plane. */
export interface AuthorizedNetworkArgs {
  /** The block, e.g. `203.0.113.0/24`. Required. */
  cidrBlock: pulumi.Input<string>;
  /** A name shown in the console. Defaults to none. */
  displayName?: pulumi.Input<string>;
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

/** GKE release channels a cluster can follow (`releaseChannel`), fastest to slowest to take new versions. */
export const ReleaseChannel = {
  Rapid: "RAPID",
  Regular: "REGULAR",
  Stable: "STABLE",
  Extended: "EXTENDED",
} as const;
/** A GKE release channel: `RAPID`, `REGULAR`, `STABLE` or `EXTENDED`. */
export type ReleaseChannel = (typeof ReleaseChannel)[keyof typeof ReleaseChannel];
/** The release channels, fastest first. */
export const RELEASE_CHANNELS: readonly ReleaseChannel[] = Object.values(ReleaseChannel);

/** Arguments of a `GpuCluster`; every field is optional. */
export interface GpuClusterArgs extends GpuClusterSettings {
  /** The GCP project. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /**
   * Where the cluster lives: a region (`us-central1`) for a regional control plane and nodes in three zones,
   * or a zone (`us-central1-a`) for a cheaper zonal cluster. Defaults to the stack's `gcp:region` config.
   */
  location?: pulumi.Input<string>;
}

/** A `GpuCluster`'s settings besides where it lives. */
export interface GpuClusterSettings {
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
   * Make the control plane reachable only from inside the VPC (and networks peered or connected to it). Nodes
   * are private either way. Defaults to false, and then `authorizedCidrBlocks` or `authorizedNetworks` must
   * list who may reach the public endpoint: one of the two is required, so no default leaves the endpoint
   * open to any address. The cluster itself is managed through the GKE API, so `pulumi up` of this component
   * works from anywhere either way; the endpoint gates `kubectl`, `@pulumi/kubernetes` and the Train API's
   * `kubernetes` backend.
   */
  privateEndpoint?: boolean;
  /**
   * The /28 range for the control plane of a VPC-peered private cluster. Defaults to none, which gives the
   * Private Service Connect control plane of current GKE versions.
   */
  masterIpv4CidrBlock?: pulumi.Input<string>;
  /**
   * CIDR blocks allowed to reach the control plane endpoint, e.g. `["203.0.113.0/24", "198.51.100.7/32"]` for
   * an office and a CI runner's egress address. Defaults to none, which is refused unless `privateEndpoint` is
   * true or `authorizedNetworks` lists some: GKE would otherwise accept connections from any address. With
   * `privateEndpoint`, they narrow who inside the VPC may connect. Compute Engine's public addresses are not let
   * in besides them (`gcpPublicCidrsAccessEnabled: false`): list a runner's address, or run it in the VPC.
   * `0.0.0.0/0` is accepted with a warning, and the policy pack's `trainkit-kubernetes-api-private` rule
   * reports it. Adds to `authorizedNetworks`.
   */
  authorizedCidrBlocks?: string[];
  /**
   * Named CIDR blocks allowed to reach the control plane endpoint. Defaults to none (see
   * `authorizedCidrBlocks`: one of the two, or `privateEndpoint`, is required). Adds to `authorizedCidrBlocks`.
   */
  authorizedNetworks?: AuthorizedNetworkArgs[];
  /**
   * Create a Cloud Router and Cloud NAT for the network in the cluster's region, so the private nodes reach
   * the internet (public registries such as nvcr.io or Docker Hub, package indexes). Defaults to false: nodes
   * reach Google APIs (Artifact Registry, Cloud Storage) over Private Google Access only.
   */
  cloudNat?: boolean;
  /**
   * Enable the Kubernetes Engine, Compute Engine, IAM and Resource Manager APIs in the project, as resources
   * this component owns that stay on after `pulumi destroy`. Defaults to true. Set false where APIs are
   * managed elsewhere.
   */
  enableApis?: boolean;
  /** GKE release channel: `RAPID`, `REGULAR`, `STABLE` or `EXTENDED`. Defaults to `REGULAR`. */
  releaseChannel?: ReleaseChannel;
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

/**
 * The StorageClass of GKE's Compute Engine persistent disk CSI driver that every cluster has, for
 * ReadWriteOnce claims such as the Kubernetes `TrainingApi`'s (`storageClassName`).
 */
export const GKE_STORAGE_CLASS = "standard-rwo";

/** Roles the node service account holds: GKE's documented minimum, plus pulling images. */
export const NODE_SERVICE_ACCOUNT_ROLES = [
  "roles/logging.logWriter",
  "roles/monitoring.metricWriter",
  "roles/monitoring.viewer",
  "roles/stackdriver.resourceMetadata.writer",
  "roles/artifactregistry.reader",
] as const;

// The ranges that match every address, which authorize nothing in particular.
const OPEN_CIDRS = ["0.0.0.0/0", "::/0"];

// Nodes get their permissions from IAM only, so the broad scope is narrowed by the service account's roles.
const NODE_OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"];

/** The GpuCluster parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  apis: ProjectApis | undefined;
}>();

/**
 * A GKE Standard cluster for training: private nodes, workload identity, shielded nodes, a release channel,
 * network policy, a small system pool, and GPU pools that scale to zero with GKE-installed drivers.
 */
export class GpuCluster extends pulumi.ComponentResource {
  /** The underlying GKE cluster, for settings this component does not expose. */
  public readonly cluster: gcp.container.Cluster;
  /** Every node pool by name: `system` and one per GPU pool. */
  public readonly nodePools: Record<string, gcp.container.NodePool>;
  /** The service account the nodes run as, when this component created it. */
  public readonly nodeServiceAccount?: gcp.serviceaccount.Account;
  /**
   * The project IAM grants of `NODE_SERVICE_ACCOUNT_ROLES` to the node service account this component
   * created; empty when `nodeServiceAccount` names an existing account.
   */
  public readonly nodeServiceAccountRoles: gcp.projects.IAMMember[];
  /** Email of the service account the nodes run as: the one created here, or `nodeServiceAccount`. */
  public readonly nodeServiceAccountEmail: pulumi.Output<string>;
  /** The GCE machine chosen for each GPU pool, by pool name. */
  public readonly gpuMachines: Record<string, GcpMachine>;
  /** The zones each GPU pool's nodes go to, by pool name: given, or those offering its machine type. */
  public readonly gpuZones: Record<string, pulumi.Output<string[] | undefined>>;
  /** The APIs this component enabled, unless `enableApis` is false. */
  get apis(): ProjectApis | undefined {
    return offSchema.get(this, "apis");
  }
  /** The Cloud Router that carries the nodes' egress NAT; undefined unless `cloudNat` is set. */
  public readonly router?: gcp.compute.Router;
  /** The Cloud NAT on `router`; undefined unless `cloudNat` is set. */
  public readonly nat?: gcp.compute.RouterNat;
  /** The cluster's name in GKE (the component's name plus a random suffix). */
  public readonly name: pulumi.Output<string>;
  /** The control plane's address (private when `privateEndpoint` is set). */
  public readonly endpoint: pulumi.Output<string>;
  /** The StorageClass to give claims on this cluster (`standard-rwo`), e.g. the Kubernetes `TrainingApi`'s. */
  public readonly storageClassName: string = GKE_STORAGE_CLASS;
  /** A kubeconfig that authenticates through `gke-gcloud-auth-plugin`, usable by `@pulumi/kubernetes`. Secret. */
  public readonly kubeconfig: pulumi.Output<string>;

  constructor(name: string, args: GpuClusterArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:GpuCluster", name, {}, opts);
    const owner = ownerOf(this, "GpuCluster", name);
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
    const purchases = pools.map((pool, i) => {
      const given = args.gpuPools![i]!;
      const settings = poolPurchase(owner, `gpuPools[${i}]`, {
        machineType: pool.shape.machineType,
        spot: pool.spot,
        diskType: given.diskType,
        reservation: given.reservation,
        flexStart: given.flexStart,
        queuedProvisioning: given.queuedProvisioning,
        compactPlacement: given.compactPlacement,
      });
      if (given.compactPlacement && Array.isArray(given.zones) && given.zones.length !== 1) {
        throw new ArgumentError(
          `${owner}: gpuPools[${i}].zones must name one zone with compactPlacement, which keeps the nodes together; got ${given.zones.length}`,
        );
      }
      return settings;
    });
    const cidrs = args.authorizedCidrBlocks ?? [];
    for (const [i, cidr] of cidrs.entries()) {
      if (!/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/.test(cidr)) {
        throw new ArgumentError(
          `${owner}: authorizedCidrBlocks[${i}] must be a CIDR block such as 203.0.113.0/24; got ${shown(cidr)}`,
        );
      }
    }
    const authorized = [...cidrs.map((cidrBlock) => ({ cidrBlock })), ...(args.authorizedNetworks ?? [])];
    // A private endpoint would break every Kubernetes deploy from outside the VPC (a hosted CI runner, a
    // laptop), and an open one breaks the policy pack, so neither is chosen for the user.
    if (authorized.length === 0 && !args.privateEndpoint) {
      throw new ArgumentError(
        `${owner}: authorizedCidrBlocks (or authorizedNetworks) must list the networks that may reach the control ` +
          `plane's public endpoint, such as your office's and your CI runner's egress addresses (["203.0.113.0/24"]), ` +
          "or privateEndpoint must be true to reach it only from inside the VPC; got neither, which would leave the " +
          "endpoint open to any address",
      );
    }
    if (cidrs.some((c) => OPEN_CIDRS.includes(c))) {
      pulumi.log.warn(
        `${owner}: authorizedCidrBlocks includes ${cidrs.find((c) => OPEN_CIDRS.includes(c))}, so the control plane endpoint is open to any address (callers still need Google credentials for the cluster).`,
        this,
      );
    }
    const labels = mergeLabels("gpu-cluster", args.labels);
    const { apis, dependsOn } = apiDependencies(
      this,
      name,
      project,
      ["container", "compute", "iam", "cloudresourcemanager"],
      args.enableApis,
      opts,
    );
    offSchema.set(this, "apis", apis);
    const parent = { parent: this, dependsOn };

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
        // Left unset, GKE may also let in every Compute Engine VM's public address, any customer's; only the
        // listed networks are meant.
        masterAuthorizedNetworksConfig:
          authorized.length === 0
            ? undefined
            : { cidrBlocks: authorized, gcpPublicCidrsAccessEnabled: false },
        workloadIdentityConfig: { workloadPool: pulumi.interpolate`${project}.svc.id.goog` },
        enableShieldedNodes: true,
        enableLegacyAbac: false,
        datapathProvider: dataplaneV2 ? "ADVANCED_DATAPATH" : "LEGACY_DATAPATH",
        networkPolicy: dataplaneV2 ? undefined : { enabled: true, provider: "CALICO" },
        addonsConfig: dataplaneV2 ? undefined : { networkPolicyConfig: { disabled: false } },
        resourceLabels: labels,
      },
      {
        parent: this,
        dependsOn: [...dependsOn, ...this.nodeServiceAccountRoles],
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
    this.gpuZones = {};
    // The zone lookups wait for the Compute Engine API the cluster itself waits for.
    const computeReady = dependsOn.map((d) => (pulumi.CustomResource.isInstance(d) ? d.id : d));
    for (const [i, pool] of pools.entries()) {
      const purchase = purchases[i]!;
      this.gpuMachines[pool.name] = pool.shape;
      const zones =
        pool.zones !== undefined || !needsZoneLookup(pool.shape.machineType)
          ? pulumi.output(pool.zones)
          : offeredZones(
              {
                project,
                location,
                machineType: pool.shape.machineType,
                owner,
                field: `gpuPools[${i}]`,
                after: computeReady,
              },
              { parent: this },
            ).apply((offered) => (args.gpuPools![i]!.compactPlacement ? offered.slice(0, 1) : offered));
      const lookedUp = pool.zones === undefined && needsZoneLookup(pool.shape.machineType);
      // A zonal cluster's pools live in its zone; the lookup only checks that the zone offers the machine.
      this.gpuZones[pool.name] = pulumi
        .all([zones, location])
        .apply(([z, loc]) => (isZone(loc) && lookedUp ? undefined : z));
      this.nodePools[pool.name] = new gcp.container.NodePool(
        `${name}-${pool.name}`,
        {
          ...poolBase,
          management: { autoRepair: purchase.autoRepair, autoUpgrade: true },
          nodeLocations: this.gpuZones[pool.name],
          // Nodes start at zero and the autoscaler adds them when a GPU pod is pending, so an idle pool is free.
          initialNodeCount: 0,
          autoscaling: {
            totalMinNodeCount: pool.minNodes,
            totalMaxNodeCount: pool.maxNodes,
            locationPolicy: purchase.locationPolicy,
          },
          queuedProvisioning: purchase.queuedProvisioning,
          placementPolicy: purchase.placementPolicy,
          nodeConfig: {
            ...secureNode,
            machineType: pool.shape.machineType,
            spot: pool.spot,
            flexStart: purchase.flexStart,
            reservationAffinity: purchase.reservationAffinity,
            diskSizeGb: pool.diskSizeGb,
            diskType: purchase.diskType,
            imageType: "COS_CONTAINERD",
            guestAccelerators: [
              {
                type: pool.shape.gkeAcceleratorType,
                count: pool.gpusPerNode,
                gpuDriverInstallationConfig: { gpuDriverVersion: "DEFAULT" },
              },
            ],
            taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: "NO_SCHEDULE" }],
            labels: { ...pool.labels, [GPU_NODE_LABELS.capacity]: purchase.capacity },
            resourceLabels: labels,
          },
        },
        parent,
      );
    }

    if (args.cloudNat) {
      const network = args.network ?? "default";
      this.router = new gcp.compute.Router(
        `${name}-router`,
        { project, region: pulumi.output(location).apply(regionOf), network },
        parent,
      );
      this.nat = new gcp.compute.RouterNat(
        `${name}-nat`,
        {
          project,
          region: this.router.region,
          router: this.router.name,
          natIpAllocateOption: "AUTO_ONLY",
          sourceSubnetworkIpRangesToNat:
            args.subnetwork === undefined ? "ALL_SUBNETWORKS_ALL_IP_RANGES" : "LIST_OF_SUBNETWORKS",
          subnetworks:
            args.subnetwork === undefined
              ? undefined
              : [{ name: args.subnetwork, sourceIpRangesToNats: ["ALL_IP_RANGES"] }],
          logConfig: { enable: true, filter: "ERRORS_ONLY" },
        },
        parent,
      );
    } else if (args.subnetwork !== undefined) {
      // GKE turns Private Google Access on for its own subnetwork, but not on a Shared VPC's; without it or a
      // NAT, private nodes cannot pull images from Artifact Registry. Read after the cluster exists.
      const subnet = gcp.compute.getSubnetworkOutput(
        { project, region: pulumi.output(location).apply(regionOf), name: args.subnetwork },
        { parent: this, dependsOn: [this.cluster] },
      );
      subnet.privateIpGoogleAccess.apply((on) => {
        if (on === false) {
          pulumi.log.warn(
            `${owner}: subnetwork ${shown(args.subnetwork)} has Private Google Access off, so the private nodes cannot reach Artifact Registry or Cloud Storage; turn it on (gcloud compute networks subnets update <subnetwork> --region <region> --enable-private-ip-google-access) or set cloudNat`,
            this,
          );
        }
      });
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
