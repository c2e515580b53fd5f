import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { azureJobName } from "../../src/server/backends/azure-ml";
import { kubernetesJobName } from "../../src/server/backends/kubernetes";
import { trainingJobName } from "../../src/server/backends/sagemaker/translate";
import type { Job } from "../../src/spec";
import { type CloudTrainApi, DEFAULT_NAMESPACE, startCloudTrainApi } from "../helpers/cloud-train-api";
import { armError } from "../helpers/fake-azure";
import { awsError } from "../helpers/fake-sagemaker";
import { published } from "../helpers/published";
import { authHeaders, waitForJob } from "../helpers/train-api";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The real Train API (routes, PGlite store, reconciler) with its cloud backends driving the official
// SDKs against loopback stand-ins (fakes) for the kube-apiserver, SageMaker, Vertex AI and Azure ML,
// which the tests move as the Job controller, the kubelet and each cloud would. What the fakes
// report on a preemption is taken from the clouds' published documents where they say
// (test/fixtures/published); these tests prove the Train API's reaction to it, not that the cloud
// reports it so.

let api: CloudTrainApi;
beforeAll(async () => {
  api = await startCloudTrainApi({ reconcileIntervalMs: 100 });
});
afterAll(async () => {
  await api?.close();
});

/**
 * Waits for `n` more completed reconciler passes, so a check that nothing more happened follows
 * passes that had the chance to act, however loaded the machine.
 */
async function passes(n = 3): Promise<void> {
  let seen = api.reconciler.health().lastPassAt?.getTime() ?? 0;
  const deadline = Date.now() + 15_000;
  for (let done = 0; done < n; ) {
    if (Date.now() > deadline) throw new Error(`the reconciler completed ${done} of ${n} passes in 15 s`);
    await new Promise((r) => setTimeout(r, 20));
    const at = api.reconciler.health().lastPassAt?.getTime() ?? 0;
    if (at > seen) {
      seen = at;
      done += 1;
    }
  }
}

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
    await passes();
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
    await passes();
    expect(creates() - before).toBe(1);
  });

  it("creates no new Job after a cancel", async () => {
    const before = creates();
    const job = await submit("canceled", ["preemption", "failure"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: authHeaders(api) });
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "CANCELED");
    expect(done.restarts).toBe(0);
    await passes();
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
    await passes();
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
    await passes();
    api.sagemaker.setStatus(name, "InProgress", "Restarting");
    await passes();
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

async function submitTo(backend: string, body: object, on: string[], maxRestarts = 2): Promise<Job> {
  const res = await fetch(`${api.url}/v1/${backend}/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify({ ...body, retry_policy: { max_restarts: maxRestarts, on, backoff_seconds: 0 } }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

describe("the vertex-ai backend under a retry policy", () => {
  const creates = () => api.vertex.cloud.received("POST", /\/customJobs$/).length;
  const docs = published<{ spotPreemption: { errorMarker: string } }>(
    "google-cloud-docs/vertex-ai-preemption.json",
  );
  const stockout = { code: 14, message: `${docs.spotPreemption.errorMarker}: the Spot VMs were preempted` };
  const spotJob = {
    ...VALID_REQUESTS["vertex-ai"],
    job_config: { ...VALID_REQUESTS["vertex-ai"].job_config, capacity: "spot" },
  };
  const submitVertex = (on: string[]) => submitTo("vertex-ai", spotJob, on);
  const nameOf = (job: Job) => job.cloud_job_identifier?.job_name as string;

  it("creates exactly one new CustomJob per Spot preemption (STOCKOUT), with the same mounts", async () => {
    const before = creates();
    const job = await submitVertex(["preemption"]);
    const first = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    expect(creates() - before).toBe(1);
    api.vertex.setState(nameOf(first), "JOB_STATE_FAILED", stockout);
    const restarted = await waitForJob<Job>(
      api,
      job.id,
      (j) => j.restarts === 1 && j.cloud_job_identifier !== null,
    );
    expect(restarted.status).toBe("IN_PROGRESS");
    expect(restarted.attempts[0]?.end).toEqual({
      kind: "preemption",
      reason: `preempted: ${stockout.message}`,
    });
    expect(nameOf(restarted)).not.toBe(nameOf(first));
    const second = api.vertex.jobs.get(nameOf(restarted))!;
    expect((second.labels as Record<string, string>)["trainkit-job-id"]).toBe(`${job.id}-r1`);
    expect(JSON.stringify(second.jobSpec)).toContain("/gcs/my-bucket/mnist-data");
    expect(creates() - before).toBe(2);
    api.vertex.setState(nameOf(restarted), "JOB_STATE_SUCCEEDED");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(1);
    expect(creates() - before).toBe(2);
  });

  it("leaves Vertex AI's own worker restarts alone: a job that goes back to pending and runs again gets no second CustomJob", async () => {
    const before = creates();
    const job = await submitVertex(["preemption", "failure"]);
    const first = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    api.vertex.setState(nameOf(first), "JOB_STATE_RUNNING");
    await waitForJob<Job>(api, job.id, (j) => j.status === "IN_PROGRESS");
    api.vertex.setState(nameOf(first), "JOB_STATE_PENDING");
    api.vertex.setState(nameOf(first), "JOB_STATE_RUNNING");
    api.vertex.setState(nameOf(first), "JOB_STATE_SUCCEEDED");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(0);
    expect(creates() - before).toBe(1);
  });

  it("creates no new CustomJob for a failure of the code unless the policy names failure", async () => {
    const before = creates();
    const job = await submitVertex(["preemption"]);
    const first = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    api.vertex.setState(nameOf(first), "JOB_STATE_FAILED", {
      code: 3,
      message: "The replica workerpool0-0 exited with a non-zero status of 1.",
    });
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED");
    expect(done.restarts).toBe(0);
    expect(done.attempts[0]?.end?.kind).toBe("failure");
    expect(creates() - before).toBe(1);
  });

  it("restarts a failure of the code when the policy names failure", async () => {
    const before = creates();
    const job = await submitVertex(["failure"]);
    const first = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    api.vertex.setState(nameOf(first), "JOB_STATE_FAILED", { code: 3, message: "exit status 1" });
    await waitForJob<Job>(api, job.id, (j) => j.restarts === 1 && j.cloud_job_identifier !== null);
    expect(creates() - before).toBe(2);
  });

  it("creates no new CustomJob after a cancel, even when the job then reports a preemption", async () => {
    const before = creates();
    const job = await submitVertex(["preemption", "failure"]);
    const first = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: authHeaders(api) });
    await waitForJob<Job>(
      api,
      job.id,
      () => api.vertex.jobs.get(nameOf(first))?.state === "JOB_STATE_CANCELLING",
    );
    api.vertex.setState(nameOf(first), "JOB_STATE_FAILED", stockout);
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED" || j.status === "CANCELED");
    expect(done.restarts).toBe(0);
    expect(creates() - before).toBe(1);
  });
});

describe("the azure-ml backend under a retry policy", () => {
  const puts = () => api.azure.arm("PUT", /\/jobs\/[^/]+$/).length;
  const submitAzure = (on: string[]) => submitTo("azure-ml", VALID_REQUESTS["azure-ml"], on);
  const preempted = "The job's low-priority node was preempted.";

  it("submits exactly one new job per preemption, named for the attempt", async () => {
    const before = puts();
    const job = await submitAzure(["preemption"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    expect(puts() - before).toBe(1);
    api.azure.setStatus(azureJobName(job.id, job.name), "Failed", preempted);
    const restarted = await waitForJob<Job>(
      api,
      job.id,
      (j) => j.restarts === 1 && j.cloud_job_identifier !== null,
    );
    const second = azureJobName(`${job.id}-r1`, job.name);
    expect(restarted.cloud_job_identifier?.job_name).toBe(second);
    expect(restarted.attempts[0]?.end).toEqual({ kind: "preemption", reason: `preempted: ${preempted}` });
    expect(puts() - before).toBe(2);
    api.azure.setStatus(second, "Completed");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(1);
    expect(puts() - before).toBe(2);
  });

  it("leaves a job Azure ML requeues itself alone: Running, Queued, Running again gets no second submission", async () => {
    const before = puts();
    const job = await submitAzure(["preemption", "failure"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    const name = azureJobName(job.id, job.name);
    api.azure.setStatus(name, "Running");
    await waitForJob<Job>(api, job.id, (j) => j.status === "IN_PROGRESS");
    api.azure.setStatus(name, "Queued");
    api.azure.setStatus(name, "Running");
    api.azure.setStatus(name, "Completed");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "COMPLETED");
    expect(done.restarts).toBe(0);
    expect(puts() - before).toBe(1);
  });

  it("submits no new job for a failure of the code unless the policy names failure", async () => {
    const before = puts();
    const job = await submitAzure(["preemption"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    api.azure.setStatus(azureJobName(job.id, job.name), "Failed", "UserError: train.py exited with code 1");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "FAILED");
    expect(done.restarts).toBe(0);
    expect(done.attempts[0]?.end?.kind).toBe("failure");
    expect(puts() - before).toBe(1);
  });

  it("submits no new job after a cancel", async () => {
    const before = puts();
    const job = await submitAzure(["preemption", "failure"]);
    await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    const name = azureJobName(job.id, job.name);
    await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: authHeaders(api) });
    await waitForJob<Job>(
      api,
      job.id,
      () => (api.azure.jobs.get(name)!.properties as { status?: string }).status === "CancelRequested",
    );
    api.azure.setStatus(name, "Canceled");
    const done = await waitForJob<Job>(api, job.id, (j) => j.status === "CANCELED");
    expect(done.restarts).toBe(0);
    expect(puts() - before).toBe(1);
  });
});

describe("no capacity at submit", () => {
  const sagemakerCreates = () => api.sagemaker.calls("CreateTrainingJob").length;
  const refuseNextSageMaker = () =>
    api.sagemaker.cloud.failNext((r) => r.headers["x-amz-target"] === "SageMaker.CreateTrainingJob", {
      respond: awsError(
        400,
        "ResourceLimitExceeded",
        "The account-level service limit 'ml.g4dn.xlarge for training job usage' is 0 Instances.",
      ),
    });

  it("restarts a SageMaker submission refused with ResourceLimitExceeded when the policy names no_capacity", async () => {
    const before = sagemakerCreates();
    refuseNextSageMaker();
    const job = await submitTo("sagemaker", VALID_REQUESTS.sagemaker, ["no_capacity"]);
    const running = await waitForJob<Job>(
      api,
      job.id,
      (j) => j.restarts === 1 && j.cloud_job_identifier !== null,
    );
    expect(running.status).not.toBe("FAILED");
    expect(running.attempts[0]).toMatchObject({
      attempt: 0,
      cloud_job_identifier: null,
      end: { kind: "no_capacity", reason: expect.stringContaining("ResourceLimitExceeded") },
    });
    expect(running.cloud_job_identifier?.training_job_name).toBe(trainingJobName(`${job.id}-r1`, job.name));
    // The refused request and the accepted one.
    expect(sagemakerCreates() - before).toBe(2);
  });

  it("ends the job FAILED with the cloud's reason when the policy does not name no_capacity", async () => {
    refuseNextSageMaker();
    const res = await fetch(`${api.url}/v1/sagemaker/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({
        ...VALID_REQUESTS.sagemaker,
        name: "capacity-refused",
        retry_policy: { max_restarts: 2, on: ["preemption"], backoff_seconds: 0 },
      }),
    });
    expect(res.status).toBe(429);
    const listed = (await (
      await fetch(`${api.url}/v1/jobs?status=FAILED&limit=100`, { headers: authHeaders(api) })
    ).json()) as { items: Job[] };
    const failed = listed.items.find((j) => j.name === "capacity-refused");
    expect(failed?.result?.failure_reason).toContain("'ml.g4dn.xlarge for training job usage'");
    expect(failed?.restarts).toBe(0);
    expect(failed?.attempts.at(-1)?.end?.kind).toBe("no_capacity");
  });

  it("ends FAILED once max_restarts is used up, saying so", async () => {
    for (let i = 0; i < 2; i++) refuseNextSageMaker();
    const res = await fetch(`${api.url}/v1/sagemaker/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({
        ...VALID_REQUESTS.sagemaker,
        name: "capacity-exhausted",
        retry_policy: { max_restarts: 1, on: ["no_capacity"], backoff_seconds: 0 },
      }),
    });
    const created = (await res.json()) as Job;
    expect(res.status).toBe(201);
    const done = await waitForJob<Job>(api, created.id, (j) => j.status === "FAILED");
    expect(done.restarts).toBe(1);
    expect(done.attempts.map((a) => a.end?.kind)).toEqual(["no_capacity", "no_capacity"]);
    expect(done.result?.failure_reason).toContain("after 1 restart(s)");
  });

  it("restarts an Azure ML submission refused with QuotaExceeded when the policy names no_capacity", async () => {
    const before = api.azure.arm("PUT", /\/jobs\/[^/]+$/).length;
    api.azure.cloud.failNext((r) => r.method === "PUT" && /\/jobs\/[^/]+$/.test(r.path), {
      respond: armError(
        400,
        "QuotaExceeded",
        "Not enough quota for Standard_NC24ads_A100_v4 in the workspace's region.",
      ),
    });
    const job = await submitTo("azure-ml", VALID_REQUESTS["azure-ml"], ["no_capacity"]);
    const running = await waitForJob<Job>(
      api,
      job.id,
      (j) => j.restarts === 1 && j.cloud_job_identifier !== null,
    );
    expect(running.attempts[0]?.end?.kind).toBe("no_capacity");
    expect(running.cloud_job_identifier?.job_name).toBe(azureJobName(`${job.id}-r1`, job.name));
    expect(api.azure.arm("PUT", /\/jobs\/[^/]+$/).length - before).toBe(2);
  });
});
