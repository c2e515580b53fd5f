import { beforeAll, describe, expect, it } from "vitest";
import { boundedName } from "../../src/components";
import { TrainingPlatform, type TrainingPlatformArgs } from "../../src/gcp";
import {
  gcpComputed,
  gcpInvoke,
  installPulumiMocks,
  isSecret,
  type MockRuntime,
  outputValue,
} from "../helpers/pulumi-mocks";

const API = "gcp:projects/service:Service";
const BUCKET_IAM = "gcp:storage/bucketIAMMember:BucketIAMMember";
const REPO_IAM = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember";
const SERVICE = "gcp:cloudrunv2/service:Service";

const args: TrainingPlatformArgs = {
  project: "acme-ml",
  region: "us-central1",
  api: {
    image: "us-central1-docker.pkg.dev/acme-ml/ml-images/trainkit:0.1.0",
    apiKeys: { tk_live_0123456789abcdef: ["team-vision"] },
  },
  dataBucket: { bucketName: "acme-ml-data" },
  outputBucket: { bucketName: "acme-ml-output" },
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed, invoke: gcpInvoke });
});

async function build(name: string, extra: Partial<TrainingPlatformArgs> = {}) {
  const platform = new TrainingPlatform(name, { ...args, ...extra });
  await mocks.settle();
  return platform;
}

describe("TrainingPlatform", () => {
  it("composes a registry, two buckets, a job service account and the API, and no cluster unless asked", async () => {
    const platform = await build("ml");
    const components = mocks.resources
      .filter((r) => !r.custom && r.name.startsWith("ml-"))
      .map((r) => [r.type, r.name, r.parentType]);
    expect(components).toEqual(
      expect.arrayContaining([
        ["trainkit:gcp:Registry", "ml-images", "trainkit:gcp:TrainingPlatform"],
        ["trainkit:gcp:Bucket", "ml-data", "trainkit:gcp:TrainingPlatform"],
        ["trainkit:gcp:Bucket", "ml-output", "trainkit:gcp:TrainingPlatform"],
        ["trainkit:gcp:TrainingApi", "ml-api", "trainkit:gcp:TrainingPlatform"],
        ["trainkit:gcp:ProjectApis", "ml-apis", "trainkit:gcp:TrainingPlatform"],
      ]),
    );
    expect(components.length).toBe(5);
    expect(platform.cluster).toBeUndefined();
    expect(
      mocks.resources.some((r) => r.type === "trainkit:gcp:GpuCluster" && r.name.startsWith("ml-")),
    ).toBe(false);
  });

  it("lets training jobs read the data bucket, write the output bucket and pull images, and nothing else", async () => {
    await build("jobs");
    const grants = [...mocks.ofType(BUCKET_IAM), ...mocks.ofType(REPO_IAM)]
      .filter((r) => r.name.startsWith("jobs-jobs-"))
      .map((r) => [r.inputs.role, r.inputs.bucket ?? r.inputs.repository]);
    expect(grants.sort()).toEqual(
      [
        ["roles/storage.objectViewer", "acme-ml-data"],
        ["roles/storage.objectAdmin", "acme-ml-output"],
        ["roles/artifactregistry.reader", `jobs-images-${boundedName("jobs-images", 63).slice(-6)}`],
      ].sort(),
    );
  });

  it("points the API at the job service account and stages Vertex AI jobs in the output bucket", async () => {
    await build("wire");
    const envs = mocks.one(SERVICE, "wire-api").inputs.template.containers[0].envs;
    const env = Object.fromEntries(envs.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env.TRAINKIT_VERTEX_SERVICE_ACCOUNT).toMatch(
      /^wire-jobs-[0-9a-f]{6}@acme-ml\.iam\.gserviceaccount\.com$/,
    );
    expect(env.TRAINKIT_VERTEX_STAGING_BUCKET).toBe("gs://acme-ml-output");
    const apiBuckets = mocks
      .ofType(BUCKET_IAM)
      .filter((r) => r.name.startsWith("wire-api-objects-"))
      .map((r) => r.inputs.bucket);
    // The API reads no training data; only the job's own account reads the data bucket.
    expect(apiBuckets.sort()).toEqual(["acme-ml-output"]);
  });

  it("outputs what a TrainingJob or another stack needs", async () => {
    const platform = await build("out");
    const outputs = platform.outputs;
    expect({
      project: await outputValue(outputs.project),
      region: await outputValue(outputs.region),
      apiUrl: await outputValue(outputs.apiUrl),
      registryUrl: await outputValue(outputs.registryUrl),
      dataBucketUrl: await outputValue(outputs.dataBucketUrl),
      outputBucketUrl: await outputValue(outputs.outputBucketUrl),
    }).toEqual({
      project: "acme-ml",
      region: "us-central1",
      apiUrl: "https://out-api-abc123-uc.a.run.app",
      registryUrl: `us-central1-docker.pkg.dev/acme-ml/${boundedName("out-images", 63)}`,
      dataBucketUrl: "gs://acme-ml-data",
      outputBucketUrl: "gs://acme-ml-output",
    });
    expect(await outputValue(outputs.jobServiceAccountEmail)).toMatch(
      /^out-jobs-[0-9a-f]{6}@acme-ml\.iam\.gserviceaccount\.com$/,
    );
    expect(outputs.kubeconfig).toBeUndefined();
  });

  it("adds a GKE cluster in the platform's region when cluster args are given, with its kubeconfig as a secret output", async () => {
    const platform = await build("gke", {
      cluster: { authorizedCidrBlocks: ["203.0.113.0/24"], gpuPools: [{ gpu: "nvidia-l4", maxNodes: 2 }] },
    });
    expect(platform.cluster).toBeDefined();
    expect(mocks.one("gcp:container/cluster:Cluster", "gke-gke").inputs.location).toBe("us-central1");
    expect(mocks.one("trainkit:gcp:GpuCluster", "gke-gke").parentType).toBe("trainkit:gcp:TrainingPlatform");
    expect(await isSecret(platform.outputs.kubeconfig!)).toBe(true);
    expect(await outputValue(platform.outputs.clusterName!)).toBe("gke-gke");
  });

  it("passes opening-up choices through to its parts", async () => {
    await build("loose", {
      dataBucket: { bucketName: "acme-scratch", forceDestroy: true },
      api: { ...args.api, public: true },
    });
    expect(mocks.one("gcp:storage/bucket:Bucket", "loose-data").inputs.forceDestroy).toBe(true);
    expect(mocks.one("gcp:storage/bucket:Bucket", "loose-output").inputs.forceDestroy).toBe(false);
    expect(mocks.one(SERVICE, "loose-api").inputs.ingress).toBe("INGRESS_TRAFFIC_ALL");
  });

  it("enables every API its parts call once, kept on after destroy, and each part's resources wait for them", async () => {
    await build("fresh", {
      cluster: { privateEndpoint: true, gpuPools: [{ gpu: "nvidia-l4", maxNodes: 1 }] },
    });
    const services = mocks.ofType(API).filter((r) => r.name.startsWith("fresh-"));
    expect(services.map((r) => r.inputs.service).sort()).toEqual([
      "aiplatform.googleapis.com",
      "artifactregistry.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "compute.googleapis.com",
      "container.googleapis.com",
      "containerscanning.googleapis.com",
      "iam.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
    ]);
    expect(
      services.every(
        (r) => r.inputs.disableOnDestroy === false && r.parentType === "trainkit:gcp:ProjectApis",
      ),
    ).toBe(true);
    const needs = (api: string) => `${API}::fresh-apis-${api}`;
    const edges: [string, string, string[]][] = [
      [
        "gcp:artifactregistry/repository:Repository",
        "fresh-images",
        ["artifactregistry", "containerscanning"],
      ],
      ["gcp:serviceaccount/account:Account", "fresh-jobs", ["iam"]],
      ["gcp:cloudrunv2/service:Service", "fresh-api", ["run", "secretmanager", "aiplatform"]],
      ["gcp:secretmanager/secret:Secret", "fresh-api-api-keys", ["secretmanager"]],
      ["gcp:projects/iAMCustomRole:IAMCustomRole", "fresh-api-vertex-jobs", ["iam"]],
      ["gcp:container/cluster:Cluster", "fresh-gke", ["container", "compute"]],
      ["gcp:container/nodePool:NodePool", "fresh-gke-nvidia-l4-x1", ["container", "compute"]],
    ];
    for (const [type, name, apis] of edges) {
      expect(mocks.one(type, name).dependsOn).toEqual(expect.arrayContaining(apis.map(needs)));
    }
  });

  it("enables no API and has its parts enable none when enableApis is false", async () => {
    await build("managed", { enableApis: false });
    expect(mocks.ofType(API).filter((r) => r.name.startsWith("managed-"))).toEqual([]);
  });
});
