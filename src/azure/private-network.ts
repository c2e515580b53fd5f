import * as network from "@pulumi/azure-native/network";
import * as privatedns from "@pulumi/azure-native/privatedns";
import * as pulumi from "@pulumi/pulumi";
import { ArgumentError, shown } from "../components/sentences";

/** The private DNS zone Azure resolves each private-link service's names in, by its group id. */
export const PRIVATE_LINK_ZONES = {
  vault: "privatelink.vaultcore.azure.net",
  registry: "privatelink.azurecr.io",
} as const;
/** A private-link service trainkit makes private endpoints to: `vault` or `registry`. */
export type PrivateLinkGroup = keyof typeof PRIVATE_LINK_ZONES;

const SLASH16 = /^(\d{1,3})\.(\d{1,3})\.0\.0\/16$/;

/**
 * The two subnets of a /16: the Container Apps environment's infrastructure subnet (a /23, the size a
 * workload-profiles environment's documentation recommends over its /27 minimum) and a /24 for private
 * endpoints.
 */
export function subnetsOf(
  owner: string,
  addressSpace: string,
): {
  /** The environment's /23, the first of the address space. */
  apps: string;
  /** The private endpoints' /24, right after it. */
  endpoints: string;
} {
  const match = SLASH16.exec(addressSpace);
  const [a, b] = [Number(match?.[1]), Number(match?.[2])];
  if (!match || a > 255 || b > 255) {
    throw new ArgumentError(
      `${owner}: addressSpace must be a /16 such as 10.42.0.0/16 (the environment takes its first /23, private endpoints the /24 after it); got ${shown(addressSpace)}`,
    );
  }
  return { apps: `${a}.${b}.0.0/23`, endpoints: `${a}.${b}.2.0/24` };
}

/** The virtual network's ARM id in a subnet's (`.../virtualNetworks/<vnet>/subnets/<subnet>`). */
export function virtualNetworkOf(subnetId: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(subnetId).apply((id) => {
    const at = id.toLowerCase().lastIndexOf("/subnets/");
    if (at < 0) throw new ArgumentError(`a subnet id must end in /subnets/<name>; got ${shown(id)}`);
    return id.slice(0, at);
  });
}

/**
 * A private DNS zone linked to a virtual network, so that names in it resolve to private addresses for
 * every caller in that network.
 */
export function linkedZone(
  name: string,
  args: {
    /** The resource group of the zone and its link. */
    resourceGroupName: pulumi.Input<string>;
    /** The zone's DNS name, one of `PRIVATE_LINK_ZONES`. */
    zoneName: pulumi.Input<string>;
    /** The ARM id of the virtual network the zone is linked to. */
    virtualNetworkId: pulumi.Input<string>;
    /** Tags for the zone and the link. */
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
  },
  opts: pulumi.CustomResourceOptions,
): {
  /** The private DNS zone. */
  zone: privatedns.PrivateZone;
  /** The zone's link to the virtual network (resolution only, no auto-registration). */
  link: privatedns.VirtualNetworkLink;
} {
  const zone = new privatedns.PrivateZone(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      privateZoneName: args.zoneName,
      location: "global",
      tags: args.tags,
    },
    opts,
  );
  const link = new privatedns.VirtualNetworkLink(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      privateZoneName: zone.name,
      location: "global",
      virtualNetwork: { id: args.virtualNetworkId },
      registrationEnabled: false,
      tags: args.tags,
    },
    opts,
  );
  return { zone, link };
}

/**
 * A private endpoint in `subnetId` to one service (a Key Vault's `vault`, a registry's `registry`), with its
 * address registered in the service's private-link DNS zone, so the service's usual host name resolves to
 * the endpoint inside the virtual network.
 */
export function privateEndpointTo(
  name: string,
  args: {
    /** The resource group of the endpoint. */
    resourceGroupName: pulumi.Input<string>;
    /** The Azure region; the subnet's. Defaults to the resource group's region. */
    location?: pulumi.Input<string>;
    /** The ARM id of the subnet the endpoint takes an address in. */
    subnetId: pulumi.Input<string>;
    /** The ARM id of the Key Vault or registry the endpoint leads to. */
    serviceId: pulumi.Input<string>;
    /** The service's private-link group: `vault` or `registry`. */
    group: PrivateLinkGroup;
    /** The ARM id of the private DNS zone of `group` the endpoint's address is registered in. */
    zoneId: pulumi.Input<string>;
    /** Tags for the endpoint. */
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
  },
  opts: pulumi.CustomResourceOptions,
): {
  /** The private endpoint. */
  endpoint: network.PrivateEndpoint;
  /** The DNS zone group that registers the endpoint's address in the zone. */
  dns: network.PrivateDnsZoneGroup;
} {
  const endpoint = new network.PrivateEndpoint(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      location: args.location,
      subnet: { id: args.subnetId },
      // Same subscription and an identity allowed to create it: approved on creation, no manual step.
      privateLinkServiceConnections: [
        { name: args.group, privateLinkServiceId: args.serviceId, groupIds: [args.group] },
      ],
      tags: args.tags,
    },
    opts,
  );
  const dns = new network.PrivateDnsZoneGroup(
    name,
    {
      resourceGroupName: args.resourceGroupName,
      privateEndpointName: endpoint.name,
      privateDnsZoneGroupName: "default",
      privateDnsZoneConfigs: [{ name: args.group, privateDnsZoneId: args.zoneId }],
    },
    opts,
  );
  return { endpoint, dns };
}
