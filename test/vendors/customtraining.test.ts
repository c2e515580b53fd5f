import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrainingJobArgs } from "../../src/job";
import { TrainingJob } from "../../src/job";
import { FakeCustomTraining, vendorHost } from "../helpers/fake-vendors";
import { ensureBuilt } from "../helpers/provider-build";
import {
  ProviderCallError,
  ProviderHost,
  plaintextOccurrences,
  registerWithMocks,
} from "../helpers/provider-host";
import { up } from "../helpers/provider-jobs";
import { customTrainingExample } from "../helpers/vendor-examples";

// A TrainingJob sent as a custom training run on a model registry, through the real provider host,
// against a loopback fake written from the API's document (with the reads and cancel trainkit
// infers): it checks trainkit's requests and reactions, not the real service's behaviour. Lost
// answers are in recovery.test.ts.

const KEY = "jwt.never.shown.c0ffee";
let fake: FakeCustomTraining;
let host: ProviderHost;
let models = 0;

beforeAll(async () => {
  ensureBuilt();
  fake = await FakeCustomTraining.start(KEY);
  host = await vendorHost("customtraining", fake);
});

afterAll(async () => {
  await host?.close();
  await fake?.close();
});

/** A model of its own per test, with train.py uploaded, since a model runs one training at a time. */
function model(scripts = ["train.py"]): string {
  models += 1;
  const id = `mdl-${models.toString().padStart(4, "0")}`;
  fake.scripts.set(id, scripts);
  return id;
}

function seedRun(modelId: string, extra: Partial<TrainingJobArgs<"customtraining">> = {}) {
  const name = (extra.name as string | undefined) ?? customTrainingExample.run_label;
  return {
    backend: "customtraining",
    name,
    jobConfig: { model_id: modelId, ...customTrainingExample, run_label: name },
    ...extra,
  } as TrainingJobArgs<"customtraining">;
}

async function refusal(args: TrainingJobArgs): Promise<ProviderCallError> {
  const failure = await up(host, args).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ProviderCallError);
  return failure as ProviderCallError;
}

describe("a custom training TrainingJob", () => {
  it("is created by posting the documented example to the model's custom/train with a Bearer token", async () => {
    const id = model();
    const { state } = await up(host, seedRun(id));
    const [post] = fake.received("POST", new RegExp(`^/api/v1/models/${id}/custom/train$`));
    expect(post?.headers.authorization).toBe(`Bearer ${KEY}`);
    const sent = post?.json as Record<string, unknown>;
    expect(sent.entry_point).toBe("train.py");
    expect(sent.runtime).toBe("python3.11");
    expect(sent.environment_vars).toEqual({ LEARNING_RATE: "0.001", EPOCHS: "50" });
    expect(sent.compute).toEqual({ cpu_cores: 4, memory_gb: 16, gpu: false });
    expect(sent.run_label).toMatch(/^custom-run-experiment-1-[0-9a-f]{8}$/);
    expect(sent.timeout_seconds).toBe(14400);
    expect(sent).toEqual({ ...customTrainingExample, run_label: sent.run_label });
    expect(state.outputs).toMatchObject({
      jobId: state.id,
      status: "PENDING",
      cloudJobIdentifier: { model_id: id, run_id: state.id, run_label: sent.run_label },
    });
  });

  it.each([
    ["queued", "PENDING"],
    ["running", "IN_PROGRESS"],
    ["completed", "COMPLETED"],
    ["failed", "FAILED"],
    ["canceled", "CANCELED"],
    ["timed_out", "EXPIRED"],
  ])("reads the run status %s as %s on refresh", async (vendorStatus, status) => {
    const { registration, inputs, state } = await up(host, seedRun(model()));
    fake.set(state.id, { status: vendorStatus });
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(read?.outputs).toMatchObject({ jobId: state.id, status });
  });

  it("cancels a running run on delete", async () => {
    const { registration, state } = await up(host, seedRun(model()));
    fake.set(state.id, { status: "running" });
    await host.delete(state.id, registration.urn, state.outputs);
    expect(fake.received("POST", new RegExp(`/custom/runs/${state.id}/cancel$`))).toHaveLength(1);
    expect(fake.jobs.get(state.id)?.fields.status).toBe("canceled");
  });

  it("reports a run that times out under waitFor completed as an initialization error with its id, and no reason the run object does not define", async () => {
    fake.plan = [{ status: "running" }, { status: "timed_out", error_message: "a field the document lacks" }];
    const failure = await refusal(seedRun(model(), { waitFor: "completed" }));
    const init = failure.initFailed!;
    expect(init.id).toMatch(/^run-custom-\d+$/);
    expect(init.reasons[0]).toMatch(
      new RegExp(`job ${init.id} \\(custom-run-experiment-1-[0-9a-f]{8}\\) ended EXPIRED; `),
    );
    expect(init.properties).toMatchObject({ jobId: init.id, status: "EXPIRED" });
    expect(init.properties.failureReason).toBeUndefined();
  });

  it("takes a label with spaces, as the run's label is human-readable", async () => {
    const { state } = await up(host, seedRun(model(), { name: "LoRA sweep 3 (lr 1e-4)" }));
    expect(fake.jobs.get(state.id)?.fields.run_label).toMatch(/^LoRA sweep 3 \(lr 1e-4\)-[0-9a-f]{8}$/);
  });
});

describe("the custom training API's refusals", () => {
  it("422 (no script asset) tells the user to upload the entry point", async () => {
    const id = model([]);
    const failure = await refusal(seedRun(id));
    expect(failure.message).toContain(
      `/api/v1/models/${id}/custom/train answered 422 Model ${id} has no uploaded script asset`,
    );
    expect(failure.message).toContain(
      `model ${id} has no uploaded script asset (asset_type "script") to run; upload the file jobConfig.entry_point names`,
    );
  });

  it("409 (a run in progress) tells the user to wait for it or cancel it", async () => {
    const id = model();
    await up(host, seedRun(id, { name: "first-run" }));
    const failure = await refusal(seedRun(id, { name: "second-run" }));
    expect(failure.message).toContain("answered 409 A training run is already in progress");
    expect(failure.message).toContain(
      `model ${id} already has a training run in progress and takes one at a time; wait for it to end or cancel it`,
    );
  });
});

describe("custom training settings", () => {
  it("has no default URL, so check names every way to set one", async () => {
    const bare = await ProviderHost.start();
    try {
      const [registration] = await registerWithMocks(
        () => new TrainingJob("job", seedRun("mdl-x", { apiKey: KEY })),
      );
      const { failures } = await bare.check(registration!.urn, {}, registration!.inputs);
      expect(failures).toEqual([
        {
          property: "apiUrl",
          reason:
            "is not set; pass apiUrl to the TrainingJob, run `pulumi config set trainkit:customtrainingApiUrl <url>`, " +
            "or set TRAINKIT_CUSTOMTRAINING_API_URL",
        },
      ]);
    } finally {
      await bare.close();
    }
  });

  it("keeps the token out of the state when it comes from stack config", async () => {
    const { state } = await up(host, seedRun(model()));
    expect(plaintextOccurrences(state.raw, KEY)).toEqual([]);
    expect(host.logs).not.toContain(KEY);
  });
});
