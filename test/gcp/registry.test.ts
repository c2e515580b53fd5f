import { beforeAll, describe, expect, it } from "vitest";
import { boundedName } from "../../src/components";
import { Registry } from "../../src/gcp";
import { gcpComputed, installPulumiMocks, type MockRuntime, outputValue } from "../helpers/pulumi-mocks";

const REPOSITORY = "gcp:artifactregistry/repository:Repository";
const SERVICE = "gcp:projects/service:Service";

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
    expect(await outputValue(registry.url)).toMatch(
      /^europe-west4-docker\.pkg\.dev\/cfg-project\/fromcfg-[0-9a-f]{6}$/,
    );
  });

  it("rejects a retention that is not a whole number of days", () => {
    expect(() => new Registry("badage", { untaggedRetentionDays: 0.5 })).toThrow(
      "Registry badage: untaggedRetentionDays must be a whole number of days, at least 1; got 0.5",
    );
  });
});

describe("Registry names", () => {
  it("gives each stack its own repository id by default, so two stacks in one project do not collide", () => {
    const id = (stack: string) => boundedName("images", 63, `trainkit-test/${stack}`);
    expect(id("dev")).toMatch(/^images-[0-9a-f]{6}$/);
    expect(id("dev")).not.toBe(id("prod"));
  });

  it("derives a valid repository id from any component name", async () => {
    new Registry("ML_Images", { project: "acme-ml", location: "us-central1" });
    await mocks.settle();
    expect(mocks.one(REPOSITORY, "ML_Images").inputs.repositoryId).toMatch(/^ml-images-[0-9a-f]{6}$/);
  });

  it("rejects a given repository id Artifact Registry would refuse", () => {
    expect(
      () => new Registry("named", { project: "acme-ml", location: "us-central1", repositoryId: "ML_Images" }),
    ).toThrow(
      "Registry named: repositoryId must be 1 to 63 lowercase letters, digits or dashes, starting with a letter; got ML_Images",
    );
  });
});

describe("Registry APIs", () => {
  it("enables Artifact Registry and Container Scanning, kept on after destroy, and the repository waits for both", async () => {
    new Registry("apis", { project: "acme-ml", location: "us-central1" });
    await mocks.settle();
    const services = mocks.ofType(SERVICE).filter((r) => r.name.startsWith("apis-apis-"));
    expect(
      services.map((r) => [r.inputs.service, r.inputs.disableOnDestroy, r.inputs.project]).sort(),
    ).toEqual([
      ["artifactregistry.googleapis.com", false, "acme-ml"],
      ["containerscanning.googleapis.com", false, "acme-ml"],
    ]);
    expect(mocks.one(REPOSITORY, "apis").dependsOn).toEqual(
      expect.arrayContaining([
        `${SERVICE}::apis-apis-artifactregistry`,
        `${SERVICE}::apis-apis-containerscanning`,
      ]),
    );
  });

  it("enables no API when enableApis is false", async () => {
    new Registry("noapis", { project: "acme-ml", location: "us-central1", enableApis: false });
    await mocks.settle();
    expect(mocks.ofType(SERVICE).filter((r) => r.name.startsWith("noapis-"))).toEqual([]);
    expect(mocks.one(REPOSITORY, "noapis").dependsOn).toEqual([]);
  });
});
