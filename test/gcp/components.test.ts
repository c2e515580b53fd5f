import { describe, expect, it } from "vitest";
import { boundedName, GPU_TAINT, oneOf, resolveGpuPools } from "../../src/components";
import { gcpMachineFor } from "../../src/gpu";

// The shared helpers every cloud folder builds on, exercised the way the GCP components use them.

describe("boundedName", () => {
  it("keeps a short name readable and appends a hash of the stack and name", () => {
    expect(boundedName("ml-api", 30, "proj/dev")).toMatch(/^ml-api-[0-9a-f]{6}$/);
  });

  it("gives two stacks different names for the same component", () => {
    expect(boundedName("ml-api", 30, "proj/dev")).not.toBe(boundedName("ml-api", 30, "proj/prod"));
  });

  it("cuts long names to the limit and makes them valid GCP account ids", () => {
    const name = boundedName("Very_Long Training-Platform-Name-For-Vision-Team-jobs", 30, "p/s");
    expect(name.length).toBeLessThanOrEqual(30);
    expect(name).toMatch(/^[a-z][-a-z0-9]{4,28}[a-z0-9]$/);
    expect(name.startsWith("very-long-training-pla")).toBe(true);
  });

  it("starts with a letter even when the base starts with digits", () => {
    expect(boundedName("42-jobs", 30, "p/s")).toMatch(/^jobs-[0-9a-f]{6}$/);
  });
});

describe("oneOf", () => {
  it("lists choices as a sentence does", () => {
    expect(oneOf([1, 2, 4, 8])).toBe("1, 2, 4 or 8");
    expect(oneOf(["a", "b"])).toBe("a or b");
    expect(oneOf(["only"])).toBe("only");
  });
});

describe("resolveGpuPools", () => {
  const gcp = (pool: { gpu: string; gpusPerNode: number; machineType?: string }, fields: object) =>
    gcpMachineFor(pool.gpu, pool.gpusPerNode, pool.machineType, fields);

  it("fills in one GPU per node, zero min nodes, on-demand capacity and a 200 GB disk", () => {
    const [pool] = resolveGpuPools([{ gpu: "nvidia-t4", maxNodes: 2 }], gcp);
    expect(pool).toMatchObject({
      name: "nvidia-t4-x1",
      gpusPerNode: 1,
      minNodes: 0,
      maxNodes: 2,
      spot: false,
      diskSizeGb: 200,
    });
    expect(pool!.shape.machineType).toBe("n1-standard-8");
  });

  it("keeps the user's node labels and adds the GPU labels over them", () => {
    const [pool] = resolveGpuPools(
      [{ gpu: "nvidia-l4", gpusPerNode: 2, maxNodes: 1, labels: { team: "nlp", "trainkit.dev/gpu": "x" } }],
      gcp,
    );
    expect(pool!.labels).toEqual({
      team: "nlp",
      "trainkit.dev/gpu": "nvidia-l4",
      "trainkit.dev/gpus-per-node": "2",
      "trainkit.dev/pool": "nvidia-l4-x2",
      "trainkit.dev/capacity": "on-demand",
    });
  });

  it("rejects a pool without maxNodes, naming the field", () => {
    expect(() => resolveGpuPools([{ gpu: "nvidia-t4" } as never], gcp)).toThrow(
      "gpuPools[0].maxNodes must be a whole number of at least 1; got nothing",
    );
  });

  it("rejects a pool name that clouds would refuse", () => {
    expect(() => resolveGpuPools([{ name: "GPU_Pool", gpu: "nvidia-t4", maxNodes: 1 }], gcp)).toThrow(
      "gpuPools[0].name must be 1 to 32 lowercase letters, digits or dashes, starting with a letter; got GPU_Pool",
    );
  });

  it("rejects a GPU outside the catalogue before asking the cloud for a shape", () => {
    expect(() => resolveGpuPools([{ gpu: "nvidia-k80" as never, maxNodes: 1 }], gcp)).toThrow(
      "gpuPools[0].gpu must be one of",
    );
  });

  it("describes the GPU taint as Kubernetes writes it", () => {
    expect(`${GPU_TAINT.key}=${GPU_TAINT.value}:${GPU_TAINT.effect}`).toBe(
      "nvidia.com/gpu=present:NoSchedule",
    );
  });
});
