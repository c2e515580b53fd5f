import { beforeAll, describe, expect, it } from "vitest";
import { SageMakerRole } from "../../src/aws";
import { awsComputed } from "../helpers/aws-computed";
import { allowedActions, type Statement, statementsOf } from "../helpers/iam-policies";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment";

const DATA = "arn:aws:s3:::acme-data";
const OUTPUT = "arn:aws:s3:::acme-output";
const REPO = "arn:aws:ecr:us-east-1:123456789012:repository/ml-images";

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed });
});

async function build(name: string, args: Partial<ConstructorParameters<typeof SageMakerRole>[1]> = {}) {
  const role = new SageMakerRole(name, {
    dataBucketArns: [DATA],
    outputBucketArns: [OUTPUT],
    repositoryArns: [REPO],
    ...args,
  });
  await mocks.settle();
  return role;
}

const bySid = (statements: Statement[]) => Object.fromEntries(statements.map((s) => [s.Sid, s]));

describe("SageMakerRole", () => {
  it("is trusted by SageMaker only, for the given account only", async () => {
    await build("trust", { accountId: "123456789012" });
    expect(JSON.parse(mocks.one(ROLE, "trust").inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "sagemaker.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": "123456789012" } },
      },
    ]);
  });

  it("may read the data bucket, read and write the output bucket, and pull from the platform registry, exactly", async () => {
    await build("exact");
    const s = bySid(statementsOf(mocks.one(ROLE_POLICY, "exact").inputs.policy));
    expect(Object.keys(s).sort()).toEqual(
      [
        "AuthenticateToRegistry",
        "ListPlatformBuckets",
        "PullImages",
        "PutMetrics",
        "ReadData",
        "ReadWriteOutput",
        "WriteLogs",
      ].sort(),
    );
    expect(s.ListPlatformBuckets).toMatchObject({
      Action: ["s3:GetBucketLocation", "s3:ListBucket"],
      Resource: [DATA, OUTPUT],
    });
    expect(s.ReadData).toMatchObject({ Action: "s3:GetObject", Resource: [`${DATA}/*`] });
    expect(s.ReadWriteOutput).toMatchObject({
      Action: ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
      Resource: [`${OUTPUT}/*`],
    });
    expect(s.PullImages).toMatchObject({
      Action: ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
      Resource: [REPO],
    });
    expect(s.WriteLogs!.Resource).toEqual([
      "arn:aws:logs:*:*:log-group:/aws/sagemaker/TrainingJobs:*",
      "arn:aws:logs:*:*:log-group:/aws/sagemaker/TrainingJobs:log-stream:*",
    ]);
    expect(s.PutMetrics).toMatchObject({
      Action: "cloudwatch:PutMetricData",
      Condition: { StringEquals: { "cloudwatch:namespace": "/aws/sagemaker/TrainingJobs" } },
    });
  });

  it("allows no wildcard action and holds no managed policy", async () => {
    await build("narrow");
    const actions = allowedActions(statementsOf(mocks.one(ROLE_POLICY, "narrow").inputs.policy));
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
    expect(mocks.one(ROLE, "narrow").inputs.managedPolicyArns).toBeUndefined();
    expect(mocks.ofType(ATTACHMENT).filter((r) => r.name.startsWith("narrow"))).toEqual([]);
  });

  it("gives S3 object writes only on the output bucket", async () => {
    await build("writes");
    const statements = statementsOf(mocks.one(ROLE_POLICY, "writes").inputs.policy);
    const writers = statements.filter((s) => [s.Action].flat().includes("s3:PutObject"));
    expect(writers.flatMap((s) => [s.Resource].flat())).toEqual([`${OUTPUT}/*`]);
  });

  it("may use the given KMS keys to decrypt and encrypt, and no others", async () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    await build("kms", { kmsKeyArns: [key] });
    const s = bySid(statementsOf(mocks.one(ROLE_POLICY, "kms").inputs.policy));
    expect(s.UseEncryptionKeys).toMatchObject({
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: [key],
    });
  });

  it("outputs the role ARN", async () => {
    const role = await build("arn");
    expect(await outputValue(role.arn)).toBe("arn:aws:iam::123456789012:role/arn");
  });

  it("rejects a role without an output bucket, saying what it is for", () => {
    expect(() => new SageMakerRole("none", { outputBucketArns: [] })).toThrow(
      "SageMakerRole none: outputBucketArns must list at least one bucket ARN for SageMaker's model output; got an empty list",
    );
  });
});
