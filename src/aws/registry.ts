import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import type { Tags } from "./settings";

/** Inputs of `Registry`. Every field is optional. */
export interface RegistryArgs extends RegistrySettings {
  /** The region of the repository; put it where the jobs run. Defaults to the provider's region. */
  region?: pulumi.Input<string>;
}

/** The settings of a `Registry` a `TrainingPlatform` passes on as they are. */
export interface RegistrySettings {
  /**
   * The repository name, part of the image URL: lowercase letters, digits and `-_./`. Defaults to the
   * component's name plus a short hash of the stack, so two stacks in one account do not collide.
   */
  repositoryName?: string;
  /**
   * Refuse to move a tag once pushed (`IMMUTABLE`), so `train:v1` always means the image a job was submitted
   * with. Defaults to true. Set false only for mutable tags like `latest` during development.
   */
  immutableTags?: boolean;
  /** Scan each image for vulnerabilities when it is pushed. Defaults to true. */
  scanOnPush?: boolean;
  /**
   * A KMS key ARN to encrypt images with. Defaults to none: images are encrypted with ECR's AES-256 keys.
   * The key can only be set when the repository is created.
   */
  kmsKeyArn?: pulumi.Input<string>;
  /** Expire untagged images (left behind by re-pushes and multi-arch builds) this many days old. Defaults to 7. */
  untaggedRetentionDays?: number;
  /**
   * Keep only this many most recent images, tagged or not; older ones expire. Defaults to 100: jobs are rerun
   * from recent images, while a registry that only grows costs more every month.
   */
  keepRecentImages?: number;
  /**
   * Let `pulumi destroy` delete the repository with the images in it. Defaults to false, so a repository
   * holding images refuses to be destroyed.
   */
  forceDelete?: boolean;
  /** Tags for the repository. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/** The ECR lifecycle policy: untagged images expire after `untaggedDays`, and only the `keep` newest stay. */
export function ecrLifecyclePolicy(untaggedDays: number, keep: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `Expire untagged images after ${untaggedDays} days`,
        selection: {
          tagStatus: "untagged",
          countType: "sinceImagePushed",
          countUnit: "days",
          countNumber: untaggedDays,
        },
        action: { type: "expire" },
      },
      {
        // ECR requires the rule selecting any tag status to have the highest priority number.
        rulePriority: 2,
        description: `Keep the ${keep} most recent images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
        action: { type: "expire" },
      },
    ],
  });
}

/** A private ECR repository with immutable tags, scan on push, encryption and a lifecycle policy. */
export class Registry extends pulumi.ComponentResource {
  /** The ECR repository. */
  public readonly repository: aws.ecr.Repository;
  /** The lifecycle policy expiring untagged images after `untaggedRetentionDays` days and all but the `keepRecentImages` newest. */
  public readonly lifecyclePolicy: aws.ecr.LifecyclePolicy;
  /** Where to push and pull images: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`. */
  public readonly url: pulumi.Output<string>;
  /** The repository's ARN, for IAM policies (`SageMakerRole`'s `repositoryArns`). */
  public readonly arn: pulumi.Output<string>;

  constructor(name: string, args: RegistryArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:Registry", name, {}, opts);
    const owner = ownerOf(this, "Registry", name);
    const untagged = wholeNumberArg(owner, "untaggedRetentionDays", args.untaggedRetentionDays, {
      least: 1,
      fallback: 7,
      unit: "days",
    });
    const keep = wholeNumberArg(owner, "keepRecentImages", args.keepRecentImages, {
      least: 1,
      most: 10000,
      fallback: 100,
    });
    const repositoryName = args.repositoryName ?? boundedName(name, 256);
    if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repositoryName)) {
      throw new ArgumentError(
        `${owner}: repositoryName must be lowercase letters and digits, separated by single dots, dashes, underscores or slashes; got ${shown(repositoryName)}`,
      );
    }
    const forceDelete = args.forceDelete ?? false;
    if (forceDelete) {
      pulumi.log.warn(
        `Registry ${name} has forceDelete on: pulumi destroy will delete it with all its images.`,
        this,
      );
    }
    const parent = { parent: this };

    this.repository = new aws.ecr.Repository(
      name,
      {
        region: args.region,
        name: repositoryName,
        imageTagMutability: (args.immutableTags ?? true) ? "IMMUTABLE" : "MUTABLE",
        imageScanningConfiguration: { scanOnPush: args.scanOnPush ?? true },
        encryptionConfigurations: [
          args.kmsKeyArn === undefined
            ? { encryptionType: "AES256" }
            : { encryptionType: "KMS", kmsKey: args.kmsKeyArn },
        ],
        forceDelete,
        tags: mergeLabels("registry", args.tags),
      },
      // The name is fixed (it is the image URL), so a replacement must delete the old repository first;
      // ECR refuses that while images remain unless forceDelete is set.
      { ...parent, deleteBeforeReplace: true },
    );
    this.lifecyclePolicy = new aws.ecr.LifecyclePolicy(
      name,
      { region: args.region, repository: this.repository.name, policy: ecrLifecyclePolicy(untagged, keep) },
      parent,
    );

    this.url = this.repository.repositoryUrl;
    this.arn = this.repository.arn;
    this.registerOutputs({ url: this.url, arn: this.arn });
  }
}
