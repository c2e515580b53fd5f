// What the AWS components cost over writing the same resources with @pulumi/aws by hand, under Pulumi's
// mock runtime, and what importing trainkit/aws costs over importing @pulumi/aws alone.
// Run after `npm run build`: node bench/aws.mjs [platforms-per-run] [runs]
import { runPlatformBench } from "./lib/platform-bench.mjs";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const arn = (service, resource) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;

const IMAGE = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/bootstrap:trainkit-0.1.0`;
const API_KEYS = { "bench-key-0123456789": ["bench"] };
const network = { vpcId: "vpc-bench", subnetIds: ["subnet-a", "subnet-b"] };
const doc = (Statement) => JSON.stringify({ Version: "2012-10-17", Statement });

// The resources TrainingPlatform registers (without a cluster), written directly against @pulumi/aws with
// the same inputs, as a team would without trainkit.
function handWritten(aws, pulumi, i) {
  const tags = { "managed-by": "trainkit" };
  const repo = new aws.ecr.Repository(`h${i}-images`, {
    name: `h${i}-images`,
    imageTagMutability: "IMMUTABLE",
    imageScanningConfiguration: { scanOnPush: true },
    encryptionConfigurations: [{ encryptionType: "AES256" }],
    forceDelete: false,
    tags,
  });
  new aws.ecr.LifecyclePolicy(`h${i}-images`, {
    repository: repo.name,
    policy: JSON.stringify({
      rules: [
        {
          rulePriority: 1,
          selection: {
            tagStatus: "untagged",
            countType: "sinceImagePushed",
            countUnit: "days",
            countNumber: 7,
          },
          action: { type: "expire" },
        },
        {
          rulePriority: 2,
          selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 100 },
          action: { type: "expire" },
        },
      ],
    }),
  });
  const bucket = (name) => {
    const b = new aws.s3.Bucket(name, { forceDestroy: false, tags });
    const pab = new aws.s3.BucketPublicAccessBlock(name, {
      bucket: b.bucket,
      blockPublicAcls: true,
      ignorePublicAcls: true,
      blockPublicPolicy: true,
      restrictPublicBuckets: true,
    });
    new aws.s3.BucketOwnershipControls(name, {
      bucket: b.bucket,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    const versioning = new aws.s3.BucketVersioning(name, {
      bucket: b.bucket,
      versioningConfiguration: { status: "Enabled" },
    });
    new aws.s3.BucketServerSideEncryptionConfiguration(name, {
      bucket: b.bucket,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    new aws.s3.BucketLifecycleConfiguration(
      name,
      {
        bucket: b.bucket,
        rules: [
          {
            id: "expire-noncurrent-versions",
            status: "Enabled",
            filter: {},
            noncurrentVersionExpiration: { noncurrentDays: 30 },
          },
          {
            id: "abort-incomplete-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
          },
        ],
      },
      { dependsOn: [versioning] },
    );
    new aws.s3.BucketPolicy(
      name,
      {
        bucket: b.bucket,
        policy: b.arn.apply((a) =>
          doc([
            {
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [a, `${a}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
          ]),
        ),
      },
      { dependsOn: [pab] },
    );
    return b;
  };
  const data = bucket(`h${i}-data`);
  const output = bucket(`h${i}-output`);
  const trust = (service) =>
    doc([
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
      },
    ]);
  const sagemaker = new aws.iam.Role(`h${i}-sagemaker`, {
    assumeRolePolicy: trust("sagemaker.amazonaws.com"),
    tags,
  });
  new aws.iam.RolePolicy(`h${i}-sagemaker`, {
    role: sagemaker.name,
    policy: pulumi.all([data.arn, output.arn, repo.arn]).apply(([d, o, r]) =>
      doc([
        { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [d, o] },
        { Effect: "Allow", Action: "s3:GetObject", Resource: [`${d}/*`] },
        {
          Effect: "Allow",
          Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
          Resource: [`${o}/*`],
        },
        {
          Effect: "Allow",
          Action: [
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:DescribeLogStreams",
            "logs:PutLogEvents",
          ],
          Resource: ["arn:aws:logs:*:*:log-group:/aws/sagemaker/TrainingJobs:*"],
        },
        { Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
        {
          Effect: "Allow",
          Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
          Resource: [r],
        },
      ]),
    ),
  });
  const cluster = new aws.ecs.Cluster(`h${i}-api`, {
    settings: [{ name: "containerInsights", value: "enabled" }],
    tags,
  });
  const logGroup = new aws.cloudwatch.LogGroup(`h${i}-api`, { retentionInDays: 30, tags });
  const secret = new aws.secretsmanager.Secret(`h${i}-api-keys`, { tags });
  new aws.secretsmanager.SecretVersion(`h${i}-api-keys`, {
    secretId: secret.id,
    secretString: pulumi.secret(JSON.stringify(API_KEYS)),
  });
  const execution = new aws.iam.Role(`h${i}-api-execution`, {
    assumeRolePolicy: trust("ecs-tasks.amazonaws.com"),
    tags,
  });
  const executionPolicy = new aws.iam.RolePolicy(`h${i}-api-execution`, {
    role: execution.name,
    policy: pulumi.all([logGroup.arn, secret.arn]).apply(([l, s]) =>
      doc([
        {
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: `${l}:log-stream:*`,
        },
        { Effect: "Allow", Action: "secretsmanager:GetSecretValue", Resource: [s] },
        { Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
        {
          Effect: "Allow",
          Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
          Resource: arn("ecr", "repository/bootstrap"),
        },
      ]),
    ),
  });
  const task = new aws.iam.Role(`h${i}-api-task`, {
    assumeRolePolicy: trust("ecs-tasks.amazonaws.com"),
    tags,
  });
  const taskPolicy = new aws.iam.RolePolicy(`h${i}-api-task`, {
    role: task.name,
    policy: sagemaker.arn.apply((r) =>
      doc([
        {
          Effect: "Allow",
          Action: [
            "sagemaker:AddTags",
            "sagemaker:CreateTrainingJob",
            "sagemaker:DescribeTrainingJob",
            "sagemaker:StopTrainingJob",
          ],
          Resource: arn("sagemaker", "training-job/*"),
        },
        {
          Effect: "Allow",
          Action: "iam:PassRole",
          Resource: r,
          Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
        },
      ]),
    ),
  });
  const lbSg = new aws.ec2.SecurityGroup(`h${i}-api-lb`, { vpcId: network.vpcId, tags });
  const taskSg = new aws.ec2.SecurityGroup(`h${i}-api-tasks`, { vpcId: network.vpcId, tags });
  ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].forEach((cidr, n) => {
    new aws.vpc.SecurityGroupIngressRule(`h${i}-lb-in-${n}`, {
      securityGroupId: lbSg.id,
      cidrIpv4: cidr,
      ipProtocol: "tcp",
      fromPort: 80,
      toPort: 80,
      tags,
    });
  });
  new aws.vpc.SecurityGroupEgressRule(`h${i}-lb-out`, {
    securityGroupId: lbSg.id,
    referencedSecurityGroupId: taskSg.id,
    ipProtocol: "tcp",
    fromPort: 8080,
    toPort: 8080,
    tags,
  });
  new aws.vpc.SecurityGroupIngressRule(`h${i}-tasks-in`, {
    securityGroupId: taskSg.id,
    referencedSecurityGroupId: lbSg.id,
    ipProtocol: "tcp",
    fromPort: 8080,
    toPort: 8080,
    tags,
  });
  new aws.vpc.SecurityGroupEgressRule(`h${i}-tasks-out`, {
    securityGroupId: taskSg.id,
    cidrIpv4: "0.0.0.0/0",
    ipProtocol: "tcp",
    fromPort: 443,
    toPort: 443,
    tags,
  });
  const lb = new aws.lb.LoadBalancer(`h${i}-api`, {
    name: `h${i}-api`,
    loadBalancerType: "application",
    internal: true,
    subnets: network.subnetIds,
    securityGroups: [lbSg.id],
    dropInvalidHeaderFields: true,
    tags,
  });
  const tg = new aws.lb.TargetGroup(`h${i}-api`, {
    name: `h${i}-api-tg`,
    vpcId: network.vpcId,
    targetType: "ip",
    protocol: "HTTP",
    port: 8080,
    deregistrationDelay: 30,
    healthCheck: {
      path: "/healthz",
      matcher: "200",
      interval: 15,
      timeout: 5,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    },
    tags,
  });
  const listener = new aws.lb.Listener(`h${i}-api-http`, {
    loadBalancerArn: lb.arn,
    port: 80,
    protocol: "HTTP",
    defaultActions: [{ type: "forward", targetGroupArn: tg.arn }],
    tags,
  });
  const taskDefinition = new aws.ecs.TaskDefinition(`h${i}-api`, {
    family: `h${i}-api`,
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: "512",
    memory: "1024",
    runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "X86_64" },
    executionRoleArn: execution.arn,
    taskRoleArn: task.arn,
    containerDefinitions: pulumi
      .all([sagemaker.arn, output.bucket, secret.arn, logGroup.name])
      .apply(([r, o, s, l]) =>
        JSON.stringify([
          {
            name: "api",
            image: IMAGE,
            essential: true,
            portMappings: [{ containerPort: 8080, protocol: "tcp" }],
            environment: [
              { name: "HOST", value: "0.0.0.0" },
              { name: "PORT", value: "8080" },
              { name: "TRAINKIT_DATA_DIR", value: "/var/lib/trainkit" },
              { name: "TRAINKIT_SAGEMAKER_REGION", value: REGION },
              { name: "TRAINKIT_SAGEMAKER_ROLE_ARN", value: r },
              { name: "TRAINKIT_SAGEMAKER_OUTPUT_S3_URI", value: `s3://${o}/models` },
            ],
            secrets: [{ name: "TRAINKIT_API_KEYS", valueFrom: s }],
            logConfiguration: {
              logDriver: "awslogs",
              options: { "awslogs-group": l, "awslogs-region": REGION, "awslogs-stream-prefix": "api" },
            },
          },
        ]),
      ),
    tags,
  });
  new aws.ecs.Service(
    `h${i}-api`,
    {
      cluster: cluster.arn,
      taskDefinition: taskDefinition.arn,
      launchType: "FARGATE",
      desiredCount: 1,
      networkConfiguration: {
        subnets: network.subnetIds,
        securityGroups: [taskSg.id],
        assignPublicIp: false,
      },
      loadBalancers: [{ targetGroupArn: tg.arn, containerName: "api", containerPort: 8080 }],
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriodSeconds: 60,
      tags,
    },
    { dependsOn: [listener, executionPolicy, taskPolicy] },
  );
}

// Plain HTTP, like the hand-written listener below, so both sides register the same resources.
const platformArgs = {
  region: REGION,
  api: { image: IMAGE, apiKeys: API_KEYS, ...network, plainHttp: true },
};

await runPlatformBench(import.meta.url, {
  cloud: "aws",
  provider: (require) => require("@pulumi/aws"),
  newResource({ type, name, inputs }) {
    const given = inputs.name ?? name;
    const extra = {};
    if (type === "aws:iam/role:Role")
      Object.assign(extra, { name: given, arn: `arn:aws:iam::${ACCOUNT}:role/${given}` });
    if (type === "aws:s3/bucket:Bucket") {
      const bucket = inputs.bucket ?? name;
      Object.assign(extra, { bucket, arn: `arn:aws:s3:::${bucket}` });
    }
    if (type === "aws:ecr/repository:Repository")
      Object.assign(extra, {
        name: given,
        arn: arn("ecr", `repository/${given}`),
        repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${given}`,
      });
    if (type === "aws:cloudwatch/logGroup:LogGroup")
      Object.assign(extra, { name: given, arn: arn("logs", `log-group:${given}`) });
    if (type === "aws:secretsmanager/secret:Secret") extra.arn = arn("secretsmanager", `secret:${name}`);
    if (type === "aws:lb/loadBalancer:LoadBalancer")
      Object.assign(extra, {
        arn: arn("elasticloadbalancing", `loadbalancer/app/${given}/1`),
        dnsName: `${given}.elb.amazonaws.com`,
      });
    if (type === "aws:lb/targetGroup:TargetGroup")
      extra.arn = arn("elasticloadbalancing", `targetgroup/${given}/1`);
    if (type === "aws:ecs/cluster:Cluster") extra.arn = arn("ecs", `cluster/${given}`);
    if (type === "aws:ecs/taskDefinition:TaskDefinition")
      extra.arn = arn("ecs", `task-definition/${inputs.family}:1`);
    return { id: `${name}-id`, state: { ...inputs, ...extra } };
  },
  platformArgs: () => platformArgs,
  handWritten,
});
