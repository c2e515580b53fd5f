import { beforeAll, describe, expect, it } from "vitest";
import { Registry } from "../../src/gcp";
import { gcpComputed, installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const REPOSITORY = "gcp:artifactregistry/repository:Repository";

let mocks: MockRuntime;
beforeAll(async () => {
  mocks = await installPulumiMocks({
    computed: gcpComputed,
    config: { "gcp:project": "cfg-project", "gcp:region": "europe-west4" },
  });
});

describe("Registry", () => {
  it("creates a private Docker repository with immutable tags and vulnerability scanning", async () => {
    new Registry("images", { project: "acme-ml", location: "us-central1" });
    await mocks.settle();
    const repo = mocks.one(REPOSITORY, "images").inputs;
    expect(repo.format).toBe("DOCKER");
    expect(repo.dockerConfig).toEqual({ immutableTags: true });
    expect(repo.vulnerabilityScanningConfig).toEqual({ enablementConfig: "INHERITED" });
    expect(repo.kmsKeyName).toBeUndefined();
  });

  it("deletes untagged images after 7 days and always keeps the 10 newest versions", async () => {
    new Registry("cleanup", { project: "acme-ml", location: "us-central1" });
    await mocks.settle();
    const repo = mocks.one(REPOSITORY, "cleanup").inputs;
    expect(repo.cleanupPolicyDryRun).toBe(false);
    expect(repo.cleanupPolicies).toEqual([
      { id: "delete-untagged", action: "DELETE", condition: { tagState: "UNTAGGED", olderThan: "604800s" } },
      { id: "keep-recent", action: "KEEP", mostRecentVersions: { keepCount: 10 } },
    ]);
  });

  it("also deletes old tagged images when taggedRetentionDays is set", async () => {
    new Registry("aging", {
      project: "acme-ml",
      location: "us-central1",
      taggedRetentionDays: 90,
      keepRecentVersions: 3,
    });
    await mocks.settle();
    const policies = mocks.one(REPOSITORY, "aging").inputs.cleanupPolicies;
    expect(policies).toContainEqual({
      id: "keep-recent",
      action: "KEEP",
      mostRecentVersions: { keepCount: 3 },
    });
    expect(policies).toContainEqual({
      id: "delete-old-tagged",
      action: "DELETE",
      condition: { tagState: "TAGGED", olderThan: "7776000s" },
    });
  });

  it("encrypts with the given KMS key", async () => {
    const key = "projects/acme-ml/locations/us-central1/keyRings/ml/cryptoKeys/images";
    new Registry("cmek", { project: "acme-ml", location: "us-central1", kmsKeyName: key });
    await mocks.settle();
    expect(mocks.one(REPOSITORY, "cmek").inputs.kmsKeyName).toBe(key);
  });

  it("makes tags mutable and scanning off only when asked", async () => {
    new Registry("loose", {
      project: "acme-ml",
      location: "us-central1",
      immutableTags: false,
      vulnerabilityScanning: false,
    });
    await mocks.settle();
    const repo = mocks.one(REPOSITORY, "loose").inputs;
    expect(repo.dockerConfig).toEqual({ immutableTags: false });
    expect(repo.vulnerabilityScanningConfig).toEqual({ enablementConfig: "DISABLED" });
  });

  it("outputs the Docker push URL <region>-docker.pkg.dev/<project>/<repository>", async () => {
    const registry = new Registry("url", {
      project: "acme-ml",
      location: "us-central1",
      repositoryId: "training",
    });
    expect(await outputValue(registry.url)).toBe("us-central1-docker.pkg.dev/acme-ml/training");
  });

  it("takes the project and region from the stack's gcp config when the args leave them out", async () => {
    const registry = new Registry("fromcfg");
    expect(await outputValue(registry.url)).toBe("europe-west4-docker.pkg.dev/cfg-project/fromcfg");
  });

  it("rejects a retention that is not a whole number of days", () => {
    expect(() => new Registry("badage", { untaggedRetentionDays: 0.5 })).toThrow(
      "Registry badage: untaggedRetentionDays must be a whole number of days, at least 1; got 0.5",
    );
  });
});

describe("Registry names", () => {
  it("rejects a component name that cannot be a repository id unless repositoryId is given", () => {
    expect(() => new Registry("ML_Images", { project: "acme-ml", location: "us-central1" })).toThrow(
      "Registry ML_Images: repositoryId must be 1 to 63 lowercase letters, digits or dashes, starting with a letter (it defaults to the component's name; set it explicitly); got ML_Images",
    );
    expect(
      () =>
        new Registry("ML_Images2", {
          project: "acme-ml",
          location: "us-central1",
          repositoryId: "ml-images",
        }),
    ).not.toThrow();
  });
});
