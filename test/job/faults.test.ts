import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/provider-build";
import { ProviderCallError, ProviderHost, secret } from "../helpers/provider-host";
import { apiJobs, nodeJob, up } from "../helpers/provider-jobs";
import { FaultProxy } from "../helpers/proxy";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// A fault-injecting proxy between the provider and the Train API. Whatever goes wrong on the wire,
// one `create` must leave exactly one job on the API.

let api: TrainApi;
let proxy: FaultProxy;
let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  api = await startTrainApi();
  proxy = await FaultProxy.start(api.url);
  host = await ProviderHost.start({
    config: {
      "trainkit:apiUrl": proxy.url,
      "trainkit:apiKey": secret(api.apiKey),
      "trainkit:accountId": api.accountId,
    },
  });
});

afterEach(() => {
  proxy.clearFaults();
});

afterAll(async () => {
  await host?.close();
  await proxy?.close();
  await api?.close();
});

const isSubmit = (method: string, path: string) => method === "POST" && path === "/v1/local/jobs";
const isPoll = (method: string, path: string) => method === "GET" && path.startsWith("/v1/jobs/");

async function jobsNamed(name: string) {
  return (await apiJobs(api)).filter((j) => j.name === name);
}

/** Job submissions the proxy saw after the first `before` of them. */
function submitsSince(before: number) {
  return proxy.seen.filter((r) => isSubmit(r.method, r.path)).slice(before);
}

describe("create behind a faulty network", () => {
  it("retries 500s that came after the API created the job, and leaves one job", async () => {
    const before = proxy.count(isSubmit);
    proxy.inject(isSubmit, [
      { kind: "status", status: 500, forward: true },
      { kind: "status", status: 503, forward: true },
    ]);
    const { state } = await up(host, nodeJob("after-500s", "0"));
    const submits = submitsSince(before);
    expect(submits).toHaveLength(3);
    expect(new Set(submits.map((s) => s.idempotencyKey)).size).toBe(1);
    expect((await jobsNamed("after-500s")).map((j) => j.id)).toEqual([state.id]);
  });

  it("waits as long as a 429's Retry-After asks before trying again", async () => {
    const before = proxy.count(isSubmit);
    proxy.inject(isSubmit, [{ kind: "status", status: 429, retryAfter: "1" }]);
    const { state } = await up(host, nodeJob("after-429", "0"));
    const [refused, accepted] = submitsSince(before);
    expect(accepted!.at - refused!.at).toBeGreaterThanOrEqual(950);
    expect(accepted!.idempotencyKey).toBe(refused!.idempotencyKey);
    expect((await jobsNamed("after-429")).map((j) => j.id)).toEqual([state.id]);
  });

  it("retries a connection dropped after the API created the job, and leaves one job", async () => {
    const before = proxy.count(isSubmit);
    proxy.inject(isSubmit, [
      { kind: "drop", forward: true },
      { kind: "drop", forward: false },
    ]);
    const { state } = await up(host, nodeJob("after-drops", "0"));
    const submits = submitsSince(before);
    expect(submits.map((s) => s.fault)).toEqual(["drop", "drop", undefined]);
    expect(new Set(submits.map((s) => s.idempotencyKey)).size).toBe(1);
    expect((await jobsNamed("after-drops")).map((j) => j.id)).toEqual([state.id]);
  });

  it("gives up on an answer slower than requestTimeoutSeconds, retries, and leaves one job", async () => {
    const before = proxy.count(isSubmit);
    proxy.inject(isSubmit, [{ kind: "delay", ms: 2500 }]);
    const { state } = await up(host, nodeJob("after-slow", "0", { requestTimeoutSeconds: 1 }));
    const submits = submitsSince(before);
    expect(submits.map((s) => s.fault)).toEqual(["delay", undefined]);
    expect((await jobsNamed("after-slow")).map((j) => j.id)).toEqual([state.id]);
  });

  it("rides out faults on the polls while waiting for completion", async () => {
    proxy.inject(isPoll, [
      { kind: "status", status: 502 },
      { kind: "drop" },
      { kind: "status", status: 429, retryAfter: "0" },
    ]);
    proxy.inject(isSubmit, [{ kind: "status", status: 500, forward: true }]);
    const { state } = await up(
      host,
      nodeJob("faulty-polls", "setTimeout(() => {}, 1000)", { waitFor: "completed" }),
    );
    expect(state.outputs.status).toBe("COMPLETED");
    expect(await jobsNamed("faulty-polls")).toHaveLength(1);
  });

  it("fails at once on a 4xx other than 429, with the server's message and no retry", async () => {
    const before = proxy.count(isSubmit);
    proxy.inject(isSubmit, [{ kind: "status", status: 422 }]);
    const failure = (await up(host, nodeJob("refused-422", "0")).catch(
      (err: unknown) => err,
    )) as ProviderCallError;
    expect(failure).toBeInstanceOf(ProviderCallError);
    expect(failure.message).toContain("answered 422 injected: fault injected by the test proxy (422)");
    expect(proxy.count(isSubmit) - before).toBe(1);
    expect(await jobsNamed("refused-422")).toHaveLength(0);
  });

  it("gives up after six attempts when the API keeps failing, naming the last failure", async () => {
    const before = proxy.count(isSubmit);
    proxy.inject(
      isSubmit,
      Array.from({ length: 6 }, () => ({ kind: "status" as const, status: 503 })),
    );
    const failure = (await up(host, nodeJob("never", "0")).catch((err: unknown) => err)) as ProviderCallError;
    expect(failure.message).toContain("failed after 6 attempts; last: 503 injected");
    expect(failure.initFailed).toBeUndefined();
    expect(proxy.count(isSubmit) - before).toBe(6);
    expect(await jobsNamed("never")).toHaveLength(0);
  });
});
