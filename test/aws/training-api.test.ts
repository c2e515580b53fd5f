import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { API_SAGEMAKER_ACTIONS, TrainingApi, type TrainingApiArgs } from "../../src/aws";
import { LOG_READ_ACTIONS } from "../../src/server/backends/sagemaker/logs";
import { awsComputed } from "../helpers/aws-computed";
import { allowedActions, statementsOf } from "../helpers/iam-policies";
import { published } from "../helpers/published";
import { type Inputs, installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";
const SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion";
const LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer";
const TARGET_GROUP = "aws:lb/targetGroup:TargetGroup";
const LISTENER = "aws:lb/listener:Listener";
const TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition";
const SERVICE = "aws:ecs/service:Service";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";

const ELB = published<{ accessLogAttributes: string[] }>("aws-botocore/elbv2-access-logs.json");
const API_KEY = "tk_live_0123456789abcdef";
const SAGEMAKER_ROLE = "arn:aws:iam::123456789012:role/ml-sagemaker";
const CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb-cccc-0123456789ab";
const args: TrainingApiArgs = {
  region: "us-east-1",
  image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/ml-images:trainkit-0.1.0",
  vpcId: "vpc-0a1b2c3d",
  subnetIds: ["subnet-private-a", "subnet-private-b"],
  sagemakerRoleArn: SAGEMAKER_ROLE,
  outputS3Uri: "s3://acme-output/models",
  apiKeys: { [API_KEY]: ["team-vision"] },
  certificateArn: CERT,
};

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed });
});

async function build(name: string, extra: Partial<TrainingApiArgs> = {}) {
  const api = new TrainingApi(name, { ...args, ...extra });
  await mocks.settle();
  return api;
}

function container(name: string): Inputs {
  return JSON.parse(mocks.one(TASK_DEFINITION, name).inputs.containerDefinitions)[0];
}

function envOf(name: string): Record<string, string> {
  return Object.fromEntries(
    container(name).environment.map((e: { name: string; value: string }) => [e.name, e.value]),
  );
}

describe("TrainingApi task role", () => {
  it("allows exactly the four SageMaker training-job actions on training jobs, listing them, reading their log, and passing the SageMaker role", async () => {
    await build("least");
    const statements = statementsOf(mocks.one(ROLE_POLICY, "least-task").inputs.policy);
    expect(statements).toEqual([
      {
        Sid: "ManageTrainingJobs",
        Effect: "Allow",
        Action: [
          "sagemaker:AddTags",
          "sagemaker:CreateTrainingJob",
          "sagemaker:DescribeTrainingJob",
          "sagemaker:StopTrainingJob",
        ],
        Resource: "arn:aws:sagemaker:us-east-1:123456789012:training-job/*",
      },
      { Sid: "ListTrainingJobs", Effect: "Allow", Action: ["sagemaker:ListTrainingJobs"], Resource: "*" },
      {
        Sid: "ReadTrainingJobLogs",
        Effect: "Allow",
        Action: ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"],
        Resource: [
          "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:*",
          "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:log-stream:*",
        ],
      },
      {
        Sid: "PassSageMakerExecutionRole",
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: SAGEMAKER_ROLE,
        Condition: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
      },
    ]);
    expect([...API_SAGEMAKER_ACTIONS].sort()).toEqual(statements[0]!.Action);
    // The actions the sagemaker backend calls to serve GET /v1/jobs/{id}/logs, no more.
    expect([...LOG_READ_ACTIONS].sort()).toEqual(statements[2]!.Action);
  });

  it("holds no wildcard action and no managed policy on either role", async () => {
    await build("nowild", { databaseUrl: "postgresql://api:pw@10.0.0.5:5432/trainkit" });
    for (const role of ["nowild-task", "nowild-execution"]) {
      const actions = allowedActions(statementsOf(mocks.one(ROLE_POLICY, role).inputs.policy));
      expect(actions.filter((a) => a.includes("*"))).toEqual([]);
      expect(mocks.one(ROLE, role).inputs.managedPolicyArns).toBeUndefined();
    }
    expect(mocks.ofType(ATTACHMENT).filter((r) => r.name.startsWith("nowild"))).toEqual([]);
  });

  it("is trusted by ECS tasks of the SageMaker role's account only", async () => {
    await build("trust");
    expect(JSON.parse(mocks.one(ROLE, "trust-task").inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "ecs-tasks.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
      },
    ]);
  });
});

describe("TrainingApi execution role", () => {
  it("reads only its own secrets, writes only its own log group and pulls only the API image's repository", async () => {
    await build("exec", { databaseUrl: "postgresql://api:pw@10.0.0.5:5432/trainkit" });
    const s = Object.fromEntries(
      statementsOf(mocks.one(ROLE_POLICY, "exec-execution").inputs.policy).map((x) => [x.Sid, x]),
    );
    expect(s.ReadApiSecrets?.Resource).toEqual([
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:exec-api-keys-AbCdEf",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:exec-database-url-AbCdEf",
    ]);
    expect(s.WriteLogs?.Resource).toBe("arn:aws:logs:us-east-1:123456789012:log-group:exec:log-stream:*");
    expect(s.PullApiImage?.Resource).toBe("arn:aws:ecr:us-east-1:123456789012:repository/ml-images");
  });

  it("asks for no ECR permission when the image comes from another registry", async () => {
    await build("hub", { image: "ghcr.io/acme/trainkit:0.1.0" });
    const actions = allowedActions(statementsOf(mocks.one(ROLE_POLICY, "hub-execution").inputs.policy));
    expect(actions).toEqual(["logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"]);
  });
});

describe("TrainingApi", () => {
  it("keeps the API keys in Secrets Manager as a secret and injects them by ARN, never as plain env", async () => {
    await build("keys");
    const version = mocks.one(SECRET_VERSION, "keys-api-keys");
    expect(version.secretInputs).toContain("secretString");
    expect(JSON.parse(version.inputs.secretString)).toEqual({ [API_KEY]: ["team-vision"] });
    expect(container("keys").secrets).toEqual([
      {
        name: "TRAINKIT_API_KEYS",
        valueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:keys-api-keys-AbCdEf",
      },
    ]);
    expect(JSON.stringify(mocks.one(TASK_DEFINITION, "keys").inputs)).not.toContain(API_KEY);
  });

  it("runs only the sagemaker backend and passes its settings to the server as environment variables", async () => {
    await build("env");
    expect(envOf("env")).toEqual({
      HOST: "0.0.0.0",
      PORT: "8080",
      TRAINKIT_DATA_DIR: "/var/lib/trainkit",
      TRAINKIT_BACKENDS: "sagemaker",
      TRAINKIT_SAGEMAKER_REGION: "us-east-1",
      TRAINKIT_SAGEMAKER_ROLE_ARN: SAGEMAKER_ROLE,
      TRAINKIT_SAGEMAKER_OUTPUT_S3_URI: "s3://acme-output/models",
    });
  });

  it("puts an internal load balancer in the private subnets, serving HTTPS by default with port 80 redirecting", async () => {
    const api = await build("internal", { domainName: "train.internal.acme.example" });
    const lb = mocks.one(LOAD_BALANCER, "internal").inputs;
    expect(lb.internal).toBe(true);
    expect(lb.subnets).toEqual(["subnet-private-a", "subnet-private-b"]);
    expect(lb.dropInvalidHeaderFields).toBe(true);
    expect(lb.accessLogs).toBeUndefined();
    expect(mocks.one(LISTENER, "internal-https").inputs).toMatchObject({ port: 443, protocol: "HTTPS" });
    expect(mocks.one(LISTENER, "internal-http").inputs.defaultActions[0].type).toBe("redirect");
    const ingress = mocks
      .ofType(INGRESS)
      .filter((r) => r.name.startsWith("internal-lb-in-"))
      .map((r) => [r.inputs.cidrIpv4, r.inputs.fromPort]);
    expect(ingress).toEqual([
      ["10.0.0.0/8", 443],
      ["172.16.0.0/12", 443],
      ["192.168.0.0/16", 443],
      ["10.0.0.0/8", 80],
      ["172.16.0.0/12", 80],
      ["192.168.0.0/16", 80],
    ]);
    expect(await outputValue(api.url)).toBe("https://train.internal.acme.example");
  });

  it("listens on plain HTTP inside the VPC only when plainHttp is set, and warns", async () => {
    const warnings: string[] = [];
    const original = pulumi.log.warn;
    pulumi.log.warn = (message: string) => {
      warnings.push(message);
      return Promise.resolve();
    };
    try {
      const api = await build("plainhttp", { certificateArn: undefined, plainHttp: true });
      expect(mocks.one(LISTENER, "plainhttp-http").inputs).toMatchObject({ port: 80, protocol: "HTTP" });
      expect(mocks.ofType(LISTENER).filter((r) => r.name === "plainhttp-https")).toEqual([]);
      expect(await outputValue(api.url)).toBe(
        "http://internal-plainhttp-1234567890.us-east-1.elb.amazonaws.com",
      );
    } finally {
      pulumi.log.warn = original;
    }
    expect(warnings).toEqual([
      "TrainingApi plainhttp listens on plain HTTP: API keys cross the VPC in clear text. Give certificateArn to serve HTTPS.",
    ]);
  });

  it("writes the load balancer's access logs to the given bucket", async () => {
    await build("alblogs", { accessLogs: { bucket: "acme-alb-logs", prefix: "train-api" } });
    const lb = mocks.one(LOAD_BALANCER, "alblogs").inputs;
    expect(lb.accessLogs).toEqual({ bucket: "acme-alb-logs", prefix: "train-api", enabled: true });
    // The attributes these become are the ones the ELBv2 API documents.
    expect(ELB.accessLogAttributes).toEqual([
      "access_logs.s3.enabled",
      "access_logs.s3.bucket",
      "access_logs.s3.prefix",
    ]);
  });

  it("checks health on /healthz through a target group of Fargate task IPs on port 8080", async () => {
    await build("health");
    const tg = mocks.one(TARGET_GROUP, "health").inputs;
    expect(tg).toMatchObject({ targetType: "ip", protocol: "HTTP", port: 8080, vpcId: "vpc-0a1b2c3d" });
    expect(tg.healthCheck).toMatchObject({ path: "/healthz", matcher: "200" });
  });

  it("lets only the load balancer reach the tasks, and the tasks reach only HTTPS", async () => {
    await build("sg");
    const tasksIn = mocks.one(INGRESS, "sg-tasks-from-lb").inputs;
    expect(tasksIn).toMatchObject({
      securityGroupId: "sg-tasks-id",
      referencedSecurityGroupId: "sg-lb-id",
      fromPort: 8080,
      toPort: 8080,
    });
    const egress = mocks
      .ofType(EGRESS)
      .filter((r) => r.name.startsWith("sg-tasks-"))
      .map((r) => [r.inputs.cidrIpv4, r.inputs.fromPort, r.inputs.toPort]);
    expect(egress).toEqual([["0.0.0.0/0", 443, 443]]);
  });

  it("runs one Fargate task without public IPs, stopping the old task before starting a new one", async () => {
    await build("single");
    const service = mocks.one(SERVICE, "single").inputs;
    expect(service).toMatchObject({
      launchType: "FARGATE",
      desiredCount: 1,
      deploymentMinimumHealthyPercent: 0,
      deploymentMaximumPercent: 100,
      enableExecuteCommand: false,
    });
    expect(service.networkConfiguration).toEqual({
      subnets: ["subnet-private-a", "subnet-private-b"],
      securityGroups: ["single-tasks-id"],
      assignPublicIp: false,
    });
    expect(service.loadBalancers).toEqual([
      { targetGroupArn: expect.stringContaining(":targetgroup/"), containerName: "api", containerPort: 8080 },
    ]);
    expect(service.deploymentCircuitBreaker).toEqual({ enable: true, rollback: true });
  });

  it("sends the server's logs to its CloudWatch log group", async () => {
    await build("logs");
    expect(container("logs").logConfiguration).toEqual({
      logDriver: "awslogs",
      options: { "awslogs-group": "logs", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "api" },
    });
  });

  it("keeps the database URL in Secrets Manager, runs two tasks and rolls them over with one", async () => {
    await build("durable", { databaseUrl: "postgresql://api:pw@10.0.0.5:5432/trainkit" });
    expect(container("durable").secrets.map((s: { name: string }) => s.name)).toEqual([
      "TRAINKIT_API_KEYS",
      "DATABASE_URL",
    ]);
    expect(mocks.one(SECRET_VERSION, "durable-database-url").secretInputs).toContain("secretString");
    expect(mocks.one(SERVICE, "durable").inputs).toMatchObject({
      desiredCount: 2,
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
    });
    expect(mocks.one(EGRESS, "durable-tasks-to-database-0").inputs).toMatchObject({
      cidrIpv4: "10.0.0.0/8",
      fromPort: 5432,
    });
    expect(JSON.stringify(mocks.one(TASK_DEFINITION, "durable").inputs)).not.toContain("pw@");
  });

  it("goes internet-facing with HTTPS on TLS 1.2+ and an HTTP redirect only when public is true", async () => {
    const api = await build("open", {
      public: true,
      certificateArn: CERT,
      loadBalancerSubnetIds: ["subnet-public-a", "subnet-public-b"],
      domainName: "train.acme.example",
    });
    const lb = mocks.one(LOAD_BALANCER, "open").inputs;
    expect(lb.internal).toBe(false);
    expect(lb.subnets).toEqual(["subnet-public-a", "subnet-public-b"]);
    expect(mocks.one(LISTENER, "open-https").inputs).toMatchObject({
      port: 443,
      protocol: "HTTPS",
      certificateArn: CERT,
      sslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
    });
    expect(mocks.one(LISTENER, "open-http").inputs.defaultActions).toEqual([
      { type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } },
    ]);
    expect(
      mocks
        .ofType(INGRESS)
        .filter((r) => r.name.startsWith("open-lb-in-"))
        .map((r) => [r.inputs.cidrIpv4, r.inputs.fromPort]),
    ).toEqual([
      ["0.0.0.0/0", 443],
      ["0.0.0.0/0", 80],
    ]);
    expect(await outputValue(api.url)).toBe("https://train.acme.example");
  });
});

describe("TrainingApi argument checks", () => {
  it("refuses an API without a certificate unless plain HTTP is asked for", () => {
    expect(() => new TrainingApi("nocert", { ...args, certificateArn: undefined })).toThrow(
      "TrainingApi nocert: certificateArn must be set to an ACM certificate, so API keys do not cross the load balancer in clear text; got nothing. Give one for domainName, or set plainHttp: true to accept plain HTTP inside the VPC.",
    );
  });

  it("refuses plain HTTP together with a certificate or a public load balancer", () => {
    expect(() => new TrainingApi("both", { ...args, plainHttp: true })).toThrow(
      "TrainingApi both: plainHttp must not be set with certificateArn, which serves HTTPS; drop plainHttp",
    );
    expect(
      () =>
        new TrainingApi("publicplain", {
          ...args,
          certificateArn: undefined,
          plainHttp: true,
          public: true,
          loadBalancerSubnetIds: ["subnet-public-a"],
        }),
    ).toThrow(
      "TrainingApi publicplain: certificateArn must be set when public is true, so API keys never cross the internet in clear text; got nothing. Give an ACM certificate for domainName, or drop public.",
    );
  });

  it("refuses a public API without a certificate, so keys never cross the internet in clear text", () => {
    expect(
      () =>
        new TrainingApi("plain", {
          ...args,
          certificateArn: undefined,
          public: true,
          loadBalancerSubnetIds: ["subnet-public-a"],
        }),
    ).toThrow(
      "TrainingApi plain: certificateArn must be set when public is true, so API keys never cross the internet in clear text; got nothing. Give an ACM certificate for domainName, or drop public.",
    );
  });

  it("refuses a public API without public subnets for its load balancer", () => {
    expect(() => new TrainingApi("nosubnets", { ...args, public: true, certificateArn: CERT })).toThrow(
      "TrainingApi nosubnets: loadBalancerSubnetIds must be set to public subnets when public is true; got nothing",
    );
  });

  it("refuses more than one task without a database URL, saying why and how to fix it", () => {
    expect(() => new TrainingApi("many", { ...args, desiredCount: 3 })).toThrow(
      "TrainingApi many: desiredCount must be 1 when databaseUrl is not set, since each instance would keep its own embedded database; got 3. Set databaseUrl to a Postgres URL to run more.",
    );
  });

  it("refuses an output location that is not an s3:// URI", () => {
    expect(() => new TrainingApi("gs", { ...args, outputS3Uri: "gs://acme-output" })).toThrow(
      "TrainingApi gs: outputS3Uri must be an s3://<bucket>/<prefix> URI; got gs://acme-output",
    );
  });

  it("refuses extra env that would override a variable it manages", () => {
    expect(() => new TrainingApi("clash", { ...args, env: { TRAINKIT_SAGEMAKER_ROLE_ARN: "x" } })).toThrow(
      "TrainingApi clash: env must not set TRAINKIT_SAGEMAKER_ROLE_ARN, which this component sets; use the matching argument instead",
    );
  });
});
