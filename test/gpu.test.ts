import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  allowedCounts,
  azureVmSizeFor,
  capacityOptionsFor,
  ec2InstanceFor,
  type GcpShapeGroup,
  GPU_CATALOGUE,
  GPUS,
  type GpuPlace,
  gcpMachineByType,
  gcpMachineFor,
  gpuModel,
  gpusIn,
  sageMakerInstanceFor,
  vertexMachineSpecIssues,
} from "../src/gpu";
import { published } from "./helpers/published";

// What the clouds publish, kept as fixtures beside their sources, so that a wrong catalogue row fails.
const GCE = published<{
  machineTypes: Record<string, number>;
  n1AttachedGpuMaxVcpus: Record<string, Record<string, number>>;
  gkeAcceleratorTypes: Record<string, string>;
  consumptionOptions: { onDemandNotSold: string[] };
}>("google-cloud-docs/gce-gpu-machine-types.json");
const VERTEX_ACCELERATORS = published<{ AcceleratorType: { name: string }[] }>(
  "googleapis/aiplatform-v1-accelerator-type.json",
).AcceleratorType.map((a) => a.name);
const SAGEMAKER_TYPES = published<{ TrainingInstanceType: string[] }>(
  "aws-botocore/sagemaker-training-instance-types.json",
).TrainingInstanceType;
const EC2_TYPES = published<{ InstanceType: string[] }>(
  "aws-botocore/ec2-gpu-instance-types.json",
).InstanceType;
const AZURE_SIZES = published<{ vmSizes: Record<string, number> }>("azure-docs/gpu-vm-sizes.json").vmSizes;

const FAMILY_OF: Record<string, RegExp> = {
  "nvidia-t4": /^n1-/,
  "nvidia-v100": /^n1-/,
  "nvidia-l4": /^g2-standard-/,
  "nvidia-a100-40gb": /^a2-(highgpu|megagpu)-/,
  "nvidia-a100-80gb": /^a2-ultragpu-/,
  "nvidia-h100-80gb": /^a3-(highgpu|megagpu)-/,
  "nvidia-h200-141gb": /^a3-ultragpu-/,
  "nvidia-b200": /^a4-highgpu-/,
  "nvidia-gb200": /^a4x-highgpu-/,
};

describe("the catalogue against the clouds' published instance types", () => {
  const groupsOf = (place: GpuPlace) =>
    GPUS.flatMap((gpu) => (GPU_CATALOGUE[gpu][place] ?? []).map((group) => ({ gpu, group })));

  it("names only SageMaker instance types of the TrainingInstanceType enum in the SageMaker service model", () => {
    const types = groupsOf("sagemaker").flatMap(({ group }) => group.types);
    expect(types.length).toBeGreaterThan(40);
    expect(types.filter((t) => !SAGEMAKER_TYPES.includes(t))).toEqual([]);
  });

  it("names only EC2 instance types of the InstanceType enum in the EC2 service model", () => {
    const types = groupsOf("ec2").flatMap(({ group }) => group.types);
    expect(types.filter((t) => !EC2_TYPES.includes(t))).toEqual([]);
  });

  it("names only Vertex AI accelerator types of the AcceleratorType enum in the Vertex AI v1 protos", () => {
    const types = groupsOf("gcp").map(({ group }) => (group as GcpShapeGroup).vertexAcceleratorType);
    expect(types.filter((t) => !VERTEX_ACCELERATORS.includes(t))).toEqual([]);
  });

  it("names GKE accelerators as Google documents them, each on its own machine family", () => {
    for (const { gpu, group } of groupsOf("gcp")) {
      const gke = (group as GcpShapeGroup).gkeAcceleratorType;
      expect(Object.keys(GCE.gkeAcceleratorTypes), gpu).toContain(gke);
      for (const type of group.types) expect(type, gpu).toMatch(FAMILY_OF[gpu]!);
    }
  });

  it("gives each accelerator-optimized machine type the GPU count Google documents", () => {
    for (const { group } of groupsOf("gcp")) {
      for (const type of group.types) {
        if ((group as GcpShapeGroup).attached) continue;
        expect(GCE.machineTypes[type], type).toBe(group.gpus);
      }
    }
  });

  it("attaches no more vCPUs to N1 than Google allows for the GPU count", () => {
    for (const { group } of groupsOf("gcp").filter(({ group }) => (group as GcpShapeGroup).attached)) {
      const limit = GCE.n1AttachedGpuMaxVcpus[(group as GcpShapeGroup).gkeAcceleratorType]?.[group.gpus];
      expect(limit).toBeDefined();
      for (const type of group.types) expect(Number(type.split("-")[2]), type).toBeLessThanOrEqual(limit!);
    }
  });

  it("gives each Azure VM size the whole-GPU count Microsoft documents", () => {
    for (const { group } of groupsOf("azure")) {
      for (const type of group.types) expect(AZURE_SIZES[type], type).toBe(group.gpus);
    }
  });
});

describe("capacityOptionsFor", () => {
  it("says which GCE machines are not sold on demand, as Google documents", () => {
    for (const { group } of GPUS.flatMap((gpu) =>
      (GPU_CATALOGUE[gpu].gcp ?? []).map((group) => ({ group })),
    )) {
      for (const type of group.types) {
        const onDemand = capacityOptionsFor("gcp", type).includes("on-demand");
        expect(onDemand, type).toBe(!GCE.consumptionOptions.onDemandNotSold.includes(type));
      }
    }
  });

  it("sells A4X only through reservations and A4 and A3 Ultra through reservations, Spot or flex-start", () => {
    expect(capacityOptionsFor("gcp", "a4x-highgpu-4g")).toEqual(["reservation"]);
    expect(capacityOptionsFor("gcp", "a4-highgpu-8g")).toEqual(["spot", "flex-start", "reservation"]);
    expect(capacityOptionsFor("gcp", "a3-ultragpu-8g")).toEqual(["spot", "flex-start", "reservation"]);
    expect(capacityOptionsFor("gcp", "g2-standard-8")).toContain("on-demand");
  });

  it("offers the largest EC2 GPU instances through Capacity Blocks as well as on demand", () => {
    for (const type of ["p5.48xlarge", "p5e.48xlarge", "p5en.48xlarge", "p6-b200.48xlarge"]) {
      expect(capacityOptionsFor("ec2", type)).toEqual(["on-demand", "spot", "capacity-block", "reservation"]);
    }
    expect(capacityOptionsFor("ec2", "p6e-gb200.36xlarge")).toEqual(["capacity-block"]);
  });

  it("falls back to on demand and Spot for a shape that says nothing", () => {
    expect(capacityOptionsFor("ec2", "g5.xlarge")).toEqual(["on-demand", "spot"]);
    expect(capacityOptionsFor("azure", "Standard_NV36ads_A10_v5")).toEqual(["on-demand", "spot"]);
    expect(capacityOptionsFor("sagemaker", "ml.p6e-gb200.36xlarge")).toEqual(["reservation"]);
  });

  it("refuses a type the catalogue does not know, naming the field and the value", () => {
    expect(() => capacityOptionsFor("sagemaker", "ml.m5.large")).toThrow(
      /^instanceType must be a SageMaker GPU type the catalogue knows, one of ml\.g4dn\.xlarge, .*; got ml\.m5\.large$/,
    );
    expect(() => capacityOptionsFor("gcp", "e2-standard-4", "machine_spec.machine_type")).toThrow(
      /^machine_spec\.machine_type must be a GCP GPU type/,
    );
  });
});

describe("the GCP catalogue", () => {
  for (const gpu of gpusIn("gcp")) {
    it(`resolves every allowed count of ${gpu} to machine types of its family that carry that many GPUs`, () => {
      const counts = allowedCounts(gpu, "gcp");
      expect(counts.length).toBeGreaterThan(0);
      for (const count of counts) {
        const chosen = gcpMachineFor(gpu, count);
        expect(chosen.machineType).toMatch(FAMILY_OF[gpu]!);
        const types = (GPU_CATALOGUE[gpu].gcp ?? []).filter((g) => g.gpus === count).flatMap((g) => g.types);
        for (const type of types) {
          expect(gcpMachineFor(gpu, count, type).machineType).toBe(type);
        }
      }
    });
  }

  it("allows 1, 2 and 4 T4s, 1, 2, 4 and 8 L4s, and up to 16 A100 40GB", () => {
    expect(allowedCounts("nvidia-t4", "gcp")).toEqual([1, 2, 4]);
    expect(allowedCounts("nvidia-l4", "gcp")).toEqual([1, 2, 4, 8]);
    expect(allowedCounts("nvidia-a100-40gb", "gcp")).toEqual([1, 2, 4, 8, 16]);
    expect(allowedCounts("nvidia-a100-80gb", "gcp")).toEqual([1, 2, 4, 8]);
    expect(allowedCounts("nvidia-h100-80gb", "gcp")).toEqual([1, 2, 4, 8]);
  });

  it("names each accelerator the way GKE and Vertex AI do", () => {
    expect(gcpMachineFor("nvidia-l4", 1)).toEqual({
      gpu: "nvidia-l4",
      gpus: 1,
      gpuMemoryGb: 24,
      machineType: "g2-standard-8",
      gkeAcceleratorType: "nvidia-l4",
      vertexAcceleratorType: "NVIDIA_L4",
    });
    expect(gcpMachineFor("nvidia-t4", 1).gkeAcceleratorType).toBe("nvidia-tesla-t4");
    expect(gcpMachineFor("nvidia-a100-40gb", 8).vertexAcceleratorType).toBe("NVIDIA_TESLA_A100");
    expect(gcpMachineFor("nvidia-a100-80gb", 4)).toMatchObject({
      machineType: "a2-ultragpu-4g",
      gkeAcceleratorType: "nvidia-a100-80gb",
      vertexAcceleratorType: "NVIDIA_A100_80GB",
    });
  });

  it("gives a3-megagpu-8g the H100 Mega accelerator names while a3-highgpu-8g keeps the plain H100 ones", () => {
    expect(gcpMachineFor("nvidia-h100-80gb", 8, "a3-megagpu-8g")).toMatchObject({
      gkeAcceleratorType: "nvidia-h100-mega-80gb",
      vertexAcceleratorType: "NVIDIA_H100_MEGA_80GB",
    });
    expect(gcpMachineFor("nvidia-h100-80gb", 8)).toMatchObject({
      machineType: "a3-highgpu-8g",
      gkeAcceleratorType: "nvidia-h100-80gb",
    });
  });

  it("rejects a GPU count the machine family does not sell, listing the counts it does", () => {
    expect(() => gcpMachineFor("nvidia-l4", 3)).toThrow(
      "gpusPerNode must be 1, 2, 4 or 8 for nvidia-l4 on GCP; got 3",
    );
  });

  it("rejects a machine type that does not carry the GPU, listing the ones that do", () => {
    expect(() => gcpMachineFor("nvidia-l4", 1, "n1-standard-8")).toThrow(
      "machineType must be one of g2-standard-8, g2-standard-4, g2-standard-12, g2-standard-16 or g2-standard-32 for 1 nvidia-l4 per node on GCP; got n1-standard-8",
    );
  });

  it("says which count a machine type carries when it carries the GPU in another count", () => {
    expect(() => gcpMachineFor("nvidia-l4", 1, "g2-standard-24")).toThrow(
      "(g2-standard-24 goes with 2, so set gpusPerNode to 2 or pick another type)",
    );
  });

  it("names the field the caller validates in its error sentences", () => {
    expect(() =>
      gcpMachineFor("nvidia-a100-80gb", 3, undefined, { count: "gpuPools[1].gpusPerNode" }),
    ).toThrow("gpuPools[1].gpusPerNode must be 1, 2, 4 or 8 for nvidia-a100-80gb on GCP; got 3");
  });

  it("rejects a GPU name it does not know, listing every GPU it does", () => {
    expect(() => gcpMachineFor("nvidia-k80", 1)).toThrow(
      "gpu must be one of nvidia-t4, nvidia-l4, nvidia-a100-40gb, nvidia-a100-80gb, nvidia-h100-80gb, nvidia-h100-nvl-94gb, nvidia-h200-141gb, nvidia-v100, nvidia-a10, nvidia-a10g, nvidia-l40s, nvidia-b200 or nvidia-gb200; got nvidia-k80",
    );
  });

  it("rejects a fractional GPU count", () => {
    expect(() => gcpMachineFor("nvidia-t4", 1.5)).toThrow(
      "gpusPerNode must be 1, 2 or 4 for nvidia-t4 on GCP; got 1.5",
    );
  });
});

describe("the AWS catalogue", () => {
  it("maps the SGP Train API's SageMaker instance types to the GPUs its document names", () => {
    expect(sageMakerInstanceFor("nvidia-t4", 1, "ml.g4dn.xlarge").instanceType).toBe("ml.g4dn.xlarge");
    expect(sageMakerInstanceFor("nvidia-a100-80gb", 8)).toEqual({
      gpu: "nvidia-a100-80gb",
      gpus: 8,
      gpuMemoryGb: 80,
      instanceType: "ml.p4de.24xlarge",
    });
  });

  it("picks g6 for L4, p4d for A100 40GB and p5 for H100 on EC2", () => {
    expect(ec2InstanceFor("nvidia-l4", 1).instanceType).toBe("g6.xlarge");
    expect(ec2InstanceFor("nvidia-l4", 4).instanceType).toBe("g6.12xlarge");
    expect(ec2InstanceFor("nvidia-a100-40gb", 8).instanceType).toBe("p4d.24xlarge");
    expect(ec2InstanceFor("nvidia-h100-80gb", 8).instanceType).toBe("p5.48xlarge");
  });

  it("offers every SageMaker type as the EC2 type of the same GPU count with the ml. prefix", () => {
    for (const gpu of gpusIn("sagemaker")) {
      for (const group of GPU_CATALOGUE[gpu].sagemaker ?? []) {
        for (const type of group.types) {
          expect(ec2InstanceFor(gpu, group.gpus, type.replace(/^ml\./, "")).gpus).toBe(group.gpus);
        }
      }
    }
  });

  it("rejects an A100 count AWS does not sell, naming the instance field", () => {
    expect(() => ec2InstanceFor("nvidia-a100-40gb", 1, undefined, { count: "gpusPerNode" })).toThrow(
      "gpusPerNode must be 8 for nvidia-a100-40gb on EC2; got 1",
    );
  });

  it("rejects an instance type of another GPU, naming the instanceType field", () => {
    expect(() => sageMakerInstanceFor("nvidia-t4", 1, "ml.g6.xlarge")).toThrow(
      "instanceType must be one of ml.g4dn.xlarge, ml.g4dn.2xlarge, ml.g4dn.4xlarge, ml.g4dn.8xlarge or ml.g4dn.16xlarge for 1 nvidia-t4 per node on SageMaker; got ml.g6.xlarge",
    );
  });
});

describe("the Azure catalogue", () => {
  it("maps the SGP Train API's Standard_NC24ads_A100_v4 to one A100 80GB", () => {
    expect(azureVmSizeFor("nvidia-a100-80gb", 1)).toMatchObject({
      instanceType: "Standard_NC24ads_A100_v4",
      gpus: 1,
    });
  });

  it("says that Azure has no L4 and lists the GPUs it has", () => {
    expect(() => azureVmSizeFor("nvidia-l4", 1)).toThrow(
      "gpu nvidia-l4 is not offered on Azure (Azure has no VM size with an L4); choose one of nvidia-t4, nvidia-a100-40gb, nvidia-a100-80gb, nvidia-h100-80gb, nvidia-h100-nvl-94gb, nvidia-h200-141gb, nvidia-a10 or nvidia-gb200",
    );
  });

  it("puts the 94 GB H100 NVL of the NCads H100 v5 sizes apart from the 80 GB H100 of ND H100 v5", () => {
    expect(azureVmSizeFor("nvidia-h100-nvl-94gb", 1).instanceType).toBe("Standard_NC40ads_H100_v5");
    expect(azureVmSizeFor("nvidia-h100-80gb", 8).instanceType).toBe("Standard_ND96isr_H100_v5");
    expect(() => gcpMachineFor("nvidia-h100-nvl-94gb", 1)).toThrow("is not offered on GCP");
  });
});

describe("the accelerator vocabulary", () => {
  it("records each GPU's memory in GB", () => {
    expect(Object.fromEntries(GPUS.map((g) => [g, gpuModel(g).memoryGb]))).toEqual({
      "nvidia-t4": 16,
      "nvidia-l4": 24,
      "nvidia-a100-40gb": 40,
      "nvidia-a100-80gb": 80,
      "nvidia-h100-80gb": 80,
      "nvidia-h100-nvl-94gb": 94,
      "nvidia-h200-141gb": 141,
      "nvidia-v100": 16,
      "nvidia-a10": 24,
      "nvidia-a10g": 24,
      "nvidia-l40s": 48,
      "nvidia-b200": 180,
      "nvidia-gb200": 186,
    });
  });

  it("finds the GPU a GCE machine type carries", () => {
    expect(gcpMachineByType("a2-ultragpu-2g")).toEqual([
      expect.objectContaining({ gpu: "nvidia-a100-80gb", gpus: 2 }),
    ]);
    expect(gcpMachineByType("e2-standard-4")).toEqual([]);
  });
});

describe("vertexMachineSpecIssues", () => {
  it("accepts the SGP Train API's Vertex AI machine spec", () => {
    expect(
      vertexMachineSpecIssues({
        machine_type: "g2-standard-8",
        accelerator_type: "NVIDIA_L4",
        accelerator_count: 1,
      }),
    ).toEqual([]);
  });

  it("points at accelerator_count when the count is not sold, listing the counts", () => {
    expect(
      vertexMachineSpecIssues({
        machine_type: "g2-standard-8",
        accelerator_type: "NVIDIA_L4",
        accelerator_count: 3,
      }),
    ).toEqual([{ path: ["accelerator_count"], message: "must be 1, 2, 4 or 8 for NVIDIA_L4; got 3" }]);
  });

  it("points at machine_type when it does not carry the accelerator in that count", () => {
    expect(
      vertexMachineSpecIssues({
        machine_type: "g2-standard-8",
        accelerator_type: "NVIDIA_L4",
        accelerator_count: 2,
      }),
    ).toEqual([
      { path: ["machine_type"], message: "must be g2-standard-24 for 2 NVIDIA_L4; got g2-standard-8" },
    ]);
  });

  it("asks for the accelerator a machine type carries built in", () => {
    expect(vertexMachineSpecIssues({ machine_type: "a2-ultragpu-1g" })).toEqual([
      {
        path: ["accelerator_type"],
        message: "must be NVIDIA_A100_80GB for machine type a2-ultragpu-1g, which carries 1 GPU",
      },
    ]);
  });

  it("asks for accelerator_count when only the accelerator type is given", () => {
    expect(
      vertexMachineSpecIssues({ machine_type: "n1-standard-8", accelerator_type: "NVIDIA_TESLA_T4" }),
    ).toEqual([{ path: ["accelerator_count"], message: "must be set to 1, 2 or 4 for NVIDIA_TESLA_T4" }]);
  });

  it("leaves CPU-only machines and accelerators outside the catalogue to Vertex AI", () => {
    expect(vertexMachineSpecIssues({ machine_type: "n1-standard-4" })).toEqual([]);
    expect(
      vertexMachineSpecIssues({
        machine_type: "n1-standard-8",
        accelerator_type: "NVIDIA_TESLA_P100",
        accelerator_count: 3,
      }),
    ).toEqual([]);
  });
});

describe("T4 on N1", () => {
  it("accepts standard, highmem and highcpu N1 machines up to the vCPU limit for the count", () => {
    expect(gcpMachineFor("nvidia-t4", 1, "n1-highmem-8").machineType).toBe("n1-highmem-8");
    expect(gcpMachineFor("nvidia-t4", 2, "n1-highcpu-32").machineType).toBe("n1-highcpu-32");
    expect(gcpMachineFor("nvidia-t4", 4, "n1-highmem-96").machineType).toBe("n1-highmem-96");
    expect(() => gcpMachineFor("nvidia-t4", 1, "n1-standard-64")).toThrow(
      "(n1-standard-64 goes with 4, so set gpusPerNode to 4 or pick another type)",
    );
  });
});

// Follows the relative imports of a source file and collects every package the files import.
function packagesImportedFrom(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const match of source.matchAll(/(?:from|import|require\()\s*"([^"]+)"/g)) {
      const spec = match[1]!;
      if (!spec.startsWith(".")) {
        packages.add(spec);
        continue;
      }
      const base = join(dirname(file), spec);
      const resolved = [`${base}.ts`, join(base, "index.ts")].find((f) => existsSync(f));
      if (resolved) visit(resolved);
    }
  };
  visit(entry);
  return packages;
}

describe("the package root", () => {
  it("exports the catalogue without importing any cloud provider SDK", () => {
    const packages = [...packagesImportedFrom(join(__dirname, "../src/index.ts"))];
    expect(packages.filter((p) => /^@pulumi\/(gcp|aws|azure-native|kubernetes)/.test(p))).toEqual([]);
    expect(packagesImportedFrom(join(__dirname, "../src/gcp/index.ts"))).toContain("@pulumi/gcp");
  });
});

describe("the GPUs added for current clouds", () => {
  it("resolves the A10G and L40S on EC2 and SageMaker", () => {
    expect(ec2InstanceFor("nvidia-a10g", 1).instanceType).toBe("g5.xlarge");
    expect(sageMakerInstanceFor("nvidia-a10g", 8).instanceType).toBe("ml.g5.48xlarge");
    expect(ec2InstanceFor("nvidia-l40s", 4).instanceType).toBe("g6e.12xlarge");
    expect(sageMakerInstanceFor("nvidia-l40s", 1, "ml.g6e.16xlarge").instanceType).toBe("ml.g6e.16xlarge");
  });

  it("resolves the B200 and GB200 on every cloud that sells them", () => {
    expect(gcpMachineFor("nvidia-b200", 8)).toMatchObject({
      machineType: "a4-highgpu-8g",
      gkeAcceleratorType: "nvidia-b200",
      vertexAcceleratorType: "NVIDIA_B200",
    });
    expect(gcpMachineFor("nvidia-gb200", 4)).toMatchObject({
      machineType: "a4x-highgpu-4g",
      vertexAcceleratorType: "NVIDIA_GB200",
    });
    expect(sageMakerInstanceFor("nvidia-b200", 8).instanceType).toBe("ml.p6-b200.48xlarge");
    expect(ec2InstanceFor("nvidia-gb200", 4).instanceType).toBe("p6e-gb200.36xlarge");
    expect(azureVmSizeFor("nvidia-gb200", 4).instanceType).toBe("Standard_ND128isr_NDR_GB200_v6");
  });

  it("resolves the V100 on N1, p3 and ml.p3, and says Azure retired it", () => {
    expect(gcpMachineFor("nvidia-v100", 8)).toMatchObject({
      machineType: "n1-standard-64",
      gkeAcceleratorType: "nvidia-tesla-v100",
    });
    expect(() => gcpMachineFor("nvidia-v100", 1, "n1-standard-16")).toThrow(
      "(n1-standard-16 goes with 2, so set gpusPerNode to 2 or pick another type)",
    );
    expect(ec2InstanceFor("nvidia-v100", 4).instanceType).toBe("p3.8xlarge");
    expect(sageMakerInstanceFor("nvidia-v100", 1).instanceType).toBe("ml.p3.2xlarge");
    expect(() => azureVmSizeFor("nvidia-v100", 1)).toThrow("Azure retired its V100 sizes");
  });

  it("resolves the A10 on Azure only in whole GPUs, and points AWS users at the A10G", () => {
    expect(azureVmSizeFor("nvidia-a10", 1).instanceType).toBe("Standard_NV36ads_A10_v5");
    expect(azureVmSizeFor("nvidia-a10", 2).instanceType).toBe("Standard_NV72ads_A10_v5");
    expect(() => ec2InstanceFor("nvidia-a10", 1)).toThrow("AWS sells the A10G instead; use nvidia-a10g");
  });

  it("has the SageMaker shapes for one H100 and for the H200", () => {
    expect(sageMakerInstanceFor("nvidia-h100-80gb", 1).instanceType).toBe("ml.p5.4xlarge");
    expect(sageMakerInstanceFor("nvidia-h200-141gb", 8, "ml.p5en.48xlarge").instanceType).toBe(
      "ml.p5en.48xlarge",
    );
  });
});
