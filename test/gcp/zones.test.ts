import { beforeAll, describe, expect, it } from "vitest";
import { GpuCluster } from "../../src/gcp";
import { lookUpOfferedZones } from "../../src/gcp/zones";
import { type GcpMachine, GPUS, gcpMachineFor } from "../../src/gpu";
import {
  gcpComputed,
  gcpInvoke,
  type Inputs,
  installPulumiMocks,
  MACHINE_TYPE_ZONES,
  type MockRuntime,
  outputValue,
} from "../helpers/pulumi-mocks";

// The zone lookup of A-series GPU pools under Pulumi's mock runtime. `gcpInvoke` is a stand-in for Compute
// Engine's zone and machine-type lists answering from the published catalogue (see its fixture); the other
// answers stand in for a mock that echoes its inputs, as Pulumi's mocks do unless told otherwise, and for a
// failing lookup. They test how trainkit reacts, not what Compute Engine does.

let answer: (token: string, inputs: Inputs) => Record<string, unknown> | undefined = gcpInvoke;
let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed, invoke: (t, i) => answer(t, i) });
});

// The lookup's failure, which the engine reports for the node pool whose nodeLocations it feeds.
async function rejection(machineType: string): Promise<string> {
  try {
    await lookUpOfferedZones(
      "acme-ml",
      "us-central1",
      { machineType, owner: "GpuCluster ml", field: "gpuPools[0]" },
      {},
    );
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("the lookup found zones");
}

// Every A-series machine the catalogue can pick for a GCP pool.
const aSeries = GPUS.flatMap((gpu) =>
  [1, 2, 4, 8, 16].flatMap((n) => {
    try {
      return [gcpMachineFor(gpu, n)];
    } catch {
      return [];
    }
  }),
).filter((m: GcpMachine) => /^a\d+x?-/.test(m.machineType));

describe("GPU pool zone lookup", () => {
  it("finds the zones of us-central1 offering a3-highgpu-1g, with no zones given", async () => {
    answer = gcpInvoke;
    const cluster = new GpuCluster("h100x1", {
      project: "acme-ml",
      location: "us-central1",
      privateEndpoint: true,
      gpuPools: [{ gpu: "nvidia-h100-80gb", gpusPerNode: 1, maxNodes: 2, spot: true }],
    });
    await mocks.settle();
    expect(await outputValue(cluster.gpuZones["nvidia-h100-80gb-x1-spot"]!)).toEqual([
      "us-central1-a",
      "us-central1-b",
      "us-central1-c",
    ]);
    expect(
      mocks.one("gcp:container/nodePool:NodePool", "h100x1-nvidia-h100-80gb-x1-spot").inputs.nodeLocations,
    ).toEqual(["us-central1-a", "us-central1-b", "us-central1-c"]);
  });

  it("has published zones for every A-series machine type the catalogue picks, but A4X", () => {
    const missing = aSeries.map((m) => m.machineType).filter((t) => !MACHINE_TYPE_ZONES.machineTypes[t]);
    expect(aSeries.length).toBeGreaterThan(10);
    expect([...new Set(missing)]).toEqual(["a4x-highgpu-4g"]);
  });

  it("names the zones field and the fix when the zone list answers nothing, as an echoing mock does", async () => {
    answer = () => undefined;
    expect(await rejection("a3-highgpu-1g")).toBe(
      "GpuCluster ml: gpuPools[0].zones is not set, so the zones offering a3-highgpu-1g are looked up, and listing the zones of us-central1 answered nothing, not a list; " +
        'set gpuPools[0].zones to the zones to use (gcloud compute machine-types list --filter="name=a3-highgpu-1g" lists them), which skips the lookup. ' +
        "Under Pulumi's mocks, answer gcp:compute/getZones:getZones and gcp:compute/getMachineTypes:getMachineTypes",
    );
  });

  it("names the zones field when a machine-type lookup fails (the mock runtime passes no reason on)", async () => {
    answer = gcpInvoke;
    expect(await rejection("a4x-highgpu-4g")).toMatch(
      /^GpuCluster ml: gpuPools\[0\]\.zones is not set, so the zones offering a4x-highgpu-4g are looked up, and listing the machine types of us-central1-a failed: no reason given; set gpuPools\[0\]\.zones to the zones to use/,
    );
  });

  it("says where a machine type is not offered, naming the field", async () => {
    answer = (token, inputs) =>
      token === "gcp:compute/getMachineTypes:getMachineTypes"
        ? { machineTypes: [] }
        : gcpInvoke(token, inputs);
    expect(await rejection("a3-highgpu-1g")).toBe(
      'GpuCluster ml: gpuPools[0].machineType a3-highgpu-1g is not offered in any zone of us-central1; choose a location that offers it (gcloud compute machine-types list --filter="name=a3-highgpu-1g") or set gpuPools[0].zones',
    );
  });

  it("asks nothing when the pool names its zones", async () => {
    answer = () => {
      throw new Error("no lookup expected");
    };
    const before = mocks.calls.length;
    const cluster = new GpuCluster("pinned1g", {
      project: "acme-ml",
      location: "us-central1",
      privateEndpoint: true,
      gpuPools: [
        { gpu: "nvidia-h100-80gb", gpusPerNode: 1, maxNodes: 1, spot: true, zones: ["us-central1-b"] },
      ],
    });
    await mocks.settle();
    expect(await outputValue(cluster.gpuZones["nvidia-h100-80gb-x1-spot"]!)).toEqual(["us-central1-b"]);
    expect(mocks.calls.slice(before).filter((c) => c.token.startsWith("gcp:compute/"))).toEqual([]);
  });
});
