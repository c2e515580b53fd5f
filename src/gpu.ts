import { ArgumentError, oneOf, shown } from "./components/sentences";

// One accelerator vocabulary for every cloud. Each cloud sells a GPU only inside fixed shapes (a GCE
// machine type, an EC2 or SageMaker instance type, an Azure VM size) that carry a fixed number of that GPU,
// so a pool or a job names the GPU and a count, and the catalogue finds the shape, or says which counts
// and shapes exist. The tables state what the clouds publish; where a cloud has no shape, `UNAVAILABLE`
// says so in the sentence a user sees.

/** Every GPU the catalogue knows, by the name used across trainkit. */
export const GPUS = [
  "nvidia-t4",
  "nvidia-l4",
  "nvidia-a100-40gb",
  "nvidia-a100-80gb",
  "nvidia-h100-80gb",
  "nvidia-h100-nvl-94gb",
  "nvidia-h200-141gb",
] as const;
export type Gpu = (typeof GPUS)[number];

/** Shapes that each carry `gpus` of one GPU. The first type of the first group with a count is its default. */
export interface ShapeGroup {
  readonly gpus: number;
  readonly types: readonly string[];
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

export interface GpuModel {
  readonly name: Gpu;
  /** GPU memory per GPU, in GB. */
  readonly memoryGb: number;
  readonly gcp?: readonly GcpShapeGroup[];
  readonly ec2?: readonly ShapeGroup[];
  readonly sagemaker?: readonly ShapeGroup[];
  readonly azure?: readonly ShapeGroup[];
}

// N1 machine types up to a vCPU count, the default first (the first type of a count is its default).
function n1(preferred: string, sizes: readonly number[]): string[] {
  const all = ["standard", "highmem", "highcpu"].flatMap((kind) =>
    sizes.filter((s) => kind === "standard" || s >= 2).map((s) => `n1-${kind}-${s}`),
  );
  return [preferred, ...all.filter((t) => t !== preferred)];
}

function gcp(
  gkeAcceleratorType: string,
  vertexAcceleratorType: string,
  groups: [number, string[]][],
  attached = false,
): GcpShapeGroup[] {
  return groups.map(([gpus, types]) => ({
    gpus,
    types,
    gkeAcceleratorType,
    vertexAcceleratorType,
    ...(attached ? { attached } : {}),
  }));
}

function shapes(groups: [number, string[]][]): ShapeGroup[] {
  return groups.map(([gpus, types]) => ({ gpus, types }));
}

const g4dnOne = ["xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"];
const g6One = ["xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"];

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
    ec2: shapes([[8, ["p4d.24xlarge"]]]),
    sagemaker: shapes([[8, ["ml.p4d.24xlarge"]]]),
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
        [1, ["a3-highgpu-1g"]],
        [2, ["a3-highgpu-2g"]],
        [4, ["a3-highgpu-4g"]],
        [8, ["a3-highgpu-8g"]],
      ]),
      ...gcp("nvidia-h100-mega-80gb", "NVIDIA_H100_MEGA_80GB", [[8, ["a3-megagpu-8g"]]]),
    ],
    ec2: shapes([
      [1, ["p5.4xlarge"]],
      [8, ["p5.48xlarge"]],
    ]),
    sagemaker: shapes([[8, ["ml.p5.48xlarge"]]]),
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
    gcp: gcp("nvidia-h200-141gb", "NVIDIA_H200_141GB", [[8, ["a3-ultragpu-8g"]]]),
    ec2: shapes([[8, ["p5e.48xlarge", "p5en.48xlarge"]]]),
    azure: shapes([[8, ["Standard_ND96isr_H200_v5"]]]),
  },
};

/** Where a GPU can be placed: the shape tables of `GpuModel`, each with the name a user reads. */
export const GPU_PLACES = {
  gcp: "GCP",
  ec2: "EC2",
  sagemaker: "SageMaker",
  azure: "Azure",
} as const;
export type GpuPlace = keyof typeof GPU_PLACES;

// Why a place lacks a GPU, where the reason is a fact about the cloud rather than a gap in the catalogue.
const UNAVAILABLE: Partial<Record<Gpu, Partial<Record<GpuPlace, string>>>> = {
  "nvidia-l4": { azure: "Azure has no VM size with an L4" },
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

/** A GCE machine shape resolved from a GPU and a count. */
export interface GcpMachine {
  gpu: Gpu;
  gpus: number;
  gpuMemoryGb: number;
  machineType: string;
  gkeAcceleratorType: string;
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
  gpu: Gpu;
  gpus: number;
  gpuMemoryGb: number;
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
  machine_type: string;
  accelerator_type?: string;
  accelerator_count?: number;
}

/** A problem in a `machine_spec`: the field it concerns (relative to the spec) and the sentence. */
export interface MachineSpecIssue {
  path: string[];
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
