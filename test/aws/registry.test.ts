import { beforeAll, describe, expect, it } from "vitest";
import { Registry } from "../../src/aws";
import { awsComputed } from "../helpers/aws-computed";
import { installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({ computed: awsComputed });
});

async function build(name: string, args: ConstructorParameters<typeof Registry>[1] = {}) {
  const registry = new Registry(name, args);
  await mocks.settle();
  return registry;
}

describe("Registry", () => {
  it("makes tags immutable and scans every image on push", async () => {
    await build("images");
    const repo = mocks.one(REPOSITORY, "images").inputs;
    expect(repo.imageTagMutability).toBe("IMMUTABLE");
    expect(repo.imageScanningConfiguration).toEqual({ scanOnPush: true });
    expect(repo.forceDelete).toBe(false);
  });

  it("names the repository after the component with a hash of the stack", async () => {
    await build("ml-images");
    expect(mocks.one(REPOSITORY, "ml-images").inputs.name).toMatch(/^ml-images-[0-9a-f]{6}$/);
  });

  it("encrypts with AES-256 by default and with the given KMS key when set", async () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    await build("aes");
    await build("cmk", { kmsKeyArn: key });
    expect(mocks.one(REPOSITORY, "aes").inputs.encryptionConfigurations).toEqual([
      { encryptionType: "AES256" },
    ]);
    expect(mocks.one(REPOSITORY, "cmk").inputs.encryptionConfigurations).toEqual([
      { encryptionType: "KMS", kmsKey: key },
    ]);
  });

  it("expires untagged images after 7 days and keeps the 100 most recent images", async () => {
    await build("life");
    const lifecycle = mocks.one(LIFECYCLE, "life").inputs;
    expect(lifecycle.repository).toMatch(/^life-[0-9a-f]{6}$/);
    expect(
      JSON.parse(lifecycle.policy).rules.map((r: { rulePriority: number; selection: object }) => [
        r.rulePriority,
        r.selection,
      ]),
    ).toEqual([
      [1, { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 7 }],
      [2, { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 100 }],
    ]);
  });

  it("takes the retention and the number of images to keep from its args", async () => {
    await build("short", { untaggedRetentionDays: 1, keepRecentImages: 20 });
    const rules = JSON.parse(mocks.one(LIFECYCLE, "short").inputs.policy).rules;
    expect(rules[0].selection.countNumber).toBe(1);
    expect(rules[1].selection.countNumber).toBe(20);
  });

  it("makes tags mutable and deletion with images possible only when asked", async () => {
    await build("dev", { immutableTags: false, forceDelete: true });
    expect(mocks.one(REPOSITORY, "dev").inputs.imageTagMutability).toBe("MUTABLE");
    expect(mocks.one(REPOSITORY, "dev").inputs.forceDelete).toBe(true);
  });

  it("outputs the push URL and the repository ARN", async () => {
    const registry = await build("out", { repositoryName: "ml/images" });
    expect(await outputValue(registry.url)).toBe("123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/images");
    expect(await outputValue(registry.arn)).toBe("arn:aws:ecr:us-east-1:123456789012:repository/ml/images");
  });
});

describe("Registry argument checks", () => {
  it("rejects a repository name ECR would refuse", () => {
    expect(() => new Registry("bad", { repositoryName: "ML Images" })).toThrow(
      'Registry bad: repositoryName must be lowercase letters and digits, separated by single dots, dashes, underscores or slashes; got "ML Images"',
    );
  });

  it("rejects keeping no images at all", () => {
    expect(() => new Registry("none", { keepRecentImages: 0 })).toThrow(
      "Registry none: keepRecentImages must be a whole number, from 1 to 10000; got 0",
    );
  });
});
