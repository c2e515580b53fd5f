import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as pulumi from "@pulumi/pulumi";
import { suffixedName } from "../components/name-suffix";
import { ownerOf } from "../components/owners";
import { ArgumentError, oneOf, shown } from "../components/sentences";
import { azureTags, nameSuffixFor, requireResourceGroup } from "./settings";

/** The registry SKUs `sku` may name. */
export const RegistrySku = {
  /** Private endpoints, no public access needed; the default. */
  Premium: "Premium",
  /** Cheaper, but reachable only over the internet (so only with `public: true`). */
  Standard: "Standard",
} as const;
export type RegistrySku = (typeof RegistrySku)[keyof typeof RegistrySku];
export const REGISTRY_SKUS: readonly RegistrySku[] = Object.values(RegistrySku);

/** Inputs of the Azure `Registry`. */
export interface RegistryArgs extends RegistrySettings {
  /** The resource group of the registry. Required. */
  resourceGroupName: pulumi.Input<string>;
  /** The Azure region; put it where the jobs run. Defaults to the resource group's region. */
  location?: pulumi.Input<string>;
  /**
   * The random suffix of the default registry name (4 to 16 lowercase letters or digits). Defaults to one
   * drawn when the registry is first deployed and kept in the stack's state. Ignored with `registryName`.
   */
  nameSuffix?: pulumi.Input<string>;
}

/** The settings of a `Registry` a `TrainingPlatform` passes on as they are. */
export interface RegistrySettings {
  /**
   * The globally unique registry name, the `<name>` in `<name>.azurecr.io`: 5 to 50 letters or digits.
   * Defaults to the component's name, letters and digits only, plus the `nameSuffix`.
   */
  registryName?: string;
  /**
   * `Premium` or `Standard`. Premium (about three times the price) is what makes the registry private:
   * only it can turn public network access off, take private endpoints, and delete untagged manifests on a
   * schedule. Defaults to `Premium`. `Standard` must be combined with `public: true`.
   */
  sku?: RegistrySku;
  /**
   * Accept pushes and pulls from the internet (still only with Entra ID credentials holding AcrPush or
   * AcrPull: the admin user and anonymous pull stay off). Defaults to false: only private endpoints and
   * Azure's trusted services (Azure ML among them) reach it. Pushing from a laptop, or pulling from a
   * Container Apps environment without a virtual network, needs it on.
   */
  public?: boolean;
  /**
   * Delete untagged manifests (left behind when a tag moves to a new image) this many days old, 0 to 365
   * (0 deletes them at once). Premium only. Defaults to 7.
   */
  untaggedRetentionDays?: number;
  /** Tags for the registry. Defaults to the trainkit tags only. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * A private Azure Container Registry for training images: no admin user, no anonymous pull, public
 * network access off and untagged manifests deleted after a week (Premium). ACR has no registry-wide
 * immutable tags; lock a released tag with `az acr repository update --write-enabled false`.
 */
export class Registry extends pulumi.ComponentResource {
  /** The container registry. */
  public readonly registry: containerregistry.Registry;
  /** The registry's ARM id, the scope of AcrPull and AcrPush role assignments. */
  public readonly registryId: pulumi.Output<string>;
  /** Where to push and pull images: `<name>.azurecr.io`. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:azure:Registry", name, {}, opts);
    const owner = ownerOf(this, "Registry", name);
    const resourceGroupName = requireResourceGroup(args?.resourceGroupName, owner);
    const sku = args.sku ?? "Premium";
    if (!REGISTRY_SKUS.includes(sku)) {
      throw new ArgumentError(`${owner}: sku must be ${oneOf(REGISTRY_SKUS)}; got ${shown(sku)}`);
    }
    const isPublic = args.public ?? false;
    if (sku === "Standard" && !isPublic) {
      throw new ArgumentError(
        `${owner}: sku Standard cannot turn public network access off; set sku to Premium, or set public to true to accept a registry reachable from the internet`,
      );
    }
    const retention = args.untaggedRetentionDays ?? 7;
    if (!Number.isInteger(retention) || retention < 0 || retention > 365) {
      throw new ArgumentError(
        `${owner}: untaggedRetentionDays must be a whole number of days from 0 to 365; got ${shown(retention)}`,
      );
    }
    if (sku === "Standard" && args.untaggedRetentionDays !== undefined) {
      throw new ArgumentError(
        `${owner}: untaggedRetentionDays needs sku Premium, since Standard registries have no retention policy; got sku Standard`,
      );
    }
    if (args.registryName !== undefined && !/^[a-zA-Z0-9]{5,50}$/.test(args.registryName)) {
      throw new ArgumentError(
        `${owner}: registryName must be 5 to 50 letters or digits; got ${shown(args.registryName)}`,
      );
    }
    if (isPublic) {
      pulumi.log.warn(
        `Registry ${name} accepts connections from the internet: Entra ID credentials with AcrPull or AcrPush are the only gate.`,
        this,
      );
    }
    const premium = sku === "Premium";
    const registryName =
      args.registryName ??
      suffixedName(name, nameSuffixFor(owner, name, args.nameSuffix, { parent: this }), 50);

    this.registry = new containerregistry.Registry(
      name,
      {
        resourceGroupName,
        location: args.location,
        registryName,
        sku: { name: sku },
        adminUserEnabled: false,
        anonymousPullEnabled: false,
        publicNetworkAccess: isPublic ? "Enabled" : "Disabled",
        networkRuleBypassOptions: "AzureServices",
        policies: premium
          ? {
              retentionPolicy: { status: "enabled", days: retention },
              // Export lets a registry's images be copied out wholesale; a private registry keeps them in.
              exportPolicy: { status: isPublic ? "enabled" : "disabled" },
            }
          : undefined,
        tags: azureTags("registry", args.tags),
      },
      { parent: this },
    );

    this.registryId = this.registry.id;
    this.url = this.registry.loginServer;
    this.registerOutputs({ registryId: this.registryId, url: this.url });
  }
}
