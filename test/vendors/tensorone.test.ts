import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrainingJobArgs } from "../../src/job";
import { FakeTensorOne, vendorHost } from "../helpers/fake-vendors";
import { ensureBuilt } from "../helpers/provider-build";
import { ProviderCallError, type ProviderHost, plaintextOccurrences } from "../helpers/provider-host";
import { plan, up } from "../helpers/provider-jobs";
import { tensorOneLlmExample, tensorOneReferenceExample } from "../helpers/vendor-examples";

// A TrainingJob sent to TensorOne's training API, through the real provider host, against a loopback
// fake written from TensorOne's document: it checks trainkit's requests and reactions, not
// TensorOne's real behaviour. Lost answers are in recovery.test.ts.

const KEY = "t1_key_never_shown_91ac";
let fake: FakeTensorOne;
let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  fake = await FakeTensorOne.start(KEY);
  host = await vendorHost("tensorone", fake);
});

afterAll(async () => {
  await host?.close();
  await fake?.close();
});

const JOBS = /^\/v2\/training\/jobs$/;

function llmJob(
  extra: Partial<TrainingJobArgs<"tensorone">> = {},
  config: Record<string, unknown> = {},
): TrainingJobArgs<"tensorone"> {
  const name = extra.name ?? tensorOneLlmExample.name;
  return {
    backend: "tensorone",
    name,
    jobConfig: { ...tensorOneLlmExample, name, ...config } as TrainingJobArgs<"tensorone">["jobConfig"],
    ...extra,
  };
}

async function refusal(args: TrainingJobArgs<"tensorone">): Promise<ProviderCallError> {
  const failure = await up(host, args).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ProviderCallError);
  return failure as ProviderCallError;
}

describe("a TensorOne TrainingJob", () => {
  it("is created by posting TensorOne's documented fine-tuning example with a Bearer key", async () => {
    const before = fake.received("POST", JOBS).length;
    const { state } = await up(host, llmJob());
    const [post] = fake.received("POST", JOBS).slice(before);
    expect(post?.headers.authorization).toBe(`Bearer ${KEY}`);
    const sent = post?.json as typeof tensorOneLlmExample;
    expect(sent.name).toMatch(/^llama-7b-finetune-[0-9a-f]{8}$/);
    expect(sent.modelType).toBe("llm");
    expect(sent.datasetId).toBe("ds_1234567890abcdef");
    expect(sent.config.parameters).toEqual({
      rank: 16,
      alpha: 32,
      dropout: 0.1,
      target_modules: ["q_proj", "v_proj", "k_proj", "o_proj"],
    });
    expect(sent.config.training.learning_rate).toBe(2e-4);
    expect(sent).toEqual({ ...tensorOneLlmExample, name: sent.name });
    expect(state.outputs).toMatchObject({
      jobId: state.id,
      status: "PENDING",
      cloudJobIdentifier: { job_id: state.id, name: sent.name },
    });
  });

  it("takes the reference form of the body too, named by name", async () => {
    const before = fake.received("POST", JOBS).length;
    const { name: _, ...unnamed } = tensorOneReferenceExample;
    await up(host, { backend: "tensorone", name: "reference-form", jobConfig: unnamed });
    const [post] = fake.received("POST", JOBS).slice(before);
    const sent = post?.json as { name: string };
    expect(sent.name).toMatch(/^reference-form-[0-9a-f]{8}$/);
    expect(sent).toEqual({ ...tensorOneReferenceExample, name: sent.name });
  });

  it.each([
    ["queued", "PENDING"],
    ["pending", "PENDING"],
    ["running", "IN_PROGRESS"],
    ["completed", "COMPLETED"],
    ["failed", "FAILED"],
    ["cancelled", "CANCELED"],
    ["stopped", "CANCELED"],
  ])("reads TensorOne's %s as %s on refresh", async (vendorStatus, status) => {
    const { registration, inputs, state } = await up(host, llmJob());
    fake.set(state.id, { status: vendorStatus });
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(read?.outputs).toMatchObject({ jobId: state.id, status });
  });

  it("stops a running job on delete, asking TensorOne to save a checkpoint", async () => {
    const { registration, state } = await up(host, llmJob());
    fake.set(state.id, { status: "running" });
    await host.delete(state.id, registration.urn, state.outputs);
    const [stop] = fake.received("POST", new RegExp(`/jobs/${state.id}/stop$`));
    expect(stop?.json).toMatchObject({ saveCheckpoint: true });
    expect(fake.jobs.get(state.id)?.fields.status).toBe("stopped");
  });

  it("reports a job that fails under waitFor completed with TensorOne's error code, message and details", async () => {
    const error = {
      error: "INSUFFICIENT_RESOURCES",
      message: "Requested GPU type not available",
      details: { requestedGpuType: "a100" },
    };
    fake.plan = [{ status: "running" }, { status: "failed", error }];
    const failure = await refusal(llmJob({ waitFor: "completed" }));
    const init = failure.initFailed!;
    expect(init.id).toMatch(/^job_\d+$/);
    const reason = 'INSUFFICIENT_RESOURCES: Requested GPU type not available (requestedGpuType: "a100")';
    expect(init.reasons[0]).toContain(`ended FAILED: ${reason}`);
    expect(init.properties).toMatchObject({ jobId: init.id, status: "FAILED", failureReason: reason });
  });

  it("keeps TensorOne's message when a failed job spreads the error shape over its own fields", async () => {
    const { registration, inputs, state } = await up(host, llmJob());
    fake.set(state.id, {
      status: "failed",
      error: "DATASET_NOT_FOUND",
      message: "Dataset with specified ID does not exist",
    });
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(read?.outputs.failureReason).toBe("DATASET_NOT_FOUND: Dataset with specified ID does not exist");
  });
});

describe("TensorOne's error codes", () => {
  it("DATASET_NOT_FOUND reaches the user with TensorOne's message, the dataset and what to check", async () => {
    const failure = await refusal(llmJob({}, { datasetId: "ds_invalid_id" }));
    expect(failure.initFailed).toBeUndefined();
    expect(failure.message).toContain(
      'answered 404 DATASET_NOT_FOUND: Dataset with specified ID does not exist (datasetId: "ds_invalid_id")',
    );
    expect(failure.message).toContain("check the dataset id in jobConfig");
  });

  it("INSUFFICIENT_RESOURCES reaches the user with the GPU types TensorOne has", async () => {
    const failure = await refusal(llmJob({}, { gpuType: "h100" }));
    expect(failure.message).toContain(
      'answered 409 INSUFFICIENT_RESOURCES: Requested GPU type not available (requestedGpuType: "h100"; ' +
        'availableGpuTypes: ["a100","v100","rtx4090"])',
    );
    expect(failure.message).toContain("choose another GPU type in jobConfig, or try again later");
  });

  it("CONFIGURATION_ERROR reaches the user pointing at the jobConfig field TensorOne named", async () => {
    fake.cloud.failNext((r) => r.method === "POST" && JOBS.test(r.path), {
      respond: {
        status: 400,
        body: {
          error: "CONFIGURATION_ERROR",
          message: "Invalid training configuration",
          details: {
            field: "config.training.learning_rate",
            reason: "Learning rate must be between 1e-6 and 1e-1",
          },
        },
      },
    });
    const failure = await refusal(llmJob());
    expect(failure.message).toContain("answered 400 CONFIGURATION_ERROR: Invalid training configuration");
    expect(failure.message).toContain('reason: "Learning rate must be between 1e-6 and 1e-1"');
    expect(failure.message).toContain("fix jobConfig.config.training.learning_rate in the TrainingJob");
    expect(failure.message).not.toContain(KEY);
  });
});

describe("a stopped TensorOne job (against a fake modelling TensorOne's documented /stop and /resume)", () => {
  it("is tracked again on refresh once it is resumed outside Pulumi, and stopped again on destroy", async () => {
    const { registration, inputs, state } = await up(host, llmJob());
    fake.set(state.id, { status: "stopped" });
    const stopped = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(stopped?.outputs).toMatchObject({ status: "CANCELED", vendorStatus: "stopped" });
    fake.set(state.id, { status: "running" });
    const resumed = await host.read(state.id, registration.urn, stopped!.outputs, inputs);
    expect(resumed?.outputs).toMatchObject({ status: "IN_PROGRESS", vendorStatus: "running" });
    await host.delete(state.id, registration.urn, resumed!.outputs);
    expect(fake.received("POST", new RegExp(`/jobs/${state.id}/stop$`))).toHaveLength(1);
    expect(fake.jobs.get(state.id)?.fields.status).toBe("stopped");
  });

  it("is resumed from its latest checkpoint by `pulumi up` once resumeStopped is set, as an update", async () => {
    const { registration, inputs, state } = await up(host, llmJob());
    fake.set(state.id, {
      status: "stopped",
      checkpoints: [
        { id: "ckpt_epoch_2", createdAt: "2026-03-01T11:15:00Z" },
        { id: "ckpt_epoch_1", createdAt: "2026-03-01T10:15:00Z" },
      ],
    });
    const refreshed = await host.read(state.id, registration.urn, state.outputs, inputs);
    const asked = await plan(host, llmJob({ resumeStopped: true }));
    expect(await host.diff(state.id, registration.urn, refreshed!.outputs, asked.inputs)).toEqual({
      changes: "some",
      replaces: [],
      deleteBeforeReplace: false,
    });
    const updated = await host.update(state.id, registration.urn, refreshed!.outputs, asked.inputs);
    const [resume] = fake.received("POST", new RegExp(`/jobs/${state.id}/resume$`));
    expect(resume?.json).toEqual({ checkpointId: "ckpt_epoch_2" });
    expect(updated.outputs).toMatchObject({
      status: "IN_PROGRESS",
      vendorStatus: "running",
      resumeStopped: true,
    });
    expect(await host.diff(state.id, registration.urn, updated.outputs, asked.inputs)).toMatchObject({
      changes: "none",
    });
    fake.set(state.id, { status: "stopped" });
    const stoppedAgain = await host.read(state.id, registration.urn, updated.outputs, asked.inputs);
    expect(await host.diff(state.id, registration.urn, stoppedAgain!.outputs, asked.inputs)).toMatchObject({
      changes: "some",
      replaces: [],
    });
  });

  it("is not resumed without a checkpoint, and the update says why", async () => {
    const { registration, inputs, state } = await up(host, llmJob());
    fake.set(state.id, { status: "stopped" });
    const refreshed = await host.read(state.id, registration.urn, state.outputs, inputs);
    const asked = await plan(host, llmJob({ resumeStopped: true }));
    const failure = await host
      .update(state.id, registration.urn, refreshed!.outputs, asked.inputs)
      .catch((e: unknown) => e);
    expect(String(failure)).toContain(`job ${state.id} has no checkpoint to resume from`);
    expect(fake.received("POST", new RegExp(`/jobs/${state.id}/resume$`))).toHaveLength(0);
  });

  it("leaves a stopped job stopped when resumeStopped is not set", async () => {
    const { registration, inputs, state } = await up(host, llmJob());
    fake.set(state.id, { status: "stopped", checkpoints: [{ id: "ckpt_1" }] });
    const refreshed = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(await host.diff(state.id, registration.urn, refreshed!.outputs, inputs)).toMatchObject({
      changes: "none",
    });
  });
});

describe("the TensorOne key", () => {
  it("given as an input comes back only under the secret apiKey output", async () => {
    const { state } = await up(host, llmJob({ apiKey: KEY }));
    expect(plaintextOccurrences(state.raw, KEY)).toEqual(["apiKey"]);
    expect(plaintextOccurrences(state.outputs, KEY)).toEqual([]);
    expect(host.logs).not.toContain(KEY);
  });
});
