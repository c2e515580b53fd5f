import type * as gcp from "@pulumi/gcp";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { type CapacityOption, capacityOptionsFor, gcpMachineByType } from "../gpu";

// How a GKE GPU pool buys its nodes and boots them. The big GPUs are sold as spot capacity, through
// flex-start (Dynamic Workload Scheduler), or from a reservation, and the newest machine series boot only
// from Hyperdisk; a pool that asks for them any other way is created but never gets a node.

/** Machine series (by machine type prefix) whose VMs take Hyperdisk only, so a Persistent Disk boot disk fails. */
export const HYPERDISK_ONLY_SERIES = ["a3-ultragpu", "a4-highgpu", "a4x-highgpu"] as const;
/** Disk types a GKE node can boot from. Of the Hyperdisk types, only Hyperdisk Balanced is a boot disk. */
export const BOOT_DISK_TYPES = ["pd-balanced", "pd-ssd", "pd-standard", "hyperdisk-balanced"] as const;
/** The reservation label key GKE matches a specific reservation's name with. */
export const RESERVATION_NAME_KEY = "compute.googleapis.com/reservation-name";

/** How a pool's nodes are bought. */
export type PoolCapacity = "on-demand" | "spot" | "flex-start" | "reservation";

/** What a pool asked for, as the settings below read it. */
export interface PoolPurchase {
  /** The pool's GCE machine type (`a3-highgpu-8g`), which decides whether only Hyperdisk boots it. */
  machineType: string;
  /** Whether the nodes are spot VMs. */
  spot: boolean;
  /** The boot disk type asked for; undefined leaves it to the machine series (see {@link poolPurchase}). */
  diskType?: string;
  /** A reservation to take nodes from: its name, or `projects/<project>/reservations/<name>` when shared. */
  reservation?: string;
  /** Whether the nodes come through flex-start (Dynamic Workload Scheduler). Defaults to false. */
  flexStart?: boolean;
  /** Whether the pool uses queued provisioning, which implies flex-start. Defaults to false. */
  queuedProvisioning?: boolean;
  /** Whether the nodes are placed close together (a compact placement policy). Defaults to false. */
  compactPlacement?: boolean;
}

/** The node pool inputs that follow from how it is bought. */
export interface PoolPurchaseSettings {
  /** How the pool's nodes are bought, as the one purchase option set decides. */
  capacity: PoolCapacity;
  /** The boot disk type: the one asked for, `hyperdisk-balanced` for Hyperdisk-only series, else undefined (GKE's default). */
  diskType?: string;
  /**
   * The node config's reservation affinity: the named reservation, no reservation for flex-start, and
   * undefined (GKE's default) otherwise.
   */
  reservationAffinity?: gcp.types.input.container.NodePoolNodeConfigReservationAffinity;
  /** True for flex-start or queued provisioning; undefined otherwise. */
  flexStart?: boolean;
  /** The node pool's queued provisioning setting, enabled when asked for; undefined otherwise. */
  queuedProvisioning?: gcp.types.input.container.NodePoolQueuedProvisioning;
  /** A compact placement policy when `compactPlacement` is set; undefined otherwise. */
  placementPolicy?: gcp.types.input.container.NodePoolPlacementPolicy;
  /** Whether GKE may repair (recreate) nodes; off where a recreated node could not be bought again. */
  autoRepair: boolean;
  /** The autoscaler's location policy: ANY takes capacity wherever it is, BALANCED spreads across zones. */
  locationPolicy: "ANY" | "BALANCED";
}

/** The pool field that buys nodes each way, as the fix an error names. */
const PURCHASE_FIELD: Partial<Record<CapacityOption, (field: string) => string>> = {
  spot: (field) => `${field}.spot: true`,
  "flex-start": (field) => `${field}.flexStart: true (or queuedProvisioning: true)`,
  reservation: (field) => `${field}.reservation to a reservation of this machine type`,
};

function soldAs(option: CapacityOption): string {
  return option === "on-demand" ? "on demand" : `as ${option}`;
}

/** Whether a machine type boots only from Hyperdisk. */
export function requiresHyperdisk(machineType: string): boolean {
  return HYPERDISK_ONLY_SERIES.some((series) => machineType.startsWith(`${series}-`));
}

/**
 * Checks the purchase fields of one pool (`field` is `gpuPools[0]`) and turns them into node pool inputs.
 * Throws a sentence naming the field for combinations GKE refuses.
 */
export function poolPurchase(owner: string, field: string, pool: PoolPurchase): PoolPurchaseSettings {
  const queued = pool.queuedProvisioning ?? false;
  const flexStart = (pool.flexStart ?? false) || queued;
  const chosen = [
    pool.spot ? "spot" : undefined,
    flexStart ? (queued ? "queuedProvisioning" : "flexStart") : undefined,
    pool.reservation !== undefined ? "reservation" : undefined,
  ].filter((c): c is string => c !== undefined);
  if (chosen.length > 1) {
    throw new ArgumentError(
      `${owner}: ${field} must buy its nodes one way, as spot, flex-start or from a reservation; got ${oneOf(chosen.map((c) => `${field}.${c}`))} together. Keep one of them`,
    );
  }
  if (
    pool.reservation !== undefined &&
    !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$|^projects\/[^/]+\/reservations\/[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(
      pool.reservation,
    )
  ) {
    throw new ArgumentError(
      `${owner}: ${field}.reservation must be a reservation name (my-h100s) or, for a shared reservation, projects/<owner-project>/reservations/<name>; got ${shown(pool.reservation)}`,
    );
  }

  const capacity: PoolCapacity = pool.spot
    ? "spot"
    : flexStart
      ? "flex-start"
      : pool.reservation !== undefined
        ? "reservation"
        : "on-demand";
  // A pool GKE accepts but Compute Engine never sells nodes for would wait for capacity forever.
  if (gcpMachineByType(pool.machineType).length > 0) {
    const sold = capacityOptionsFor("gcp", pool.machineType, `${field}.machineType`);
    if (!sold.includes(capacity)) {
      const fixes = sold.filter((o) => o in PURCHASE_FIELD).map((o) => PURCHASE_FIELD[o]!(field));
      throw new ArgumentError(
        `${owner}: ${field} buys ${pool.machineType} nodes ${capacity === "on-demand" ? "on demand" : `as ${capacity}`}, but the GPU catalogue lists ${pool.machineType} as sold only ${oneOf(sold.map(soldAs))}; set ${oneOf(fixes)}`,
      );
    }
  }

  const hyperdiskOnly = requiresHyperdisk(pool.machineType);
  if (pool.diskType !== undefined) {
    if (!(BOOT_DISK_TYPES as readonly string[]).includes(pool.diskType)) {
      throw new ArgumentError(
        `${owner}: ${field}.diskType must be ${oneOf(BOOT_DISK_TYPES)}, the disk types a node boots from; got ${shown(pool.diskType)}`,
      );
    }
    if (hyperdiskOnly && !pool.diskType.startsWith("hyperdisk-")) {
      throw new ArgumentError(
        `${owner}: ${field}.diskType must be hyperdisk-balanced for ${pool.machineType}, whose machine series takes Hyperdisk only; got ${pool.diskType}`,
      );
    }
  }

  return {
    capacity,
    diskType: pool.diskType ?? (hyperdiskOnly ? "hyperdisk-balanced" : undefined),
    reservationAffinity:
      pool.reservation !== undefined
        ? {
            consumeReservationType: "SPECIFIC_RESERVATION",
            key: RESERVATION_NAME_KEY,
            values: [pool.reservation],
          }
        : flexStart
          ? // Flex-start capacity comes from Dynamic Workload Scheduler, never from a reservation.
            { consumeReservationType: "NO_RESERVATION" }
          : undefined,
    flexStart: flexStart || undefined,
    queuedProvisioning: queued ? { enabled: true } : undefined,
    placementPolicy: pool.compactPlacement ? { type: "COMPACT" } : undefined,
    // A repaired node is a new VM: for flex-start or queued capacity it would wait in the queue again.
    autoRepair: !flexStart,
    // Spot and flex-start capacity is scarce per zone; a reservation lives in its own zones.
    locationPolicy: capacity === "on-demand" ? "BALANCED" : "ANY",
  };
}
