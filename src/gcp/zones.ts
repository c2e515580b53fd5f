import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

// GCE offers the large GPUs in one or two zones of a region (A3 Ultra in us-central1-b only, A2 Ultra in
// us-central1-a and -c), and a node pool placed in a zone without its machine type fails to create or never
// scales. The zones offering a machine type are what Compute Engine's machine-type list says for each zone,
// read through the provider at deployment time, so they follow the cloud rather than a copy of its table.

/**
 * Whether GKE's own choice of zones (the cluster's) may miss a machine type: the A series (A2, A3, A4, A4X)
 * exists in one to three zones of the regions that have it at all. G2 and N1 machines are left to GKE.
 */
export function needsZoneLookup(machineType: string): boolean {
  return /^a\d+x?-/.test(machineType);
}

/** A zone name (`us-central1-a`) as opposed to a region (`us-central1`). */
export function isZone(location: string): boolean {
  return /^[a-z]+-[a-z]+\d+-[a-z]$/.test(location);
}

/** The region a zone belongs to (`us-central1-a` → `us-central1`); a region is returned as it is. */
export function regionOf(location: string): string {
  return isZone(location) ? location.replace(/-[a-z]$/, "") : location;
}

/** A Compute Engine list filter (AIP-160) matching one machine type by name. */
export function machineTypeFilter(machineType: string): string {
  return `name = "${machineType}"`;
}

/** What {@link offeredZones} looks up, and how it names the asker in its error. */
export interface OfferedZonesArgs {
  /** The project whose zones and machine types are listed. */
  project: pulumi.Input<string>;
  /** The cluster's location: a region, or a zone for a zonal cluster. */
  location: pulumi.Input<string>;
  /** The Compute Engine machine type to find (`a3-highgpu-8g`). */
  machineType: string;
  /** Who asks, for messages: `GpuCluster ml`. */
  owner: string;
  /** The pool's field path, for messages: `gpuPools[0]`. */
  field: string;
  /**
   * Outputs to wait for before looking (the Compute Engine API's enablement), so that a fresh project is not
   * asked before the API is on. Defaults to none.
   */
  after?: pulumi.Input<unknown>[];
}

/**
 * The zones of the cluster's region (or its one zone) whose machine-type list holds `machineType`, sorted.
 * Fails the deployment with a sentence naming `<field>.zones` when no zone does, or when the lookup itself
 * fails or answers something that is not a list (a Pulumi mock that echoes its inputs does that).
 */
export function offeredZones(args: OfferedZonesArgs, opts: pulumi.InvokeOptions): pulumi.Output<string[]> {
  return pulumi.all([args.project, args.location, ...(args.after ?? [])]).apply((values) => {
    const [project, location] = values as unknown as [string, string];
    return lookUpOfferedZones(project, location, args, opts);
  });
}

/** {@link offeredZones} once the project and location are known. */
export async function lookUpOfferedZones(
  project: string,
  location: string,
  args: Pick<OfferedZonesArgs, "machineType" | "owner" | "field">,
  opts: pulumi.InvokeOptions,
): Promise<string[]> {
  const region = regionOf(location);
  const fix =
    `set ${args.field}.zones to the zones to use (gcloud compute machine-types list --filter="name=${args.machineType}" ` +
    "lists them), which skips the lookup";
  const failed = (what: string, cause: unknown): Error =>
    new pulumi.ResourceError(
      `${args.owner}: ${args.field}.zones is not set, so the zones offering ${args.machineType} are looked up, and ` +
        `${what} ${cause instanceof Error ? `failed: ${cause.message || "no reason given"}` : `answered ${shownAnswer(cause)}, not a list`}; ${fix}. ` +
        "Under Pulumi's mocks, answer gcp:compute/getZones:getZones and gcp:compute/getMachineTypes:getMachineTypes",
      opts.parent,
    );
  let candidates: string[] = [location];
  if (!isZone(location)) {
    const zones = await gcp.compute.getZones({ project, region, status: "UP" }, opts).catch((e: unknown) => {
      throw failed(`listing the zones of ${region}`, e instanceof Error ? e : new Error(String(e)));
    });
    if (!Array.isArray(zones?.names)) throw failed(`listing the zones of ${region}`, zones?.names);
    candidates = zones.names;
  }
  const offered: string[] = [];
  for (const zone of [...candidates].sort()) {
    const listed = await gcp.compute
      .getMachineTypes({ project, zone, filter: machineTypeFilter(args.machineType) }, opts)
      .catch((e: unknown) => {
        throw failed(`listing the machine types of ${zone}`, e instanceof Error ? e : new Error(String(e)));
      });
    if (!Array.isArray(listed?.machineTypes)) {
      throw failed(`listing the machine types of ${zone}`, listed?.machineTypes);
    }
    if (listed.machineTypes.some((m) => m.name === args.machineType)) offered.push(zone);
  }
  if (offered.length === 0) {
    const where = isZone(location) ? `zone ${location}` : `any zone of ${region}`;
    throw new pulumi.ResourceError(
      `${args.owner}: ${args.field}.machineType ${args.machineType} is not offered in ${where}; choose a location ` +
        `that offers it (gcloud compute machine-types list --filter="name=${args.machineType}") or set ${args.field}.zones`,
      opts.parent,
    );
  }
  return offered;
}

// What a data source answered in place of a list, for the message: short, and never a whole object.
function shownAnswer(value: unknown): string {
  if (value === undefined) return "nothing";
  return typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value;
}
