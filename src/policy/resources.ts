import { GPU_NODE_LABELS, GPU_TAINT } from "../components/gpu-pool";
import { GPU_CATALOGUE, GPUS, type Gpu, type GpuPlace } from "../gpu";

// What a resource says about the GPUs it asks for, read from its inputs by the property names of the
// providers' schemas (@pulumi/gcp 9, @pulumi/aws 7, @pulumi/azure-native 3, @pulumi/kubernetes 4; the
// paths relied on are kept in test/fixtures/published/pulumi-providers). Resources are matched by type
// token, so the rules run on resources written by hand as well as on those trainkit's components register,
// and no provider SDK is loaded.

/** The type tokens the rules read, as the engine sends them. */
export const TYPES = {
  gkeNodePool: "gcp:container/nodePool:NodePool",
  gkeCluster: "gcp:container/cluster:Cluster",
  gcsBucket: "gcp:storage/bucket:Bucket",
  gcsBucketIamMember: "gcp:storage/bucketIAMMember:BucketIAMMember",
  gcsBucketIamBinding: "gcp:storage/bucketIAMBinding:BucketIAMBinding",
  gcsBucketIamPolicy: "gcp:storage/bucketIAMPolicy:BucketIAMPolicy",
  artifactRepositoryIamMember: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
  artifactRepositoryIamBinding: "gcp:artifactregistry/repositoryIamBinding:RepositoryIamBinding",
  artifactRepositoryIamPolicy: "gcp:artifactregistry/repositoryIamPolicy:RepositoryIamPolicy",
  eksNodeGroup: "aws:eks/nodeGroup:NodeGroup",
  eksCluster: "aws:eks/cluster:Cluster",
  s3Bucket: "aws:s3/bucket:Bucket",
  s3BucketAcl: "aws:s3/bucketAcl:BucketAcl",
  s3PublicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  ecrRepositoryPolicy: "aws:ecr/repositoryPolicy:RepositoryPolicy",
  ecrPublicRepository: "aws:ecrpublic/repository:Repository",
  aksAgentPool: "azure-native:containerservice:AgentPool",
  aksCluster: "azure-native:containerservice:ManagedCluster",
  amlCompute: "azure-native:machinelearningservices:Compute",
  storageAccount: "azure-native:storage:StorageAccount",
  blobContainer: "azure-native:storage:BlobContainer",
  containerRegistry: "azure-native:containerregistry:Registry",
  kubernetesJob: "kubernetes:batch/v1:Job",
  kubernetesCronJob: "kubernetes:batch/v1:CronJob",
  kubernetesDeployment: "kubernetes:apps/v1:Deployment",
  kubernetesStatefulSet: "kubernetes:apps/v1:StatefulSet",
  kubernetesPod: "kubernetes:core/v1:Pod",
  /** trainkit's TrainingJob: a dynamic resource, whose token `pulumi.dynamic.Resource` builds from module and type. */
  trainingJob: "pulumi-nodejs:dynamic/trainkit:TrainingJob",
} as const;

/** The Kubernetes extended resource NVIDIA's device plugin advertises. */
export const GPU_RESOURCE = "nvidia.com/gpu";

/** A GPU as a resource names it: the catalogue's GPU when known, and the resource's own words. */
export interface GpuKind {
  /** The catalogue GPU, when the resource's name for it maps to one. */
  gpu?: Gpu;
  /** What the resource calls it (`nvidia-l4`, `g6.xlarge`, `Standard_NC24ads_A100_v4`, `H100`). */
  named: string;
  /** The field it was read from (`nodeConfig.guestAccelerators[0].type`). */
  field: string;
}

/** GPUs one pool or one job asks for. */
export interface GpuDemand {
  /** `pool` for node pools and compute clusters, `job` for jobs and workloads. */
  kind: "pool" | "job";
  /** The GPU kind, when the resource says which. */
  accelerator?: GpuKind;
  /** GPUs per node, replica or pod. */
  perUnit: number;
  /** How many nodes (at most) or replicas; undefined when the resource does not bound it. */
  units?: number;
  /** The field `units` was read from, or the one that would bound it. */
  unitsField: string;
  /** Whether the nodes or the job run on spot capacity; undefined where the resource cannot say. */
  spot?: boolean;
  /** The field that chooses spot capacity, and the value that does. */
  spotField?: string;
  /** For pools: whether the nodes carry a `nvidia.com/gpu` NoSchedule taint. */
  tainted?: boolean;
  /** For pools: the field the taint belongs in. */
  taintField?: string;
}

/** Resource inputs as the engine sends them: trees whose shape depends on the type token. */
// biome-ignore lint/suspicious/noExplicitAny: the shape differs per resource type and is read defensively.
export type Props = Record<string, any>;

// biome-ignore lint/suspicious/noExplicitAny: list items are objects or strings depending on the field.
const asArray = (value: unknown): any[] => (Array.isArray(value) ? value : []);
const asNumber = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined;

function byShape(place: GpuPlace, type: string): { gpu: Gpu; gpus: number } | undefined {
  for (const gpu of GPUS) {
    const group = GPU_CATALOGUE[gpu][place]?.find((g) => g.types.includes(type));
    if (group) return { gpu, gpus: group.gpus };
  }
  return undefined;
}

function byGkeAccelerator(type: string): Gpu | undefined {
  return GPUS.find((gpu) => GPU_CATALOGUE[gpu].gcp?.some((g) => g.gkeAcceleratorType === type));
}

function byVertexAccelerator(type: string): Gpu | undefined {
  return GPUS.find((gpu) => GPU_CATALOGUE[gpu].gcp?.some((g) => g.vertexAcceleratorType === type));
}

/** The GPU model a name speaks of (`h100` for `nvidia-h100-80gb`, `H100`, `H100_80GB` or `nvidia-h100`). */
export function gpuModelWord(name: string): string {
  const words = name
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "" && w !== "nvidia" && w !== "tesla");
  return words[0] ?? "";
}

function gkePool(props: Props): GpuDemand[] {
  const config: Props = props.nodeConfig ?? {};
  const accelerators = asArray(config.guestAccelerators);
  const machineType = typeof config.machineType === "string" ? config.machineType : undefined;
  let accelerator: GpuKind | undefined;
  let perUnit = 0;
  const first = accelerators[0];
  if (first && typeof first.type === "string") {
    accelerator = {
      gpu: byGkeAccelerator(first.type),
      named: first.type,
      field: "nodeConfig.guestAccelerators[0].type",
    };
    perUnit = asNumber(first.count) ?? 0;
  } else if (machineType) {
    // A2, A3, A4 and G2 machine types carry their GPUs whether or not the pool lists them.
    const built = byShape("gcp", machineType);
    if (built && !/^n1-/.test(machineType)) {
      accelerator = { gpu: built.gpu, named: machineType, field: "nodeConfig.machineType" };
      perUnit = built.gpus;
    }
  }
  if (!accelerator) return [];
  const autoscaling: Props | undefined = props.autoscaling;
  // GKE's maxNodeCount is per zone; totalMaxNodeCount bounds the whole pool.
  const units = autoscaling
    ? (asNumber(autoscaling.totalMaxNodeCount) ?? asNumber(autoscaling.maxNodeCount))
    : (asNumber(props.nodeCount) ?? asNumber(props.initialNodeCount));
  const unitsField = autoscaling
    ? autoscaling.totalMaxNodeCount !== undefined
      ? "autoscaling.totalMaxNodeCount"
      : "autoscaling.maxNodeCount"
    : "nodeCount";
  return [
    {
      kind: "pool",
      accelerator,
      perUnit,
      units,
      unitsField,
      spot: config.spot === true || config.preemptible === true,
      spotField: "nodeConfig.spot = true",
      tainted: asArray(config.taints).some((t) => t?.key === GPU_TAINT.key && t?.effect === "NO_SCHEDULE"),
      taintField: `nodeConfig.taints (key ${GPU_TAINT.key}, effect NO_SCHEDULE)`,
    },
  ];
}

function eksNodeGroup(props: Props): GpuDemand[] {
  const types = asArray(props.instanceTypes).filter((t): t is string => typeof t === "string");
  const shapes = types.map((type) => ({ type, shape: byShape("ec2", type) }));
  const gpuTypes = shapes.filter((s) => s.shape);
  if (gpuTypes.length === 0) return [];
  const scaling: Props = props.scalingConfig ?? {};
  return gpuTypes.map(({ type, shape }) => ({
    kind: "pool" as const,
    accelerator: { gpu: shape!.gpu, named: type, field: `instanceTypes[${types.indexOf(type)}]` },
    perUnit: shape!.gpus,
    units: asNumber(scaling.maxSize),
    unitsField: "scalingConfig.maxSize",
    spot: props.capacityType === "SPOT",
    spotField: 'capacityType = "SPOT"',
    tainted: asArray(props.taints).some((t) => t?.key === GPU_TAINT.key && t?.effect === "NO_SCHEDULE"),
    taintField: `taints (key ${GPU_TAINT.key}, effect NO_SCHEDULE)`,
  }));
}

// AKS taints are strings `key=value:Effect` or `key:Effect`.
const aksTainted = (taints: unknown) =>
  asArray(taints).some(
    (t) =>
      typeof t === "string" && t.split(/[=:]/)[0] === GPU_TAINT.key && t.endsWith(`:${GPU_TAINT.effect}`),
  );

function aksPool(pool: Props, prefix: string): GpuDemand[] {
  if (typeof pool.vmSize !== "string") return [];
  const shape = byShape("azure", pool.vmSize);
  if (!shape) return [];
  const autoscaled = pool.enableAutoScaling === true || pool.maxCount !== undefined;
  return [
    {
      kind: "pool",
      accelerator: { gpu: shape.gpu, named: pool.vmSize, field: `${prefix}vmSize` },
      perUnit: shape.gpus,
      units: autoscaled ? asNumber(pool.maxCount) : asNumber(pool.count),
      unitsField: `${prefix}${autoscaled ? "maxCount" : "count"}`,
      spot: pool.scaleSetPriority === "Spot",
      spotField: `${prefix}scaleSetPriority = "Spot"`,
      tainted: aksTainted(pool.nodeTaints),
      taintField: `${prefix}nodeTaints ("${GPU_TAINT.key}=${GPU_TAINT.value}:${GPU_TAINT.effect}")`,
    },
  ];
}

function amlCompute(props: Props): GpuDemand[] {
  const outer: Props = props.properties ?? {};
  if (outer.computeType !== "AmlCompute") return [];
  const inner: Props = outer.properties ?? {};
  if (typeof inner.vmSize !== "string") return [];
  const shape = byShape("azure", inner.vmSize);
  if (!shape) return [];
  return [
    {
      kind: "pool",
      accelerator: { gpu: shape.gpu, named: inner.vmSize, field: "properties.properties.vmSize" },
      perUnit: shape.gpus,
      units: asNumber(inner.scaleSettings?.maxNodeCount),
      unitsField: "properties.properties.scaleSettings.maxNodeCount",
      spot: inner.vmPriority === "LowPriority",
      spotField: 'properties.properties.vmPriority = "LowPriority"',
    },
  ];
}

// Simplismart's form takes infra_config as an object or as the JSON text of one.
function jsonObject(value: unknown): Props {
  if (typeof value !== "string") return (value as Props) ?? {};
  try {
    const parsed = JSON.parse(value);
    return parsed && typeof parsed === "object" ? parsed : {};
  } catch {
    return {};
  }
}

/** A pod spec's GPUs per pod: the largest of any container's `nvidia.com/gpu` limit or request. */
function podGpus(spec: Props | undefined): number {
  const containers = [...asArray(spec?.containers), ...asArray(spec?.initContainers)];
  let most = 0;
  for (const c of containers) {
    const asked = c?.resources?.limits?.[GPU_RESOURCE] ?? c?.resources?.requests?.[GPU_RESOURCE];
    const n = typeof asked === "string" ? Number(asked) : asNumber(asked);
    if (n !== undefined && Number.isFinite(n) && n > most) most = n;
  }
  return most;
}

function podAccelerator(spec: Props | undefined, prefix: string): GpuKind | undefined {
  const selector: Props = spec?.nodeSelector ?? {};
  const label = selector[GPU_NODE_LABELS.gpu];
  if (typeof label === "string") {
    return {
      gpu: (GPUS as readonly string[]).includes(label) ? (label as Gpu) : undefined,
      named: label,
      field: `${prefix}nodeSelector["${GPU_NODE_LABELS.gpu}"]`,
    };
  }
  const gke = selector["cloud.google.com/gke-accelerator"];
  if (typeof gke === "string") {
    return {
      gpu: byGkeAccelerator(gke),
      named: gke,
      field: `${prefix}nodeSelector["cloud.google.com/gke-accelerator"]`,
    };
  }
  return undefined;
}

function kubernetesWorkload(type: string, props: Props): GpuDemand[] {
  const spec: Props = props.spec ?? {};
  let pod: Props | undefined;
  let prefix: string;
  let units: number | undefined;
  let unitsField: string;
  switch (type) {
    case TYPES.kubernetesPod:
      pod = spec;
      prefix = "spec.";
      units = 1;
      unitsField = "";
      break;
    case TYPES.kubernetesJob:
      pod = spec.template?.spec;
      prefix = "spec.template.spec.";
      units = asNumber(spec.parallelism) ?? 1;
      unitsField = "spec.parallelism";
      break;
    case TYPES.kubernetesCronJob:
      pod = spec.jobTemplate?.spec?.template?.spec;
      prefix = "spec.jobTemplate.spec.template.spec.";
      units = asNumber(spec.jobTemplate?.spec?.parallelism) ?? 1;
      unitsField = "spec.jobTemplate.spec.parallelism";
      break;
    default:
      pod = spec.template?.spec;
      prefix = "spec.template.spec.";
      units = asNumber(spec.replicas) ?? 1;
      unitsField = "spec.replicas";
  }
  const perUnit = podGpus(pod);
  if (perUnit === 0) return [];
  return [{ kind: "job", accelerator: podAccelerator(pod, prefix), perUnit, units, unitsField }];
}

function trainingJob(props: Props): GpuDemand[] {
  const config: Props = props.jobConfig ?? {};
  const capacity = config.capacity;
  switch (props.backend) {
    case "vertex-ai":
      return asArray(config.worker_pool_specs).flatMap((pool, i): GpuDemand[] => {
        const spec: Props = pool?.machine_spec ?? {};
        const field = `jobConfig.worker_pool_specs[${i}].machine_spec`;
        let accelerator: GpuKind | undefined;
        let perUnit = asNumber(spec.accelerator_count) ?? 0;
        if (typeof spec.accelerator_type === "string") {
          accelerator = {
            gpu: byVertexAccelerator(spec.accelerator_type),
            named: spec.accelerator_type,
            field: `${field}.accelerator_type`,
          };
        } else if (typeof spec.machine_type === "string") {
          const built = byShape("gcp", spec.machine_type);
          if (built) {
            accelerator = { gpu: built.gpu, named: spec.machine_type, field: `${field}.machine_type` };
            perUnit = built.gpus;
          }
        }
        if (!accelerator) return [];
        return [
          {
            kind: "job",
            accelerator,
            perUnit,
            units: asNumber(pool.replica_count) ?? 1,
            unitsField: `jobConfig.worker_pool_specs[${i}].replica_count`,
            spot: capacity === "spot",
            spotField: 'jobConfig.capacity = "spot"',
          },
        ];
      });
    case "sagemaker": {
      const resources: Props = config.resource_config ?? {};
      const type = resources.instance_type;
      const shape = typeof type === "string" ? byShape("sagemaker", type) : undefined;
      if (!shape) return [];
      return [
        {
          kind: "job",
          accelerator: { gpu: shape.gpu, named: type, field: "jobConfig.resource_config.instance_type" },
          perUnit: shape.gpus,
          units: asNumber(resources.instance_count) ?? 1,
          unitsField: "jobConfig.resource_config.instance_count",
          spot: capacity === "spot",
          spotField: 'jobConfig.capacity = "spot"',
        },
      ];
    }
    case "azure-ml": {
      const type = config.resources?.instance_type;
      const shape = typeof type === "string" ? byShape("azure", type) : undefined;
      if (!shape) return [];
      return [
        {
          kind: "job",
          accelerator: { gpu: shape.gpu, named: type, field: "jobConfig.resources.instance_type" },
          perUnit: shape.gpus,
          units: asNumber(config.resources?.instance_count) ?? 1,
          unitsField: "jobConfig.resources.instance_count",
          // A named compute cluster's nodes are bought as the cluster says; only serverless jobs choose.
          spot: config.compute === "serverless" ? capacity === "spot" : undefined,
          spotField: 'jobConfig.capacity = "spot"',
        },
      ];
    }
    case "kubernetes": {
      const perUnit = asNumber(config.resources?.gpu) ?? 0;
      if (perUnit === 0) return [];
      const label = config.node_selector?.[GPU_NODE_LABELS.gpu];
      return [
        {
          kind: "job",
          accelerator:
            typeof label === "string"
              ? {
                  gpu: (GPUS as readonly string[]).includes(label) ? (label as Gpu) : undefined,
                  named: label,
                  field: `jobConfig.node_selector["${GPU_NODE_LABELS.gpu}"]`,
                }
              : undefined,
          perUnit,
          units: asNumber(config.parallelism) ?? 1,
          unitsField: "jobConfig.parallelism",
          spot: capacity === "spot",
          spotField: 'jobConfig.capacity = "spot"',
        },
      ];
    }
    case "baseten": {
      const compute: Props = config.training_job?.compute ?? {};
      const base = "jobConfig.training_job.compute";
      const acc = compute.accelerator;
      if (!acc || typeof acc.accelerator !== "string") return [];
      return [
        {
          kind: "job",
          accelerator: { named: acc.accelerator, field: `${base}.accelerator.accelerator` },
          perUnit: asNumber(acc.count) ?? 0,
          units: asNumber(compute.node_count) ?? 1,
          unitsField: `${base}.node_count`,
        },
      ];
    }
    case "simplismart": {
      const infra = jsonObject(config.infra_config);
      if (typeof infra.gpu_type !== "string") return [];
      return [
        {
          kind: "job",
          accelerator: { named: infra.gpu_type, field: "jobConfig.infra_config.gpu_type" },
          perUnit: asNumber(infra.gpu_count) ?? 0,
          units: asNumber(infra.node_count),
          unitsField: "jobConfig.infra_config.node_count",
        },
      ];
    }
    case "tensorone": {
      const structured = config.infrastructure;
      const gpuType = structured?.gpuType ?? config.gpuType;
      if (typeof gpuType !== "string") return [];
      return [
        {
          kind: "job",
          accelerator: {
            named: gpuType,
            field: structured ? "jobConfig.infrastructure.gpuType" : "jobConfig.gpuType",
          },
          perUnit: asNumber(structured?.gpuCount) ?? 1,
          units: structured ? 1 : asNumber(config.maxWorkers),
          unitsField: structured ? "" : "jobConfig.maxWorkers",
        },
      ];
    }
    default:
      return [];
  }
}

/** The GPU pools or GPU jobs a resource declares, read from its inputs; empty for anything else. */
export function gpuDemands(type: string, props: Props): GpuDemand[] {
  switch (type) {
    case TYPES.gkeNodePool:
      return gkePool(props);
    case TYPES.eksNodeGroup:
      return eksNodeGroup(props);
    case TYPES.aksAgentPool:
      return aksPool(props, "");
    case TYPES.aksCluster:
      return asArray(props.agentPoolProfiles).flatMap((p, i) => aksPool(p ?? {}, `agentPoolProfiles[${i}].`));
    case TYPES.amlCompute:
      return amlCompute(props);
    case TYPES.kubernetesJob:
    case TYPES.kubernetesCronJob:
    case TYPES.kubernetesDeployment:
    case TYPES.kubernetesStatefulSet:
    case TYPES.kubernetesPod:
      return kubernetesWorkload(type, props);
    case TYPES.trainingJob:
      return trainingJob(props);
    default:
      return [];
  }
}
