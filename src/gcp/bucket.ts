import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { mergeLabels } from "../components/labels";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import { gcpSetting } from "./settings";

/** Arguments of a `Bucket`; every field is optional. */
export interface BucketArgs extends BucketSettings {
  /** The GCP project. Defaults to the stack's `gcp:project` config. */
  project?: pulumi.Input<string>;
  /**
   * The bucket's location: a region (`us-central1`, cheapest to read from jobs in that region), a dual-region
   * or a multi-region (`US`). Defaults to the stack's `gcp:region` config.
   */
  location?: pulumi.Input<string>;
}

/** A `Bucket`'s settings besides where it lives: what a `TrainingPlatform` passes on for each bucket. */
export interface BucketSettings {
  /**
   * The globally unique bucket name. Defaults to the component's name plus a random suffix, which keeps two
   * stacks from colliding.
   */
  bucketName?: pulumi.Input<string>;
  /**
   * Delete noncurrent (overwritten or deleted) object versions this many days after they stopped being
   * current. Defaults to 30.
   */
  noncurrentVersionRetentionDays?: number;
  /**
   * Keep soft-deleted objects restorable for this many days: 0 turns soft delete off, otherwise 7 to 90,
   * the range Cloud Storage accepts. Defaults to 7.
   */
  softDeleteRetentionDays?: number;
  /**
   * A Cloud KMS key (`projects/.../cryptoKeys/...`) to encrypt new objects with by default. Defaults to
   * Google-managed keys. The Cloud Storage service agent must hold `roles/cloudkms.cryptoKeyEncrypterDecrypter` on it.
   */
  kmsKeyName?: pulumi.Input<string>;
  /**
   * Let `pulumi destroy` delete the bucket with every object and version in it. Defaults to false, so a
   * bucket holding data refuses to be destroyed. Turn on only for scratch buckets.
   */
  forceDestroy?: boolean;
  /** Labels for the bucket. Defaults to the trainkit labels only. */
  labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * A private GCS bucket for training data or outputs: uniform bucket-level access, public access prevention
 * enforced, versioning with a lifecycle for old versions, soft delete, and optional CMEK.
 */
export class Bucket extends pulumi.ComponentResource {
  /** The underlying Cloud Storage bucket, for settings this component does not expose. */
  public readonly bucket: gcp.storage.Bucket;
  /** The bucket's name, without `gs://`: `bucketName` when given, otherwise the generated one. */
  public readonly name: pulumi.Output<string>;
  /** `gs://<bucket>`, the form storage mounts and Vertex AI take. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: BucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:gcp:Bucket", name, {}, opts);
    const owner = ownerOf(this, "Bucket", name);
    const project = gcpSetting(args.project, "project", "project", owner);
    const location = gcpSetting(args.location, "location", "region", owner);
    const noncurrentDays = args.noncurrentVersionRetentionDays ?? 30;
    if (!Number.isInteger(noncurrentDays) || noncurrentDays < 1) {
      throw new ArgumentError(
        `${owner}: noncurrentVersionRetentionDays must be a whole number of days, at least 1; got ${shown(noncurrentDays)}`,
      );
    }
    const softDeleteDays = args.softDeleteRetentionDays ?? 7;
    if (
      !Number.isInteger(softDeleteDays) ||
      !(softDeleteDays === 0 || (softDeleteDays >= 7 && softDeleteDays <= 90))
    ) {
      throw new ArgumentError(
        `${owner}: softDeleteRetentionDays must be 0 (soft delete off) or a whole number of days from 7 to 90, the range Cloud Storage accepts; got ${shown(softDeleteDays)}`,
      );
    }
    const bucketName = args.bucketName;
    if (
      typeof bucketName === "string" &&
      (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(bucketName) || bucketName.startsWith("goog"))
    ) {
      throw new ArgumentError(
        `${owner}: bucketName must be 3 to 63 lowercase letters, digits, dashes, dots or underscores, starting and ending with a letter or digit and not starting with "goog"; got ${shown(bucketName)}`,
      );
    }
    const forceDestroy = args.forceDestroy ?? false;
    if (forceDestroy) {
      pulumi.log.warn(
        `Bucket ${name} has forceDestroy on: pulumi destroy will delete it with all its objects and versions.`,
        this,
      );
    }

    this.bucket = new gcp.storage.Bucket(
      name,
      {
        project,
        location,
        name: args.bucketName,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: "enforced",
        versioning: { enabled: true },
        lifecycleRules: [
          {
            action: { type: "Delete" },
            condition: { daysSinceNoncurrentTime: noncurrentDays, withState: "ARCHIVED" },
          },
        ],
        softDeletePolicy: { retentionDurationSeconds: softDeleteDays * 86400 },
        encryption: args.kmsKeyName === undefined ? undefined : { defaultKmsKeyName: args.kmsKeyName },
        forceDestroy,
        labels: mergeLabels("bucket", args.labels),
      },
      { parent: this },
    );

    this.name = this.bucket.name;
    this.url = pulumi.interpolate`gs://${this.bucket.name}`;
    this.registerOutputs({ name: this.name, url: this.url });
  }
}
