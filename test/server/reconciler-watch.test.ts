import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Job } from "../../src/spec";
import { type CloudTrainApi, DEFAULT_NAMESPACE, startCloudTrainApi } from "../helpers/cloud-train-api";
import { authHeaders } from "../helpers/train-api";

// The real Train API (routes, PGlite store, reconciler) with the kubernetes backend built by its
// factory, watching a loopback stand-in (fake) for the kube-apiserver. The reconciler's own timers
// are set ten minutes apart, so a status that moves before then was carried by the watch: the
// backend's notice of the change, and the sync it brings forward, answered from the watch's cache.

let api: CloudTrainApi;

beforeAll(async () => {
  api = await startCloudTrainApi({ reconcileIntervalMs: 600_000, syncIntervalMs: 600_000 });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

async function post(name: string): Promise<Job> {
  const res = await fetch(`${api.url}/v1/kubernetes/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify({
      name,
      job_config: { image: "registry.example/train:v1", command: ["python3", "train.py"] },
      storage_mounts: [],
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

async function statusOf(id: string): Promise<string> {
  const res = await fetch(`${api.url}/v1/jobs/${id}`, { headers: authHeaders(api) });
  return ((await res.json()) as Job).status;
}

const lists = () =>
  api.kubernetes
    .requestsFor("GET", /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs$/)
    .filter((r) => r.query.get("watch") !== "true").length;
const jobReads = () =>
  api.kubernetes.requestsFor("GET", /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/]+$/).length;

describe("the reconciler with the kubernetes backend's watch", () => {
  it("moves a job when its Job changes, long before the next sync or pass is due, reading nothing more", async () => {
    const job = await post("watched");
    await vi.waitFor(() => expect(api.kubernetes.openWatches).toBe(1), { timeout: 20_000, interval: 20 });
    const name =
      job.cloud_job_identifier?.job_name ?? api.kubernetes.jobs.values().next().value!.metadata.name;
    const listsBefore = lists();
    const readsBefore = jobReads();

    api.kubernetes.setJobStatus(DEFAULT_NAMESPACE, name, { active: 1, ready: 1 });
    await vi.waitFor(async () => expect(await statusOf(job.id)).toBe("IN_PROGRESS"), {
      timeout: 20_000,
      interval: 20,
    });
    api.kubernetes.setJobStatus(DEFAULT_NAMESPACE, name, {
      conditions: [{ type: "Complete", status: "True" }],
    });
    await vi.waitFor(async () => expect(await statusOf(job.id)).toBe("COMPLETED"), {
      timeout: 20_000,
      interval: 20,
    });
    expect(lists()).toBe(listsBefore);
    expect(jobReads()).toBe(readsBefore);
  }, 120_000);
});
