import { beforeAll, describe, expect, it } from "vitest";
import { Bucket, GpuCluster, Registry, TrainingApi, TrainingPlatform } from "../../src/gcp";
import { TRAINKIT_POLICIES } from "../../src/policy";
import { violationsByLevel, violationsOver } from "../helpers/policy-harness";
import { gcpComputed, gcpInvoke, installPulumiMocks, type MockRuntime } from "../helpers/pulumi-mocks";

// trainkit's own GCP components held to the policy pack: every resource each component registers with the
// fewest arguments it accepts (Pulumi's mock runtime, no cloud), run through every rule. A user who adopts
// the components and the pack must get no mandatory violation from the defaults. The zone lookup of the
// A-series pool is answered by the stand-in for Compute Engine's machine-type lists (gcpInvoke).

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed, invoke: gcpInvoke });
});

const where = { project: "acme-ml", region: "us-central1" };
const api = {
  image: "us-central1-docker.pkg.dev/acme-ml/ml-images/trainkit:0.1.0",
  apiKeys: { tk_live_0123456789abcdef: ["team-vision"] },
};
// A public control plane needs the networks that may reach it; these are the only cluster inputs required.
const office = ["203.0.113.0/24"];
const pools = [
  { gpu: "nvidia-l4" as const, maxNodes: 4 },
  { gpu: "nvidia-h100-80gb" as const, gpusPerNode: 1, maxNodes: 2, spot: true },
];

const under = (prefix: string) => mocks.resources.filter((r) => r.name.startsWith(prefix));

describe("the GCP components under the policy pack", () => {
  it("keep every rule with their defaults: platform, cluster, registry, bucket and Train API", async () => {
    new TrainingPlatform("plat", {
      ...where,
      api,
      cluster: { authorizedCidrBlocks: office, gpuPools: pools },
    });
    new GpuCluster("gke", { project: where.project, location: where.region, authorizedCidrBlocks: office });
    new GpuCluster("privgke", { project: where.project, location: where.region, privateEndpoint: true });
    new Registry("images", { project: where.project, location: where.region });
    new Bucket("data", { project: where.project, location: where.region });
    new TrainingApi("api", {
      ...where,
      ...api,
      jobServiceAccountEmail: "jobs@acme-ml.iam.gserviceaccount.com",
      stagingBucket: "acme-ml-staging",
    });
    await mocks.settle();
    for (const [type, name] of [
      ["gcp:container/cluster:Cluster", "plat-gke"],
      ["gcp:container/nodePool:NodePool", "plat-gke-nvidia-h100-80gb-x1-spot"],
      ["gcp:container/cluster:Cluster", "gke"],
      ["gcp:container/cluster:Cluster", "privgke"],
      ["gcp:artifactregistry/repository:Repository", "images"],
      ["gcp:storage/bucket:Bucket", "data"],
      ["gcp:cloudrunv2/service:Service", "api"],
    ] as const) {
      mocks.one(type, name);
    }
    // No TrainingJob or GPU Job is among the components, so the one advisory rule has nothing to say.
    expect(violationsByLevel(TRAINKIT_POLICIES, mocks.resources)).toEqual({ mandatory: [], advisory: [] });
  });

  it("report a cluster whose authorized networks were opened to any address on purpose", async () => {
    new GpuCluster("opened", {
      project: where.project,
      location: where.region,
      authorizedCidrBlocks: ["0.0.0.0/0"],
    });
    await mocks.settle();
    expect(violationsOver(TRAINKIT_POLICIES, under("opened"))).toEqual([
      "trainkit-kubernetes-api-private gcp:container/cluster:Cluster opened: the control plane has a public endpoint open to any address; set privateClusterConfig.enablePrivateEndpoint and enablePrivateNodes to true, or list the networks in masterAuthorizedNetworksConfig.cidrBlocks (not 0.0.0.0/0)",
    ]);
  });
});
