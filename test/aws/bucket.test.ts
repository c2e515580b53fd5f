import { beforeAll, describe, expect, it } from "vitest";
import { Bucket } from "../../src/aws";
import { awsComputed } from "../helpers/aws-computed";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const S3 = "aws:s3/";
const BUCKET = `${S3}bucket:Bucket`;
const PUBLIC_ACCESS = `${S3}bucketPublicAccessBlock:BucketPublicAccessBlock`;
const OWNERSHIP = `${S3}bucketOwnershipControls:BucketOwnershipControls`;
const VERSIONING = `${S3}bucketVersioning:BucketVersioning`;
const ENCRYPTION = `${S3}bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration`;
const LIFECYCLE = `${S3}bucketLifecycleConfiguration:BucketLifecycleConfiguration`;
const POLICY = `${S3}bucketPolicy:BucketPolicy`;

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed });
});

async function build(name: string, args: ConstructorParameters<typeof Bucket>[1] = {}) {
  const bucket = new Bucket(name, args);
  await mocks.settle();
  return bucket;
}

describe("Bucket", () => {
  it("turns on all four public access blocks", async () => {
    await build("pab", { bucketName: "acme-pab" });
    expect(mocks.one(PUBLIC_ACCESS, "pab").inputs).toEqual({
      bucket: "acme-pab",
      blockPublicAcls: true,
      ignorePublicAcls: true,
      blockPublicPolicy: true,
      restrictPublicBuckets: true,
    });
  });

  it("enforces bucket owner ownership, which turns ACLs off", async () => {
    await build("acl");
    expect(mocks.one(OWNERSHIP, "acl").inputs.rule).toEqual({ objectOwnership: "BucketOwnerEnforced" });
  });

  it("keeps versions and expires noncurrent ones after 30 days, aborting stale uploads after 7", async () => {
    await build("versions");
    expect(mocks.one(VERSIONING, "versions").inputs.versioningConfiguration).toEqual({ status: "Enabled" });
    expect(mocks.one(LIFECYCLE, "versions").inputs.rules).toEqual([
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
    ]);
  });

  it("encrypts with S3-managed keys by default", async () => {
    await build("sse-s3");
    expect(mocks.one(ENCRYPTION, "sse-s3").inputs.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
    ]);
  });

  it("encrypts with the given KMS key and a bucket key when kmsKeyArn is set", async () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    await build("sse-kms", { kmsKeyArn: key });
    expect(mocks.one(ENCRYPTION, "sse-kms").inputs.rules).toEqual([
      {
        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: key },
        bucketKeyEnabled: true,
      },
    ]);
  });

  it("denies every request not made over TLS, on the bucket and its objects", async () => {
    await build("tls", { bucketName: "acme-tls" });
    const policy = JSON.parse(mocks.one(POLICY, "tls").inputs.policy);
    expect(policy.Statement).toEqual([
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: ["arn:aws:s3:::acme-tls", "arn:aws:s3:::acme-tls/*"],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
    expect(policy.Statement.filter((s: { Effect: string }) => s.Effect === "Allow")).toEqual([]);
  });

  it("refuses to be destroyed with data in it unless forceDestroy is set", async () => {
    await build("keep");
    await build("scratch", { forceDestroy: true });
    expect(mocks.one(BUCKET, "keep").inputs.forceDestroy).toBe(false);
    expect(mocks.one(BUCKET, "scratch").inputs.forceDestroy).toBe(true);
  });

  it("outputs its s3:// URL and ARN", async () => {
    const bucket = await build("named", { bucketName: "acme-ml-training-data" });
    expect(await outputValue(bucket.url)).toBe("s3://acme-ml-training-data");
    expect(await outputValue(bucket.arn)).toBe("arn:aws:s3:::acme-ml-training-data");
  });

  it("tags the bucket as trainkit's, over the user's tags", async () => {
    await build("tagged", { tags: { team: "nlp", "managed-by": "someone" } });
    expect(mocks.one(BUCKET, "tagged").inputs.tags).toEqual({
      team: "nlp",
      "managed-by": "trainkit",
      "trainkit-component": "bucket",
    });
  });

  it("parents its seven resources to itself", async () => {
    await build("tree");
    const children = mocks.resources.filter((r) => r.custom && r.name === "tree");
    expect(children.map((r) => r.type).sort()).toEqual(
      [BUCKET, PUBLIC_ACCESS, OWNERSHIP, VERSIONING, ENCRYPTION, LIFECYCLE, POLICY].sort(),
    );
    expect(new Set(children.map((r) => r.parentType))).toEqual(new Set(["trainkit:aws:Bucket"]));
  });
});

describe("Bucket argument checks", () => {
  it("rejects a bucket name S3 would refuse, saying what names look like", () => {
    expect(() => new Bucket("upper", { bucketName: "Acme_Data" })).toThrow(
      "Bucket upper: bucketName must be 3 to 63 lowercase letters, digits, dots or dashes, starting and ending with a letter or digit, not shaped like an IP address; got Acme_Data",
    );
  });

  it("rejects a noncurrent version retention of zero days", () => {
    expect(() => new Bucket("zero", { noncurrentVersionRetentionDays: 0 })).toThrow(
      "Bucket zero: noncurrentVersionRetentionDays must be a whole number of days, at least 1; got 0",
    );
  });
});

describe("Bucket resource options", () => {
  it("passes the provider given to the component on to every resource it creates", async () => {
    const aws = await import("@pulumi/aws");
    const eu = new aws.Provider("eu", { region: "eu-west-1" });
    await build("eu-data", {});
    new Bucket("eu-only", {}, { providers: [eu] });
    await mocks.settle();
    const children = mocks.resources.filter((r) => r.custom && r.name === "eu-only");
    expect(children.length).toBe(7);
    expect(children.every((r) => /::eu::eu-id$/.test(r.provider ?? ""))).toBe(true);
    expect(mocks.one(BUCKET, "eu-data").provider ?? "").not.toMatch(/::eu::/);
  });
});
