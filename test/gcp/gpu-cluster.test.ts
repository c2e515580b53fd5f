import { beforeAll, describe, expect, it } from "vitest";
import { GpuCluster, HYPERDISK_ONLY_SERIES, NODE_SERVICE_ACCOUNT_ROLES } from "../../src/gcp";
import { capacityOptionsFor } from "../../src/gpu";
import published from "../fixtures/published/gcp/limits.json";
import {
  gcpComputed,
  gcpInvoke,
  installPulumiMocks,
  isSecret,
  MACHINE_TYPE_ZONES,
  type MockRuntime,
  outputValue,
} from "../helpers/pulumi-mocks";

const CLUSTER = "gcp:container/cluster:Cluster";
const NODE_POOL = "gcp:container/nodePool:NodePool";
const PROJECT_IAM = "gcp:projects/iAMMember:IAMMember";
const ACCOUNT = "gcp:serviceaccount/account:Account";
const SERVICE = "gcp:projects/service:Service";

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed, invoke: gcpInvoke });
});

// Every cluster here lists who may reach its control plane, which a public endpoint requires.
const base = { project: "acme-ml", location: "us-central1", authorizedCidrBlocks: ["203.0.113.0/24"] };

async function build(name: string, args: ConstructorParameters<typeof GpuCluster>[1] = {}) {
  const cluster = new GpuCluster(name, { ...base, ...args });
  await mocks.settle();
  return cluster;
}

describe("GpuCluster", () => {
  it("creates a GKE cluster with private nodes, workload identity, shielded nodes and deletion protection", async () => {
    await build("secure");
    const cluster = mocks.one(CLUSTER, "secure").inputs;
    expect(cluster.privateClusterConfig).toEqual({ enablePrivateNodes: true, enablePrivateEndpoint: false });
    expect(cluster.workloadIdentityConfig).toEqual({ workloadPool: "acme-ml.svc.id.goog" });
    expect(cluster.enableShieldedNodes).toBe(true);
    expect(cluster.deletionProtection).toBe(true);
    expect(cluster.enableLegacyAbac).toBe(false);
    expect(cluster.releaseChannel).toEqual({ channel: "REGULAR" });
    expect(cluster.networkingMode).toBe("VPC_NATIVE");
    expect(cluster.removeDefaultNodePool).toBe(true);
  });

  it("enforces network policy through Dataplane V2 by default", async () => {
    await build("dpv2");
    const cluster = mocks.one(CLUSTER, "dpv2").inputs;
    expect(cluster.datapathProvider).toBe("ADVANCED_DATAPATH");
    expect(cluster.networkPolicy).toBeUndefined();
  });

  it("enforces network policy with Calico when Dataplane V2 is turned off", async () => {
    await build("calico", { dataplaneV2: false });
    const cluster = mocks.one(CLUSTER, "calico").inputs;
    expect(cluster.datapathProvider).toBe("LEGACY_DATAPATH");
    expect(cluster.networkPolicy).toEqual({ enabled: true, provider: "CALICO" });
    expect(cluster.addonsConfig).toEqual({ networkPolicyConfig: { disabled: false } });
  });

  it("makes the control plane private only when privateEndpoint is set", async () => {
    await build("privep", { privateEndpoint: true, masterIpv4CidrBlock: "172.16.0.32/28" });
    expect(mocks.one(CLUSTER, "privep").inputs.privateClusterConfig).toEqual({
      enablePrivateNodes: true,
      enablePrivateEndpoint: true,
      masterIpv4CidrBlock: "172.16.0.32/28",
    });
  });

  it("runs a small autoscaled system pool as the least-privilege node account with the GKE metadata server", async () => {
    await build("sys");
    const pool = mocks.one(NODE_POOL, "sys-system").inputs;
    expect(pool.autoscaling).toEqual({ minNodeCount: 1, maxNodeCount: 3 });
    expect(pool.nodeConfig.machineType).toBe("e2-standard-4");
    expect(pool.nodeConfig.serviceAccount).toMatch(
      /^sys-nodes-[0-9a-f]{6}@acme-ml\.iam\.gserviceaccount\.com$/,
    );
    expect(pool.nodeConfig.workloadMetadataConfig).toEqual({ mode: "GKE_METADATA" });
    expect(pool.nodeConfig.shieldedInstanceConfig).toEqual({
      enableSecureBoot: true,
      enableIntegrityMonitoring: true,
    });
  });

  it("builds an L4 pool that scales from zero with GKE-installed drivers, the GPU taint and GPU labels", async () => {
    const cluster = await build("l4", { gpuPools: [{ gpu: "nvidia-l4", maxNodes: 4 }] });
    const pool = mocks.one(NODE_POOL, "l4-nvidia-l4-x1").inputs;
    expect(pool.initialNodeCount).toBe(0);
    expect(pool.autoscaling).toEqual({
      totalMinNodeCount: 0,
      totalMaxNodeCount: 4,
      locationPolicy: "BALANCED",
    });
    expect(pool.nodeConfig.machineType).toBe("g2-standard-8");
    expect(pool.nodeConfig.guestAccelerators).toEqual([
      { type: "nvidia-l4", count: 1, gpuDriverInstallationConfig: { gpuDriverVersion: "DEFAULT" } },
    ]);
    expect(pool.nodeConfig.taints).toEqual([
      { key: "nvidia.com/gpu", value: "present", effect: "NO_SCHEDULE" },
    ]);
    expect(pool.nodeConfig.labels).toEqual({
      "trainkit.dev/gpu": "nvidia-l4",
      "trainkit.dev/gpus-per-node": "1",
      "trainkit.dev/pool": "nvidia-l4-x1",
      "trainkit.dev/capacity": "on-demand",
    });
    expect(pool.nodeConfig.spot).toBe(false);
    expect(pool.nodeConfig.workloadMetadataConfig).toEqual({ mode: "GKE_METADATA" });
    expect(pool.nodeConfig.shieldedInstanceConfig).toEqual({
      enableSecureBoot: true,
      enableIntegrityMonitoring: true,
    });
    expect(Object.keys(cluster.nodePools)).toEqual(["system", "nvidia-l4-x1"]);
  });

  it("opens spot capacity only for a pool that asks, and lets it take capacity in any zone", async () => {
    await build("spot", {
      gpuPools: [
        {
          gpu: "nvidia-a100-80gb",
          gpusPerNode: 8,
          maxNodes: 2,
          spot: true,
          zones: ["us-central1-a", "us-central1-c"],
        },
        { gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 1 },
      ],
    });
    const spot = mocks.one(NODE_POOL, "spot-nvidia-a100-80gb-x8-spot").inputs;
    expect(spot.nodeConfig.spot).toBe(true);
    expect(spot.nodeConfig.machineType).toBe("a2-ultragpu-8g");
    expect(spot.nodeConfig.labels["trainkit.dev/capacity"]).toBe("spot");
    expect(spot.autoscaling.locationPolicy).toBe("ANY");
    expect(spot.nodeLocations).toEqual(["us-central1-a", "us-central1-c"]);
    expect(mocks.one(NODE_POOL, "spot-nvidia-a100-80gb-x8").inputs.nodeConfig.spot).toBe(false);
  });

  it("uses a machine type override that carries the pool's GPUs, with its own accelerator name", async () => {
    await build("mega", {
      gpuPools: [
        { name: "h100", gpu: "nvidia-h100-80gb", gpusPerNode: 8, machineType: "a3-megagpu-8g", maxNodes: 2 },
      ],
    });
    const pool = mocks.one(NODE_POOL, "mega-h100").inputs;
    expect(pool.nodeConfig.machineType).toBe("a3-megagpu-8g");
    expect(pool.nodeConfig.guestAccelerators[0]).toMatchObject({ type: "nvidia-h100-mega-80gb", count: 8 });
  });

  it("grants the node account exactly the logging, monitoring and image-pull roles", async () => {
    await build("roles");
    const roles = mocks
      .ofType(PROJECT_IAM)
      .filter((r) => r.name.startsWith("roles-nodes-"))
      .map((r) => r.inputs);
    expect(roles.map((r) => r.role).sort()).toEqual([...NODE_SERVICE_ACCOUNT_ROLES].sort());
    expect(
      roles.every((r) => r.project === "acme-ml" && r.member.startsWith("serviceAccount:roles-nodes-")),
    ).toBe(true);
    expect(roles.map((r) => r.role)).not.toContain("roles/editor");
    expect(roles.map((r) => r.role)).not.toContain("roles/owner");
  });

  it("uses a given node service account instead of creating one", async () => {
    await build("byo", { nodeServiceAccount: "nodes@acme-ml.iam.gserviceaccount.com" });
    expect(mocks.ofType(ACCOUNT).filter((r) => r.name.startsWith("byo"))).toEqual([]);
    expect(mocks.one(NODE_POOL, "byo-system").inputs.nodeConfig.serviceAccount).toBe(
      "nodes@acme-ml.iam.gserviceaccount.com",
    );
  });

  it("outputs a secret kubeconfig that authenticates through gke-gcloud-auth-plugin", async () => {
    const cluster = await build("kc");
    expect(await isSecret(cluster.kubeconfig)).toBe(true);
    const config = JSON.parse(await outputValue(cluster.kubeconfig));
    expect(config["current-context"]).toBe("gke_acme-ml_us-central1_kc");
    expect(config.clusters[0].cluster).toEqual({
      server: "https://203.0.113.10",
      "certificate-authority-data": "Q0EtREFUQQ==",
    });
    expect(config.users[0].user.exec).toMatchObject({
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: "gke-gcloud-auth-plugin",
      provideClusterInfo: true,
    });
    expect(await outputValue(cluster.endpoint)).toBe("203.0.113.10");
  });

  it("parents every resource it creates to itself", async () => {
    await build("tree", { gpuPools: [{ gpu: "nvidia-t4", maxNodes: 1 }] });
    const children = mocks.resources.filter((r) => r.custom && r.name.startsWith("tree"));
    const apis = children.filter((r) => r.type === SERVICE);
    expect(apis.length).toBe(4);
    expect(new Set(apis.map((r) => r.parentType))).toEqual(new Set(["trainkit:gcp:ProjectApis"]));
    const own = children.filter((r) => r.type !== SERVICE);
    expect(own.length).toBe(1 + 1 + NODE_SERVICE_ACCOUNT_ROLES.length + 2);
    expect(new Set(own.map((r) => r.parentType))).toEqual(new Set(["trainkit:gcp:GpuCluster"]));
  });

  it("labels the cluster with the trainkit labels and the user's", async () => {
    await build("lbl", { labels: { team: "vision" } });
    expect(mocks.one(CLUSTER, "lbl").inputs.resourceLabels).toEqual({
      team: "vision",
      "managed-by": "trainkit",
      "trainkit-component": "gpu-cluster",
    });
  });
});

describe("GpuCluster argument checks", () => {
  it("rejects a GPU count the GPU is not sold in, naming the pool's field", () => {
    expect(
      () =>
        new GpuCluster("bad-count", {
          ...base,
          gpuPools: [{ gpu: "nvidia-l4", gpusPerNode: 3, maxNodes: 1 }],
        }),
    ).toThrow("gpuPools[0].gpusPerNode must be 1, 2, 4 or 8 for nvidia-l4 on GCP; got 3");
  });

  it("rejects a machine type that does not carry the pool's GPU", () => {
    expect(
      () =>
        new GpuCluster("bad-type", {
          ...base,
          gpuPools: [{ gpu: "nvidia-a100-80gb", gpusPerNode: 1, machineType: "a2-highgpu-1g", maxNodes: 1 }],
        }),
    ).toThrow(
      "gpuPools[0].machineType must be a2-ultragpu-1g for 1 nvidia-a100-80gb per node on GCP; got a2-highgpu-1g",
    );
  });

  it("rejects maxNodes below minNodes", () => {
    expect(
      () =>
        new GpuCluster("bad-max", { ...base, gpuPools: [{ gpu: "nvidia-t4", minNodes: 3, maxNodes: 2 }] }),
    ).toThrow("gpuPools[0].maxNodes must be at least minNodes (3); got 2");
  });

  it("rejects two pools with the same name", () => {
    expect(
      () =>
        new GpuCluster("dupe", {
          ...base,
          gpuPools: [
            { gpu: "nvidia-t4", maxNodes: 1 },
            { gpu: "nvidia-t4", maxNodes: 2 },
          ],
        }),
    ).toThrow(
      "gpuPools[1].name must differ from gpuPools[0].name; got nvidia-t4-x1 twice (give one pool a name)",
    );
  });

  it("rejects an unknown release channel, listing the channels", () => {
    expect(() => new GpuCluster("chan", { ...base, releaseChannel: "BETA" as never })).toThrow(
      "GpuCluster chan: releaseChannel must be RAPID, REGULAR, STABLE or EXTENDED; got BETA",
    );
  });

  it("asks for a project when neither the args nor the stack config give one", () => {
    expect(() => new GpuCluster("noproj", { location: "us-central1" })).toThrow(
      "GpuCluster noproj: project must be set, or the stack must set gcp:project (pulumi config set gcp:project my-project); got nothing",
    );
  });

  it("rejects a pods range without a services range", () => {
    expect(() => new GpuCluster("ranges", { ...base, podsRangeName: "pods" })).toThrow(
      "GpuCluster ranges: podsRangeName and servicesRangeName must be set together; got only podsRangeName",
    );
  });
});

describe("GpuCluster zones", () => {
  const offered = (type: string, region: string) =>
    MACHINE_TYPE_ZONES.machineTypes[type]!.filter((z) => z.startsWith(`${region}-`)).sort();

  it("places an H200 pool in the one zone of us-central1 that offers a3-ultragpu-8g", async () => {
    const cluster = await build("h200", {
      gpuPools: [{ gpu: "nvidia-h200-141gb", gpusPerNode: 8, maxNodes: 1, spot: true }],
    });
    expect(mocks.one(NODE_POOL, "h200-nvidia-h200-141gb-x8-spot").inputs.nodeLocations).toEqual([
      "us-central1-b",
    ]);
    expect(await outputValue(cluster.gpuZones["nvidia-h200-141gb-x8-spot"]!)).toEqual(
      offered("a3-ultragpu-8g", "us-central1"),
    );
  });

  it("places A100 80GB and H100 pools where their machine types are offered, per region", async () => {
    await build("eu", {
      location: "europe-west4",
      gpuPools: [
        { gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 1 },
        { gpu: "nvidia-h100-80gb", gpusPerNode: 8, maxNodes: 1, machineType: "a3-megagpu-8g", spot: true },
      ],
    });
    expect(mocks.one(NODE_POOL, "eu-nvidia-a100-80gb-x8").inputs.nodeLocations).toEqual(
      offered("a2-ultragpu-8g", "europe-west4"),
    );
    expect(mocks.one(NODE_POOL, "eu-nvidia-h100-80gb-x8-spot").inputs.nodeLocations).toEqual(
      offered("a3-megagpu-8g", "europe-west4"),
    );
    const lookups = mocks.calls.filter(
      (c) =>
        c.token === "gcp:compute/getMachineTypes:getMachineTypes" &&
        c.inputs.filter === 'name = "a2-ultragpu-8g"',
    );
    expect(
      lookups
        .map((c) => c.inputs.zone)
        .filter((z: string) => z.startsWith("europe-west4-"))
        .sort(),
    ).toEqual(MACHINE_TYPE_ZONES.regions["europe-west4"]!);
  });

  it("keeps the zones a pool names, without looking any up", async () => {
    await build("pinned", {
      gpuPools: [{ gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 1, zones: ["us-central1-c"] }],
    });
    expect(mocks.one(NODE_POOL, "pinned-nvidia-a100-80gb-x8").inputs.nodeLocations).toEqual([
      "us-central1-c",
    ]);
  });

  it("leaves L4 and T4 pools to GKE's choice of the cluster's zones", async () => {
    await build("small", {
      gpuPools: [
        { gpu: "nvidia-l4", maxNodes: 1 },
        { gpu: "nvidia-t4", maxNodes: 1 },
      ],
    });
    expect(mocks.one(NODE_POOL, "small-nvidia-l4-x1").inputs.nodeLocations).toBeUndefined();
    expect(mocks.one(NODE_POOL, "small-nvidia-t4-x1").inputs.nodeLocations).toBeUndefined();
  });

  it("keeps a compact pool in one offered zone", async () => {
    await build("compact", {
      gpuPools: [
        {
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 8,
          maxNodes: 2,
          machineType: "a3-megagpu-8g",
          spot: true,
          compactPlacement: true,
        },
      ],
    });
    const pool = mocks.one(NODE_POOL, "compact-nvidia-h100-80gb-x8-spot").inputs;
    expect(pool.nodeLocations).toEqual([offered("a3-megagpu-8g", "us-central1")[0]]);
    expect(pool.placementPolicy).toEqual({ type: published.gkeNodePool.placementPolicyType });
  });
});

describe("GpuCluster capacity", () => {
  it("boots Hyperdisk-only machines from hyperdisk-balanced and others from GKE's default", async () => {
    await build("disks", {
      gpuPools: [
        { gpu: "nvidia-h200-141gb", gpusPerNode: 8, maxNodes: 1, spot: true },
        { gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 1, zones: ["us-central1-a"] },
      ],
    });
    expect(mocks.one(NODE_POOL, "disks-nvidia-h200-141gb-x8-spot").inputs.nodeConfig.diskType).toBe(
      published.bootDisks.bootableHyperdisk,
    );
    expect(mocks.one(NODE_POOL, "disks-nvidia-a100-80gb-x8").inputs.nodeConfig.diskType).toBeUndefined();
    for (const series of published.bootDisks.hyperdiskOnlySeries)
      expect(HYPERDISK_ONLY_SERIES).toContain(series);
  });

  it("refuses a Persistent Disk boot disk for a Hyperdisk-only machine", () => {
    expect(
      () =>
        new GpuCluster("pdh200", {
          ...base,
          gpuPools: [
            { gpu: "nvidia-h200-141gb", gpusPerNode: 8, maxNodes: 1, spot: true, diskType: "pd-ssd" },
          ],
        }),
    ).toThrow(
      "GpuCluster pdh200: gpuPools[0].diskType must be hyperdisk-balanced for a3-ultragpu-8g, whose machine series takes Hyperdisk only; got pd-ssd",
    );
  });

  it("takes nodes only from a specific reservation when one is named", async () => {
    await build("resv", {
      gpuPools: [
        {
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 8,
          maxNodes: 4,
          reservation: "h100-block",
          zones: ["us-central1-a"],
        },
      ],
    });
    const pool = mocks.one(NODE_POOL, "resv-nvidia-h100-80gb-x8").inputs;
    expect(pool.nodeConfig.reservationAffinity).toEqual({
      consumeReservationType: published.gkeNodePool.specificReservationType,
      key: published.gkeNodePool.reservationNameKey,
      values: ["h100-block"],
    });
    expect(pool.nodeConfig.labels["trainkit.dev/capacity"]).toBe("reservation");
    expect(pool.autoscaling.locationPolicy).toBe("ANY");
  });

  it("buys flex-start nodes that consume no reservation and are not repaired into the queue again", async () => {
    await build("flex", {
      gpuPools: [{ gpu: "nvidia-h100-80gb", gpusPerNode: 8, maxNodes: 2, flexStart: true }],
    });
    const pool = mocks.one(NODE_POOL, "flex-nvidia-h100-80gb-x8").inputs;
    expect(pool.nodeConfig.flexStart).toBe(true);
    expect(pool.nodeConfig.reservationAffinity).toEqual({
      consumeReservationType: published.gkeNodePool.noReservationType,
    });
    expect(pool.management).toEqual({ autoRepair: false, autoUpgrade: true });
    expect(pool.queuedProvisioning).toBeUndefined();
    expect(pool.nodeConfig.labels["trainkit.dev/capacity"]).toBe("flex-start");
  });

  it("turns on queued provisioning with flex-start when asked", async () => {
    await build("queued", {
      gpuPools: [{ gpu: "nvidia-a100-80gb", gpusPerNode: 8, maxNodes: 4, queuedProvisioning: true }],
    });
    const pool = mocks.one(NODE_POOL, "queued-nvidia-a100-80gb-x8").inputs;
    expect(pool.queuedProvisioning).toEqual({ enabled: true });
    expect(pool.nodeConfig.flexStart).toBe(true);
  });

  it("refuses an on-demand pool of a shape the GPU catalogue sells only as spot or flex-start, naming the fix", () => {
    expect(capacityOptionsFor("gcp", "a3-highgpu-1g")).not.toContain("on-demand");
    expect(
      () =>
        new GpuCluster("ondemandh100", {
          ...base,
          gpuPools: [{ gpu: "nvidia-h100-80gb", gpusPerNode: 1, maxNodes: 2 }],
        }),
    ).toThrow(
      "GpuCluster ondemandh100: gpuPools[0] buys a3-highgpu-1g nodes on demand, but the GPU catalogue lists a3-highgpu-1g as sold only as spot or as flex-start; set gpuPools[0].spot: true or gpuPools[0].flexStart: true (or queuedProvisioning: true)",
    );
  });

  it("refuses a reservation-less pool of a shape sold only from reservations", () => {
    expect(
      () =>
        new GpuCluster("spotgb200", {
          ...base,
          gpuPools: [{ gpu: "nvidia-gb200", gpusPerNode: 4, maxNodes: 2, spot: true }],
        }),
    ).toThrow(
      "GpuCluster spotgb200: gpuPools[0] buys a4x-highgpu-4g nodes as spot, but the GPU catalogue lists a4x-highgpu-4g as sold only as reservation; set gpuPools[0].reservation to a reservation of this machine type",
    );
  });

  it("builds spot and flex-start pools of a shape sold only that way, with the capacity label saying which", async () => {
    await build("spotflex", {
      gpuPools: [
        { gpu: "nvidia-h100-80gb", gpusPerNode: 1, maxNodes: 2, spot: true, zones: ["us-central1-a"] },
        {
          name: "flex1",
          gpu: "nvidia-h100-80gb",
          gpusPerNode: 1,
          maxNodes: 2,
          flexStart: true,
          zones: ["us-central1-a"],
        },
      ],
    });
    const spot = mocks.one(NODE_POOL, "spotflex-nvidia-h100-80gb-x1-spot").inputs;
    expect(spot.nodeConfig.spot).toBe(true);
    expect(spot.nodeConfig.labels["trainkit.dev/capacity"]).toBe("spot");
    const flex = mocks
      .ofType(NODE_POOL)
      .find((r) => r.name.startsWith("spotflex-") && r.name.includes("flex1"));
    expect(flex?.inputs.nodeConfig.flexStart).toBe(true);
    expect(flex?.inputs.nodeConfig.labels["trainkit.dev/capacity"]).toBe("flex-start");
  });

  it("refuses a pool that asks for two ways of buying nodes", () => {
    expect(
      () =>
        new GpuCluster("twoways", {
          ...base,
          gpuPools: [{ gpu: "nvidia-h100-80gb", gpusPerNode: 8, maxNodes: 1, spot: true, reservation: "r1" }],
        }),
    ).toThrow(
      "GpuCluster twoways: gpuPools[0] must buy its nodes one way, as spot, flex-start or from a reservation; got gpuPools[0].spot or gpuPools[0].reservation together",
    );
  });
});

describe("GpuCluster network and APIs", () => {
  it("adds a Cloud Router and Cloud NAT for the nodes' egress when asked", async () => {
    await build("nat", { cloudNat: true });
    const router = mocks.one("gcp:compute/router:Router", "nat-router").inputs;
    expect(router).toMatchObject({ project: "acme-ml", region: "us-central1", network: "default" });
    expect(mocks.one("gcp:compute/routerNat:RouterNat", "nat-nat").inputs).toMatchObject({
      region: "us-central1",
      router: "nat-router",
      natIpAllocateOption: "AUTO_ONLY",
      sourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES",
    });
  });

  it("creates no NAT unless asked", async () => {
    await build("nonat");
    expect(
      mocks.ofType("gcp:compute/routerNat:RouterNat").filter((r) => r.name.startsWith("nonat-")),
    ).toEqual([]);
  });

  it("checks Private Google Access on a given subnetwork after the cluster exists", async () => {
    await build("pga", { network: "ml-vpc", subnetwork: "ml-nodes" });
    const lookup = mocks.calls.find(
      (c) => c.token === "gcp:compute/getSubnetwork:getSubnetwork" && c.inputs.name === "ml-nodes",
    );
    expect(lookup?.inputs).toMatchObject({ project: "acme-ml", region: "us-central1" });
  });

  it("limits the control plane to the CIDR blocks given, without every Compute Engine public address", async () => {
    await build("authnet", {
      authorizedCidrBlocks: ["203.0.113.0/24"],
      authorizedNetworks: [{ cidrBlock: "198.51.100.7/32", displayName: "ci" }],
    });
    expect(mocks.one(CLUSTER, "authnet").inputs.masterAuthorizedNetworksConfig).toEqual({
      cidrBlocks: [{ cidrBlock: "203.0.113.0/24" }, { cidrBlock: "198.51.100.7/32", displayName: "ci" }],
      gcpPublicCidrsAccessEnabled: false,
    });
  });

  it("refuses a public control plane open to any address, naming the fields that close it", () => {
    expect(() => new GpuCluster("open", { project: "acme-ml", location: "us-central1" })).toThrow(
      "GpuCluster open: authorizedCidrBlocks (or authorizedNetworks) must list the networks that may reach the control plane's public endpoint, " +
        "such as your office's and your CI runner's egress addresses ([\"203.0.113.0/24\"]), or privateEndpoint must be true to reach it only " +
        "from inside the VPC; got neither, which would leave the endpoint open to any address",
    );
  });

  it("takes a private endpoint without authorized networks, or named networks alone", async () => {
    await build("privonly", { authorizedCidrBlocks: undefined, privateEndpoint: true });
    expect(mocks.one(CLUSTER, "privonly").inputs.masterAuthorizedNetworksConfig).toBeUndefined();
    await build("named", {
      authorizedCidrBlocks: undefined,
      authorizedNetworks: [{ cidrBlock: "198.51.100.7/32", displayName: "ci" }],
    });
    expect(mocks.one(CLUSTER, "named").inputs.masterAuthorizedNetworksConfig).toEqual({
      cidrBlocks: [{ cidrBlock: "198.51.100.7/32", displayName: "ci" }],
      gcpPublicCidrsAccessEnabled: false,
    });
  });

  it("rejects an authorized block that is not a CIDR", () => {
    expect(() => new GpuCluster("badcidr", { ...base, authorizedCidrBlocks: ["203.0.113.7"] })).toThrow(
      "GpuCluster badcidr: authorizedCidrBlocks[0] must be a CIDR block such as 203.0.113.0/24; got 203.0.113.7",
    );
  });

  it("enables GKE, Compute Engine, IAM and Resource Manager, and the cluster, pools and node account wait for them", async () => {
    await build("apis", { gpuPools: [{ gpu: "nvidia-l4", maxNodes: 1 }] });
    const services = mocks.ofType(SERVICE).filter((r) => r.name.startsWith("apis-apis-"));
    expect(services.map((r) => [r.inputs.service, r.inputs.disableOnDestroy]).sort()).toEqual([
      ["cloudresourcemanager.googleapis.com", false],
      ["compute.googleapis.com", false],
      ["container.googleapis.com", false],
      ["iam.googleapis.com", false],
    ]);
    const needs = services.map((r) => `${SERVICE}::${r.name}`);
    for (const [type, name] of [
      [CLUSTER, "apis"],
      [NODE_POOL, "apis-system"],
      [NODE_POOL, "apis-nvidia-l4-x1"],
      [ACCOUNT, "apis-nodes"],
    ] as const) {
      expect(mocks.one(type, name).dependsOn).toEqual(expect.arrayContaining(needs));
    }
  });
});
