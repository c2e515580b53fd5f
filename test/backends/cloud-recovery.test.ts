import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubernetesJobName } from "../../src/server/backends/kubernetes";
import { trainingJobName } from "../../src/server/backends/sagemaker/translate";
import type { Job } from "../../src/spec";
import { type CloudTrainApi, DEFAULT_NAMESPACE, startCloudTrainApi } from "../helpers/cloud-train-api";
import { authHeaders, waitForJob } from "../helpers/train-api";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The real Train API (routes, PGlite store, reconciler) with its cloud backends driving the official
// SDKs against loopback stand-ins (fakes) for the kube-apiserver and SageMaker, which the tests
// move as the Job controller, the kubelet and SageMaker would.

let api: CloudTrainApi;
beforeAll(async () => {
  api = await startCloudTrainApi({ reconcileIntervalMs: 100 });
});
afterAll(async () => {
  await api?.close();
});

const NS = DEFAULT_NAMESPACE;
const creates = () =>
  api.kubernetes.requestsFor("POST", new RegExp(`^/apis/batch/v1/namespaces/${NS}/jobs$`)).length;

async function submit(name: string, on: string[]): Promise<Job> {
  const res = await fetch(`${api.url}/v1/kubernetes/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify({
      name,
      job_config: { image: "registry.example/train:v1", command: ["python3", "train.py"] },
      storage_mounts: [{ source_uri: "pvc://checkpoints", mount_path: "/mnt/ckpt" }],
      retry_policy: { max_restarts: 2, on, backoff_seconds: 0 },
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

/** Ends attempt `n` of a job: its pod fails as `pod` says and the Job controller marks the Job Failed. */
function failAttempt(job: Job, n: number, pod: Record<string, unknown>): void {
  const attemptId = n === 0 ? job.id : `${job.id}-r${n}`;
  const name = kubernetesJobName(attemptId, job.name);
  api.kubernetes.addPod(NS, attemptId, `${name}-abcde`, { phase: "Failed", ...pod });
  api.kubernetes.setJobStatus(NS, name, {
    failed: 1,
    conditions: [
      { type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "backoff limit" },
    ],
  });
}

const disrupted = {
  conditions: [
    {
      type: "DisruptionTarget",
      status: "True",
      reason: "TerminationByKubelet",
      message: "Pod was terminated in response to imminent node shutdown.",
    },
  ],
};
const crashed = {
  containerStatuses: [
    {
      name: "main",
      image: "i",
      imageID: "",
      ready: false,
      restartCount: 0,
      state: { terminated: { exitCode: 1 } },
    },
  ],
};

describe("the kubernetes backend under a retry policy", () => {
  it("creates exactly one new Job per preemption, named for the attempt, and finishes under the same id", async () => {
    const before = creates();
    const job = await submit("spot-train", ["preemption"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    expect(creates() - before).toBe(1);

    failAttempt(job, 0, disrupted);
    const restarted = await waitForJob<Job>(
      api,
      job.id,
      (j) => j.restarts === 1 && j.cloud_job_identifier !== null,
    );
    expect(restarted.status).toBe("IN_PROGRESS");
    expect(restarted.attempts[0]?.end).toEqual({
      kind: "preemption",
      reason: expect.stringContaining("TerminationByKubelet"),
    });
    const second = kubernetesJobName(`${job.id}-r1`, job.name);
    expect(restarted.cloud_job_identifier?.job_name).toBe(second);
    // The same mounts as the first attempt.
    expect(JSON.stringify(api.kubernetes.job(NS, second)?.spec)).toContain("checkpoints");
    await new Promise((r) => setTimeout(r, 500));
    expect(creates() - before).toBe(2);

    api.kubernetes.setJobStatus(NS, second, {
      succeeded: 1,
      conditions: [{ type: "Complete", status: "True" }],
    });
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(1);
    expect(creates() - before).toBe(2);
  });

  it("creates no new Job for a failure of the code unless the policy names failure", async () => {
    const before = creates();
    const job = await submit("buggy", ["preemption"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    failAttempt(job, 0, crashed);
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED");
    expect(done.restarts).toBe(0);
    expect(done.attempts[0]?.end?.kind).toBe("failure");
    await new Promise((r) => setTimeout(r, 500));
    expect(creates() - before).toBe(1);
  });

  it("creates no new Job after a cancel", async () => {
    const before = creates();
    const job = await submit("canceled", ["preemption", "failure"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: authHeaders(api) });
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "CANCELED");
    expect(done.restarts).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect(creates() - before).toBe(1);
  });
});

describe("the sagemaker backend under a retry policy", () => {
  const createCalls = () => api.sagemaker.calls("CreateTrainingJob").length;

  async function submitSageMaker(on: string[]): Promise<Job> {
    const res = await fetch(`${api.url}/v1/sagemaker/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({
        ...VALID_REQUESTS.sagemaker,
        retry_policy: { max_restarts: 2, on, backoff_seconds: 0 },
      }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as Job;
  }

  it("creates exactly one new training job per interruption, named for the attempt", async () => {
    const before = createCalls();
    const job = await submitSageMaker(["preemption"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    api.sagemaker.setStatus(
      trainingJobName(job.id, job.name),
      "Failed",
      "Interrupted",
      "Spot capacity was reclaimed",
    );
    const restarted = await waitForJob<Job>(
      api,
      job.id,
      (j) => j.restarts === 1 && j.cloud_job_identifier !== null,
    );
    const second = trainingJobName(`${job.id}-r1`, job.name);
    expect(restarted.cloud_job_identifier?.training_job_name).toBe(second);
    expect(restarted.attempts[0]?.end?.kind).toBe("preemption");
    await new Promise((r) => setTimeout(r, 500));
    expect(createCalls() - before).toBe(2);
    api.sagemaker.setStatus(second, "Completed", "Completed");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(1);
    expect(createCalls() - before).toBe(2);
  });

  it("leaves managed spot's own restarts to SageMaker: an interrupted job still InProgress gets no second submission", async () => {
    const before = createCalls();
    const job = await submitSageMaker(["preemption", "failure"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    const name = trainingJobName(job.id, job.name);
    api.sagemaker.setStatus(name, "InProgress", "Interrupted");
    await new Promise((r) => setTimeout(r, 500));
    api.sagemaker.setStatus(name, "InProgress", "Restarting");
    await new Promise((r) => setTimeout(r, 500));
    api.sagemaker.setStatus(name, "Completed", "Completed");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(0);
    expect(createCalls() - before).toBe(1);
  });

  it("creates no new training job for a failure of the code unless the policy names failure", async () => {
    const before = createCalls();
    const job = await submitSageMaker(["preemption"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    api.sagemaker.setStatus(trainingJobName(job.id, job.name), "Failed", "Failed", "AlgorithmError: exit 1");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED");
    expect(done.restarts).toBe(0);
    expect(createCalls() - before).toBe(1);
  });
});
