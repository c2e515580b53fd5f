import { describe, expect, it } from "vitest";
import {
  gpuAllowedAccelerators,
  gpuMaxCount,
  gpuNodesTainted,
  gpuSpotRequired,
  jobRuntimeLimit,
  kubernetesApiPrivate,
  registryPrivate,
  storagePrivate,
  TYPES,
} from "../../src/policy";
import { violations } from "../helpers/policy-harness";
import { published } from "../helpers/published";

// The provider's own words on the GKE fields the Kubernetes API rule reads (see the fixture's source).
const GKE_ACCESS = published<{ version: string; file: string; fields: Record<string, string> }>(
  "pulumi-providers/gke-control-plane-access.json",
);

// Each rule called directly, as @pulumi/policy's analyzer calls it, on resources that keep it and resources
// that break it. Inputs are written the way the providers' schemas name them (see
// test/fixtures/published/pulumi-providers/policy-properties.json, checked in provider-properties.test.ts).

const TAINT = { key: "nvidia.com/gpu", value: "present", effect: "NO_SCHEDULE" };

const gkePool = (over: Record<string, unknown> = {}, config: Record<string, unknown> = {}) => ({
  autoscaling: { totalMinNodeCount: 0, totalMaxNodeCount: 2 },
  nodeConfig: {
    machineType: "g2-standard-8",
    guestAccelerators: [{ type: "nvidia-l4", count: 1 }],
    taints: [TAINT],
    ...config,
  },
  ...over,
});

const eksGroup = (over: Record<string, unknown> = {}) => ({
  instanceTypes: ["p5.48xlarge"],
  capacityType: "ON_DEMAND",
  scalingConfig: { minSize: 0, maxSize: 2, desiredSize: 0 },
  taints: [TAINT],
  ...over,
});

const aksPool = (over: Record<string, unknown> = {}) => ({
  vmSize: "Standard_NC24ads_A100_v4",
  enableAutoScaling: true,
  maxCount: 4,
  scaleSetPriority: "Regular",
  nodeTaints: ["nvidia.com/gpu=present:NoSchedule"],
  ...over,
});

const gpuPod = (gpus: number, selector?: Record<string, string>) => ({
  containers: [
    { name: "train", image: "trainer:1", resources: { limits: { "nvidia.com/gpu": String(gpus) } } },
  ],
  ...(selector ? { nodeSelector: selector } : {}),
});

const vertexJob = (over: Record<string, unknown> = {}) => ({
  backend: "vertex-ai",
  name: "llm",
  jobConfig: {
    worker_pool_specs: [
      {
        machine_spec: {
          machine_type: "a3-highgpu-8g",
          accelerator_type: "NVIDIA_H100_80GB",
          accelerator_count: 8,
        },
        replica_count: 1,
        container_spec: { image_uri: "trainer:1" },
      },
    ],
    ...over,
  },
});

describe("trainkit-gpu-allowed-accelerators", () => {
  const only = (...allowedGpus: string[]) => ({ config: { allowedGpus } });

  it("allows every catalogue GPU when the config names none", () => {
    expect(violations(gpuAllowedAccelerators, TYPES.gkeNodePool, gkePool())).toEqual([]);
    expect(violations(gpuAllowedAccelerators, TYPES.eksNodeGroup, eksGroup())).toEqual([]);
  });

  it("rejects a GKE pool whose guest accelerator is not in the list, naming the field and the list", () => {
    expect(
      violations(gpuAllowedAccelerators, TYPES.gkeNodePool, gkePool(), only("nvidia-h100-80gb")),
    ).toEqual([
      "nodeConfig.guestAccelerators[0].type is nvidia-l4, which is not an allowed GPU; allowed: nvidia-h100-80gb. Choose one of them, or add it to allowedGpus in the policy pack config",
    ]);
    expect(violations(gpuAllowedAccelerators, TYPES.gkeNodePool, gkePool(), only("nvidia-l4"))).toEqual([]);
  });

  it("maps EKS instance types, AKS and Azure ML VM sizes to their GPU through the catalogue", () => {
    const allowed = only("nvidia-l4", "nvidia-a100-80gb");
    expect(violations(gpuAllowedAccelerators, TYPES.eksNodeGroup, eksGroup(), allowed)).toEqual([
      "instanceTypes[0] is p5.48xlarge (nvidia-h100-80gb), which is not an allowed GPU; allowed: nvidia-l4 or nvidia-a100-80gb. Choose one of them, or add it to allowedGpus in the policy pack config",
    ]);
    expect(
      violations(
        gpuAllowedAccelerators,
        TYPES.eksNodeGroup,
        eksGroup({ instanceTypes: ["g6.xlarge"] }),
        allowed,
      ),
    ).toEqual([]);
    expect(violations(gpuAllowedAccelerators, TYPES.aksAgentPool, aksPool(), allowed)).toEqual([]);
    const aml = {
      properties: {
        computeType: "AmlCompute",
        properties: {
          vmSize: "Standard_ND96isr_H100_v5",
          vmPriority: "Dedicated",
          scaleSettings: { maxNodeCount: 1 },
        },
      },
    };
    expect(violations(gpuAllowedAccelerators, TYPES.amlCompute, aml, allowed)).toHaveLength(1);
  });

  it("checks a GKE pool on a machine type with built-in GPUs even when it lists no accelerator", () => {
    const pool = gkePool({}, { machineType: "a3-highgpu-8g", guestAccelerators: undefined });
    expect(violations(gpuAllowedAccelerators, TYPES.gkeNodePool, pool, only("nvidia-l4"))[0]).toMatch(
      /^nodeConfig.machineType is a3-highgpu-8g \(nvidia-h100-80gb\), which is not an allowed GPU/,
    );
  });

  it("checks TrainingJob accelerators on Vertex AI, SageMaker and a vendor by GPU model", () => {
    expect(violations(gpuAllowedAccelerators, TYPES.trainingJob, vertexJob(), only("nvidia-l4"))[0]).toMatch(
      /^jobConfig.worker_pool_specs\[0\].machine_spec.accelerator_type is NVIDIA_H100_80GB \(nvidia-h100-80gb\)/,
    );
    const sagemaker = {
      backend: "sagemaker",
      jobConfig: { resource_config: { instance_type: "ml.g6.xlarge", instance_count: 1 } },
    };
    expect(violations(gpuAllowedAccelerators, TYPES.trainingJob, sagemaker, only("nvidia-l4"))).toEqual([]);
    const baseten = (accelerator: string) => ({
      backend: "baseten",
      jobConfig: {
        training_project_id: "p1",
        training_job: {
          image: { base_image: "trainer:1" },
          compute: { node_count: 1, accelerator: { accelerator, count: 8 } },
        },
      },
    });
    expect(
      violations(gpuAllowedAccelerators, TYPES.trainingJob, baseten("H100"), only("nvidia-h100-80gb")),
    ).toEqual([]);
    expect(
      violations(gpuAllowedAccelerators, TYPES.trainingJob, baseten("A100"), only("nvidia-h100-80gb")),
    ).toEqual([
      "jobConfig.training_job.compute.accelerator.accelerator is A100, which is not an allowed GPU; allowed: nvidia-h100-80gb. Choose one of them, or add it to allowedGpus in the policy pack config",
    ]);
  });

  it("asks a Kubernetes workload that requests nvidia.com/gpu to select an allowed GPU once the list is narrowed", () => {
    const job = (selector?: Record<string, string>) => ({
      spec: { template: { spec: gpuPod(1, selector) } },
    });
    expect(violations(gpuAllowedAccelerators, TYPES.kubernetesJob, job(), only("nvidia-l4"))).toEqual([
      "GPU job asks for 1 nvidia.com/gpu without choosing which GPU, so it may land on any; select one of nvidia-l4 with the node selector trainkit.dev/gpu",
    ]);
    expect(
      violations(
        gpuAllowedAccelerators,
        TYPES.kubernetesJob,
        job({ "trainkit.dev/gpu": "nvidia-l4" }),
        only("nvidia-l4"),
      ),
    ).toEqual([]);
    expect(
      violations(
        gpuAllowedAccelerators,
        TYPES.kubernetesJob,
        job({ "cloud.google.com/gke-accelerator": "nvidia-tesla-a100" }),
        only("nvidia-l4"),
      )[0],
    ).toMatch(
      /^spec.template.spec.nodeSelector\["cloud.google.com\/gke-accelerator"\] is nvidia-tesla-a100 \(nvidia-a100-40gb\)/,
    );
  });

  it("leaves resources without GPUs alone", () => {
    expect(
      violations(
        gpuAllowedAccelerators,
        TYPES.eksNodeGroup,
        eksGroup({ instanceTypes: ["m7i.large"] }),
        only("nvidia-l4"),
      ),
    ).toEqual([]);
    expect(violations(gpuAllowedAccelerators, TYPES.gcsBucket, {}, only("nvidia-l4"))).toEqual([]);
  });
});

describe("trainkit-gpu-max-count", () => {
  it("counts a pool's GPUs at its maximum size against maxGpusPerPool (64 by default)", () => {
    expect(violations(gpuMaxCount, TYPES.eksNodeGroup, eksGroup({ scalingConfig: { maxSize: 8 } }))).toEqual(
      [],
    );
    expect(violations(gpuMaxCount, TYPES.eksNodeGroup, eksGroup({ scalingConfig: { maxSize: 9 } }))).toEqual([
      "GPU pool reaches 72 GPUs (8 per node x 9, scalingConfig.maxSize), more than the 64 allowed by maxGpusPerPool; lower it, or raise maxGpusPerPool in the policy pack config",
    ]);
  });

  it("takes the cap from the config", () => {
    const call = { config: { maxGpusPerPool: 2 } };
    expect(violations(gpuMaxCount, TYPES.gkeNodePool, gkePool(), call)).toEqual([]);
    expect(
      violations(gpuMaxCount, TYPES.gkeNodePool, gkePool({ autoscaling: { totalMaxNodeCount: 3 } }), call)[0],
    ).toMatch(/^GPU pool reaches 3 GPUs \(1 per node x 3, autoscaling.totalMaxNodeCount\), more than the 2/);
    expect(violations(gpuMaxCount, TYPES.aksAgentPool, aksPool({ maxCount: 3 }), call)[0]).toMatch(
      /^GPU pool reaches 3 GPUs \(1 per node x 3, maxCount\)/,
    );
  });

  it("rejects a GPU pool with no maximum node count", () => {
    expect(violations(gpuMaxCount, TYPES.eksNodeGroup, eksGroup({ scalingConfig: undefined }))).toEqual([
      "GPU pool has no maximum node count, so its GPUs are not bounded; set scalingConfig.maxSize so that 8 GPUs per node times it is at most 64 (maxGpusPerPool)",
    ]);
  });

  it("counts a job's GPUs over its replicas against maxGpusPerJob", () => {
    const call = { config: { maxGpusPerJob: 8 } };
    expect(violations(gpuMaxCount, TYPES.trainingJob, vertexJob(), call)).toEqual([]);
    const twoPools = vertexJob();
    (twoPools.jobConfig.worker_pool_specs as unknown[]).push({
      ...twoPools.jobConfig.worker_pool_specs[0],
      replica_count: 3,
    });
    expect(violations(gpuMaxCount, TYPES.trainingJob, twoPools, call)).toEqual([
      "GPU job reaches 24 GPUs (8 per replica x 3, jobConfig.worker_pool_specs[1].replica_count), more than the 8 allowed by maxGpusPerJob; lower it, or raise maxGpusPerJob in the policy pack config",
    ]);
    const deployment = { spec: { replicas: 3, template: { spec: gpuPod(4) } } };
    expect(violations(gpuMaxCount, TYPES.kubernetesDeployment, deployment, call)[0]).toMatch(
      /^GPU job reaches 12 GPUs \(4 per replica x 3, spec.replicas\)/,
    );
  });
});

describe("trainkit-gpu-spot-required", () => {
  it("does nothing unless the config or the stack's tag asks for spot", () => {
    expect(violations(gpuSpotRequired, TYPES.eksNodeGroup, eksGroup())).toEqual([]);
  });

  it("requires spot capacity on every cloud's pools when the config sets required", () => {
    const call = { config: { required: true } };
    expect(violations(gpuSpotRequired, TYPES.eksNodeGroup, eksGroup(), call)).toEqual([
      'GPU pool runs on on-demand capacity, and this stack requires spot; set capacityType = "SPOT"',
    ]);
    expect(violations(gpuSpotRequired, TYPES.eksNodeGroup, eksGroup({ capacityType: "SPOT" }), call)).toEqual(
      [],
    );
    expect(violations(gpuSpotRequired, TYPES.gkeNodePool, gkePool(), call)).toEqual([
      "GPU pool runs on on-demand capacity, and this stack requires spot; set nodeConfig.spot = true",
    ]);
    expect(violations(gpuSpotRequired, TYPES.gkeNodePool, gkePool({}, { spot: true }), call)).toEqual([]);
    expect(
      violations(gpuSpotRequired, TYPES.aksAgentPool, aksPool({ scaleSetPriority: "Spot" }), call),
    ).toEqual([]);
    expect(violations(gpuSpotRequired, TYPES.aksAgentPool, aksPool(), call)).toHaveLength(1);
  });

  it("applies to a stack tagged trainkit:spot=required, and to TrainingJobs by their capacity", () => {
    const call = { stackTags: { "trainkit:spot": "required" } };
    expect(violations(gpuSpotRequired, TYPES.trainingJob, vertexJob(), call)).toEqual([
      'GPU job runs on on-demand capacity, and this stack requires spot; set jobConfig.capacity = "spot"',
    ]);
    expect(violations(gpuSpotRequired, TYPES.trainingJob, vertexJob({ capacity: "spot" }), call)).toEqual([]);
  });
});

describe("trainkit-gpu-nodes-tainted", () => {
  it("passes GPU pools with the nvidia.com/gpu NoSchedule taint on GKE, EKS and AKS", () => {
    expect(violations(gpuNodesTainted, TYPES.gkeNodePool, gkePool())).toEqual([]);
    expect(violations(gpuNodesTainted, TYPES.eksNodeGroup, eksGroup())).toEqual([]);
    expect(violations(gpuNodesTainted, TYPES.aksAgentPool, aksPool())).toEqual([]);
  });

  it("rejects GPU pools without it, naming where the taint goes", () => {
    expect(violations(gpuNodesTainted, TYPES.gkeNodePool, gkePool({}, { taints: [] }))).toEqual([
      "GPU pool of nvidia-l4 has no nvidia.com/gpu NoSchedule taint, so any pod may take its nodes; add nodeConfig.taints (key nvidia.com/gpu, effect NO_SCHEDULE)",
    ]);
    expect(
      violations(
        gpuNodesTainted,
        TYPES.eksNodeGroup,
        eksGroup({ taints: [{ ...TAINT, effect: "PREFER_NO_SCHEDULE" }] }),
      ),
    ).toHaveLength(1);
    const cluster = {
      agentPoolProfiles: [{ name: "system", vmSize: "Standard_D4s_v5" }, aksPool({ nodeTaints: [] })],
    };
    expect(violations(gpuNodesTainted, TYPES.aksCluster, cluster)).toEqual([
      'GPU pool of Standard_NC24ads_A100_v4 has no nvidia.com/gpu NoSchedule taint, so any pod may take its nodes; add agentPoolProfiles[1].nodeTaints ("nvidia.com/gpu=present:NoSchedule")',
    ]);
  });

  it("leaves CPU pools untainted", () => {
    expect(
      violations(gpuNodesTainted, TYPES.eksNodeGroup, eksGroup({ instanceTypes: ["m7i.large"], taints: [] })),
    ).toEqual([]);
  });
});

describe("trainkit-storage-private", () => {
  it("passes a GCS bucket with public access prevention enforced and uniform access, and rejects one without", () => {
    expect(
      violations(storagePrivate, TYPES.gcsBucket, {
        publicAccessPrevention: "enforced",
        uniformBucketLevelAccess: true,
      }),
    ).toEqual([]);
    expect(violations(storagePrivate, TYPES.gcsBucket, { publicAccessPrevention: "inherited" })).toEqual([
      'publicAccessPrevention is inherited; set it to "enforced"',
      "uniformBucketLevelAccess is not true, so object ACLs can open objects; set it to true",
    ]);
  });

  it("rejects bucket IAM grants to allUsers or allAuthenticatedUsers", () => {
    expect(
      violations(storagePrivate, TYPES.gcsBucketIamMember, {
        role: "roles/storage.objectViewer",
        member: "allUsers",
      }),
    ).toEqual(["grants roles/storage.objectViewer to allUsers, which makes the bucket public"]);
    expect(
      violations(storagePrivate, TYPES.gcsBucketIamBinding, {
        role: "roles/storage.objectViewer",
        members: ["serviceAccount:trainer@p.iam.gserviceaccount.com"],
      }),
    ).toEqual([]);
  });

  it("rejects a bucket IAM policy whose bindings include allUsers", () => {
    const policyData = (members: string[]) =>
      JSON.stringify({ bindings: [{ role: "roles/storage.objectViewer", members }] });
    expect(
      violations(storagePrivate, TYPES.gcsBucketIamPolicy, { policyData: policyData(["allUsers"]) }),
    ).toEqual(["policyData grants roles/storage.objectViewer to allUsers, which makes the bucket public"]);
    expect(
      violations(storagePrivate, TYPES.gcsBucketIamPolicy, {
        policyData: policyData(["group:ml@acme.example"]),
      }),
    ).toEqual([]);
  });

  it("requires all four S3 public access block settings, and no public canned ACL", () => {
    const block = {
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    };
    expect(violations(storagePrivate, TYPES.s3PublicAccessBlock, block)).toEqual([]);
    expect(
      violations(storagePrivate, TYPES.s3PublicAccessBlock, { ...block, restrictPublicBuckets: false }),
    ).toEqual([
      "restrictPublicBuckets is not true; set all four of blockPublicAcls, blockPublicPolicy, ignorePublicAcls or restrictPublicBuckets",
    ]);
    expect(violations(storagePrivate, TYPES.s3BucketAcl, { acl: "public-read" })).toEqual([
      'acl is public-read; use "private" or leave acl out',
    ]);
    expect(violations(storagePrivate, TYPES.s3Bucket, { acl: "private" })).toEqual([]);
  });

  it("requires allowBlobPublicAccess false on Azure storage accounts and no public blob containers", () => {
    expect(violations(storagePrivate, TYPES.storageAccount, { allowBlobPublicAccess: false })).toEqual([]);
    expect(violations(storagePrivate, TYPES.storageAccount, {})).toEqual([
      "allowBlobPublicAccess is unset (its default depends on the API version); set it to false",
    ]);
    expect(violations(storagePrivate, TYPES.blobContainer, { publicAccess: "Blob" })).toEqual([
      'publicAccess is Blob; set it to "None"',
    ]);
    expect(violations(storagePrivate, TYPES.blobContainer, { publicAccess: "None" })).toEqual([]);
  });
});

describe("trainkit-registry-private", () => {
  it("rejects Artifact Registry grants to allUsers", () => {
    expect(
      violations(registryPrivate, TYPES.artifactRepositoryIamMember, {
        role: "roles/artifactregistry.reader",
        member: "allUsers",
      }),
    ).toEqual(["grants roles/artifactregistry.reader to allUsers, which makes the repository public"]);
  });

  it("rejects an Artifact Registry IAM policy granting allAuthenticatedUsers, and any ECR Public repository", () => {
    const policyData = JSON.stringify({
      bindings: [{ role: "roles/artifactregistry.reader", members: ["allAuthenticatedUsers"] }],
    });
    expect(violations(registryPrivate, TYPES.artifactRepositoryIamPolicy, { policyData })).toEqual([
      "policyData grants roles/artifactregistry.reader to allAuthenticatedUsers, which makes the repository public",
    ]);
    expect(violations(registryPrivate, TYPES.ecrPublicRepository, { repositoryName: "trainer" })).toEqual([
      "trainer is an ECR Public repository, which anyone can pull from; use a private ECR repository (aws.ecr.Repository)",
    ]);
  });

  it("rejects an ECR repository policy that lets anyone pull, and passes one that names an account", () => {
    const policy = (principal: unknown, condition?: unknown) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Principal: principal, Action: ["ecr:BatchGetImage"], Condition: condition },
        ],
      });
    expect(violations(registryPrivate, TYPES.ecrRepositoryPolicy, { policy: policy("*") })).toHaveLength(1);
    expect(
      violations(registryPrivate, TYPES.ecrRepositoryPolicy, { policy: policy({ AWS: ["*"] }) }),
    ).toHaveLength(1);
    expect(
      violations(registryPrivate, TYPES.ecrRepositoryPolicy, {
        policy: policy({ AWS: "arn:aws:iam::123456789012:root" }),
      }),
    ).toEqual([]);
    expect(
      violations(registryPrivate, TYPES.ecrRepositoryPolicy, {
        policy: policy("*", { StringEquals: { "aws:PrincipalOrgID": "o-abc" } }),
      }),
    ).toEqual([]);
  });

  it("rejects an Azure Container Registry with anonymous pulls or a public endpoint, unless the config allows the endpoint", () => {
    expect(
      violations(registryPrivate, TYPES.containerRegistry, {
        anonymousPullEnabled: false,
        publicNetworkAccess: "Disabled",
      }),
    ).toEqual([]);
    expect(violations(registryPrivate, TYPES.containerRegistry, { anonymousPullEnabled: true })).toEqual([
      "anonymousPullEnabled is true; set it to false",
      'publicNetworkAccess is unset (Enabled); set it to "Disabled" and reach the registry through a private endpoint, or set allowPublicNetworkAccess in the policy pack config',
    ]);
    expect(
      violations(
        registryPrivate,
        TYPES.containerRegistry,
        { publicNetworkAccess: "Enabled" },
        { config: { allowPublicNetworkAccess: true } },
      ),
    ).toEqual([]);
  });
});

describe("trainkit-kubernetes-api-private", () => {
  it("passes a GKE cluster with a private endpoint or authorized networks, and rejects one open to all", () => {
    expect(
      violations(kubernetesApiPrivate, TYPES.gkeCluster, {
        privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: true },
      }),
    ).toEqual([]);
    expect(
      violations(kubernetesApiPrivate, TYPES.gkeCluster, {
        privateClusterConfig: { enablePrivateNodes: true, enablePrivateEndpoint: false },
        masterAuthorizedNetworksConfig: {
          cidrBlocks: [{ cidrBlock: "203.0.113.0/24", displayName: "office" }],
        },
      }),
    ).toEqual([]);
    expect(
      violations(kubernetesApiPrivate, TYPES.gkeCluster, {
        masterAuthorizedNetworksConfig: { cidrBlocks: [{ cidrBlock: "0.0.0.0/0" }] },
      }),
    ).toHaveLength(1);
    expect(violations(kubernetesApiPrivate, TYPES.gkeCluster, {})[0]).toMatch(
      /^the control plane has a public endpoint/,
    );
  });

  it("does not count enablePrivateEndpoint on a cluster without private nodes, where the provider says it does not apply", () => {
    expect(GKE_ACCESS.fields["ClusterPrivateClusterConfig.enablePrivateEndpoint"]).toContain(
      "This field only applies to private clusters, when `enablePrivateNodes` is `true`.",
    );
    expect(
      violations(kubernetesApiPrivate, TYPES.gkeCluster, {
        privateClusterConfig: { enablePrivateEndpoint: true },
      }),
    ).toEqual([
      "the control plane has a public endpoint open to any address; set privateClusterConfig.enablePrivateEndpoint and enablePrivateNodes to true (it takes effect only with enablePrivateNodes), or list the networks in masterAuthorizedNetworksConfig.cidrBlocks (not 0.0.0.0/0)",
    ]);
  });

  it("rejects authorized networks that also let in every Compute Engine public address", () => {
    expect(GKE_ACCESS.fields["ClusterMasterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled"]).toBe(
      "Whether Kubernetes master is accessible via Google Compute Engine Public IPs.",
    );
    const props = (gcpPublicCidrsAccessEnabled: boolean) => ({
      privateClusterConfig: { enablePrivateNodes: true },
      masterAuthorizedNetworksConfig: {
        cidrBlocks: [{ cidrBlock: "203.0.113.0/24" }],
        gcpPublicCidrsAccessEnabled,
      },
    });
    expect(violations(kubernetesApiPrivate, TYPES.gkeCluster, props(true))).toEqual([
      "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled is true, so any Compute Engine VM's public address, in any project, reaches the control plane besides the listed networks; set it to false",
    ]);
    expect(violations(kubernetesApiPrivate, TYPES.gkeCluster, props(false))).toEqual([]);
  });

  it("treats an EKS cluster as public unless endpointPublicAccess is false or publicAccessCidrs narrows it", () => {
    expect(
      violations(kubernetesApiPrivate, TYPES.eksCluster, { vpcConfig: { subnetIds: ["a", "b"] } }),
    ).toEqual([
      "the API server endpoint is public to any address; set vpcConfig.endpointPublicAccess to false, or list the networks in vpcConfig.publicAccessCidrs (not 0.0.0.0/0)",
    ]);
    expect(
      violations(kubernetesApiPrivate, TYPES.eksCluster, { vpcConfig: { endpointPublicAccess: false } }),
    ).toEqual([]);
    expect(
      violations(kubernetesApiPrivate, TYPES.eksCluster, {
        vpcConfig: { endpointPublicAccess: true, publicAccessCidrs: ["198.51.100.7/32"] },
      }),
    ).toEqual([]);
  });

  it("passes a private AKS cluster or one with authorized IP ranges", () => {
    expect(
      violations(kubernetesApiPrivate, TYPES.aksCluster, {
        apiServerAccessProfile: { enablePrivateCluster: true },
      }),
    ).toEqual([]);
    expect(
      violations(kubernetesApiPrivate, TYPES.aksCluster, {
        apiServerAccessProfile: { authorizedIPRanges: ["0.0.0.0/0"] },
      }),
    ).toHaveLength(1);
  });
});

describe("trainkit-job-runtime-limit", () => {
  it("flags a kubernetes or local TrainingJob without a limit, and passes one with it", () => {
    const k8s = (extra: Record<string, unknown> = {}) => ({
      backend: "kubernetes",
      jobConfig: { image: "trainer:1", resources: { gpu: 1 }, ...extra },
    });
    expect(violations(jobRuntimeLimit, TYPES.trainingJob, k8s())).toEqual([
      "the job has no runtime limit, so a stuck run keeps its GPUs; set jobConfig.active_deadline_seconds",
    ]);
    expect(violations(jobRuntimeLimit, TYPES.trainingJob, k8s({ active_deadline_seconds: 3600 }))).toEqual(
      [],
    );
    expect(
      violations(jobRuntimeLimit, TYPES.trainingJob, { backend: "local", jobConfig: { command: ["x"] } }),
    ).toEqual(["the job has no runtime limit, so a stuck run keeps its GPUs; set jobConfig.timeout_seconds"]);
  });

  it("counts the backend's default limit on Vertex AI and SageMaker against maxRuntimeSeconds", () => {
    expect(violations(jobRuntimeLimit, TYPES.trainingJob, vertexJob())).toEqual([]);
    const call = { config: { maxRuntimeSeconds: 86_400 } };
    expect(violations(jobRuntimeLimit, TYPES.trainingJob, vertexJob(), call)).toEqual([
      "jobConfig.scheduling.timeout allows the backend's default of 604800s, more than the 86400s of maxRuntimeSeconds; set it lower",
    ]);
    expect(
      violations(jobRuntimeLimit, TYPES.trainingJob, vertexJob({ scheduling: { timeout: "7200s" } }), call),
    ).toEqual([]);
    const sagemaker = (max?: number) => ({
      backend: "sagemaker",
      jobConfig: {
        resource_config: { instance_type: "ml.g6.xlarge", instance_count: 1 },
        max_runtime_seconds: max,
      },
    });
    expect(violations(jobRuntimeLimit, TYPES.trainingJob, sagemaker(), call)).toEqual([]);
    expect(violations(jobRuntimeLimit, TYPES.trainingJob, sagemaker(172_800), call)).toHaveLength(1);
  });

  it("flags a raw Kubernetes Job that asks for GPUs without activeDeadlineSeconds, and ignores CPU-only Jobs", () => {
    const job = (extra: Record<string, unknown> = {}) => ({
      spec: { template: { spec: gpuPod(2) }, ...extra },
    });
    expect(violations(jobRuntimeLimit, TYPES.kubernetesJob, job())).toEqual([
      "the job has no runtime limit, so a stuck run keeps its GPUs; set spec.activeDeadlineSeconds",
    ]);
    expect(violations(jobRuntimeLimit, TYPES.kubernetesJob, job({ activeDeadlineSeconds: 600 }))).toEqual([]);
    expect(
      violations(jobRuntimeLimit, TYPES.kubernetesJob, {
        spec: { template: { spec: { containers: [{ name: "c" }] } } },
      }),
    ).toEqual([]);
  });
});
