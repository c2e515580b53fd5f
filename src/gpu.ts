import { ArgumentError, oneOf, shown } from "./components/sentences";

// One accelerator vocabulary for every cloud. Each cloud sells a GPU only inside fixed shapes (a GCE
// machine type, an EC2 or SageMaker instance type, an Azure VM size) that carry a fixed number of that GPU,
// so a pool or a job names the GPU and a count, and the catalogue finds the shape, or says which counts
// and shapes exist. The tables state what the clouds publish; where a cloud has no shape, `UNAVAILABLE`
// says so in the sentence a user sees.

/**
 * Every GPU the catalogue knows, by the name used across trainkit. An object of constants rather than a bare
 * union so that Pulumi's component analyzer publishes it as an enum to every Pulumi language.
 */
export const Gpu = {
  NvidiaT4: "nvidia-t4",
  NvidiaL4: "nvidia-l4",
  NvidiaA100_40gb: "nvidia-a100-40gb",
  NvidiaA100_80gb: "nvidia-a100-80gb",
  NvidiaH100_80gb: "nvidia-h100-80gb",
  NvidiaH100Nvl_94gb: "nvidia-h100-nvl-94gb",
  NvidiaH200_141gb: "nvidia-h200-141gb",
  NvidiaV100: "nvidia-v100",
  NvidiaA10: "nvidia-a10",
  NvidiaA10g: "nvidia-a10g",
  NvidiaL40s: "nvidia-l40s",
  NvidiaB200: "nvidia-b200",
  NvidiaGb200: "nvidia-gb200",
} as const;
/** A GPU's catalogue name (`nvidia-l4`, `nvidia-h100-80gb`), the value of every `gpu` field. */
export type Gpu = (typeof Gpu)[keyof typeof Gpu];
/** Every GPU the catalogue knows, in catalogue order. */
export const GPUS: readonly Gpu[] = Object.values(Gpu);

/** How a cloud sells a shape. */
export type CapacityOption = "on-demand" | "spot" | "flex-start" | "reservation" | "capacity-block";

/** What a group that says nothing about its capacity is sold as. */
export const DEFAULT_CAPACITY: readonly CapacityOption[] = ["on-demand", "spot"];

/** Shapes that each carry `gpus` of one GPU. The first type of the first group with a count is its default. */
export interface ShapeGroup {
  /** GPUs each shape of the group carries. */
  readonly gpus: number;
  /** The shapes' names (machine types, instance types or VM sizes), the default first. */
  readonly types: readonly string[];
  /** The ways this shape can be bought. Absent: on demand and spot. */
  readonly capacity?: readonly CapacityOption[];
}

/** GCE machine types carrying one kind of GPU, with the names GKE and Vertex AI give that accelerator. */
export interface GcpShapeGroup extends ShapeGroup {
  /** GKE `guestAccelerator.type` (`nvidia-l4`). */
  readonly gkeAcceleratorType: string;
  /** Vertex AI `machine_spec.accelerator_type` (`NVIDIA_L4`). */
  readonly vertexAcceleratorType: string;
  /** True when the GPU is attached to a general-purpose machine type that also runs without one (N1). */
  readonly attached?: boolean;
}

/** One GPU in the catalogue: its memory and the shapes each cloud sells it in. */
export interface GpuModel {
  /** The GPU's catalogue name. */
  readonly name: Gpu;
  /** GPU memory per GPU, in GB. */
  readonly memoryGb: number;
  /** GCE machine types with this GPU, by count; undefined where GCP does not sell it. */
  readonly gcp?: readonly GcpShapeGroup[];
  /** EC2 instance types with this GPU, by count; undefined where EC2 does not sell it. */
  readonly ec2?: readonly ShapeGroup[];
  /** SageMaker training instance types (`ml.` prefix), by count; undefined where SageMaker does not offer it. */
  readonly sagemaker?: readonly ShapeGroup[];
  /** Azure VM sizes with this GPU, by count; undefined where Azure does not sell it. */
  readonly azure?: readonly ShapeGroup[];
}

// N1 machine types up to a vCPU count, the default first (the first type of a count is its default).
function n1(preferred: string, sizes: readonly number[]): string[] {
  const all = ["standard", "highmem", "highcpu"].flatMap((kind) =>
    sizes.filter((s) => kind === "standard" || s >= 2).map((s) => `n1-${kind}-${s}`),
  );
  return [preferred, ...all.filter((t) => t !== preferred)];
}

// How GCE sells GPU machines (https://cloud.google.com/ai-hypercomputer/docs/consumption-models and
// https://cloud.google.com/compute/docs/accelerator-optimized-machines): every GPU machine can be reserved,
// every one but A4X runs as Spot or flex-start (Dynamic Workload Scheduler), and A3 Ultra and A4 are not
// sold on demand at all; A4X only through reservations.
const GCE_CAPACITY: readonly CapacityOption[] = ["on-demand", "spot", "flex-start", "reservation"];
const GCE_RESERVED_SPOT_FLEX: readonly CapacityOption[] = ["spot", "flex-start", "reservation"];
const GCE_RESERVATION_ONLY: readonly CapacityOption[] = ["reservation"];
const GCE_SPOT_FLEX_ONLY: readonly CapacityOption[] = ["spot", "flex-start"];

type Groups = [number, string[], (readonly CapacityOption[])?][];

function gcp(
  gkeAcceleratorType: string,
  vertexAcceleratorType: string,
  groups: Groups,
  attached = false,
): GcpShapeGroup[] {
  return groups.map(([gpus, types, capacity]) => ({
    gpus,
    types,
    capacity: capacity ?? GCE_CAPACITY,
    gkeAcceleratorType,
    vertexAcceleratorType,
    ...(attached ? { attached } : {}),
  }));
}

function shapes(groups: Groups): ShapeGroup[] {
  return groups.map(([gpus, types, capacity]) => ({ gpus, types, ...(capacity ? { capacity } : {}) }));
}

// EC2 sells its largest GPU instances through Capacity Blocks for ML and Capacity Reservations as well as on
// demand and as Spot (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-capacity-blocks.html); the
// P6e-GB200 instances exist only inside UltraServer Capacity Blocks.
const EC2_BLOCKS: readonly CapacityOption[] = ["on-demand", "spot", "capacity-block", "reservation"];
const EC2_BLOCKS_ONLY: readonly CapacityOption[] = ["capacity-block"];
// SageMaker training jobs run on demand, as managed Spot, or on the reserved capacity of a training plan
// (https://docs.aws.amazon.com/sagemaker/latest/dg/reserve-capacity-with-training-plans.html); UltraServer
// instances only through a training plan.
const SAGEMAKER_PLANS: readonly CapacityOption[] = ["on-demand", "spot", "reservation"];
const SAGEMAKER_PLANS_ONLY: readonly CapacityOption[] = ["reservation"];

const g4dnOne = ["xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"];
const g6One = ["xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"];
// g5 and g6e share the g6 layout: one GPU up to 16xlarge, four on 12xlarge and 24xlarge, eight on 48xlarge.
const oneGpuSizes = g6One;

export const GPU_CATALOGUE: { readonly [G in Gpu]: GpuModel } = {
  "nvidia-t4": {
    name: "nvidia-t4",
    memoryGb: 16,
    // T4 attaches to N1 machines; GCE caps vCPUs at 48 for one or two T4s and at 96 for four.
    gcp: gcp(
      "nvidia-tesla-t4",
      "NVIDIA_TESLA_T4",
      [
        [1, n1("n1-standard-8", [1, 2, 4, 8, 16, 32])],
        [2, n1("n1-standard-16", [1, 2, 4, 8, 16, 32])],
        [4, n1("n1-standard-32", [1, 2, 4, 8, 16, 32, 64, 96])],
      ],
      true,
    ),
    ec2: shapes([
      [1, g4dnOne.map((s) => `g4dn.${s}`)],
      [4, ["g4dn.12xlarge"]],
      [8, ["g4dn.metal"]],
    ]),
    sagemaker: shapes([
      [1, g4dnOne.map((s) => `ml.g4dn.${s}`)],
      [4, ["ml.g4dn.12xlarge"]],
    ]),
    azure: shapes([
      [1, ["Standard_NC8as_T4_v3", "Standard_NC4as_T4_v3", "Standard_NC16as_T4_v3"]],
      [4, ["Standard_NC64as_T4_v3"]],
    ]),
  },
  "nvidia-l4": {
    name: "nvidia-l4",
    memoryGb: 24,
    gcp: gcp("nvidia-l4", "NVIDIA_L4", [
      [1, ["g2-standard-8", "g2-standard-4", "g2-standard-12", "g2-standard-16", "g2-standard-32"]],
      [2, ["g2-standard-24"]],
      [4, ["g2-standard-48"]],
      [8, ["g2-standard-96"]],
    ]),
    ec2: shapes([
      [1, [...g6One.map((s) => `g6.${s}`), "gr6.4xlarge", "gr6.8xlarge"]],
      [4, ["g6.12xlarge", "g6.24xlarge"]],
      [8, ["g6.48xlarge"]],
    ]),
    sagemaker: shapes([
      [1, g6One.map((s) => `ml.g6.${s}`)],
      [4, ["ml.g6.12xlarge", "ml.g6.24xlarge"]],
      [8, ["ml.g6.48xlarge"]],
    ]),
  },
  "nvidia-a100-40gb": {
    name: "nvidia-a100-40gb",
    memoryGb: 40,
    gcp: gcp("nvidia-tesla-a100", "NVIDIA_TESLA_A100", [
      [1, ["a2-highgpu-1g"]],
      [2, ["a2-highgpu-2g"]],
      [4, ["a2-highgpu-4g"]],
      [8, ["a2-highgpu-8g"]],
      [16, ["a2-megagpu-16g"]],
    ]),
    ec2: shapes([[8, ["p4d.24xlarge"], EC2_BLOCKS]]),
    sagemaker: shapes([[8, ["ml.p4d.24xlarge"], SAGEMAKER_PLANS]]),
    azure: shapes([[8, ["Standard_ND96asr_v4"]]]),
  },
  "nvidia-a100-80gb": {
    name: "nvidia-a100-80gb",
    memoryGb: 80,
    gcp: gcp("nvidia-a100-80gb", "NVIDIA_A100_80GB", [
      [1, ["a2-ultragpu-1g"]],
      [2, ["a2-ultragpu-2g"]],
      [4, ["a2-ultragpu-4g"]],
      [8, ["a2-ultragpu-8g"]],
    ]),
    ec2: shapes([[8, ["p4de.24xlarge"]]]),
    sagemaker: shapes([[8, ["ml.p4de.24xlarge"]]]),
    azure: shapes([
      [1, ["Standard_NC24ads_A100_v4"]],
      [2, ["Standard_NC48ads_A100_v4"]],
      [4, ["Standard_NC96ads_A100_v4"]],
      [8, ["Standard_ND96amsr_A100_v4"]],
    ]),
  },
  "nvidia-h100-80gb": {
    name: "nvidia-h100-80gb",
    memoryGb: 80,
    // a3-highgpu-1g/2g/4g are sold only as Spot or flex-start capacity; a3-megagpu-8g carries the same GPU
    // with more network bandwidth, which GKE and Vertex AI name as a separate accelerator.
    gcp: [
      ...gcp("nvidia-h100-80gb", "NVIDIA_H100_80GB", [
        [1, ["a3-highgpu-1g"], GCE_SPOT_FLEX_ONLY],
        [2, ["a3-highgpu-2g"], GCE_SPOT_FLEX_ONLY],
        [4, ["a3-highgpu-4g"], GCE_SPOT_FLEX_ONLY],
        [8, ["a3-highgpu-8g"]],
      ]),
      ...gcp("nvidia-h100-mega-80gb", "NVIDIA_H100_MEGA_80GB", [[8, ["a3-megagpu-8g"]]]),
    ],
    ec2: shapes([
      [1, ["p5.4xlarge"], ["on-demand", "spot", "reservation"]],
      [8, ["p5.48xlarge"], EC2_BLOCKS],
    ]),
    sagemaker: shapes([
      [1, ["ml.p5.4xlarge"], SAGEMAKER_PLANS],
      [8, ["ml.p5.48xlarge"], SAGEMAKER_PLANS],
    ]),
    azure: shapes([[8, ["Standard_ND96isr_H100_v5"]]]),
  },
  "nvidia-h100-nvl-94gb": {
    name: "nvidia-h100-nvl-94gb",
    memoryGb: 94,
    azure: shapes([
      [1, ["Standard_NC40ads_H100_v5"]],
      [2, ["Standard_NC80adis_H100_v5"]],
    ]),
  },
  "nvidia-h200-141gb": {
    name: "nvidia-h200-141gb",
    memoryGb: 141,
    gcp: gcp("nvidia-h200-141gb", "NVIDIA_H200_141GB", [[8, ["a3-ultragpu-8g"], GCE_RESERVED_SPOT_FLEX]]),
    ec2: shapes([[8, ["p5e.48xlarge", "p5en.48xlarge"], EC2_BLOCKS]]),
    sagemaker: shapes([[8, ["ml.p5e.48xlarge", "ml.p5en.48xlarge"], SAGEMAKER_PLANS]]),
    azure: shapes([[8, ["Standard_ND96isr_H200_v5"]]]),
  },
  "nvidia-v100": {
    name: "nvidia-v100",
    memoryGb: 16,
    // V100 attaches to N1 machines; GCE caps vCPUs at 12 per V100 (12, 24, 48 and 96).
    gcp: gcp(
      "nvidia-tesla-v100",
      "NVIDIA_TESLA_V100",
      [
        [1, n1("n1-standard-8", [1, 2, 4, 8])],
        [2, n1("n1-standard-16", [1, 2, 4, 8, 16])],
        [4, n1("n1-standard-32", [1, 2, 4, 8, 16, 32])],
        [8, n1("n1-standard-64", [1, 2, 4, 8, 16, 32, 64, 96])],
      ],
      true,
    ),
    // p3dn.24xlarge carries the 32 GB V100, so it is not this entry's 16 GB part.
    ec2: shapes([
      [1, ["p3.2xlarge"]],
      [4, ["p3.8xlarge"]],
      [8, ["p3.16xlarge"]],
    ]),
    sagemaker: shapes([
      [1, ["ml.p3.2xlarge"]],
      [4, ["ml.p3.8xlarge"]],
      [8, ["ml.p3.16xlarge"]],
    ]),
  },
  "nvidia-a10": {
    name: "nvidia-a10",
    memoryGb: 24,
    // The smaller NVadsA10 v5 sizes carry a fraction of one A10 and cannot run a whole-GPU job.
    azure: shapes([
      [1, ["Standard_NV36ads_A10_v5", "Standard_NV36adms_A10_v5"]],
      [2, ["Standard_NV72ads_A10_v5"]],
    ]),
  },
  "nvidia-a10g": {
    name: "nvidia-a10g",
    memoryGb: 24,
    ec2: shapes([
      [1, oneGpuSizes.map((s) => `g5.${s}`)],
      [4, ["g5.12xlarge", "g5.24xlarge"]],
      [8, ["g5.48xlarge"]],
    ]),
    sagemaker: shapes([
      [1, oneGpuSizes.map((s) => `ml.g5.${s}`)],
      [4, ["ml.g5.12xlarge", "ml.g5.24xlarge"]],
      [8, ["ml.g5.48xlarge"]],
    ]),
  },
  "nvidia-l40s": {
    name: "nvidia-l40s",
    memoryGb: 48,
    ec2: shapes([
      [1, oneGpuSizes.map((s) => `g6e.${s}`)],
      [4, ["g6e.12xlarge", "g6e.24xlarge"]],
      [8, ["g6e.48xlarge"]],
    ]),
    sagemaker: shapes([
      [1, oneGpuSizes.map((s) => `ml.g6e.${s}`)],
      [4, ["ml.g6e.12xlarge", "ml.g6e.24xlarge"]],
      [8, ["ml.g6e.48xlarge"]],
    ]),
  },
  "nvidia-b200": {
    name: "nvidia-b200",
    memoryGb: 180,
    gcp: gcp("nvidia-b200", "NVIDIA_B200", [[8, ["a4-highgpu-8g"], GCE_RESERVED_SPOT_FLEX]]),
    ec2: shapes([[8, ["p6-b200.48xlarge"], EC2_BLOCKS]]),
    sagemaker: shapes([[8, ["ml.p6-b200.48xlarge"], SAGEMAKER_PLANS]]),
  },
  "nvidia-gb200": {
    name: "nvidia-gb200",
    memoryGb: 186,
    // Each VM or instance is a four-GPU slice of an NVL72 rack.
    gcp: gcp("nvidia-gb200", "NVIDIA_GB200", [[4, ["a4x-highgpu-4g"], GCE_RESERVATION_ONLY]]),
    ec2: shapes([[4, ["p6e-gb200.36xlarge"], EC2_BLOCKS_ONLY]]),
    sagemaker: shapes([[4, ["ml.p6e-gb200.36xlarge"], SAGEMAKER_PLANS_ONLY]]),
    azure: shapes([[4, ["Standard_ND128isr_NDR_GB200_v6"]]]),
  },
};

/** Where a GPU can be placed: the shape tables of `GpuModel`, each with the name a user reads. */
export const GPU_PLACES = {
  /** GCE machines, for GKE node pools and Vertex AI jobs. */
  gcp: "GCP",
  /** EC2 instances, for EKS node groups. */
  ec2: "EC2",
  /** SageMaker training instances. */
  sagemaker: "SageMaker",
  /** Azure VMs, for AKS node pools and Azure ML compute. */
  azure: "Azure",
} as const;
/** A key of {@link GPU_PLACES}: the shape table of a {@link GpuModel} to look in. */
export type GpuPlace = keyof typeof GPU_PLACES;

// Why a place lacks a GPU, where the reason is a fact about the cloud rather than a gap in the catalogue.
const UNAVAILABLE: Partial<Record<Gpu, Partial<Record<GpuPlace, string>>>> = {
  "nvidia-l4": { azure: "Azure has no VM size with an L4" },
  "nvidia-v100": { azure: "Azure retired its V100 sizes (NCv3, NDv2)" },
  "nvidia-a10": {
    gcp: "GCP has no machine type with an A10",
    ec2: "AWS sells the A10G instead; use nvidia-a10g",
    sagemaker: "AWS sells the A10G instead; use nvidia-a10g",
  },
  "nvidia-a10g": {
    gcp: "the A10G is sold only by AWS",
    azure: "the A10G is sold only by AWS; Azure sells the A10, nvidia-a10",
  },
  "nvidia-l40s": { gcp: "GCP has no machine type with an L40S", azure: "Azure has no VM size with an L40S" },
  "nvidia-h100-nvl-94gb": {
    gcp: "GCP sells the H100 only as the 80 GB SXM part; use nvidia-h100-80gb",
    ec2: "AWS sells the H100 only as the 80 GB SXM part; use nvidia-h100-80gb",
    sagemaker: "AWS sells the H100 only as the 80 GB SXM part; use nvidia-h100-80gb",
  },
};

/** Field names used in error sentences, so a caller validating `accelerator_count` sees that name. */
export interface ShapeFields {
  /** Defaults to `gpu`. */
  gpu?: string;
  /** Defaults to `gpusPerNode`. */
  count?: string;
  /** Defaults to `machineType` on GCP, `instanceType` on AWS and `vmSize` on Azure. */
  type?: string;
}

/** Whether `value` is a GPU name the catalogue knows. */
export function isGpu(value: unknown): value is Gpu {
  return typeof value === "string" && (GPUS as readonly string[]).includes(value);
}

/** The catalogue entry of a GPU, or an error sentence listing the GPUs that exist. */
export function gpuModel(gpu: string, field = "gpu"): GpuModel {
  if (!isGpu(gpu)) throw new ArgumentError(`${field} must be one of ${oneOf(GPUS)}; got ${shown(gpu)}`);
  return GPU_CATALOGUE[gpu];
}

/** GPUs that have at least one shape in a place. */
export function gpusIn(place: GpuPlace): Gpu[] {
  return GPUS.filter((g) => (GPU_CATALOGUE[g][place]?.length ?? 0) > 0);
}

/** The GPU counts per node (or instance) a place sells for a GPU, ascending. */
export function allowedCounts(gpu: Gpu, place: GpuPlace): number[] {
  const groups = GPU_CATALOGUE[gpu][place] ?? [];
  return [...new Set(groups.map((g) => g.gpus))].sort((a, b) => a - b);
}

function groupsIn<G extends ShapeGroup>(gpu: string, place: GpuPlace, fields: ShapeFields): readonly G[] {
  const model = gpuModel(gpu, fields.gpu);
  const groups = model[place] as readonly G[] | undefined;
  if (groups && groups.length > 0) return groups;
  const reason = UNAVAILABLE[model.name]?.[place];
  throw new ArgumentError(
    `${fields.gpu ?? "gpu"} ${model.name} is not offered on ${GPU_PLACES[place]}` +
      (reason ? ` (${reason})` : "") +
      `; choose one of ${oneOf(gpusIn(place))}`,
  );
}

function pick<G extends ShapeGroup>(
  gpu: string,
  count: number,
  chosen: string | undefined,
  place: GpuPlace,
  fields: ShapeFields,
  typeField: string,
): { group: G; type: string } {
  const groups = groupsIn<G>(gpu, place, fields);
  const countField = fields.count ?? "gpusPerNode";
  const counts = allowedCounts(gpu as Gpu, place);
  const matching = groups.filter((g) => g.gpus === count);
  if (!Number.isInteger(count) || matching.length === 0) {
    throw new ArgumentError(
      `${countField} must be ${oneOf(counts)} for ${gpu} on ${GPU_PLACES[place]}; got ${shown(count)}`,
    );
  }
  if (chosen === undefined) {
    const group = matching[0]!;
    return { group, type: group.types[0]! };
  }
  const group = matching.find((g) => g.types.includes(chosen));
  if (group) return { group, type: chosen };
  const allowed = matching.flatMap((g) => g.types);
  const elsewhere = groups.find((g) => g.types.includes(chosen));
  const hint = elsewhere
    ? ` (${chosen} goes with ${elsewhere.gpus}, so set ${countField} to ${elsewhere.gpus} or pick another type)`
    : "";
  const choice = allowed.length === 1 ? allowed[0] : `one of ${oneOf(allowed)}`;
  throw new ArgumentError(
    `${typeField} must be ${choice} for ${count} ${gpu} per node on ${GPU_PLACES[place]}; got ${shown(chosen)}${hint}`,
  );
}

const TYPE_FIELD: Record<GpuPlace, string> = {
  gcp: "machineType",
  ec2: "instanceType",
  sagemaker: "instanceType",
  azure: "vmSize",
};

/**
 * The capacity options of one machine/instance type/VM size; throws the catalogue's usual ArgumentError
 * sentence for an unknown type.
 */
export function capacityOptionsFor(
  cloud: "gcp" | "ec2" | "sagemaker" | "azure",
  type: string,
  field: string = TYPE_FIELD[cloud],
): readonly CapacityOption[] {
  const groups = GPUS.flatMap((gpu) => (GPU_CATALOGUE[gpu][cloud] ?? []) as readonly ShapeGroup[]);
  const group = groups.find((g) => g.types.includes(type));
  if (group) return group.capacity ?? DEFAULT_CAPACITY;
  const known = [...new Set(groups.flatMap((g) => g.types))];
  throw new ArgumentError(
    `${field} must be a ${GPU_PLACES[cloud]} GPU type the catalogue knows, one of ${oneOf(known)}; got ${shown(type)}`,
  );
}

/** A GCE machine shape resolved from a GPU and a count. */
export interface GcpMachine {
  /** The GPU the machine carries. */
  gpu: Gpu;
  /** How many of it. */
  gpus: number;
  /** Memory of one GPU, in GB. */
  gpuMemoryGb: number;
  /** The GCE machine type (`g2-standard-8`). */
  machineType: string;
  /** GKE's name of the accelerator, for a node pool's `guestAccelerator.type` (`nvidia-l4`). */
  gkeAcceleratorType: string;
  /** Vertex AI's name of the accelerator, for `machine_spec.accelerator_type` (`NVIDIA_L4`). */
  vertexAcceleratorType: string;
}

/**
 * The GCE machine type for `count` of `gpu` per node: `machineType` when given and valid, the catalogue's
 * default otherwise. Throws a sentence naming the allowed counts or machine types.
 */
export function gcpMachineFor(
  gpu: string,
  count: number,
  machineType?: string,
  fields: ShapeFields = {},
): GcpMachine {
  const { group, type } = pick<GcpShapeGroup>(
    gpu,
    count,
    machineType,
    "gcp",
    fields,
    fields.type ?? "machineType",
  );
  return {
    gpu: gpu as Gpu,
    gpus: count,
    gpuMemoryGb: GPU_CATALOGUE[gpu as Gpu].memoryGb,
    machineType: type,
    gkeAcceleratorType: group.gkeAcceleratorType,
    vertexAcceleratorType: group.vertexAcceleratorType,
  };
}

/** An EC2 or SageMaker instance type, or an Azure VM size, resolved from a GPU and a count. */
export interface InstanceShape {
  /** The GPU the instance carries. */
  gpu: Gpu;
  /** How many of it. */
  gpus: number;
  /** Memory of one GPU, in GB. */
  gpuMemoryGb: number;
  /** The EC2 instance type, SageMaker instance type (`ml.g6.xlarge`) or Azure VM size. */
  instanceType: string;
}

function instanceFor(
  place: GpuPlace,
  gpu: string,
  count: number,
  chosen: string | undefined,
  fields: ShapeFields,
  typeField: string,
): InstanceShape {
  const { type } = pick<ShapeGroup>(gpu, count, chosen, place, fields, fields.type ?? typeField);
  return {
    gpu: gpu as Gpu,
    gpus: count,
    gpuMemoryGb: GPU_CATALOGUE[gpu as Gpu].memoryGb,
    instanceType: type,
  };
}

/** The EC2 instance type for `count` of `gpu` per node (g4dn T4, g6 L4, p4d/p4de A100, p5 H100, p5e H200). */
export function ec2InstanceFor(
  gpu: string,
  count: number,
  instanceType?: string,
  fields: ShapeFields = {},
): InstanceShape {
  return instanceFor("ec2", gpu, count, instanceType, fields, "instanceType");
}

/** The SageMaker training instance type (`ml.` prefix) for `count` of `gpu` per instance. */
export function sageMakerInstanceFor(
  gpu: string,
  count: number,
  instanceType?: string,
  fields: ShapeFields = {},
): InstanceShape {
  return instanceFor("sagemaker", gpu, count, instanceType, fields, "instanceType");
}

/** The Azure VM size for `count` of `gpu` per node (NCasT4_v3, NC/ND A100 v4, NCads/ND H100 v5, ND H200 v5). */
export function azureVmSizeFor(
  gpu: string,
  count: number,
  vmSize?: string,
  fields: ShapeFields = {},
): InstanceShape {
  return instanceFor("azure", gpu, count, vmSize, fields, "vmSize");
}

/** The GPU and count a GCE machine type carries, when the catalogue knows it. */
export function gcpMachineByType(machineType: string): GcpMachine[] {
  const found: GcpMachine[] = [];
  for (const gpu of GPUS) {
    for (const group of GPU_CATALOGUE[gpu].gcp ?? []) {
      if (!group.types.includes(machineType)) continue;
      found.push({
        gpu,
        gpus: group.gpus,
        gpuMemoryGb: GPU_CATALOGUE[gpu].memoryGb,
        machineType,
        gkeAcceleratorType: group.gkeAcceleratorType,
        vertexAcceleratorType: group.vertexAcceleratorType,
      });
    }
  }
  return found;
}

/** A Vertex AI `machine_spec` as the Train API receives it. */
export interface VertexMachineSpecInput {
  /** The GCE machine type (`a2-highgpu-1g`). */
  machine_type: string;
  /** Vertex AI's accelerator name (`NVIDIA_TESLA_A100`); undefined for a machine without GPUs. */
  accelerator_type?: string;
  /** GPUs per replica; must be set whenever `accelerator_type` names a GPU. */
  accelerator_count?: number;
}

/** A problem in a `machine_spec`: the field it concerns (relative to the spec) and the sentence. */
export interface MachineSpecIssue {
  /** The field's path within the `machine_spec` (`["accelerator_count"]`). */
  path: string[];
  /** The sentence saying what is wrong and what would be accepted. */
  message: string;
}

/**
 * Checks that a Vertex AI `machine_spec` names a machine type that carries the accelerator type and count it
 * asks for. Accelerators the catalogue does not know (TPUs, older GPUs) are left for Vertex AI to judge.
 * Returns no issues when the spec is valid.
 */
export function vertexMachineSpecIssues(spec: VertexMachineSpecInput): MachineSpecIssue[] {
  const { machine_type: machineType, accelerator_type: type, accelerator_count: count } = spec;
  const groups = GPUS.flatMap((gpu) =>
    (GPU_CATALOGUE[gpu].gcp ?? [])
      .filter((g) => g.vertexAcceleratorType === type)
      .map((g) => ({ gpu, ...g })),
  );
  if (type === undefined) {
    const builtIn = GPUS.flatMap((gpu) =>
      (GPU_CATALOGUE[gpu].gcp ?? []).filter((g) => !g.attached && g.types.includes(machineType)),
    );
    if (builtIn.length === 0) return [];
    const expected = oneOf([...new Set(builtIn.map((g) => g.vertexAcceleratorType))]);
    const gpus = builtIn[0]!.gpus;
    return [
      {
        path: ["accelerator_type"],
        message: `must be ${expected} for machine type ${machineType}, which carries ${gpus} GPU${gpus === 1 ? "" : "s"}`,
      },
    ];
  }
  if (groups.length === 0) return [];
  const counts = [...new Set(groups.map((g) => g.gpus))].sort((a, b) => a - b);
  if (count === undefined) {
    return [{ path: ["accelerator_count"], message: `must be set to ${oneOf(counts)} for ${type}` }];
  }
  const matching = groups.filter((g) => g.gpus === count);
  if (matching.length === 0) {
    return [{ path: ["accelerator_count"], message: `must be ${oneOf(counts)} for ${type}; got ${count}` }];
  }
  const allowed = matching.flatMap((g) => g.types);
  if (!allowed.includes(machineType)) {
    const choice = allowed.length === 1 ? allowed[0] : `one of ${oneOf(allowed)}`;
    return [
      {
        path: ["machine_type"],
        message: `must be ${choice} for ${count} ${type}; got ${shown(machineType)}`,
      },
    ];
  }
  return [];
}
