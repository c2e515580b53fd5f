import type * as pulumi from "@pulumi/pulumi";
import { type Gpu, gpuModel, type ShapeFields } from "../gpu";
import { ArgumentError, shown } from "./sentences";

/**
 * One pool of GPU nodes, described the same way on every cloud. The fields that choose the node shape
 * (`gpu`, `gpusPerNode`, the counts, `spot`) are plain values rather than `pulumi.Input`s: the shape is
 * chosen and checked while the program runs, so that a wrong combination fails `pulumi preview` with a
 * sentence instead of failing in the cloud minutes into `pulumi up`.
 */
export interface GpuPoolCoreArgs {
  /**
   * The pool's name, unique within its cluster: lowercase letters, digits and dashes, at most 32
   * characters. Defaults to `<gpu>-x<gpusPerNode>` plus `-spot` for spot pools, e.g. `nvidia-l4-x1-spot`.
   */
  name?: string;
  /** The GPU every node carries, from the trainkit catalogue (`nvidia-l4`, `nvidia-a100-80gb`, ...). Required. */
  gpu: Gpu;
  /**
   * GPUs per node. Each cloud sells a GPU only in some counts per machine (L4 on GCP: 1, 2, 4 or 8), and the
   * count picks the machine shape. Defaults to 1. Must agree with the cloud's shape override when one is given.
   */
  gpusPerNode?: number;
  /** The fewest nodes the pool scales down to. Defaults to 0, so an idle pool costs nothing. */
  minNodes?: number;
  /** The most nodes the pool scales up to, across all its zones. Required; at least 1 and at least `minNodes`. */
  maxNodes: number;
  /**
   * Run the nodes on spot capacity: much cheaper, but the cloud may reclaim a node at any time, so jobs must
   * checkpoint. Defaults to false (on-demand).
   */
  spot?: boolean;
}

/** A GPU pool's shape with each node's boot disk size and extra labels, on clouds that take them. */
export interface GpuPoolShapeArgs extends GpuPoolCoreArgs {
  /** Boot disk size of each node in GB; container images for training are large. Defaults to 200. */
  diskSizeGb?: pulumi.Input<number>;
  /** Extra Kubernetes labels for the nodes, on top of the ones naming the GPU. Defaults to none. */
  labels?: Record<string, string>;
}

/** A GPU pool on a cloud that places nodes by zone: the pool's shape, plus its zones. */
export interface GpuPoolArgs extends GpuPoolShapeArgs {
  /** Zones to place nodes in. Defaults to every zone of the cluster's region that the cloud chooses. */
  zones?: pulumi.Input<pulumi.Input<string>[]>;
}

/** A pool with its defaults filled in and its counts checked. */
export interface ResolvedGpuPool<S>
  extends Required<Pick<GpuPoolArgs, "name" | "gpu" | "gpusPerNode" | "minNodes" | "maxNodes" | "spot">> {
  /** Boot disk size of each node in GB: `diskSizeGb`, or 200. */
  diskSizeGb: pulumi.Input<number>;
  /** The zones given; undefined leaves the choice to the cloud. */
  zones?: pulumi.Input<pulumi.Input<string>[]>;
  /** The user's node labels plus trainkit's {@link GPU_NODE_LABELS}, which win on a clash. */
  labels: Record<string, string>;
  /** The cloud shape chosen for the pool (a GCE machine, an instance type, a VM size). */
  shape: S;
}

/** The taint every GPU pool carries, so only pods that tolerate it (GPU jobs) land on GPU nodes. */
export const GPU_TAINT = { key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" } as const;

/** Label keys trainkit puts on GPU nodes so that jobs can select a GPU kind, count or capacity type. */
export const GPU_NODE_LABELS = {
  /** The catalogue name of the node's GPU (`nvidia-l4`). */
  gpu: "trainkit.dev/gpu",
  /** How many GPUs the node carries, as a decimal string. */
  gpusPerNode: "trainkit.dev/gpus-per-node",
  /** The name of the pool the node belongs to. */
  pool: "trainkit.dev/pool",
  /** `spot` or `on-demand`. */
  capacity: "trainkit.dev/capacity",
} as const;

const POOL_NAME = /^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$/;

function wholeAtLeast(field: string, value: unknown, least: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < least) {
    throw new ArgumentError(`${field} must be a whole number of at least ${least}; got ${shown(value)}`);
  }
  return value;
}

/**
 * Fills in the defaults of each pool, checks counts and names, and lets the cloud choose a shape with
 * `shapeFor` (which throws its own sentence). Field names in errors read `gpuPools[1].gpusPerNode`.
 */
export function resolveGpuPools<P extends GpuPoolArgs, S>(
  pools: readonly P[] | undefined,
  shapeFor: (pool: P & { gpusPerNode: number }, fields: Required<ShapeFields>, at: string) => S,
  field = "gpuPools",
  shapeField = "machineType",
): ResolvedGpuPool<S>[] {
  if (pools === undefined) return [];
  if (!Array.isArray(pools))
    throw new ArgumentError(`${field} must be an array of pools; got ${shown(pools)}`);
  const seen = new Map<string, number>();
  return pools.map((pool, i) => {
    const at = `${field}[${i}]`;
    gpuModel(pool.gpu, `${at}.gpu`);
    const gpusPerNode = wholeAtLeast(`${at}.gpusPerNode`, pool.gpusPerNode ?? 1, 1);
    const minNodes = wholeAtLeast(`${at}.minNodes`, pool.minNodes ?? 0, 0);
    const maxNodes = wholeAtLeast(`${at}.maxNodes`, pool.maxNodes, 1);
    if (maxNodes < minNodes) {
      throw new ArgumentError(`${at}.maxNodes must be at least minNodes (${minNodes}); got ${maxNodes}`);
    }
    const spot = pool.spot ?? false;
    const name = pool.name ?? `${pool.gpu}-x${gpusPerNode}${spot ? "-spot" : ""}`;
    if (!POOL_NAME.test(name)) {
      throw new ArgumentError(
        `${at}.name must be 1 to 32 lowercase letters, digits or dashes, starting with a letter; got ${shown(name)}`,
      );
    }
    const earlier = seen.get(name);
    if (earlier !== undefined) {
      throw new ArgumentError(
        `${at}.name must differ from ${field}[${earlier}].name; got ${name} twice (give one pool a name)`,
      );
    }
    seen.set(name, i);
    const shape = shapeFor(
      { ...pool, gpusPerNode },
      { gpu: `${at}.gpu`, count: `${at}.gpusPerNode`, type: `${at}.${shapeField}` },
      at,
    );
    return {
      name,
      gpu: pool.gpu,
      gpusPerNode,
      minNodes,
      maxNodes,
      spot,
      diskSizeGb: pool.diskSizeGb ?? 200,
      zones: pool.zones,
      labels: {
        ...pool.labels,
        [GPU_NODE_LABELS.gpu]: pool.gpu,
        [GPU_NODE_LABELS.gpusPerNode]: String(gpusPerNode),
        [GPU_NODE_LABELS.pool]: name,
        [GPU_NODE_LABELS.capacity]: spot ? "spot" : "on-demand",
      },
      shape,
    };
  });
}
