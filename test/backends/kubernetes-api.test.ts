import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody, Job, JobLogs } from "../../src/spec";
import { FakeKubernetes, kubeStatus } from "../helpers/fake-kubernetes";
import { authHeaders, startTrainApi, type TrainApi, waitForJob } from "../helpers/train-api";

// The real Train API (routes, PGlite store, reconciler) started as `npm start` starts it, its
// kubernetes backend built by the registry's factory from environment settings whose kubeconfig
// points at a loopback kube-apiserver.

const NS = "ml-jobs";
let fake: FakeKubernetes;
let dir: string;
let api: TrainApi;

beforeAll(async () => {
  fake = await FakeKubernetes.start();
  dir = mkdtempSync(join(tmpdir(), "trainkit-k8s-api-"));
  api = await startTrainApi({
    reconcileIntervalMs: 100,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      TRAINKIT_KUBERNETES_NAMESPACE: NS,
      TRAINKIT_KUBERNETES_SERVICE_ACCOUNT: "trainer",
      KUBECONFIG: fake.writeKubeconfig(dir),
      TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS: "0",
      // The backend reads its jobs by list; list often so the test sees each change soon.
      TRAINKIT_SYNC_INTERVAL_MS: "100",
    },
  });
});

afterAll(async () => {
  await api?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

const request = {
  name: "mnist-training",
  job_config: {
    image: "registry.example/pytorch-gpu:v1",
    command: ["python3", "train.py"],
    resources: { gpu: 1 },
    queue: "gpu-queue",
  },
  storage_mounts: [{ source_uri: "pvc://datasets/mnist", mount_path: "/mnt/data", read_only: true }],
};

async function createJob(body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${api.url}/v1/kubernetes/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe("the Train API with the kubernetes backend", () => {
  it("runs a GPU job as a Kubernetes Job from PENDING through IN_PROGRESS to COMPLETED", async () => {
    const { status, json } = await createJob(request);
    expect(status).toBe(201);
    const job = json as Job;
    expect(job).toMatchObject({ job_type: "kubernetes", status: "PENDING", account_id: api.accountId });
    const name = job.cloud_job_identifier!.job_name!;
    expect(job.cloud_job_identifier).toEqual({ namespace: NS, job_name: name });
    const created = fake.job(NS, name)!;
    expect((created.metadata.labels as Record<string, string>)["trainkit.dev/job-id"]).toBe(job.id);
    expect((created.spec as { suspend: boolean }).suspend).toBe(true);

    fake.setJobStatus(NS, name, { active: 1, ready: 1 }, false);
    await waitForJob<Job>(api, job.id, (j) => j.status === "IN_PROGRESS");
    fake.setJobStatus(NS, name, { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] });
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.result ?? null).toBeNull();
  });

  it("cancels a job by deleting its Job, and reports it CANCELED", async () => {
    const { json } = await createJob(request);
    const job = json as Job;
    const name = job.cloud_job_identifier!.job_name!;
    const cancel = await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, {
      method: "POST",
      headers: authHeaders(api),
    });
    expect(cancel.status).toBeLessThan(300);
    const canceled = await waitForJob<Job>(api, job.id, (j) => j.status === "CANCELED");
    expect(canceled.status).toBe("CANCELED");
    expect(fake.job(NS, name)).toBeUndefined();
    expect(fake.requestsFor("DELETE", new RegExp(`/jobs/${name}$`))[0]!.query.get("propagationPolicy")).toBe(
      "Background",
    );
  });

  it("serves the job's pod log through GET /v1/jobs/{id}/logs", async () => {
    const { json } = await createJob(request);
    const job = json as Job;
    fake.addPod(
      NS,
      job.id,
      `${job.cloud_job_identifier!.job_name}-x1`,
      {
        phase: "Running",
        containerStatuses: [
          { name: "trainer", image: "i", imageID: "", ready: true, restartCount: 0, state: { running: {} } },
        ],
      },
      "loading data\nepoch 1 loss 0.41\n",
    );
    const res = await fetch(`${api.url}/v1/jobs/${job.id}/logs?tail=1`, { headers: authHeaders(api) });
    expect(res.status).toBe(200);
    const logs = (await res.json()) as JobLogs;
    expect(logs).toMatchObject({ job_id: job.id, stream: "stdout", lines: ["epoch 1 loss 0.41"] });
    expect(logs.entries![0]!.source).toBe(`${job.cloud_job_identifier!.job_name}-x1`);
    // The cursor continues the log: nothing new has been written since.
    const next = await fetch(`${api.url}/v1/jobs/${job.id}/logs?cursor=${logs.next_cursor}`, {
      headers: authHeaders(api),
    });
    expect(((await next.json()) as JobLogs).lines).toEqual([]);
  });

  it("answers a submit the API server forbids with 403 and the API server's message", async () => {
    const message = `jobs.batch is forbidden: User "system:serviceaccount:trainkit:trainkit-api" cannot create resource "jobs" in API group "batch" in the namespace "${NS}"`;
    fake.server.failNext((r) => r.method === "POST" && r.path.endsWith("/jobs"), {
      respond: kubeStatus(403, "Forbidden", message),
    });
    const { status, json } = await createJob(request);
    expect(status).toBe(403);
    const { error } = json as ErrorBody;
    expect(error.code).toBe("cloud_permission_denied");
    expect(error.message).toContain(message);
  });
});
