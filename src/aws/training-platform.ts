import * as pulumi from "@pulumi/pulumi";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError } from "../components/sentences";
import { Bucket, type BucketSettings } from "./bucket";
import { GpuCluster, type GpuClusterSettings } from "./gpu-cluster";
import type { PodIdentity } from "./pod-identity";
import { Registry, type RegistrySettings } from "./registry";
import { bucketAccessStatements, SageMakerRole } from "./sagemaker-role";
import { arnParts, awsRegion, identityStatements, type Tags } from "./settings";
import { TrainingApi, type TrainingApiSettings } from "./training-api";

/** Inputs of the AWS `TrainingPlatform`. */
export interface TrainingPlatformArgs {
  /** The region of every part. Defaults to the stack's `aws:region` config. */
  region?: pulumi.Input<string>;
  /**
   * The Train API: at least its `image`, `apiKeys`, `vpcId` and `subnetIds`; the SageMaker role and output
   * location are filled in. Required.
   */
  api: TrainingApiSettings;
  /** The image registry. Defaults to a `Registry` with its own defaults (immutable tags, scan on push, lifecycle). */
  registry?: RegistrySettings;
  /** The bucket training data is read from (jobs get read access). Defaults to a `Bucket` with its own defaults. */
  dataBucket?: BucketSettings;
  /**
   * The bucket jobs write models and checkpoints to (jobs get read-write access); SageMaker's output path is
   * its `models/` prefix. Defaults to a `Bucket` with its own defaults.
   */
  outputBucket?: BucketSettings;
  /** Extra settings of the jobs' execution role (KMS keys, a permissions boundary). Defaults to none. */
  sagemakerRole?: PlatformSageMakerRole;
  /**
   * An EKS cluster with GPU node groups, for the `kubernetes` backend. Defaults to none, since SageMaker jobs
   * need no cluster.
   */
  cluster?: GpuClusterSettings;
  /**
   * The Kubernetes service account training jobs on the cluster run as (the `trainkit/kubernetes`
   * `TrainingApi`'s `jobsNamespace` and `jobServiceAccount`). Through EKS Pod Identity its pods may read the
   * data bucket and read and write the output bucket, as SageMaker jobs may. Defaults to none (no role for
   * jobs on the cluster). Only with `cluster`.
   */
  jobServiceAccount?: JobServiceAccountArgs;
}

/** Extra settings of a `TrainingPlatform`'s SageMaker execution role. */
export interface PlatformSageMakerRole {
  /** ARNs of KMS keys the buckets or repositories are encrypted with; jobs may decrypt and encrypt with them. Defaults to none. */
  kmsKeyArns?: pulumi.Input<string>[];
  /** A permissions boundary policy ARN for the role (and the jobs' Pod Identity role). Defaults to none. */
  permissionsBoundary?: pulumi.Input<string>;
  /** Tags for the role. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/** The Kubernetes service account training jobs on a `TrainingPlatform`'s cluster run as. */
export interface JobServiceAccountArgs {
  /** The namespace of the service account. Required. */
  namespace: pulumi.Input<string>;
  /** The service account's name; it need not exist yet. Required. */
  name: pulumi.Input<string>;
}

/** What another stack or a `TrainingJob` needs from the platform, as stack outputs. */
export interface TrainingPlatformOutputs {
  /** The region every part is in. */
  region: pulumi.Output<string>;
  /** The Train API's URL, the `apiUrl` of a `TrainingJob`. */
  apiUrl: pulumi.Output<string>;
  /** Where to push training images: `<account>.dkr.ecr.<region>.amazonaws.com/<repository>`. */
  registryUrl: pulumi.Output<string>;
  /** `s3://<bucket>` of the training data. */
  dataBucketUrl: pulumi.Output<string>;
  /** `s3://<bucket>` the jobs write checkpoints and models to. */
  outputBucketUrl: pulumi.Output<string>;
  /** The execution role SageMaker training jobs run as. */
  sagemakerRoleArn: pulumi.Output<string>;
  /** The role the Train API runs as, which submits the SageMaker jobs. */
  apiTaskRoleArn: pulumi.Output<string>;
  /** The EKS cluster's name; absent without `cluster`. */
  clusterName?: pulumi.Output<string>;
  /** ARN of the cluster's IAM OIDC provider, for IAM roles for service accounts; absent without `cluster`. */
  oidcProviderArn?: pulumi.Output<string>;
  /** A kubeconfig for the cluster (through `aws eks get-token`); secret, and absent without `cluster`. */
  kubeconfig?: pulumi.Output<string>;
  /** The role the jobs' service account gets through EKS Pod Identity. */
  jobRoleArn?: pulumi.Output<string>;
}

/** The prefix of the output bucket SageMaker writes model artifacts under. */
export const SAGEMAKER_OUTPUT_PREFIX = "models";

/** The TrainingPlatform parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  registry: Registry;
  dataBucket: Bucket;
  outputBucket: Bucket;
  sagemakerRole: SageMakerRole;
  api: TrainingApi;
  cluster: GpuCluster | undefined;
  jobIdentity: PodIdentity | undefined;
}>();

/**
 * Everything an AWS training platform needs: a registry, a data and an output bucket, the execution role
 * SageMaker jobs run as, the Train API on ECS Fargate, and optionally an EKS GPU cluster.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  /** The ECR repository for training images. */
  get registry(): Registry {
    return offSchema.get(this, "registry");
  }
  /** The bucket the jobs read training data from. */
  get dataBucket(): Bucket {
    return offSchema.get(this, "dataBucket");
  }
  /** The bucket the jobs write checkpoints and models to (under `SAGEMAKER_OUTPUT_PREFIX` for SageMaker). */
  get outputBucket(): Bucket {
    return offSchema.get(this, "outputBucket");
  }
  /** The execution role SageMaker jobs run as: reading the data bucket, writing the output bucket, pulling from the registry. */
  get sagemakerRole(): SageMakerRole {
    return offSchema.get(this, "sagemakerRole");
  }
  /** The Train API on ECS Fargate. */
  get api(): TrainingApi {
    return offSchema.get(this, "api");
  }
  /** The EKS GPU cluster; undefined without `cluster`. */
  get cluster(): GpuCluster | undefined {
    return offSchema.get(this, "cluster");
  }
  /** The AWS permissions of the jobs' pods on the cluster, when there is one. */
  get jobIdentity(): PodIdentity | undefined {
    return offSchema.get(this, "jobIdentity");
  }
  /** The platform's outputs in one object: `export const platform = tp.outputs` publishes them all. */
  public readonly outputs: TrainingPlatformOutputs;

  constructor(name: string, args: TrainingPlatformArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:TrainingPlatform", name, {}, opts);
    const owner = ownerOf(this, "TrainingPlatform", name);
    const region = awsRegion(args?.region, "region", owner);
    const parent = { parent: this };
    const where = { region: args.region };
    if (args.jobServiceAccount !== undefined && args.cluster === undefined) {
      throw new ArgumentError(
        `${owner}: jobServiceAccount must not be set without cluster, since only jobs on the EKS cluster run as it; set cluster or drop jobServiceAccount`,
      );
    }

    offSchema.set(this, "registry", new Registry(`${name}-images`, { ...args.registry, ...where }, parent));
    offSchema.set(this, "dataBucket", new Bucket(`${name}-data`, { ...args.dataBucket, ...where }, parent));
    offSchema.set(
      this,
      "outputBucket",
      new Bucket(`${name}-output`, { ...args.outputBucket, ...where }, parent),
    );

    offSchema.set(
      this,
      "sagemakerRole",
      new SageMakerRole(
        `${name}-sagemaker`,
        {
          ...args.sagemakerRole,
          dataBucketArns: [this.dataBucket.arn],
          outputBucketArns: [this.outputBucket.arn],
          repositoryArns: [this.registry.arn],
          // The registry's ARN names the account, so the role can trust SageMaker acting for it alone.
          accountId: this.registry.arn.apply((arn) => arnParts(arn).account),
        },
        parent,
      ),
    );

    offSchema.set(
      this,
      "api",
      new TrainingApi(
        `${name}-api`,
        {
          ...args.api,
          region,
          sagemakerRoleArn: this.sagemakerRole.arn,
          outputS3Uri: pulumi.interpolate`${this.outputBucket.url}/${SAGEMAKER_OUTPUT_PREFIX}`,
        },
        parent,
      ),
    );

    if (args.cluster !== undefined) {
      offSchema.set(this, "cluster", new GpuCluster(`${name}-eks`, { ...args.cluster, ...where }, parent));
    }
    const account = args.jobServiceAccount;
    if (this.cluster && account) {
      offSchema.set(
        this,
        "jobIdentity",
        this.cluster.podIdentity(`${name}-jobs`, {
          namespace: account.namespace,
          serviceAccount: account.name,
          statements: pulumi
            .all([
              this.dataBucket.arn,
              this.outputBucket.arn,
              pulumi.all(args.sagemakerRole?.kmsKeyArns ?? []),
            ])
            .apply(([data, output, keys]) => [
              ...identityStatements(bucketAccessStatements([data], [output])),
              ...(keys.length > 0
                ? [
                    {
                      Sid: "UseEncryptionKeys",
                      Effect: "Allow" as const,
                      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
                      Resource: keys,
                    },
                  ]
                : []),
            ]),
          ...(args.sagemakerRole?.permissionsBoundary !== undefined
            ? { permissionsBoundary: args.sagemakerRole.permissionsBoundary }
            : {}),
        }),
      );
    }

    this.outputs = {
      region: pulumi.output(region),
      apiUrl: this.api.url,
      registryUrl: this.registry.url,
      dataBucketUrl: this.dataBucket.url,
      outputBucketUrl: this.outputBucket.url,
      sagemakerRoleArn: this.sagemakerRole.arn,
      apiTaskRoleArn: this.api.taskRoleArn,
      ...(this.cluster
        ? {
            clusterName: this.cluster.name,
            oidcProviderArn: this.cluster.oidcProviderArn,
            kubeconfig: this.cluster.kubeconfig,
          }
        : {}),
    };
    if (this.jobIdentity) this.outputs.jobRoleArn = this.jobIdentity.roleArn;
    this.registerOutputs({ ...this.outputs });
  }
}
