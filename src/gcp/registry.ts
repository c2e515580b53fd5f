import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import { apiDependencies, type GoogleApi, type ProjectApis } from "./project-apis";
import { gcpSetting } from "./settings";

/** Arguments of a `Registry`; every field is optional. */
export interface RegistryArgs extends RegistrySettings {
  /** The GCP project. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /** The region of the repository; put it where the jobs run. Defaults to the stack's `gcp:region` config. */
  location?: pulumi.Input<string>;
}

/** A `Registry`'s settings besides where it lives: what a `TrainingPlatform` passes on. */
export interface RegistrySettings {
  /**
   * The repository ID, part of the image URL: lowercase letters, digits and dashes. Defaults to the
   * component's name plus a short hash of the Pulumi project and stack, so two stacks in one GCP project
   * get two repositories instead of fighting over one.
   */
  repositoryId?: pulumi.Input<string>;
  /**
   * Refuse to move a tag once pushed, so `train:v1` always means the image a job was submitted with.
   * Defaults to true. Set false only for mutable tags like `latest` during development.
   */
  immutableTags?: pulumi.Input<boolean>;
  /** Delete untagged images (left behind by re-pushes and multi-arch builds) this many days old. Defaults to 7. */
  untaggedRetentionDays?: number;
  /**
   * Keep at least this many most recent versions of each image whatever the delete rules say. Defaults to 10.
   */
  keepRecentVersions?: number;
  /**
   * Also delete tagged images this many days old (the `keepRecentVersions` newest always stay). Defaults to
   * none: tagged images stay, since old jobs may need to be rerun from them.
   */
  taggedRetentionDays?: number;
  /**
   * A Cloud KMS key (`projects/.../cryptoKeys/...`) to encrypt images with. Defaults to Google-managed keys.
   * The Artifact Registry service agent must hold `roles/cloudkms.cryptoKeyEncrypterDecrypter` on the key.
   */
  kmsKeyName?: pulumi.Input<string>;
  /**
   * Scan pushed images for vulnerabilities (Artifact Analysis; the Container Scanning API must be enabled).
   * Defaults to true.
   */
  vulnerabilityScanning?: boolean;
  /** Labels for the repository. Defaults to the trainkit labels only. */
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /**
   * Enable the Artifact Registry API (and the Container Scanning API when scanning is on) in the project, as
   * resources this component owns that stay on after `pulumi destroy`. Defaults to true. Set false where
   * APIs are managed elsewhere.
   */
  enableApis?: boolean;
}

function days(field: string, value: number | undefined, fallback: number | undefined, owner: string) {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new ArgumentError(
      `${owner}: ${field} must be a whole number of days, at least 1; got ${shown(value)}`,
    );
  }
  return value;
}

const seconds = (d: number) => `${d * 86400}s`;

/** The Registry parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  apis: ProjectApis | undefined;
}>();

/** A private Artifact Registry Docker repository with immutable tags, cleanup policies and scanning. */
export class Registry extends pulumi.ComponentResource {
  /** The underlying Artifact Registry repository, for settings this component does not expose. */
  public readonly repository: gcp.artifactregistry.Repository;
  /** The APIs this component enabled, unless `enableApis` is false. */
  get apis(): ProjectApis | undefined {
    return offSchema.get(this, "apis");
  }
  /** Where to push and pull images: `<region>-docker.pkg.dev/<project>/<repository>`. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:Registry", name, {}, opts);
    const owner = ownerOf(this, "Registry", name);
    const project = gcpSetting(args.project, "project", "project", owner);
    const location = gcpSetting(args.location, "location", "region", owner);
    const untagged = days("untaggedRetentionDays", args.untaggedRetentionDays, 7, owner)!;
    const tagged = days("taggedRetentionDays", args.taggedRetentionDays, undefined, owner);
    const repositoryId = args.repositoryId ?? boundedName(name, 63);
    if (typeof repositoryId === "string" && !/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(repositoryId)) {
      throw new ArgumentError(
        `${owner}: repositoryId must be 1 to 63 lowercase letters, digits or dashes, starting with a letter; got ${shown(repositoryId)}`,
      );
    }
    const keep = args.keepRecentVersions ?? 10;
    if (!Number.isInteger(keep) || keep < 1) {
      throw new ArgumentError(
        `${owner}: keepRecentVersions must be a whole number, at least 1; got ${shown(keep)}`,
      );
    }

    const cleanupPolicies: gcp.types.input.artifactregistry.RepositoryCleanupPolicy[] = [
      {
        id: "delete-untagged",
        action: "DELETE",
        condition: { tagState: "UNTAGGED", olderThan: seconds(untagged) },
      },
      { id: "keep-recent", action: "KEEP", mostRecentVersions: { keepCount: keep } },
    ];
    if (tagged !== undefined) {
      cleanupPolicies.push({
        id: "delete-old-tagged",
        action: "DELETE",
        condition: { tagState: "TAGGED", olderThan: seconds(tagged) },
      });
    }

    const scanning = args.vulnerabilityScanning ?? true;
    const needs: GoogleApi[] = scanning ? ["artifactregistry", "containerscanning"] : ["artifactregistry"];
    const { apis, dependsOn } = apiDependencies(this, name, project, needs, args.enableApis, opts);
    offSchema.set(this, "apis", apis);

    this.repository = new gcp.artifactregistry.Repository(
      name,
      {
        project,
        location,
        repositoryId,
        format: "DOCKER",
        description: "Training images (trainkit)",
        dockerConfig: { immutableTags: args.immutableTags ?? true },
        cleanupPolicies,
        cleanupPolicyDryRun: false,
        kmsKeyName: args.kmsKeyName,
        vulnerabilityScanningConfig: {
          enablementConfig: scanning ? "INHERITED" : "DISABLED",
        },
        labels: mergeLabels("registry", args.labels),
      },
      { parent: this, dependsOn },
    );

    this.url = pulumi.interpolate`${this.repository.location}-docker.pkg.dev/${this.repository.project}/${this.repository.repositoryId}`;
    this.registerOutputs({ url: this.url });
  }
}
