import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import { mergeLabels } from "../components/labels";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import { policyDocument, type Tags } from "./settings";

/** Inputs of `Bucket`. Every field is optional. */
export interface BucketArgs extends BucketSettings {
  /** The region of the bucket; put it where the jobs run. Defaults to the provider's region. */
  region?: pulumi.Input<string>;
}

/** The settings of a `Bucket` a `TrainingPlatform` passes on as they are. */
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
  /** Abort multipart uploads left unfinished (a crashed checkpoint upload) after this many days. Defaults to 7. */
  abortIncompleteUploadDays?: number;
  /**
   * A KMS key ARN to encrypt new objects with (SSE-KMS, with an S3 Bucket Key to cut KMS calls). Defaults to
   * none: objects are encrypted with S3-managed keys (SSE-S3). Whoever reads or writes objects then also needs
   * `kms:Decrypt` / `kms:GenerateDataKey` on the key (`SageMakerRole` takes it as `kmsKeyArns`).
   */
  kmsKeyArn?: pulumi.Input<string>;
  /**
   * Let `pulumi destroy` delete the bucket with every object and version in it. Defaults to false, so a
   * bucket holding data refuses to be destroyed. Turn on only for scratch buckets.
   */
  forceDestroy?: boolean;
  /** Tags for the bucket. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/**
 * A private S3 bucket for training data or outputs: all four public access blocks on, ACLs off (bucket
 * owner enforced), versioning with a lifecycle for old versions, default encryption, and a policy refusing
 * any request not made over TLS.
 */
export class Bucket extends pulumi.ComponentResource {
  /** The S3 bucket itself. */
  public readonly bucket: aws.s3.Bucket;
  /** The bucket's public access block, with all four blocks on. */
  public readonly publicAccessBlock: aws.s3.BucketPublicAccessBlock;
  /** The ownership controls that turn ACLs off (`BucketOwnerEnforced`). */
  public readonly ownershipControls: aws.s3.BucketOwnershipControls;
  /** The versioning configuration (enabled). */
  public readonly versioning: aws.s3.BucketVersioning;
  /** The default encryption: SSE-KMS with `kmsKeyArn` when given, SSE-S3 otherwise. */
  public readonly encryption: aws.s3.BucketServerSideEncryptionConfiguration;
  /** The lifecycle rules expiring noncurrent versions and aborting unfinished multipart uploads. */
  public readonly lifecycle: aws.s3.BucketLifecycleConfiguration;
  /** The bucket policy refusing every request not made over TLS. */
  public readonly policy: aws.s3.BucketPolicy;
  /** The bucket's name. */
  public readonly name: pulumi.Output<string>;
  /** The bucket's ARN, for IAM policies (`SageMakerRole`'s `dataBucketArns` and `outputBucketArns`). */
  public readonly arn: pulumi.Output<string>;
  /** `s3://<bucket>`, the form storage mounts and SageMaker take. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: BucketArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:Bucket", name, {}, opts);
    const owner = ownerOf(this, "Bucket", name);
    const noncurrentDays = wholeNumberArg(
      owner,
      "noncurrentVersionRetentionDays",
      args.noncurrentVersionRetentionDays,
      { least: 1, fallback: 30, unit: "days" },
    );
    const abortDays = wholeNumberArg(owner, "abortIncompleteUploadDays", args.abortIncompleteUploadDays, {
      least: 1,
      fallback: 7,
      unit: "days",
    });
    const bucketName = args.bucketName;
    if (
      typeof bucketName === "string" &&
      (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucketName) ||
        bucketName.includes("..") ||
        bucketName.startsWith("xn--") ||
        /^\d+\.\d+\.\d+\.\d+$/.test(bucketName))
    ) {
      throw new ArgumentError(
        `${owner}: bucketName must be 3 to 63 lowercase letters, digits, dots or dashes, starting and ending with a letter or digit, not shaped like an IP address; got ${shown(bucketName)}`,
      );
    }
    const forceDestroy = args.forceDestroy ?? false;
    if (forceDestroy) {
      pulumi.log.warn(
        `Bucket ${name} has forceDestroy on: pulumi destroy will delete it with all its objects and versions.`,
        this,
      );
    }
    const parent = { parent: this };
    const region = args.region;

    this.bucket = new aws.s3.Bucket(
      name,
      { region, bucket: bucketName, forceDestroy, tags: mergeLabels("bucket", args.tags) },
      parent,
    );
    const bucket = this.bucket.bucket;

    this.publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
      name,
      {
        region,
        bucket,
        blockPublicAcls: true,
        ignorePublicAcls: true,
        blockPublicPolicy: true,
        restrictPublicBuckets: true,
      },
      parent,
    );
    this.ownershipControls = new aws.s3.BucketOwnershipControls(
      name,
      { region, bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
      parent,
    );
    this.versioning = new aws.s3.BucketVersioning(
      name,
      { region, bucket, versioningConfiguration: { status: "Enabled" } },
      parent,
    );
    this.encryption = new aws.s3.BucketServerSideEncryptionConfiguration(
      name,
      {
        region,
        bucket,
        rules: [
          args.kmsKeyArn === undefined
            ? { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }
            : {
                applyServerSideEncryptionByDefault: {
                  sseAlgorithm: "aws:kms",
                  kmsMasterKeyId: args.kmsKeyArn,
                },
                bucketKeyEnabled: true,
              },
        ],
      },
      parent,
    );
    this.lifecycle = new aws.s3.BucketLifecycleConfiguration(
      name,
      {
        region,
        bucket,
        rules: [
          {
            id: "expire-noncurrent-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: noncurrentDays },
          },
          {
            id: "abort-incomplete-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: abortDays },
          },
        ],
      },
      // S3 rejects a lifecycle configuration for noncurrent versions until versioning is on.
      { ...parent, dependsOn: [this.versioning] },
    );
    this.policy = new aws.s3.BucketPolicy(
      name,
      {
        region,
        bucket,
        policy: this.bucket.arn.apply((arn) =>
          policyDocument([
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [arn, `${arn}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
          ]),
        ),
      },
      // A policy put while the public access block is still being applied can be refused as public.
      { ...parent, dependsOn: [this.publicAccessBlock] },
    );

    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;
    this.url = pulumi.interpolate`s3://${this.bucket.bucket}`;
    this.registerOutputs({ name: this.name, arn: this.arn, url: this.url });
  }
}
