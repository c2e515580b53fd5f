import { execFileSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { Bucket as AwsBucket } from "../../src/aws";
import { GpuCluster, Registry } from "../../src/gcp";
import { ensureBuilt } from "../helpers/provider-build";
import { REPO_ROOT } from "../helpers/provider-host";
import { gcpComputed, installPulumiMocks, outputValue } from "../helpers/pulumi-mocks";

// What the Pulumi CLI does with an error a program throws (cmd/run in @pulumi/pulumi): a ResourceError
// with hideStack set is logged as its message alone, against the URN of its resource; any other
// error is logged as "failed with an unhandled exception" followed by its stack.

function thrownBy(build: () => unknown): Error {
  try {
    build();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the component to refuse its arguments");
}

async function urnOf(resource: unknown): Promise<string> {
  expect(resource).toBeInstanceOf(pulumi.ComponentResource);
  return outputValue((resource as pulumi.ComponentResource).urn);
}

beforeAll(async () => {
  await installPulumiMocks({ computed: gcpComputed, config: { "gcp:project": "acme-ml" } });
});

describe("invalid component arguments", () => {
  it("are a pulumi.ResourceError attached to the component, with the stack hidden", async () => {
    const err = thrownBy(
      () => new GpuCluster("gpu", { location: "us-central1", releaseChannel: "NIGHTLY" as never }),
    );
    expect(pulumi.ResourceError.isInstance(err)).toBe(true);
    const resourceError = err as pulumi.ResourceError;
    expect(resourceError.hideStack).toBe(true);
    expect(err.message).toMatch(/^GpuCluster gpu: releaseChannel must be .*; got NIGHTLY$/);
    expect(await urnOf(resourceError.resource)).toMatch(/::trainkit:gcp:GpuCluster::gpu$/);
  });

  it("name the component they came from when several of one kind exist", async () => {
    new Registry("first", { location: "us-central1" });
    const err = thrownBy(() => new Registry("second", { location: "us-central1", keepRecentVersions: 0 }));
    expect(pulumi.ResourceError.isInstance(err)).toBe(true);
    expect(err.message).toMatch(/^Registry second: keepRecentVersions/);
    expect(await urnOf((err as pulumi.ResourceError).resource)).toMatch(/::trainkit:gcp:Registry::second$/);
  });

  it("hide the stack even where the sentence names a field rather than a component", () => {
    const err = thrownBy(
      () => new GpuCluster("pools", { location: "us-central1", gpuPools: [{ gpu: "nvidia-t4" } as never] }),
    );
    expect(pulumi.ResourceError.isInstance(err)).toBe(true);
    expect((err as pulumi.ResourceError).hideStack).toBe(true);
    expect(err.message).toMatch(/gpuPools\[0\]\.maxNodes/);
  });

  it("are the same for every cloud's components", async () => {
    const err = thrownBy(
      () => new AwsBucket("logs", { region: "us-east-1", noncurrentVersionRetentionDays: 0 }),
    );
    expect(pulumi.ResourceError.isInstance(err)).toBe(true);
    expect(await urnOf((err as pulumi.ResourceError).resource)).toMatch(/::trainkit:aws:Bucket::logs$/);
  });

  it("stay plain errors, without loading the Pulumi SDK, where the Train API checks a catalogue", () => {
    ensureBuilt();
    const script = `
      const { gcpMachineFor } = require("./dist/gpu.js");
      let err;
      try { gcpMachineFor("nvidia-l4", 3); } catch (e) { err = e; }
      const pulumiLoaded = Object.keys(require.cache).some((k) => k.includes("@pulumi/pulumi"));
      console.log(JSON.stringify({ name: err.name, plain: Object.getPrototypeOf(err).constructor.name, pulumiLoaded, message: err.message }));
    `;
    const out = JSON.parse(
      execFileSync(process.execPath, ["-e", script], { cwd: REPO_ROOT, encoding: "utf8" }),
    );
    expect(out).toMatchObject({ name: "ArgumentError", plain: "ArgumentError", pulumiLoaded: false });
    expect(out.message).toMatch(/NVIDIA_L4|nvidia-l4/);
  });
});
