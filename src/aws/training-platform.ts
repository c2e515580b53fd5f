import * as pulumi from "@pulumi/pulumi";
import { ownerOf } from "../components/owners";
import { ArgumentError } from "../components/sentences";
import { Bucket, type BucketArgs } from "./bucket";
import { GpuCluster, type GpuClusterArgs } from "./gpu-cluster";
import type { PodIdentity } from "./pod-identity";
import { Registry, type RegistryArgs } from "./registry";
import { bucketAccessStatements, SageMakerRole, type SageMakerRoleArgs } from "./sagemaker-role";
import { arnParts, awsRegion } from "./settings";
import { TrainingApi, type TrainingApiArgs } from "./training-api";

/** Inputs of the AWS `TrainingPlatform`. */
export interface TrainingPlatformArgs {
  /** The region of every part. Defaults to the stack's `aws:region` config. */
  region?: pulumi.Input<string>;
  /**
   * The Train API: at least its `image`, `apiKeys`, `vpcId` and `subnetIds`; the SageMaker role and output
   * location are filled in. Required.
   */
  api: Omit<TrainingApiArgs, "region" | "sagemakerRoleArn" | "outputS3Uri">;
  /** The image registry. Defaults to a `Registry` with its own defaults (immutable tags, scan on push, lifecycle). */
  registry?: Omit<RegistryArgs, "region">;
  /** The bucket training data is read from (jobs get read access). Defaults to a `Bucket` with its own defaults. */
  dataBucket?: Omit<BucketArgs, "region">;
  /**
   * The bucket jobs write models and checkpoints to (jobs get read-write access); SageMaker's output path is
   * its `models/` prefix. Defaults to a `Bucket` with its own defaults.
   */
  outputBucket?: Omit<BucketArgs, "region">;
  /** Extra settings of the jobs' execution role (KMS keys, a permissions boundary). Defaults to none. */
  sagemakerRole?: Pick<SageMakerRoleArgs, "kmsKeyArns" | "permissionsBoundary" | "tags">;
  /**
   * An EKS cluster with GPU node groups, for the `kubernetes` backend. Defaults to none, since SageMaker jobs
   * need no cluster.
   */
  cluster?: Omit<GpuClusterArgs, "region">;
  /**
   * The Kubernetes service account training jobs on the cluster run as (the `trainkit/kubernetes`
   * `TrainingApi`'s `jobsNamespace` and `jobServiceAccount`). Through EKS Pod Identity its pods may read the
   * data bucket and read and write the output bucket, as SageMaker jobs may. Defaults to none (no role for
   * jobs on the cluster). Only with `cluster`.
   */
  jobServiceAccount?: {
    /** The namespace of the service account. */
    namespace: pulumi.Input<string>;
    /** The service account's name; it need not exist yet. */
    name: pulumi.Input<string>;
  };
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

/**
 * Everything an AWS training platform needs: a registry, a data and an output bucket, the execution role
 * SageMaker jobs run as, the Train API on ECS Fargate, and optionally an EKS GPU cluster.
 */
export class TrainingPlatform extends pulumi.ComponentResource {
  /** The ECR repository for training images. */
  public readonly registry: Registry;
  /** The bucket the jobs read training data from. */
  public readonly dataBucket: Bucket;
  /** The bucket the jobs write checkpoints and models to (under `SAGEMAKER_OUTPUT_PREFIX` for SageMaker). */
  public readonly outputBucket: Bucket;
  /** The execution role SageMaker jobs run as: reading the data bucket, writing the output bucket, pulling from the registry. */
  public readonly sagemakerRole: SageMakerRole;
  /** The Train API on ECS Fargate. */
  public readonly api: TrainingApi;
  /** The EKS GPU cluster; undefined without `cluster`. */
  public readonly cluster?: GpuCluster;
  /** The AWS permissions of the jobs' pods on the cluster, when there is one. */
  public readonly jobIdentity?: PodIdentity;
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

    this.registry = new Registry(`${name}-images`, { ...args.registry, ...where }, parent);
    this.dataBucket = new Bucket(`${name}-data`, { ...args.dataBucket, ...where }, parent);
    this.outputBucket = new Bucket(`${name}-output`, { ...args.outputBucket, ...where }, parent);

    this.sagemakerRole = new SageMakerRole(
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
    );

    this.api = new TrainingApi(
      `${name}-api`,
      {
        ...args.api,
        region,
        sagemakerRoleArn: this.sagemakerRole.arn,
        outputS3Uri: pulumi.interpolate`${this.outputBucket.url}/${SAGEMAKER_OUTPUT_PREFIX}`,
      },
      parent,
    );

    if (args.cluster !== undefined) {
      this.cluster = new GpuCluster(`${name}-eks`, { ...args.cluster, ...where }, parent);
    }
    const account = args.jobServiceAccount;
    if (this.cluster && account) {
      this.jobIdentity = this.cluster.podIdentity(`${name}-jobs`, {
        namespace: account.namespace,
        serviceAccount: account.name,
        statements: pulumi
          .all([this.dataBucket.arn, this.outputBucket.arn, pulumi.all(args.sagemakerRole?.kmsKeyArns ?? [])])
          .apply(([data, output, keys]) => [
            ...bucketAccessStatements([data], [output]),
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
      });
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
