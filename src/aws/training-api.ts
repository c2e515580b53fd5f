import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { wholeNumberArg } from "../components/checks";
import { mergeLabels } from "../components/labels";
import { boundedName } from "../components/naming";
import { OffSchema } from "../components/off-schema";
import { ownerOf } from "../components/owners";
import { ArgumentError, shown } from "../components/sentences";
import * as trainApi from "../components/train-api";
import {
  arnParts,
  awsRegion,
  type PolicyStatement,
  policyDocument,
  serviceTrustPolicy,
  type Tags,
} from "./settings";

/** Where the Train API's load balancer writes its access logs. */
export interface AccessLogsArgs {
  /** The bucket's name (not its ARN or URL). Required. */
  bucket: pulumi.Input<string>;
  /** The key prefix of the log objects. Defaults to none (the bucket's root). */
  prefix?: pulumi.Input<string>;
}

/** Inputs of the AWS `TrainingApi`, on top of the settings every cloud's Train API takes. */
export interface TrainingApiArgs extends TrainingApiSettings {
  /** The region of the service and of the SageMaker jobs. Defaults to the stack's `aws:region` config. */
  region?: pulumi.Input<string>;
  /** ARN of the execution role SageMaker jobs run as; the API may pass this role and no other. Required. */
  sagemakerRoleArn: pulumi.Input<string>;
  /** `s3://<bucket>/<prefix>` where SageMaker writes model artifacts. Required. */
  outputS3Uri: pulumi.Input<string>;
}

/** The settings of the AWS `TrainingApi` a `TrainingPlatform` passes on as they are. */
export interface TrainingApiSettings extends trainApi.TrainingApiCommonArgs {
  /**
   * The Train API container image, built from the repository's `Dockerfile` and pushed to a registry the
   * tasks can pull from (e.g. a `Registry`'s `url` plus `:0.1.0`). Required. An ECR image is pulled with a
   * grant on its repository only.
   */
  image: pulumi.Input<string>;
  /** The VPC of the service and its load balancer. Required. */
  vpcId: pulumi.Input<string>;
  /**
   * Private subnets the tasks run in; they get no public IP, so the subnets need a NAT gateway or VPC
   * endpoints for SageMaker, ECR, S3, Secrets Manager and CloudWatch Logs. Required.
   */
  subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Subnets of the load balancer. Defaults to `subnetIds` for the internal load balancer. Required with
   * `public: true`, and then they must be public subnets (with a route to an internet gateway).
   */
  loadBalancerSubnetIds?: pulumi.Input<pulumi.Input<string>[]>;
  /** CIDR blocks of the database, which the tasks may reach on `databasePort`. Defaults to the private ranges (10/8, 172.16/12, 192.168/16). Only with `databaseUrl`. */
  databaseCidrBlocks?: string[];
  /** The database's TCP port. Defaults to 5432. Only with `databaseUrl`. */
  databasePort?: number;
  /**
   * Put the load balancer on the internet (internet-facing, in `loadBalancerSubnetIds`), reachable from
   * `allowedCidrBlocks` (default anywhere); the API keys are then the only gate. Defaults to false: the load
   * balancer is internal, reachable only from the VPC and networks connected to it. Requires
   * `certificateArn`, so keys never cross the internet in clear text.
   */
  public?: boolean;
  /**
   * An ACM certificate ARN for the HTTPS listener (TLS 1.2+, with port 80 redirecting to 443). Required,
   * since API keys cross the load balancer on every request, unless `plainHttp: true` is set.
   */
  certificateArn?: pulumi.Input<string>;
  /**
   * Listen on plain HTTP port 80 without a certificate, which sends API keys in clear text across the VPC; a
   * warning is logged. Defaults to false. Conflicts with `certificateArn`, and so with `public`, which needs one.
   */
  plainHttp?: boolean;
  /**
   * Write the load balancer's access logs to this S3 bucket, under `prefix`. The bucket must be in the same
   * region, encrypted with SSE-S3 (not KMS), and its policy must let Elastic Load Balancing write to it.
   * Defaults to none.
   */
  accessLogs?: AccessLogsArgs;
  /** The DNS name you point at the load balancer (and the certificate names), used in `url`. Defaults to the load balancer's own DNS name. */
  domainName?: pulumi.Input<string>;
  /**
   * CIDR blocks allowed to reach the load balancer. Defaults to the private ranges (10/8, 172.16/12,
   * 192.168/16) when internal and to `0.0.0.0/0` when public.
   */
  allowedCidrBlocks?: string[];
  /** Tasks to run. Defaults to 1 without `databaseUrl`, which it must then stay at; 2 with it. */
  desiredCount?: number;
  /** Fargate CPU units per task (256, 512, 1024, ...). Defaults to 512. */
  cpu?: number;
  /** Memory per task in MiB, a size Fargate allows for `cpu`. Defaults to 1024. */
  memory?: number;
  /** Days to keep the service's logs in CloudWatch. Defaults to 30. */
  logRetentionDays?: number;
  /** A KMS key ARN for the secrets and the log group. Defaults to AWS-managed keys. */
  kmsKeyArn?: pulumi.Input<string>;
  /** Tags for every resource. Defaults to the trainkit tags only. */
  tags?: Tags;
}

/** The SageMaker actions the API's task role may take, on training jobs only. */
export const API_SAGEMAKER_ACTIONS = [
  "sagemaker:AddTags",
  "sagemaker:CreateTrainingJob",
  "sagemaker:DescribeTrainingJob",
  "sagemaker:StopTrainingJob",
] as const;

/**
 * The one list call the server makes: `ListTrainingJobs` settles every tracked job's status in a few
 * calls a minute. List actions name no resource, so it is granted on `*`; it reveals job names and
 * statuses, nothing a job holds.
 */
export const API_SAGEMAKER_LIST_ACTIONS = ["sagemaker:ListTrainingJobs"] as const;

/** The CloudWatch Logs actions the API's task role may take, on the training jobs' log group only. */
export const API_LOG_READ_ACTIONS = [
  "logs:DescribeLogStreams",
  "logs:FilterLogEvents",
  "logs:GetLogEvents",
] as const;

/** The log group SageMaker writes training jobs' output to, which `GET /v1/jobs/{id}/logs` reads. */
const TRAINING_JOB_LOG_GROUP = "/aws/sagemaker/TrainingJobs";

const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
const CONTAINER = "api";
const DATA_DIR = "/var/lib/trainkit";
// TLS 1.3 and 1.2 with forward secrecy only.
const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

const MANAGED_ENV = [
  ...trainApi.SERVER_MANAGED_ENV,
  "TRAINKIT_API_KEYS_FILE",
  "TRAINKIT_SAGEMAKER_REGION",
  "TRAINKIT_SAGEMAKER_ROLE_ARN",
  "TRAINKIT_SAGEMAKER_OUTPUT_S3_URI",
];

/**
 * The task role's permissions: the training-job calls the server makes, listing training jobs to
 * reconcile them, reading the training jobs' log, and passing the one SageMaker role.
 */
export function apiTaskPolicy(region: string, sagemakerRoleArn: string): string {
  const { partition, account } = arnParts(sagemakerRoleArn);
  const logGroup = `arn:${partition}:logs:${region}:${account}:log-group:${TRAINING_JOB_LOG_GROUP}`;
  return policyDocument([
    {
      Sid: "ManageTrainingJobs",
      Effect: "Allow",
      Action: [...API_SAGEMAKER_ACTIONS],
      Resource: `arn:${partition}:sagemaker:${region}:${account}:training-job/*`,
    },
    {
      Sid: "ListTrainingJobs",
      Effect: "Allow",
      Action: [...API_SAGEMAKER_LIST_ACTIONS],
      Resource: "*",
    },
    {
      Sid: "ReadTrainingJobLogs",
      Effect: "Allow",
      Action: [...API_LOG_READ_ACTIONS],
      Resource: [`${logGroup}:*`, `${logGroup}:log-stream:*`],
    },
    {
      Sid: "PassSageMakerExecutionRole",
      Effect: "Allow",
      Action: "iam:PassRole",
      Resource: sagemakerRoleArn,
      Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
    },
  ]);
}

/** The ECR repository ARN an image URI names, or undefined for an image from elsewhere. */
export function ecrRepositoryArn(image: string): string | undefined {
  const m = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\/([^:@]+)/.exec(image);
  if (!m) return undefined;
  const [, account, region, china, repository] = m;
  const partition = china ? "aws-cn" : region!.startsWith("us-gov-") ? "aws-us-gov" : "aws";
  return `arn:${partition}:ecr:${region}:${account}:repository/${repository}`;
}

/** The execution role's permissions: pulling the image, reading the injected secrets, writing logs. */
export function apiExecutionPolicy(resources: {
  /** The server's image; pulling is allowed only when it is in an ECR repository, and only from that one. */
  image: string;
  /** ARN of the log group the task writes to. */
  logGroupArn: string;
  /** ARNs of the Secrets Manager secrets injected into the container. */
  secretArns: string[];
  /** ARN of the KMS key the secrets are encrypted with, which the role may decrypt with. Defaults to none (AWS-managed keys). */
  kmsKeyArn?: string;
}): string {
  const repository = ecrRepositoryArn(resources.image);
  const statements: PolicyStatement[] = [
    {
      Sid: "WriteLogs",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: `${resources.logGroupArn}:log-stream:*`,
    },
    {
      Sid: "ReadApiSecrets",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: resources.secretArns,
    },
  ];
  if (repository) {
    statements.push(
      {
        Sid: "AuthenticateToRegistry",
        Effect: "Allow",
        Action: "ecr:GetAuthorizationToken",
        // The registry token is account-wide by design; pulling is still limited to the one repository.
        Resource: "*",
      },
      {
        Sid: "PullApiImage",
        Effect: "Allow",
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        Resource: repository,
      },
    );
  }
  if (resources.kmsKeyArn) {
    statements.push({
      Sid: "DecryptSecrets",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: resources.kmsKeyArn,
    });
  }
  return policyDocument(statements);
}

/** The TrainingApi parts TypeScript programs reach through getters, kept off the multi-language schema. */
const offSchema = new OffSchema<{
  securityGroupRules: (aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule)[];
}>();

/**
 * The Train API on ECS Fargate behind an application load balancer, submitting jobs to SageMaker as a task
 * role allowed only the training-job calls and passing the one SageMaker execution role, with its API keys
 * (and database URL) in Secrets Manager, internal unless `public: true`.
 */
export class TrainingApi extends pulumi.ComponentResource {
  /** The ECS cluster the service runs in. */
  public readonly cluster: aws.ecs.Cluster;
  /** The CloudWatch log group of the server's logs, kept `logRetentionDays` days. */
  public readonly logGroup: aws.cloudwatch.LogGroup;
  /** The Secrets Manager secret holding the API keys (`TRAINKIT_API_KEYS`); its value is secret. */
  public readonly apiKeysSecret: aws.secretsmanager.Secret;
  /** The current version of `apiKeysSecret`; its value is secret. */
  public readonly apiKeysSecretVersion: aws.secretsmanager.SecretVersion;
  /** The secret holding `databaseUrl`; undefined without `databaseUrl`, when the server keeps its state in memory. */
  public readonly databaseUrlSecret?: aws.secretsmanager.Secret;
  /** The current version of `databaseUrlSecret`, whose value is secret; undefined without `databaseUrl`. */
  public readonly databaseUrlSecretVersion?: aws.secretsmanager.SecretVersion;
  /** The role ECS uses to start the task: pull the image, read the secrets, write logs. */
  public readonly executionRole: aws.iam.Role;
  /** The execution role's inline policy: writing the log group, reading the secrets, pulling an ECR image and `kms:Decrypt` on `kmsKeyArn` when given. */
  public readonly executionRolePolicy: aws.iam.RolePolicy;
  /** The role the server runs as: the SageMaker training-job calls and reading those jobs' logs, nothing else. */
  public readonly taskRole: aws.iam.Role;
  /** The task role's inline policy: the SageMaker training-job calls, and passing the one SageMaker execution role. */
  public readonly taskRolePolicy: aws.iam.RolePolicy;
  /** The load balancer's security group; its rules (in from `allowedCidrBlocks`, out to the tasks) are in `securityGroupRules`. */
  public readonly loadBalancerSecurityGroup: aws.ec2.SecurityGroup;
  /** The tasks' security group: in from the load balancer only, out to HTTPS and the database; rules in `securityGroupRules`. */
  public readonly serviceSecurityGroup: aws.ec2.SecurityGroup;
  /** Every security group rule, ingress and egress, one resource each. */
  get securityGroupRules(): (aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule)[] {
    return offSchema.get(this, "securityGroupRules");
  }
  /** The application load balancer in front of the tasks; internal unless `public` is true. */
  public readonly loadBalancer: aws.lb.LoadBalancer;
  /** The target group of the tasks, health-checked on the server's health path. */
  public readonly targetGroup: aws.lb.TargetGroup;
  /** HTTPS on 443 plus an HTTP listener on 80 redirecting to it, with `certificateArn`; HTTP on 80 alone without it. */
  public readonly listeners: aws.lb.Listener[];
  /** The Fargate task definition of the server container. */
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  /** The ECS service keeping `desiredCount` tasks running. */
  public readonly service: aws.ecs.Service;
  /** The API's URL, the `apiUrl` a `TrainingJob` sends jobs to. */
  public readonly url: pulumi.Output<string>;
  /** The task role's ARN: the principal that submits SageMaker jobs, for a trust or key policy naming it. */
  public readonly taskRoleArn: pulumi.Output<string>;

  constructor(name: string, args: TrainingApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("trainkit:aws:TrainingApi", name, {}, opts);
    const owner = ownerOf(this, "TrainingApi", name);
    const required: [keyof TrainingApiArgs, string][] = [
      ["image", "the Train API image"],
      ["vpcId", "the VPC of the service"],
      ["subnetIds", "the private subnets the tasks run in"],
      ["sagemakerRoleArn", "the execution role SageMaker jobs run as"],
      ["outputS3Uri", "an s3://<bucket>/<prefix> URI for model artifacts"],
    ];
    for (const [field, what] of required) {
      if (args?.[field] === undefined)
        throw new ArgumentError(`${owner}: ${field} must be set to ${what}; got nothing`);
    }
    const apiKeysJson = trainApi.apiKeysJson(owner, args);
    // Resources follow their provider's region unless one is given; the server needs the region by value.
    const region = awsRegion(args.region, "region", owner);
    const where = args.region;
    if (
      typeof args.outputS3Uri === "string" &&
      !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(args.outputS3Uri)
    ) {
      throw new ArgumentError(
        `${owner}: outputS3Uri must be an s3://<bucket>/<prefix> URI; got ${shown(args.outputS3Uri)}`,
      );
    }
    if (
      typeof args.sagemakerRoleArn === "string" &&
      !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(args.sagemakerRoleArn)
    ) {
      throw new ArgumentError(
        `${owner}: sagemakerRoleArn must be an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerExecution; got ${shown(args.sagemakerRoleArn)}`,
      );
    }
    const isPublic = args.public ?? false;
    if (isPublic && args.certificateArn === undefined) {
      throw new ArgumentError(
        `${owner}: certificateArn must be set when public is true, so API keys never cross the internet in clear text; got nothing. Give an ACM certificate for domainName, or drop public.`,
      );
    }
    const plainHttp = args.plainHttp ?? false;
    if (plainHttp && args.certificateArn !== undefined) {
      throw new ArgumentError(
        `${owner}: plainHttp must not be set with certificateArn, which serves HTTPS; drop plainHttp`,
      );
    }
    if (!plainHttp && args.certificateArn === undefined) {
      throw new ArgumentError(
        `${owner}: certificateArn must be set to an ACM certificate, so API keys do not cross the load balancer in clear text; got nothing. Give one for domainName, or set plainHttp: true to accept plain HTTP inside the VPC.`,
      );
    }
    if (isPublic && args.loadBalancerSubnetIds === undefined) {
      throw new ArgumentError(
        `${owner}: loadBalancerSubnetIds must be set to public subnets when public is true; got nothing`,
      );
    }
    const durable = args.databaseUrl !== undefined;
    if (!durable && (args.databaseCidrBlocks !== undefined || args.databasePort !== undefined)) {
      throw new ArgumentError(
        `${owner}: databaseCidrBlocks and databasePort must not be set without databaseUrl; set databaseUrl or drop them`,
      );
    }
    const desiredCount = wholeNumberArg(owner, "desiredCount", args.desiredCount, {
      least: 1,
      fallback: durable ? 2 : 1,
    });
    trainApi.requireSingleWriter(owner, "desiredCount", desiredCount, durable);
    const logRetentionDays = wholeNumberArg(owner, "logRetentionDays", args.logRetentionDays, {
      least: 1,
      fallback: 30,
      unit: "days",
    });
    const databasePort = wholeNumberArg(owner, "databasePort", args.databasePort, {
      least: 1,
      most: 65535,
      fallback: 5432,
    });
    trainApi.rejectManagedEnv(owner, args.env, MANAGED_ENV);
    const allowedCidrBlocks = args.allowedCidrBlocks ?? (isPublic ? ["0.0.0.0/0"] : PRIVATE_RANGES);
    const tags = mergeLabels("training-api", args.tags);
    const parent = { parent: this };
    const account = pulumi.output(args.sagemakerRoleArn).apply((arn) => arnParts(arn).account);

    if (plainHttp) {
      pulumi.log.warn(
        `TrainingApi ${name} listens on plain HTTP: API keys cross the VPC in clear text. Give certificateArn to serve HTTPS.`,
        this,
      );
    }
    if (isPublic) {
      pulumi.log.warn(
        `TrainingApi ${name} is public: its load balancer is internet-facing and reachable from ${allowedCidrBlocks.join(", ")}, with the API keys as the only gate.`,
        this,
      );
    }

    this.cluster = new aws.ecs.Cluster(
      name,
      { region: where, settings: [{ name: "containerInsights", value: "enabled" }], tags },
      parent,
    );
    this.logGroup = new aws.cloudwatch.LogGroup(
      name,
      { region: where, retentionInDays: logRetentionDays, kmsKeyId: args.kmsKeyArn, tags },
      parent,
    );

    const secret = (suffix: string, description: string, value: pulumi.Input<string>) => {
      const s = new aws.secretsmanager.Secret(
        `${name}-${suffix}`,
        { region: where, description, kmsKeyId: args.kmsKeyArn, tags },
        parent,
      );
      const version = new aws.secretsmanager.SecretVersion(
        `${name}-${suffix}`,
        { region: where, secretId: s.id, secretString: pulumi.secret(value) },
        parent,
      );
      return { secret: s, version };
    };
    const apiKeys = secret("api-keys", `Train API keys of ${name} (trainkit)`, apiKeysJson);
    this.apiKeysSecret = apiKeys.secret;
    this.apiKeysSecretVersion = apiKeys.version;
    const database = durable
      ? secret("database-url", `Train API database URL of ${name} (trainkit)`, args.databaseUrl!)
      : undefined;
    this.databaseUrlSecret = database?.secret;
    this.databaseUrlSecretVersion = database?.version;
    const secretArns = [apiKeys.secret.arn, ...(database ? [database.secret.arn] : [])];

    const ecsTrust = account.apply((a) => serviceTrustPolicy("ecs-tasks.amazonaws.com", a));
    this.executionRole = new aws.iam.Role(
      `${name}-execution`,
      { description: `ECS task execution of Train API ${name} (trainkit)`, assumeRolePolicy: ecsTrust, tags },
      parent,
    );
    this.executionRolePolicy = new aws.iam.RolePolicy(
      `${name}-execution`,
      {
        role: this.executionRole.name,
        policy: pulumi
          .all([
            pulumi.output(args.image),
            this.logGroup.arn,
            pulumi.all(secretArns),
            pulumi.output(args.kmsKeyArn),
          ])
          .apply(([image, logGroupArn, arns, kmsKeyArn]) =>
            apiExecutionPolicy({ image, logGroupArn, secretArns: arns, ...(kmsKeyArn ? { kmsKeyArn } : {}) }),
          ),
      },
      parent,
    );
    this.taskRole = new aws.iam.Role(
      `${name}-task`,
      {
        description: `Train API ${name}, submitting SageMaker jobs (trainkit)`,
        assumeRolePolicy: ecsTrust,
        tags,
      },
      parent,
    );
    this.taskRolePolicy = new aws.iam.RolePolicy(
      `${name}-task`,
      {
        role: this.taskRole.name,
        policy: pulumi
          .all([pulumi.output(region), pulumi.output(args.sagemakerRoleArn)])
          .apply(([r, roleArn]) => apiTaskPolicy(r, roleArn)),
      },
      parent,
    );

    this.loadBalancerSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-lb`,
      {
        region: where,
        vpcId: args.vpcId,
        description: `Load balancer of Train API ${name} (trainkit)`,
        tags,
      },
      parent,
    );
    this.serviceSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-tasks`,
      { region: where, vpcId: args.vpcId, description: `Tasks of Train API ${name} (trainkit)`, tags },
      parent,
    );
    const lbSg = this.loadBalancerSecurityGroup.id;
    const taskSg = this.serviceSecurityGroup.id;
    const listenerPorts = args.certificateArn === undefined ? [80] : [443, 80];
    const tcp = (port: number) => ({ ipProtocol: "tcp", fromPort: port, toPort: port });
    const rules: TrainingApi["securityGroupRules"] = [];
    for (const port of listenerPorts) {
      allowedCidrBlocks.forEach((cidr, i) => {
        rules.push(
          new aws.vpc.SecurityGroupIngressRule(
            `${name}-lb-in-${port}-${i}`,
            { region: where, securityGroupId: lbSg, cidrIpv4: cidr, ...tcp(port), tags },
            parent,
          ),
        );
      });
    }
    // Separate rule resources, since the two groups name each other and inline rules would form a cycle.
    rules.push(
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-lb-to-tasks`,
        {
          region: where,
          securityGroupId: lbSg,
          referencedSecurityGroupId: taskSg,
          ...tcp(trainApi.TRAIN_API_PORT),
          tags,
        },
        parent,
      ),
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-tasks-from-lb`,
        {
          region: where,
          securityGroupId: taskSg,
          referencedSecurityGroupId: lbSg,
          ...tcp(trainApi.TRAIN_API_PORT),
          tags,
        },
        parent,
      ),
      // SageMaker, ECR, S3, Secrets Manager and CloudWatch Logs all answer on HTTPS.
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-tasks-https-out`,
        { region: where, securityGroupId: taskSg, cidrIpv4: "0.0.0.0/0", ...tcp(443), tags },
        parent,
      ),
    );
    if (durable) {
      (args.databaseCidrBlocks ?? PRIVATE_RANGES).forEach((cidr, i) => {
        rules.push(
          new aws.vpc.SecurityGroupEgressRule(
            `${name}-tasks-to-database-${i}`,
            { region: where, securityGroupId: taskSg, cidrIpv4: cidr, ...tcp(databasePort), tags },
            parent,
          ),
        );
      });
    }
    offSchema.set(this, "securityGroupRules", rules);

    this.loadBalancer = new aws.lb.LoadBalancer(
      name,
      {
        region: where,
        loadBalancerType: "application",
        internal: !isPublic,
        subnets: args.loadBalancerSubnetIds ?? args.subnetIds,
        securityGroups: [lbSg],
        dropInvalidHeaderFields: true,
        ...(args.accessLogs
          ? { accessLogs: { bucket: args.accessLogs.bucket, prefix: args.accessLogs.prefix, enabled: true } }
          : {}),
        tags,
      },
      parent,
    );
    this.targetGroup = new aws.lb.TargetGroup(
      name,
      {
        region: where,
        vpcId: args.vpcId,
        targetType: "ip",
        protocol: "HTTP",
        port: trainApi.TRAIN_API_PORT,
        // In-flight requests are short; a long drain only slows deployments of a single task.
        deregistrationDelay: 30,
        healthCheck: {
          path: trainApi.TRAIN_API_HEALTH_PATH,
          matcher: "200",
          interval: 15,
          timeout: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 3,
        },
        tags,
      },
      parent,
    );
    const forward = [{ type: "forward", targetGroupArn: this.targetGroup.arn }];
    this.listeners =
      args.certificateArn === undefined
        ? [
            new aws.lb.Listener(
              `${name}-http`,
              {
                region: where,
                loadBalancerArn: this.loadBalancer.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: forward,
                tags,
              },
              parent,
            ),
          ]
        : [
            new aws.lb.Listener(
              `${name}-https`,
              {
                region: where,
                loadBalancerArn: this.loadBalancer.arn,
                port: 443,
                protocol: "HTTPS",
                sslPolicy: TLS_POLICY,
                certificateArn: args.certificateArn,
                defaultActions: forward,
                tags,
              },
              parent,
            ),
            new aws.lb.Listener(
              `${name}-http`,
              {
                region: where,
                loadBalancerArn: this.loadBalancer.arn,
                port: 80,
                protocol: "HTTP",
                defaultActions: [
                  { type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } },
                ],
                tags,
              },
              parent,
            ),
          ];

    const environment = [
      ...trainApi.serverEnv("sagemaker", DATA_DIR),
      { name: "TRAINKIT_SAGEMAKER_REGION", value: region },
      { name: "TRAINKIT_SAGEMAKER_ROLE_ARN", value: args.sagemakerRoleArn },
      { name: "TRAINKIT_SAGEMAKER_OUTPUT_S3_URI", value: args.outputS3Uri },
      ...trainApi.extraEnv(args.env),
    ];
    const secrets = [
      { name: "TRAINKIT_API_KEYS", valueFrom: apiKeys.secret.arn },
      ...(database ? [{ name: "DATABASE_URL", valueFrom: database.secret.arn }] : []),
    ];
    const containerDefinitions = pulumi
      .all([
        pulumi.output(args.image),
        pulumi.output(environment),
        pulumi.output(secrets),
        this.logGroup.name,
        pulumi.output(region),
      ])
      .apply(([image, env, secretRefs, logGroupName, r]) =>
        JSON.stringify([
          {
            name: CONTAINER,
            image,
            essential: true,
            portMappings: [{ containerPort: trainApi.TRAIN_API_PORT, protocol: "tcp" }],
            environment: env,
            secrets: secretRefs,
            // The image writes its embedded database under TRAINKIT_DATA_DIR as a non-root user, and Fargate
            // mounts scratch volumes writable by root only, so the root filesystem stays writable.
            readonlyRootFilesystem: false,
            linuxParameters: { initProcessEnabled: true },
            logConfiguration: {
              logDriver: "awslogs",
              options: {
                "awslogs-group": logGroupName,
                "awslogs-region": r,
                "awslogs-stream-prefix": CONTAINER,
              },
            },
          },
        ]),
      );
    this.taskDefinition = new aws.ecs.TaskDefinition(
      name,
      {
        region: where,
        family: boundedName(name, 255),
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: String(args.cpu ?? 512),
        memory: String(args.memory ?? 1024),
        runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
        executionRoleArn: this.executionRole.arn,
        taskRoleArn: this.taskRole.arn,
        containerDefinitions,
        tags,
      },
      parent,
    );
    this.service = new aws.ecs.Service(
      name,
      {
        region: where,
        cluster: this.cluster.arn,
        taskDefinition: this.taskDefinition.arn,
        launchType: "FARGATE",
        desiredCount,
        networkConfiguration: { subnets: args.subnetIds, securityGroups: [taskSg], assignPublicIp: false },
        loadBalancers: [
          {
            targetGroupArn: this.targetGroup.arn,
            containerName: CONTAINER,
            containerPort: trainApi.TRAIN_API_PORT,
          },
        ],
        // Without a database each task holds its own store: stop the old task before starting the new one,
        // so two never take jobs at once. With one, roll tasks over without a gap.
        deploymentMinimumHealthyPercent: durable ? 100 : 0,
        deploymentMaximumPercent: durable ? 200 : 100,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        healthCheckGracePeriodSeconds: 60,
        enableExecuteCommand: false,
        propagateTags: "SERVICE",
        tags,
      },
      // The role policies must exist before a task starts, and the target group must be behind a listener.
      { ...parent, dependsOn: [...this.listeners, this.executionRolePolicy, this.taskRolePolicy] },
    );

    const scheme = args.certificateArn === undefined ? "http" : "https";
    this.url = pulumi.interpolate`${scheme}://${args.domainName ?? this.loadBalancer.dnsName}`;
    this.taskRoleArn = this.taskRole.arn;
    this.registerOutputs({ url: this.url, taskRoleArn: this.taskRoleArn });
  }
}
