import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrainingJobArgs } from "../../src/job";
import { FakeSimplismart, vendorHost } from "../helpers/fake-vendors";
import { ensureBuilt } from "../helpers/provider-build";
import { ProviderCallError, type ProviderHost, plaintextOccurrences } from "../helpers/provider-host";
import { up } from "../helpers/provider-jobs";
import { simplismartForm } from "../helpers/vendor-examples";

// A TrainingJob sent to Simplismart's training suite, through the real provider host, against a
// loopback fake written from Simplismart's document (with the reads and cancel trainkit infers) that
// decodes the multipart form as a server would: it checks trainkit's requests and reactions, not
// Simplismart's real behaviour. Lost answers are in recovery.test.ts.

const KEY = "ss_token_never_shown_5e1d";
let fake: FakeSimplismart;
let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  fake = await FakeSimplismart.start(KEY);
  host = await vendorHost("simplismart", fake);
});

afterAll(async () => {
  await host?.close();
  await fake?.close();
});

const JSON_FIELDS = [
  "dataset_config",
  "model_details",
  "train_config",
  "dataset_details",
  "infra_config",
] as const;

function seedJob(extra: Partial<TrainingJobArgs<"simplismart">> = {}): TrainingJobArgs<"simplismart"> {
  const name = (extra.name as string | undefined) ?? simplismartForm.experiment_name;
  return {
    backend: "simplismart",
    name,
    jobConfig: { ...simplismartForm, experiment_name: name },
    ...extra,
  };
}

describe("a Simplismart TrainingJob", () => {
  it("is created by posting Simplismart's documented form to /job/ as multipart with a Bearer token", async () => {
    const before = fake.received("POST", /^\/job\/$/).length;
    const { state } = await up(host, seedJob());
    const [post] = fake.received("POST", /^\/job\/$/).slice(before);
    expect(post?.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(post?.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/);
    const form = fake.lastForm!;
    expect(Object.keys(form)).toEqual(["org", "experiment_name", ...JSON_FIELDS]);
    expect(form.org).toBe("0bf00b43-430a-4ca3-a8b3-b13cc8dc6d4f");
    expect(form.experiment_name).toMatch(/^launch-simplismart-causal_lm-lora-[0-9a-f]{8}$/);
    for (const field of JSON_FIELDS) {
      expect(JSON.parse(form[field]!), field).toEqual(JSON.parse(simplismartForm[field]));
    }
    expect(JSON.parse(form.train_config!).adapter_config).toEqual({
      r: 16,
      alpha: 16,
      dropout: 0.1,
      targets: ["all-linear"],
    });
    expect(JSON.parse(form.train_config!).distributed).toEqual({ type: "ddp" });
    expect(state.outputs).toMatchObject({
      jobId: state.id,
      status: "PENDING",
      cloudJobIdentifier: { request_id: state.id, experiment_name: form.experiment_name },
    });
  });

  it("keeps the JSON fields as objects in its state, however they were written", async () => {
    const { inputs } = await up(host, seedJob());
    expect((inputs.jobConfig as Record<string, unknown>).infra_config).toEqual({
      gpu_type: "h100",
      gpu_count: 2,
      infra_type: "simplismart",
      node_count: 2,
    });
  });

  it.each([
    ["QUEUED", "PENDING"],
    ["RUNNING", "IN_PROGRESS"],
    ["COMPLETED", "COMPLETED"],
    ["FAILED", "FAILED"],
    ["CANCELED", "CANCELED"],
  ])("reads Simplismart's %s as %s on refresh", async (vendorStatus, status) => {
    const { registration, inputs, state } = await up(host, seedJob());
    fake.set(state.id, { status: vendorStatus });
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(read?.outputs).toMatchObject({ jobId: state.id, status });
  });

  it("cancels a running job on delete", async () => {
    const { registration, state } = await up(host, seedJob());
    fake.set(state.id, { status: "RUNNING" });
    await host.delete(state.id, registration.urn, state.outputs);
    expect(fake.received("POST", new RegExp(`^/job/${state.id}/cancel/$`))).toHaveLength(1);
    expect(fake.jobs.get(state.id)?.fields.status).toBe("CANCELED");
  });

  it("reports a job that fails under waitFor completed with its id, not taking the submission message for a reason", async () => {
    fake.plan = [{ status: "RUNNING" }, { status: "FAILED" }];
    const failure = (await up(host, seedJob({ waitFor: "completed" })).catch(
      (e: unknown) => e,
    )) as ProviderCallError;
    expect(failure).toBeInstanceOf(ProviderCallError);
    const init = failure.initFailed!;
    expect(fake.jobs.get(init.id)?.fields.message).toBe("Training job submitted successfully.");
    expect(init.reasons[0]).toMatch(
      new RegExp(`job ${init.id} \\(launch-simplismart-causal_lm-lora-[0-9a-f]{8}\\) ended FAILED; `),
    );
    expect(init.reasons[0]).not.toContain("submitted successfully");
    expect(init.properties).toMatchObject({ jobId: init.id, status: "FAILED" });
    expect(init.properties.failureReason).toBeUndefined();
  });

  it("passes Simplismart's refusal on to the user with its reason, without the token", async () => {
    const wrong = "ss_wrong_token_1111";
    const failure = (await up(host, seedJob({ apiKey: wrong })).catch(
      (e: unknown) => e,
    )) as ProviderCallError;
    expect(failure.message).toContain("/job/ answered 401 Authentication credentials were not provided.");
    expect(failure.message).not.toContain(wrong);
    expect(host.logs).not.toContain(wrong);
  });
});

describe("the Simplismart token", () => {
  it("given as an input comes back only under the secret apiKey output", async () => {
    const { state } = await up(host, seedJob({ apiKey: KEY }));
    expect(plaintextOccurrences(state.raw, KEY)).toEqual(["apiKey"]);
    expect(plaintextOccurrences(state.outputs, KEY)).toEqual([]);
  });
});
