import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/provider-build";
import { ProviderCallError, ProviderHost, secret } from "../helpers/provider-host";
import { apiJob, apiJobs, nodeJob, plan, up } from "../helpers/provider-jobs";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// The whole life of a TrainingJob, through the real dynamic provider host, against a real Train
// API on loopback running `local` jobs as real processes.

let api: TrainApi;
let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  api = await startTrainApi();
  host = await ProviderHost.start({
    config: {
      "trainkit:apiUrl": api.url,
      "trainkit:apiKey": secret(api.apiKey),
      "trainkit:accountId": api.accountId,
    },
  });
});

afterAll(async () => {
  await host?.close();
  await api?.close();
});

const SLEEP_60S = "setTimeout(() => {}, 60000)";

describe("a TrainingJob through the provider host", () => {
  it("is submitted by create, and a refresh then reads it IN_PROGRESS", async () => {
    const { registration, inputs, state } = await up(host, nodeJob("refresh-me", SLEEP_60S));
    expect(state.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(state.outputs).toMatchObject({ jobId: state.id, backend: "local", name: "refresh-me" });
    expect(["PENDING", "IN_PROGRESS"]).toContain(state.outputs.status);

    let refreshed = await host.read(state.id, registration.urn, state.outputs, inputs);
    for (let i = 0; i < 50 && refreshed?.outputs.status === "PENDING"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      refreshed = await host.read(state.id, registration.urn, state.outputs, inputs);
    }
    expect(refreshed?.outputs).toMatchObject({ jobId: state.id, status: "IN_PROGRESS", name: "refresh-me" });
    await host.delete(state.id, registration.urn, state.outputs);
  });

  it("with waitFor completed returns only once the job is COMPLETED", async () => {
    const { state } = await up(
      host,
      nodeJob("finish-me", "setTimeout(() => {}, 1000)", { waitFor: "completed" }),
    );
    expect(state.outputs.status).toBe("COMPLETED");
    expect((await apiJob(api, state.id)).status).toBe("COMPLETED");
  });

  it("with waitFor running returns once the job left PENDING", async () => {
    const { registration, state } = await up(host, nodeJob("start-me", SLEEP_60S, { waitFor: "running" }));
    expect(state.outputs.status).toBe("IN_PROGRESS");
    await host.delete(state.id, registration.urn, state.outputs);
  });

  it("cancels a running job on delete", async () => {
    const { registration, state } = await up(host, nodeJob("cancel-me", SLEEP_60S, { waitFor: "running" }));
    await host.delete(state.id, registration.urn, state.outputs);
    expect((await apiJob(api, state.id)).status).toBe("CANCELED");
  });

  it("treats deleting a job that already ended, or that the API never knew, as done", async () => {
    const { registration, state } = await up(host, nodeJob("done-already", "0", { waitFor: "completed" }));
    await expect(host.delete(state.id, registration.urn, state.outputs)).resolves.toBeUndefined();
    const unknownId = randomUUID();
    await expect(
      host.delete(unknownId, registration.urn, { ...state.outputs, jobId: unknownId }),
    ).resolves.toBeUndefined();
    expect((await apiJob(api, state.id)).status).toBe("COMPLETED");
  });

  it("reports a failed job under waitFor completed as an initialization error that keeps the job id", async () => {
    const failure = await up(host, nodeJob("fail-me", "process.exit(3)", { waitFor: "completed" })).catch(
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(ProviderCallError);
    const init = (failure as ProviderCallError).initFailed;
    expect(init?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(init?.properties).toMatchObject({ jobId: init?.id, status: "FAILED", name: "fail-me" });
    expect(init?.reasons[0]).toContain(`job ${init?.id} (fail-me) ended FAILED`);
    expect((await apiJob(api, init!.id)).status).toBe("FAILED");
  });

  it("keeps the provider in the state of a failed create, so destroy can still run", async () => {
    const failure = (await up(
      host,
      nodeJob("fail-then-destroy", "process.exit(1)", { waitFor: "completed" }),
    ).catch((err: unknown) => err)) as ProviderCallError;
    const properties = failure.initFailed!.properties;
    expect(typeof properties.__provider).toBe("string");
    await expect(host.delete(failure.initFailed!.id, "urn:x", properties)).resolves.toBeUndefined();
  });

  it("reports a wait that timed out as an initialization error, and the job keeps running", async () => {
    const failure = (await up(
      host,
      nodeJob("slow", SLEEP_60S, { waitFor: "completed", waitTimeoutSeconds: 1 }),
    ).catch((err: unknown) => err)) as ProviderCallError;
    const init = failure.initFailed!;
    expect(init.reasons[0]).toContain("after 1 s of waiting for it to be completed");
    expect(["PENDING", "IN_PROGRESS"]).toContain((await apiJob(api, init.id)).status);
    await host.delete(init.id, "urn:x", init.properties);
    expect((await apiJob(api, init.id)).status).toBe("CANCELED");
  });

  it("drops a job the API no longer knows on refresh", async () => {
    const { registration, inputs, state } = await up(
      host,
      nodeJob("vanishing", "0", { waitFor: "completed" }),
    );
    const missing = randomUUID();
    const refreshed = await host.read(
      missing,
      registration.urn,
      { ...state.outputs, jobId: missing },
      inputs,
    );
    expect(refreshed).toBeUndefined();
  });

  it("updates the watch settings in place without submitting another job", async () => {
    const { registration, state } = await up(host, nodeJob("watch-change", "setTimeout(() => {}, 1500)"));
    const { inputs: newInputs } = await plan(
      host,
      nodeJob("watch-change", "setTimeout(() => {}, 1500)", { waitFor: "completed" }),
    );
    const diff = await host.diff(state.id, registration.urn, state.outputs, newInputs);
    expect(diff).toEqual({ changes: "some", replaces: [], deleteBeforeReplace: false });
    const updated = await host.update(state.id, registration.urn, state.outputs, newInputs);
    expect(updated.outputs).toMatchObject({ jobId: state.id, status: "COMPLETED", waitFor: "completed" });
    expect((await apiJobs(api)).filter((j) => j.name === "watch-change")).toHaveLength(1);
  });

  it("fails create at once, with the server's reason, when the API refuses the key", async () => {
    const wrongKey = `tk_wrong_${randomUUID()}`;
    const failure = (await up(host, nodeJob("refused", "0", { apiKey: wrongKey })).catch(
      (err: unknown) => err,
    )) as ProviderCallError;
    expect(failure.initFailed).toBeUndefined();
    expect(failure.message).toMatch(/answered 401 \w+: /);
    expect(failure.message).not.toContain(wrongKey);
    expect(host.logs).not.toContain(wrongKey);
  });
});
