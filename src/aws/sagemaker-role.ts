import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { mergeLabels } from "../components/labels";
import { ownerOf } from "../components/owners";
import { ArgumentError } from "../components/sentences";
import { arnParts, type PolicyStatement, policyDocument, serviceTrustPolicy, type Tags } from "./settings";

/** Inputs of `SageMakerRole`. */
export interface SageMakerRoleArgs {
  /** ARNs of the buckets training data is read from. Jobs may list them and read their objects. Defaults to none. */
  dataBucketArns?: pulumi.Input<string>[];
  /**
   * ARNs of the buckets jobs write models and checkpoints to (SageMaker's output path and checkpoint mounts).
   * Jobs may list them and read, write and delete their objects. Required: at least one.
   */
  outputBucketArns: pulumi.Input<string>[];
  /** ARNs of the ECR repositories jobs pull their images from. Defaults to none. */
  repositoryArns?: pulumi.Input<string>[];
  /** ARNs of KMS keys the buckets or repositories are encrypted with; jobs may decrypt and encrypt with them. Defaults to none. */
  kmsKeyArns?: pulumi.Input<string>[];
  /**
   * The AWS account whose SageMaker may assume the role. Defaults to none, which trusts SageMaker acting for
   * any account that knows the role's ARN; set it to shut out the confused deputy.
   */
  accountId?: pulumi.Input<string>;
  /** A permissions boundary policy ARN, where the organisation requires one on every role. Defaults to none. */
  permissionsBoundary?: pulumi.Input<string>;
  /** Tags for the role. Defaults to the trainkit tags only. */
  tags?: Tags;
}

// SageMaker writes a training job's logs to this log group and its metrics under this namespace.
const LOG_GROUP = "/aws/sagemaker/TrainingJobs";
const METRIC_NAMESPACE = "/aws/sagemaker/TrainingJobs";

/**
 * What a training job may do with the platform's buckets, wherever it runs (SageMaker, or pods on EKS): list
 * them, read the data buckets' objects, and read, write and delete the output buckets' objects.
 */
export function bucketAccessStatements(data: string[], output: string[]): PolicyStatement[] {
  return [
    {
      Sid: "ListPlatformBuckets",
      Effect: "Allow",
      Action: ["s3:GetBucketLocation", "s3:ListBucket"],
      Resource: [...data, ...output],
    },
    ...(data.length > 0
      ? [
          {
            Sid: "ReadData",
            Effect: "Allow" as const,
            Action: "s3:GetObject",
            Resource: data.map((arn) => `${arn}/*`),
          },
        ]
      : []),
    {
      Sid: "ReadWriteOutput",
      Effect: "Allow",
      Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
      Resource: output.map((arn) => `${arn}/*`),
    },
  ];
}

/** The permissions of a SageMaker execution role limited to the given buckets, repositories and keys. */
export function sageMakerExecutionPolicy(resources: {
  /** ARNs of the buckets jobs may list and read. */
  dataBucketArns: string[];
  /** ARNs of the buckets jobs may list, read and write. */
  outputBucketArns: string[];
  /** ARNs of the ECR repositories jobs may pull from. */
  repositoryArns: string[];
  /** ARNs of the KMS keys the buckets or repositories are encrypted with; jobs may decrypt and encrypt with them. */
  kmsKeyArns: string[];
  /** The account ID the log group permissions are limited to. Defaults to any account (`*`). */
  accountId?: string;
}): string {
  const {
    dataBucketArns: data,
    outputBucketArns: output,
    repositoryArns: repos,
    kmsKeyArns: keys,
  } = resources;
  const partition = arnParts(output[0]!).partition;
  const account = resources.accountId || "*";
  const logGroup = `arn:${partition}:logs:*:${account}:log-group:${LOG_GROUP}`;
  const statements: PolicyStatement[] = [
    ...bucketAccessStatements(data, output),
    {
      Sid: "WriteLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
      Resource: [`${logGroup}:*`, `${logGroup}:log-stream:*`],
    },
    {
      Sid: "PutMetrics",
      Effect: "Allow",
      Action: "cloudwatch:PutMetricData",
      // PutMetricData has no resource to scope to; the namespace condition takes its place.
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": METRIC_NAMESPACE } },
    },
  ];
  if (repos.length > 0) {
    statements.push(
      {
        Sid: "AuthenticateToRegistry",
        Effect: "Allow",
        Action: "ecr:GetAuthorizationToken",
        // The registry token is account-wide by design; pulling is still limited to the repositories below.
        Resource: "*",
      },
      {
        Sid: "PullImages",
        Effect: "Allow",
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        Resource: repos,
      },
    );
  }
  if (keys.length > 0) {
    statements.push({
      Sid: "UseEncryptionKeys",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: keys,
    });
  }
  return policyDocument(statements);
}

/**
 * The execution role SageMaker training jobs run as: trusted by SageMaker only, and allowed only to read the
 * data buckets, read and write the output buckets, pull from the platform's repositories and write the jobs'
 * logs and metrics. It holds no managed policy (in particular not `AmazonSageMakerFullAccess`).
 */
export class SageMakerRole extends pulumi.ComponentResource {
  /** The IAM role, trusted by `sagemaker.amazonaws.com` only. */
  public readonly role: aws.iam.Role;
  /** The role's inline policy: the bucket, repository, log and metric permissions only. */
  public readonly policy: aws.iam.RolePolicy;
  /** The role's ARN, the `TRAINKIT_SAGEMAKER_ROLE_ARN` of the Train API. */
  public readonly arn: pulumi.Output<string>;
  /** The role's name. */
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: SageMakerRoleArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:SageMakerRole", name, {}, opts);
    const owner = ownerOf(this, "SageMakerRole", name);
    if (!Array.isArray(args?.outputBucketArns) || args.outputBucketArns.length === 0) {
      throw new ArgumentError(
        `${owner}: outputBucketArns must list at least one bucket ARN for SageMaker's model output; got ${
          args?.outputBucketArns === undefined ? "nothing" : "an empty list"
        }`,
      );
    }
    const parent = { parent: this };

    this.role = new aws.iam.Role(
      name,
      {
        description: `SageMaker training jobs of ${name} (trainkit)`,
        assumeRolePolicy: pulumi
          .output(args.accountId)
          .apply((account) => serviceTrustPolicy("sagemaker.amazonaws.com", account)),
        permissionsBoundary: args.permissionsBoundary,
        tags: mergeLabels("sagemaker-role", args.tags),
      },
      parent,
    );
    this.policy = new aws.iam.RolePolicy(
      name,
      {
        role: this.role.name,
        policy: pulumi
          .all([
            pulumi.all(args.dataBucketArns ?? []),
            pulumi.all(args.outputBucketArns),
            pulumi.all(args.repositoryArns ?? []),
            pulumi.all(args.kmsKeyArns ?? []),
            pulumi.output(args.accountId),
          ])
          .apply(([dataBucketArns, outputBucketArns, repositoryArns, kmsKeyArns, accountId]) =>
            sageMakerExecutionPolicy({
              dataBucketArns,
              outputBucketArns,
              repositoryArns,
              kmsKeyArns,
              ...(accountId ? { accountId } : {}),
            }),
          ),
      },
      parent,
    );

    this.arn = this.role.arn;
    this.name = this.role.name;
    this.registerOutputs({ arn: this.arn, name: this.name });
  }
}
