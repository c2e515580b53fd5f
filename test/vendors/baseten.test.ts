import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrainingJob, type TrainingJobArgs } from "../../src/job";
import { FakeBaseten, vendorHost } from "../helpers/fake-vendors";
import { ensureBuilt } from "../helpers/provider-build";
import {
  ProviderCallError,
  type ProviderHost,
  plaintextOccurrences,
  registerWithMocks,
  serializedProvider,
} from "../helpers/provider-host";
import { up } from "../helpers/provider-jobs";
import { basetenExample } from "../helpers/vendor-examples";

// A TrainingJob sent to Baseten's training API, through the real provider host, against a loopback
// fake written from Baseten's document (with the reads and stop trainkit infers): it checks trainkit's
// requests and reactions, not Baseten's real behaviour. Lost answers are in recovery.test.ts.

const KEY = "bt_key_never_shown_7f3a";
let fake: FakeBaseten;
let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  fake = await FakeBaseten.start(KEY);
  host = await vendorHost("baseten", fake);
});

afterAll(async () => {
  await host?.close();
  await fake?.close();
});

const JOBS = /^\/v1\/training_projects\/proj-1\/jobs$/;

function seedJob(extra: Partial<TrainingJobArgs<"baseten">> = {}): TrainingJobArgs<"baseten"> {
  return {
    backend: "baseten",
    name: "gpt-oss-job",
    jobConfig: { training_project_id: "proj-1", ...basetenExample },
    ...extra,
  };
}

describe("a Baseten TrainingJob", () => {
  it("is created by posting Baseten's documented example to the project's jobs with the Api-Key header", async () => {
    const before = fake.received("POST", JOBS).length;
    const { state } = await up(host, seedJob());
    const [post] = fake.received("POST", JOBS).slice(before);
    expect(post?.headers.authorization).toBe(`Api-Key ${KEY}`);
    expect(post?.headers["content-type"]).toBe("application/json");
    const sent = post?.json as typeof basetenExample;
    expect(sent.training_job.image).toEqual({ base_image: "hello-world", docker_auth: null });
    expect(sent.training_job.compute).toEqual({
      node_count: 1,
      cpu_count: 1,
      memory: "2Gi",
      accelerator: { accelerator: "H100", count: 2 },
    });
    expect(sent.training_job.runtime).toEqual(basetenExample.training_job.runtime);
    expect(sent.training_job.weights).toEqual(basetenExample.training_job.weights);
    expect(sent.training_job.name).toMatch(/^gpt-oss-job-[0-9a-f]{8}$/);
    expect(sent).toEqual({
      training_job: { ...basetenExample.training_job, name: sent.training_job.name },
    });
    expect(state.outputs).toMatchObject({
      jobId: state.id,
      status: "PENDING",
      backend: "baseten",
      cloudJobIdentifier: {
        training_project_id: "proj-1",
        training_job_id: state.id,
        training_job_name: sent.training_job.name,
      },
    });
    expect(state.id).toBe(fake.jobs.get(state.id)?.fields.id);
  });

  it("writes name, with the submission's mark, into training_job.name when jobConfig leaves it out", async () => {
    const { name: _, ...unnamed } = basetenExample.training_job;
    const { state } = await up(
      host,
      seedJob({ name: "unnamed-job", jobConfig: { training_project_id: "proj-1", training_job: unnamed } }),
    );
    expect(fake.jobs.get(state.id)?.fields.name).toMatch(/^unnamed-job-[0-9a-f]{8}$/);
  });

  it.each([
    ["TRAINING_JOB_CREATED", "PENDING"],
    ["TRAINING_JOB_DEPLOYING", "PENDING"],
    ["TRAINING_JOB_RUNNING", "IN_PROGRESS"],
    ["TRAINING_JOB_COMPLETED", "COMPLETED"],
    ["TRAINING_JOB_FAILED", "FAILED"],
    ["TRAINING_JOB_DEPLOY_FAILED", "FAILED"],
    ["TRAINING_JOB_STOPPED", "CANCELED"],
  ])("reads Baseten's %s as %s on refresh", async (vendorStatus, status) => {
    const { registration, inputs, state } = await up(host, seedJob());
    fake.set(state.id, { current_status: vendorStatus });
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(read?.outputs).toMatchObject({ jobId: state.id, status });
  });

  it("stops a running job on delete", async () => {
    const { registration, state } = await up(host, seedJob());
    fake.set(state.id, { current_status: "TRAINING_JOB_RUNNING" });
    await host.delete(state.id, registration.urn, state.outputs);
    expect(fake.received("POST", new RegExp(`/jobs/${state.id}/stop$`))).toHaveLength(1);
    expect(fake.jobs.get(state.id)?.fields.current_status).toBe("TRAINING_JOB_STOPPED");
  });

  it("sends no stop for a job that already ended", async () => {
    const { registration, state } = await up(host, seedJob());
    fake.set(state.id, { current_status: "TRAINING_JOB_COMPLETED" });
    await host.delete(state.id, registration.urn, state.outputs);
    expect(fake.received("POST", /\/stop$/).filter((r) => r.path.includes(state.id))).toHaveLength(0);
    expect(fake.jobs.get(state.id)?.fields.current_status).toBe("TRAINING_JOB_COMPLETED");
  });

  it("does not take 404s from the read and stop it infers for proof that a job is gone", async () => {
    const { registration, state } = await up(host, seedJob());
    const failure = await host
      .delete("tj_missing", registration.urn, { ...state.outputs, jobId: "tj_missing" })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ProviderCallError);
    expect(String(failure)).toContain("job tj_missing may still be running");
    expect(String(failure)).toContain("Stop it in Baseten's training project proj-1 (job tj_missing)");
  });

  it("reports a job that fails under waitFor completed as an initialization error with its id and Baseten's message", async () => {
    fake.plan = [
      { current_status: "TRAINING_JOB_RUNNING" },
      { current_status: "TRAINING_JOB_FAILED", error_message: "CUDA out of memory" },
    ];
    const failure = (await up(host, seedJob({ waitFor: "completed" })).catch(
      (e: unknown) => e,
    )) as ProviderCallError;
    expect(failure).toBeInstanceOf(ProviderCallError);
    const init = failure.initFailed!;
    expect(init.id).toMatch(/^tj_\d+$/);
    expect(init.reasons[0]).toMatch(
      new RegExp(`job ${init.id} \\(gpt-oss-job-[0-9a-f]{8}\\) ended FAILED: CUDA out of memory`),
    );
    expect(init.properties).toMatchObject({
      jobId: init.id,
      status: "FAILED",
      failureReason: "CUDA out of memory",
    });
  });

  it("passes Baseten's refusal of a wrong key on to the user, without the key", async () => {
    const wrong = "bt_wrong_key_0000";
    const failure = (await up(host, seedJob({ apiKey: wrong })).catch(
      (e: unknown) => e,
    )) as ProviderCallError;
    expect(failure.message).toContain(`/v1/training_projects/proj-1/jobs answered 401 Invalid API key`);
    expect(failure.message).not.toContain(wrong);
    expect(host.logs).not.toContain(wrong);
  });
});

describe("the Baseten key", () => {
  it("is in neither the serialized provider nor, beyond the secret apiKey output, the returned properties", async () => {
    const [registration] = await registerWithMocks(() => new TrainingJob("job", seedJob({ apiKey: KEY })));
    expect(serializedProvider(registration!)).not.toContain(KEY);
    const { state } = await up(host, seedJob({ apiKey: KEY }));
    expect(plaintextOccurrences(state.raw, KEY)).toEqual(["apiKey"]);
    expect(plaintextOccurrences(state.outputs, KEY)).toEqual([]);
  });

  it("from stack config comes back in no property and no log line", async () => {
    const { registration, inputs, state } = await up(host, seedJob());
    const read = await host.read(state.id, registration.urn, state.outputs, inputs);
    expect(plaintextOccurrences(state.raw, KEY)).toEqual([]);
    expect(plaintextOccurrences(read!.raw, KEY)).toEqual([]);
    expect(host.logs).not.toContain(KEY);
  });
});

describe("a Baseten job's check", () => {
  it("rejects a training_job.name that differs from name, at its path", async () => {
    const failure = await up(host, seedJob({ name: "other-name" })).catch((e: unknown) => e);
    expect(String(failure)).toContain(
      '"property":"jobConfig.training_job.name","reason":"must equal name (\\"other-name\\") or be left out',
    );
  });
});
