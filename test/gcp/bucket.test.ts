import { beforeAll, describe, expect, it } from "vitest";
import { Bucket } from "../../src/gcp";
import published from "../fixtures/published/gcp/limits.json";
import { gcpComputed, installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const BUCKET = "gcp:storage/bucket:Bucket";
const where = { project: "acme-ml", location: "us-central1" };

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: gcpComputed });
});

describe("Bucket", () => {
  it("enforces public access prevention and uniform bucket-level access", async () => {
    new Bucket("data", where);
    await mocks.settle();
    const bucket = mocks.one(BUCKET, "data").inputs;
    expect(bucket.publicAccessPrevention).toBe("enforced");
    expect(bucket.uniformBucketLevelAccess).toBe(true);
  });

  it("keeps versions, deletes noncurrent ones after 30 days, and soft-deletes for 7 days", async () => {
    new Bucket("versions", where);
    await mocks.settle();
    const bucket = mocks.one(BUCKET, "versions").inputs;
    expect(bucket.versioning).toEqual({ enabled: true });
    expect(bucket.lifecycleRules).toEqual([
      { action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: 30, withState: "ARCHIVED" } },
    ]);
    expect(bucket.softDeletePolicy).toEqual({ retentionDurationSeconds: 604800 });
  });

  it("refuses to be destroyed with data in it unless forceDestroy is set", async () => {
    new Bucket("keep", where);
    new Bucket("scratch", { ...where, forceDestroy: true });
    await mocks.settle();
    expect(mocks.one(BUCKET, "keep").inputs.forceDestroy).toBe(false);
    expect(mocks.one(BUCKET, "scratch").inputs.forceDestroy).toBe(true);
  });

  it("encrypts new objects with the given KMS key and none otherwise", async () => {
    const key = "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/data";
    new Bucket("cmek", { ...where, kmsKeyName: key });
    await mocks.settle();
    expect(mocks.one(BUCKET, "cmek").inputs.encryption).toEqual({ defaultKmsKeyName: key });
    expect(mocks.one(BUCKET, "data").inputs.encryption).toBeUndefined();
  });

  it("turns soft delete off when the retention is 0 days", async () => {
    new Bucket("nosoft", { ...where, softDeleteRetentionDays: 0, noncurrentVersionRetentionDays: 3 });
    await mocks.settle();
    const bucket = mocks.one(BUCKET, "nosoft").inputs;
    expect(bucket.softDeletePolicy).toEqual({ retentionDurationSeconds: 0 });
    expect(bucket.lifecycleRules[0].condition.daysSinceNoncurrentTime).toBe(3);
  });

  it("outputs its gs:// URL", async () => {
    const bucket = new Bucket("named", { ...where, bucketName: "acme-ml-training-data" });
    expect(await outputValue(bucket.url)).toBe("gs://acme-ml-training-data");
  });

  it("labels the bucket as trainkit's", async () => {
    new Bucket("labelled", { ...where, labels: { team: "nlp" } });
    await mocks.settle();
    expect(mocks.one(BUCKET, "labelled").inputs.labels).toEqual({
      team: "nlp",
      "managed-by": "trainkit",
      "trainkit-component": "bucket",
    });
  });

  it("accepts the soft-delete retentions Cloud Storage publishes: 0, and 7 to 90 days", async () => {
    const { softDelete } = published;
    for (const days of [softDelete.offDays, softDelete.minDays, softDelete.maxDays]) {
      new Bucket(`soft${days}`, { ...where, softDeleteRetentionDays: days });
    }
    await mocks.settle();
    expect(mocks.one("gcp:storage/bucket:Bucket", "soft90").inputs.softDeletePolicy).toEqual({
      retentionDurationSeconds: softDelete.maxDays * 86400,
    });
  });

  it("rejects a soft-delete retention between 1 and 6 days, which Cloud Storage refuses", () => {
    for (const days of [1, published.softDelete.minDays - 1]) {
      expect(() => new Bucket(`shortsoft${days}`, { ...where, softDeleteRetentionDays: days })).toThrow(
        `softDeleteRetentionDays must be 0 (soft delete off) or a whole number of days from 7 to 90, the range Cloud Storage accepts; got ${days}`,
      );
    }
  });

  it("rejects a soft-delete retention beyond 90 days", () => {
    expect(() => new Bucket("longsoft", { ...where, softDeleteRetentionDays: 120 })).toThrow(
      "Bucket longsoft: softDeleteRetentionDays must be 0 (soft delete off) or a whole number of days from 7 to 90, the range Cloud Storage accepts; got 120",
    );
  });
});

describe("Bucket names", () => {
  it("rejects a bucket name GCS would refuse, saying what names look like", () => {
    expect(() => new Bucket("upper", { ...where, bucketName: "Acme-Data" })).toThrow(
      'Bucket upper: bucketName must be 3 to 63 lowercase letters, digits, dashes, dots or underscores, starting and ending with a letter or digit and not starting with "goog"; got Acme-Data',
    );
  });
});

describe("Bucket resource options", () => {
  it("passes the provider given to the component on to the bucket it creates", async () => {
    const gcp = await import("@pulumi/gcp");
    const eu = new gcp.Provider("eu", { project: "acme-eu", region: "europe-west4" });
    new Bucket("eu-data", where, { providers: [eu] });
    await mocks.settle();
    expect(mocks.one(BUCKET, "eu-data").provider).toMatch(/::eu::eu-id$/);
    expect(mocks.one(BUCKET, "data").provider ?? "").not.toMatch(/::eu::/);
  });
});
