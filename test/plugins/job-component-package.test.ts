import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobBackend, JobRetryEvent, JobWaitFor } from "../../src/job";
import { WAIT_FOR } from "../../src/job/provider";
import { BACKENDS, RETRY_EVENTS, VENDORS } from "../../src/spec";
import { ComponentHost, type PackageSchema } from "../helpers/component-host";
import { expectComponentsAsDeclared, expectTypesResolved, typeOf } from "../helpers/component-package";
import { declaredComponents } from "../helpers/component-sources";
import { FakeEngine } from "../helpers/fake-engine";
import { isSecret, plaintextOccurrences, REPO_ROOT } from "../helpers/provider-host";
import { published } from "../helpers/published";

// plugins/job served by Pulumi's own component provider host (`@pulumi/pulumi/cmd/run-plugin`, as the Node.js
// language host starts a PulumiPlugin.yaml folder), asked for its schema over gRPC and compared with what
// src/job declares. Construct is called as the engine calls it for a TrainingJobComponent declared in another
// language; the engine it talks back to is a stand-in (test/helpers/fake-engine.ts) that records registrations
// and echoes inputs as outputs, so these tests show what the component registers, not what a Train API does
// with the job (the TrainingJob provider's own tests cover that). No Pulumi CLI takes part.

const PKG = "trainkit-job";
const token = (name: string) => `${PKG}:index:${name}`;
const typeRef = (name: string) => `#/types/${token(name)}`;
const declared = declaredComponents("job");

let engine: FakeEngine;
let host: ComponentHost;
let schema: PackageSchema;

beforeAll(async () => {
  engine = await FakeEngine.start("jobs", "dev");
  host = await ComponentHost.start("plugins/job", engine.address);
  schema = await host.getSchema();
}, 600_000);

afterAll(async () => {
  await host?.close();
  await engine?.close();
});

describe("TrainingJobComponent's enums", () => {
  it("hold exactly the backends and vendors, wait points and retry events TrainingJob knows", () => {
    expect(Object.values(JobBackend)).toEqual([...BACKENDS, ...VENDORS]);
    expect(Object.values(JobWaitFor)).toEqual([...WAIT_FOR]);
    expect(Object.values(JobRetryEvent)).toEqual([...RETRY_EVENTS]);
  });
});

describe("the job component package served by Pulumi's component provider host", () => {
  it("is named after plugins/job/package.json and depends on no provider package", () => {
    expect(schema.name).toBe(PKG);
    expect(schema.version).toBe("0.1.0");
    expect(schema.dependencies ?? []).toEqual([]);
  });

  it("holds TrainingJobComponent, the one component src/job exports, with its inputs, outputs and JSDoc", () => {
    expect(declared.map((c) => c.name)).toEqual(["TrainingJobComponent"]);
    expectComponentsAsDeclared(schema, PKG, declared);
  });

  it("resolves every type reference, and types and describes every property of every object type", () => {
    expectTypesResolved(schema);
  });

  it("takes the backend, waitFor and retry events as enums, the job body as a free-form map, mounts and retries as named types", () => {
    const inputs = schema.resources[token("TrainingJobComponent")]?.inputProperties ?? {};
    expect(typeOf(schema, inputs.backend?.$ref).enum?.map((m) => m.value)).toEqual([...BACKENDS, ...VENDORS]);
    expect(typeOf(schema, inputs.waitFor?.$ref).enum?.map((m) => m.value)).toEqual([...WAIT_FOR]);
    expect(inputs.jobConfig).toMatchObject({
      type: "object",
      additionalProperties: { $ref: "pulumi.json#/Any" },
    });
    expect(inputs.storageMounts?.items?.$ref).toBe(typeRef("JobStorageMountArgs"));
    const retry = typeOf(schema, inputs.retryPolicy?.$ref);
    expect(retry.required?.sort()).toEqual(["maxRestarts", "on"]);
    expect(typeOf(schema, retry.properties?.on?.items?.$ref).enum?.map((m) => m.value)).toEqual([
      ...RETRY_EVENTS,
    ]);
    expect(inputs.apiKey?.type).toBe("string");
  });

  it("declares the job's id, status and times as outputs always present, and the rest as optional", () => {
    const resource = schema.resources[token("TrainingJobComponent")];
    expect(resource?.required?.sort()).toEqual(["createdAt", "jobId", "status", "updatedAt"]);
    expect(typeOf(schema, resource?.properties?.attempts?.items?.$ref).properties?.end?.$ref).toBe(
      typeRef("JobAttemptEnd"),
    );
  });
});

describe("Construct of a TrainingJobComponent, as a program in another language declares it", () => {
  const KEY = "tk_live_0123456789abcdef";
  const jobConfig = {
    worker_pool_specs: [
      {
        machine_spec: { machine_type: "g2-standard-8", accelerator_type: "NVIDIA_L4", accelerator_count: 1 },
        replica_count: 1,
        container_spec: { image_uri: "us-docker.pkg.dev/p/r/train:1" },
      },
    ],
  };

  it("registers one TrainingJob dynamic resource under the component, with the inputs as given", async () => {
    const { urn, state } = await host.construct({
      type: token("TrainingJobComponent"),
      name: "mnist",
      inputs: {
        backend: "vertex-ai",
        name: "mnist-l4",
        jobConfig,
        apiUrl: "http://127.0.0.1:8080",
        // A plain string, as a program that does not use config secrets would send it.
        apiKey: KEY,
        waitFor: "running",
        retryPolicy: { maxRestarts: 3, on: ["preemption"] },
      },
      project: "jobs",
      stack: "dev",
      config: {},
      monitor: engine.address,
    });
    expect(urn).toBe("urn:pulumi:dev::jobs::trainkit:job:TrainingJobComponent::mnist");
    const job = engine.registered.find((r) => r.custom && r.name === "mnist");
    expect(job?.parent).toBe(urn);
    expect(job?.type).toBe("pulumi-nodejs:dynamic/trainkit:TrainingJob");
    expect(job?.inputs).toMatchObject({
      backend: "vertex-ai",
      name: "mnist-l4",
      jobConfig,
      apiUrl: "http://127.0.0.1:8080",
      waitFor: "running",
      retryPolicy: { maxRestarts: 3, on: ["preemption"] },
    });
    expect(typeof job?.inputs.__provider).toBe("string");
    // The stand-in echoes the inputs, so of the job's own outputs only those the inputs carry come back.
    const outputs = Object.keys(schema.resources[token("TrainingJobComponent")]?.properties ?? {});
    for (const key of Object.keys(state)) expect(outputs).toContain(key);
  });

  it("makes the API key secret in the job's inputs although it arrived as plain text, and writes it nowhere else", () => {
    const job = engine.registered.find((r) => r.custom && r.name === "mnist");
    expect(isSecret(job?.inputs.apiKey)).toBe(true);
    expect((job?.inputs.apiKey as { value?: string } | undefined)?.value).toBe(KEY);
    const plaintext = engine.registered.flatMap((r) =>
      plaintextOccurrences(r.inputs, KEY).map((at) => `${r.type} ${r.name}: ${at}`),
    );
    expect(plaintext).toEqual([]);
  });

  it("refuses a backend it does not know, listing the ones it does", async () => {
    await expect(
      host.construct({
        type: token("TrainingJobComponent"),
        name: "odd",
        inputs: { backend: "modal", name: "odd", jobConfig: {} },
        project: "jobs",
        stack: "dev",
        config: {},
        monitor: engine.address,
      }),
    ).rejects.toThrow(
      /TrainingJobComponent odd: backend must be one of vertex-ai, sagemaker, azure-ml, kubernetes, local, baseten, tensorone, customtraining, simplismart; got modal/,
    );
  });
});

describe("where the job's dynamic provider runs (why the README asks for trainkit in the program's folder)", () => {
  const fact = published<{ excerpt: string; pulumiVersion: string; scriptLine: string }>(
    "pulumi/dynamic-provider-cwd.json",
  );

  it("the installed @pulumi/pulumi's plugin script finds the dynamic provider host from its working directory", () => {
    const pkg = path.join(REPO_ROOT, "node_modules/@pulumi/pulumi");
    const version = (JSON.parse(readFileSync(path.join(pkg, "package.json"), "utf8")) as { version: string })
      .version;
    expect(version).toBe(fact.pulumiVersion);
    const script = readFileSync(path.join(pkg, "pulumi-resource-pulumi-nodejs"), "utf8");
    expect(script.split("\n")).toContain(fact.scriptLine);
    // ...and the engine starts that script in the program's directory (pulumi/pulumi#5455).
    expect(fact.excerpt).toContain("the dir of the Pulumi program");
  });
});
