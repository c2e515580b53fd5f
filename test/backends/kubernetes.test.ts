import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  KubernetesBackend,
  kubernetesBackend,
  kubernetesJobName,
} from "../../src/server/backends/kubernetes";
import { CLOCK_SKEW_MARGIN_SECONDS } from "../../src/server/backends/kubernetes/logs";
import { BackendError, type BackendJob } from "../../src/server/backends/types";
import { CREATE_JOB_REQUESTS, type CreateJobRequest, issuesToDetails } from "../../src/spec";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import { FAKE_KUBE_TOKEN, FakeKubernetes, kubeStatus, rfc3339Nano } from "../helpers/fake-kubernetes";
import { published } from "../helpers/published";
import { authHeaders, startTrainApi } from "../helpers/train-api";

// The backend drives the official @kubernetes/client-node, configured by a kubeconfig file with a
// bearer token and the fake's CA, against a loopback stand-in for the kube-apiserver.

let fake: FakeKubernetes;
let dir: string;
let kubeconfig: string;
let backend: KubernetesBackend;
const ctx = testContext();
const NS = "ml-jobs";

beforeAll(async () => {
  fake = await FakeKubernetes.start();
  dir = mkdtempSync(join(tmpdir(), "trainkit-k8s-"));
  kubeconfig = fake.writeKubeconfig(dir);
  backend = new KubernetesBackend(
    { namespace: NS, serviceAccount: "trainer" },
    { files: [kubeconfig] },
    ctx,
    { retry: { initialDelayMs: 5, maxDelayMs: 20 }, minPollIntervalMs: 0 },
  );
});

afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const gpuRequest: CreateJobRequest<"kubernetes"> = {
  name: "Llama_finetune",
  job_config: {
    image: "registry.example/llm-train:v3",
    command: ["torchrun", "train.py"],
    args: ["--epochs", "3"],
    env: { HF_HOME: "/mnt/cache", DATA_DIR: "$(STORAGE_MOUNT_0_PATH)/train" },
    resources: { gpu: 4, cpu: "16", memory: "120Gi" },
    node_selector: { "trainkit.dev/gpu": "nvidia-a100-80gb" },
    queue: "gpu-queue",
    completions: 2,
    parallelism: 2,
    backoff_limit: 1,
    active_deadline_seconds: 7200,
  },
  storage_mounts: [
    { source_uri: "pvc://datasets/llama/v1", mount_path: "/mnt/data", read_only: true },
    { source_uri: "pvc://checkpoints", mount_path: "/mnt/ckpt", read_only: false },
    { source_uri: "pvc://datasets/tokenizers", mount_path: "/mnt/tok", read_only: true },
  ],
};

const cpuRequest: CreateJobRequest<"kubernetes"> = {
  name: "eval",
  job_config: { image: "registry.example/eval:v1", command: ["python3", "eval.py"] },
  storage_mounts: [],
};

const isCreate = (r: { method: string; path: string }) =>
  r.method === "POST" && r.path === `/apis/batch/v1/namespaces/${NS}/jobs`;

async function submittedJob(
  request: CreateJobRequest<"kubernetes"> = cpuRequest,
): Promise<BackendJob<"kubernetes">> {
  const job = backendJob("kubernetes", request);
  return submitted(job, await backend.submit(job));
}

const nameOf = (job: BackendJob<"kubernetes">) => job.cloudJobIdentifier!.job_name!;

describe("the kubernetes backend's Job", () => {
  it("turns a GPU job with claims and a Kueue queue into the batch/v1 Job the API server documents", async () => {
    const job = backendJob("kubernetes", gpuRequest);
    const result = await backend.submit(job);
    const name = `llama-finetune-${job.id.replace(/-/g, "")}`;
    const sent = fake.server.requests.filter(isCreate).at(-1)!;
    expect(sent.json).toEqual({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name,
        namespace: NS,
        labels: {
          "app.kubernetes.io/managed-by": "trainkit",
          "trainkit.dev/job-id": job.id,
          "trainkit.dev/account-id": "acct-test",
          "kueue.x-k8s.io/queue-name": "gpu-queue",
        },
        annotations: { "trainkit.dev/job-name": "Llama_finetune", "trainkit.dev/account-id": "acct-test" },
      },
      spec: {
        backoffLimit: 1,
        activeDeadlineSeconds: 7200,
        ttlSecondsAfterFinished: 86400,
        completions: 2,
        parallelism: 2,
        suspend: true,
        template: {
          metadata: { labels: { "trainkit.dev/job-id": job.id } },
          spec: {
            restartPolicy: "Never",
            serviceAccountName: "trainer",
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
            tolerations: [
              { key: "nvidia.com/gpu", operator: "Equal", value: "present", effect: "NoSchedule" },
            ],
            nodeSelector: { "trainkit.dev/gpu": "nvidia-a100-80gb" },
            containers: [
              {
                name: "trainer",
                image: "registry.example/llm-train:v3",
                command: ["torchrun", "train.py"],
                args: ["--epochs", "3"],
                env: [
                  { name: "STORAGE_MOUNT_0_PATH", value: "/mnt/data" },
                  { name: "STORAGE_MOUNT_1_PATH", value: "/mnt/ckpt" },
                  { name: "STORAGE_MOUNT_2_PATH", value: "/mnt/tok" },
                  { name: "HF_HOME", value: "/mnt/cache" },
                  { name: "DATA_DIR", value: "$(STORAGE_MOUNT_0_PATH)/train" },
                ],
                resources: {
                  requests: { cpu: "16", memory: "120Gi" },
                  limits: { memory: "120Gi", "nvidia.com/gpu": "4" },
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ["ALL"] },
                  runAsNonRoot: true,
                },
                volumeMounts: [
                  { name: "claim-0", mountPath: "/mnt/data", readOnly: true, subPath: "llama/v1" },
                  { name: "claim-1", mountPath: "/mnt/ckpt", readOnly: false },
                  { name: "claim-0", mountPath: "/mnt/tok", readOnly: true, subPath: "tokenizers" },
                  { name: "dshm", mountPath: "/dev/shm" },
                ],
              },
            ],
            volumes: [
              { name: "claim-0", persistentVolumeClaim: { claimName: "datasets", readOnly: true } },
              { name: "claim-1", persistentVolumeClaim: { claimName: "checkpoints", readOnly: false } },
              { name: "dshm", emptyDir: { medium: "Memory" } },
            ],
          },
        },
      },
    });
    expect(result).toEqual({
      cloudJobIdentifier: { namespace: NS, job_name: name },
      backendState: { namespace: NS, jobName: name, lastStatus: "PENDING" },
      status: "PENDING",
    });
  });

  it("authenticates with the kubeconfig's bearer token over TLS checked against its certificate authority", async () => {
    await submittedJob();
    const sent = fake.server.requests.filter(isCreate).at(-1)!;
    expect(fake.url.startsWith("https://127.0.0.1:")).toBe(true);
    expect(sent.headers.authorization).toBe(`Bearer ${FAKE_KUBE_TOKEN}`);
  });

  it("gives a CPU job no GPU limit, no GPU toleration, no queue label and no suspend", async () => {
    const job = await submittedJob(cpuRequest);
    const body = fake.job(NS, nameOf(job))!;
    const spec = body.spec as {
      suspend?: boolean;
      backoffLimit: number;
      template: { spec: Record<string, unknown> };
    };
    expect(spec.suspend).toBeUndefined();
    expect(spec.backoffLimit).toBe(0);
    expect(spec.template.spec.tolerations).toBeUndefined();
    expect((body.metadata.labels as Record<string, string>)["kueue.x-k8s.io/queue-name"]).toBeUndefined();
    const [container] = spec.template.spec.containers as { resources: Record<string, unknown> }[];
    expect(container!.resources).toEqual({});
  });

  it("sends the job to the namespace its job_config names instead of the default one", async () => {
    const job = backendJob("kubernetes", {
      ...cpuRequest,
      job_config: { ...cpuRequest.job_config, namespace: "team-b", ttl_seconds_after_finished: 600 },
    });
    const result = await backend.submit(job);
    expect(result.cloudJobIdentifier.namespace).toBe("team-b");
    expect(
      (fake.job("team-b", result.cloudJobIdentifier.job_name!)!.spec as { ttlSecondsAfterFinished: number })
        .ttlSecondsAfterFinished,
    ).toBe(600);
  });

  it("runs a stock image as root only when run_as_user is 0, with its group, and stays non-root otherwise", async () => {
    const podSecurity = (job: BackendJob<"kubernetes">) => {
      const spec = (fake.job(NS, nameOf(job))!.spec as { template: { spec: Record<string, unknown> } })
        .template.spec;
      const [container] = spec.containers as { securityContext: Record<string, unknown> }[];
      return { pod: spec.securityContext, container: container!.securityContext };
    };
    const root = await submittedJob({
      ...cpuRequest,
      job_config: {
        ...cpuRequest.job_config,
        image: "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
        run_as_user: 0,
        run_as_group: 0,
      },
    });
    expect(podSecurity(root).pod).toEqual({
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(podSecurity(root).container).toMatchObject({
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
    });
    const numbered = await submittedJob({
      ...cpuRequest,
      job_config: { ...cpuRequest.job_config, run_as_user: 1000 },
    });
    expect(podSecurity(numbered).pod).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const plain = await submittedJob(cpuRequest);
    expect(podSecurity(plain).pod).toEqual({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("rejects a negative run_as_user naming the field", () => {
    const parsed = CREATE_JOB_REQUESTS.kubernetes.safeParse({
      ...cpuRequest,
      job_config: { ...cpuRequest.job_config, run_as_user: -1 },
    });
    expect(parsed.success).toBe(false);
    expect(issuesToDetails(parsed.error!)).toEqual([
      { path: "job_config.run_as_user", message: "must not be negative" },
    ]);
  });

  it("names Jobs as lowercase DNS labels of at most 63 characters ending in the job id, whatever the job's name", () => {
    const name = kubernetesJobName("3f2a1b9c-88de-4a12-b901-c2e5f7d04321", `${"Very.Long_Name".repeat(10)}`);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name.endsWith("-3f2a1b9c88de4a12b901c2e5f7d04321")).toBe(true);
  });

  it("rejects a ttl_seconds_after_finished below zero naming the field", () => {
    const parsed = CREATE_JOB_REQUESTS.kubernetes.safeParse({
      ...cpuRequest,
      job_config: { ...cpuRequest.job_config, ttl_seconds_after_finished: -1 },
    });
    expect(parsed.success).toBe(false);
    expect(issuesToDetails(parsed.error!)).toEqual([
      {
        path: "job_config.ttl_seconds_after_finished",
        message: "must be at least 0 (Kubernetes JobSpec.ttlSecondsAfterFinished, an int32); got -1",
      },
    ]);
  });
});

describe("the kubernetes backend's statuses", () => {
  it.each([
    ["suspended, waiting for Kueue to admit it", { active: 0 }, true, "PENDING"],
    ["created with no pod yet", {}, false, "PENDING"],
    ["holding a pod that is not ready yet", { active: 1, ready: 0 }, false, "PENDING"],
    ["holding a ready pod", { active: 1, ready: 1 }, false, "IN_PROGRESS"],
    ["holding an active pod on a server that reports no ready count", { active: 1 }, false, "IN_PROGRESS"],
    ["replacing a failed pod", { active: 1, ready: 0, failed: 1 }, false, "IN_PROGRESS"],
  ])("reports a Job %s as %s", async (_what, status, suspend, expected) => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), status, suspend);
    const polled = await backend.poll(job);
    expect(polled.status).toBe(expected);
    expect(polled.result).toBeUndefined();
  });

  it("keeps a Job seen running IN_PROGRESS while its next pod is not ready", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), { active: 1, ready: 0 });
    const polled = await backend.poll({
      ...job,
      backendState: { ...job.backendState, lastStatus: "IN_PROGRESS" },
    });
    expect(polled.status).toBe("IN_PROGRESS");
  });

  it("reports a running Job that Kueue preempted (suspended again) as PENDING", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), { active: 0 }, true);
    const polled = await backend.poll({
      ...job,
      backendState: { ...job.backendState, lastStatus: "IN_PROGRESS" },
    });
    expect(polled.status).toBe("PENDING");
  });

  it("reports a Job with a true Complete condition as COMPLETED", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), {
      succeeded: 1,
      conditions: [
        { type: "SuccessCriteriaMet", status: "True" },
        { type: "Complete", status: "True" },
      ],
    });
    expect(await backend.poll(job)).toEqual({
      status: "COMPLETED",
      backendState: { namespace: NS, jobName: nameOf(job), lastStatus: "COMPLETED" },
    });
  });

  it("reports a Job that ran past activeDeadlineSeconds as EXPIRED with the condition's message", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), {
      failed: 1,
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "DeadlineExceeded",
          message: "Job was active longer than specified deadline",
        },
      ],
    });
    const polled = await backend.poll(job);
    expect(polled.status).toBe("EXPIRED");
    expect(polled.result).toEqual({
      failure_reason:
        "Kubernetes marked the Job Failed (DeadlineExceeded): Job was active longer than specified deadline",
    });
  });

  it("reports a failed Job as FAILED with the condition's message and how its pod's container ended", async () => {
    const job = await submittedJob();
    fake.addPod(NS, job.id, `${nameOf(job)}-abcde`, {
      phase: "Failed",
      containerStatuses: [
        {
          name: "trainer",
          image: "registry.example/eval:v1",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 137, reason: "OOMKilled", message: "wrote 3 of 5 shards" } },
        },
      ],
    });
    fake.setJobStatus(NS, nameOf(job), {
      failed: 1,
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
        },
      ],
    });
    const polled = await backend.poll(job);
    expect(polled.status).toBe("FAILED");
    expect(polled.result).toEqual({
      failure_reason: `Kubernetes marked the Job Failed (BackoffLimitExceeded): Job has reached the specified backoff limit; pod ${nameOf(job)}-abcde: container trainer terminated with OOMKilled (exit code 137): wrote 3 of 5 shards`,
      exit_code: 137,
    });
  });

  it("still reports a failed Job FAILED when its pods cannot be read", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), {
      failed: 1,
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
        },
      ],
    });
    fake.server.failNext((r) => r.method === "GET" && r.path === `/api/v1/namespaces/${NS}/pods`, {
      respond: kubeStatus(403, "Forbidden", 'pods is forbidden: User "x" cannot list resource "pods"'),
    });
    const polled = await backend.poll(job);
    expect(polled.status).toBe("FAILED");
    expect(polled.result).toEqual({
      failure_reason:
        "Kubernetes marked the Job Failed (BackoffLimitExceeded): Job has reached the specified backoff limit",
    });
  });

  it("keeps a Job whose image does not pull PENDING and records why it waits", async () => {
    const job = await submittedJob();
    const pod = `${nameOf(job)}-pull1`;
    fake.addPod(NS, job.id, pod, {
      phase: "Pending",
      containerStatuses: [
        {
          name: "trainer",
          image: "registry.example/eval:v1",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: {
            waiting: {
              reason: "ImagePullBackOff",
              message: 'Back-off pulling image "registry.example/eval:v1"',
            },
          },
        },
      ],
    });
    fake.setJobStatus(NS, nameOf(job), { active: 1, ready: 0 });
    const polled = await backend.poll(job);
    expect(polled.status).toBe("PENDING");
    expect(polled.backendState?.waiting).toBe(
      `pod ${pod}: ImagePullBackOff: Back-off pulling image "registry.example/eval:v1"`,
    );
    expect(ctx.lines.some((l) => l.level === "warn" && l.msg === "job is waiting")).toBe(true);
  });

  it("says why a Job that expired before it started was waiting", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), {
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "DeadlineExceeded",
          message: "Job was active longer than specified deadline",
        },
      ],
    });
    const waiting = "pod x: Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.";
    const polled = await backend.poll({ ...job, backendState: { ...job.backendState, waiting } });
    expect(polled.status).toBe("EXPIRED");
    expect(polled.result?.failure_reason).toBe(
      `Kubernetes marked the Job Failed (DeadlineExceeded): Job was active longer than specified deadline; it was still waiting: ${waiting}`,
    );
  });

  it("reports a Job deleted by someone else as FAILED saying so", async () => {
    const job = await submittedJob();
    fake.removeJob(NS, nameOf(job));
    const polled = await backend.poll(job);
    expect(polled.status).toBe("FAILED");
    expect(polled.result?.failure_reason).toContain(
      `the Kubernetes Job ${NS}/${nameOf(job)} was deleted before the Train API saw it finish`,
    );
  });
});

describe("the kubernetes backend's cancel", () => {
  it("deletes the Job with background propagation and then reports it CANCELED", async () => {
    const job = await submittedJob();
    fake.setJobStatus(NS, nameOf(job), { active: 1, ready: 1 });
    await backend.cancel(job);
    const deletes = fake.requestsFor("DELETE", new RegExp(`/jobs/${nameOf(job)}$`));
    expect(deletes).toHaveLength(1);
    expect(deletes[0]!.query.get("propagationPolicy")).toBe("Background");
    expect(fake.job(NS, nameOf(job))).toBeUndefined();
    expect((await backend.poll(job)).status).toBe("CANCELED");
  });

  it("resolves a repeated cancel of a Job already deleted", async () => {
    const job = await submittedJob();
    await backend.cancel(job);
    await expect(backend.cancel(job)).resolves.toBeUndefined();
    expect((await backend.poll(job)).status).toBe("CANCELED");
  });
});

describe("the kubernetes backend's resubmission", () => {
  it("adopts the Job of a create whose response was lost instead of starting a second", async () => {
    const job = backendJob("kubernetes", cpuRequest);
    fake.server.failNext(isCreate, { dropAfterHandling: true });
    const result = await backend.submit(job);
    const name = kubernetesJobName(job.id, "eval");
    expect(result.cloudJobIdentifier).toEqual({ namespace: NS, job_name: name });
    expect(
      fake.server.requests.filter(
        (r) => isCreate(r) && (r.json as { metadata: { name: string } }).metadata.name === name,
      ),
    ).toHaveLength(2);
    expect([...fake.jobs.keys()].filter((k) => k === `${NS}/${name}`)).toHaveLength(1);
  });

  it("adopts the running Job on a second submit and reports its current status", async () => {
    const job = backendJob("kubernetes", cpuRequest);
    await backend.submit(job);
    fake.setJobStatus(NS, kubernetesJobName(job.id, "eval"), { active: 1, ready: 1 });
    const again = await backend.submit(job);
    expect(again.status).toBe("IN_PROGRESS");
    expect(
      ctx.lines.some(
        (l) => l.msg === "adopted existing Job" && (l.obj as { jobId: string }).jobId === job.id,
      ),
    ).toBe(true);
  });

  it("refuses to adopt a Job of the same name that another job's label marks", async () => {
    const job = backendJob("kubernetes", cpuRequest);
    await backend.submit(job);
    const name = kubernetesJobName(job.id, "eval");
    // A Job holding the derived name but another id's label can only have been made by hand.
    fake.job(NS, name)!.metadata.labels = { "trainkit.dev/job-id": "someone-else" };
    const err = (await backend.submit(job).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(409);
    expect(err.message).toContain(`already holds a Job ${NS}/${name} that was not made for job ${job.id}`);
  });
});

describe("the kubernetes backend's errors", () => {
  it("fails the submit with the API server's forbidden message and status 403", async () => {
    const message = `jobs.batch is forbidden: User "system:serviceaccount:trainkit:trainkit-api" cannot create resource "jobs" in API group "batch" in the namespace "${NS}"`;
    fake.server.failNext(isCreate, { respond: kubeStatus(403, "Forbidden", message) });
    const err = (await backend
      .submit(backendJob("kubernetes", cpuRequest))
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(403);
    expect(err.code).toBe("cloud_permission_denied");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(message);
  });

  it("fails the submit with the API server's validation message and status 400", async () => {
    const message = 'Job.batch "eval-x" is invalid: spec.template.spec.containers[0].image: Required value';
    fake.server.failNext(isCreate, { respond: kubeStatus(422, "Invalid", message) });
    const err = (await backend
      .submit(backendJob("kubernetes", cpuRequest))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.code).toBe("cloud_rejected_request");
    expect(err.message).toContain(message);
  });

  it("answers a namespace's exceeded ResourceQuota as a quota failure with status 429", async () => {
    const message =
      'jobs.batch "eval-x" is forbidden: exceeded quota: gpu-quota, requested: count/jobs.batch=1, used: count/jobs.batch=10, limited: count/jobs.batch=10';
    fake.server.failNext(isCreate, { respond: kubeStatus(403, "Forbidden", message) });
    const err = (await backend
      .submit(backendJob("kubernetes", cpuRequest))
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(429);
    expect(err.code).toBe("cloud_quota_exceeded");
    expect(err.message).toContain("exceeded quota: gpu-quota");
  });

  it("retries a throttled create and then succeeds", async () => {
    const before = fake.server.requests.filter(isCreate).length;
    fake.server.failNext(isCreate, {
      respond: {
        ...kubeStatus(429, "TooManyRequests", "too many requests, please try again later"),
        headers: { "retry-after": "0" },
      },
    });
    const result = await backend.submit(backendJob("kubernetes", cpuRequest));
    expect(fake.server.requests.filter(isCreate).length - before).toBe(2);
    expect(fake.job(NS, result.cloudJobIdentifier.job_name!)).toBeDefined();
  });

  it("gives up on an API server failing with 5xx after five attempts, as a retryable failure carrying its message", async () => {
    const before = fake.server.requests.filter(isCreate).length;
    fake.server.failNext(
      isCreate,
      { respond: kubeStatus(503, "ServiceUnavailable", "etcdserver: leader changed") },
      5,
    );
    const err = (await backend
      .submit(backendJob("kubernetes", cpuRequest))
      .catch((e: unknown) => e)) as BackendError;
    expect(fake.server.requests.filter(isCreate).length - before).toBe(5);
    expect(err.status).toBe(502);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain("etcdserver: leader changed");
  });

  it("fails a poll the API server forbids with its message", async () => {
    const job = await submittedJob();
    const message = `jobs.batch "${nameOf(job)}" is forbidden: User "system:anonymous" cannot get resource "jobs"`;
    fake.server.failNext((r) => r.method === "GET" && r.path.endsWith(`/jobs/${nameOf(job)}`), {
      respond: kubeStatus(403, "Forbidden", message),
    });
    const err = (await backend.poll(job).catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(403);
    expect(err.message).toContain(message);
  });
});

describe("the kubernetes backend's logs", () => {
  const POD_LOG = published<Record<string, unknown>>("kubernetes/pod-log-read.json");
  const running = {
    phase: "Running",
    containerStatuses: [
      { name: "trainer", image: "i", imageID: "", ready: true, restartCount: 0, state: { running: {} } },
    ],
  };
  const ago = (seconds: number) => rfc3339Nano(new Date(Date.now() - seconds * 1000));

  it("serves the last lines of the newest pod's trainer container, each with its time and pod", async () => {
    const job = await submittedJob();
    fake.addPod(NS, job.id, `${nameOf(job)}-old`, running, "old 1\nold 2\n");
    fake.addPod(NS, job.id, `${nameOf(job)}-new`, running);
    fake.appendLog(NS, `${nameOf(job)}-new`, "epoch 1\nepoch 2", "2026-12-02T10:00:00.5Z");
    fake.appendLog(NS, `${nameOf(job)}-new`, "epoch 3", "2026-12-02T10:00:01.123456789Z");
    const logs = await backend.logs(job, { stream: "stdout", tail: 2 });
    expect(logs.lines).toEqual(["epoch 2", "epoch 3"]);
    expect(logs.entries).toEqual([
      { text: "epoch 2", timestamp: "2026-12-02T10:00:00.5Z", source: `${nameOf(job)}-new` },
      { text: "epoch 3", timestamp: "2026-12-02T10:00:01.123456789Z", source: `${nameOf(job)}-new` },
    ]);
    expect(logs.next_cursor).toEqual(expect.any(String));
    const read = fake.requestsFor("GET", new RegExp(`/pods/${nameOf(job)}-new/log$`)).at(-1)!;
    expect(read.query.get("container")).toBe("trainer");
    expect(read.query.get("tailLines")).toBe("2");
    expect(read.query.get("timestamps")).toBe("true");
    // Every query parameter sent is one the published API documents for this read.
    for (const key of read.query.keys()) expect(POD_LOG.clientParameters).toContain(key);
  });

  it("continues from next_cursor with only the lines logged since, each once, even at the same time", async () => {
    const job = await submittedJob();
    const pod = `${nameOf(job)}-abc`;
    fake.addPod(NS, job.id, pod, running);
    const t = ago(30);
    fake.appendLog(NS, pod, "a\nb", t);
    const fromStart = Buffer.from("[]").toString("base64url");
    const first = await backend.logs(job, { stream: "stdout", tail: 100, cursor: fromStart });
    expect(first.lines).toEqual(["a", "b"]);

    // A line logged at the very same time as the last one returned is new all the same.
    fake.appendLog(NS, pod, "c", t);
    fake.appendLog(NS, pod, "d\ne", ago(5));
    const second = await backend.logs(job, { stream: "stdout", tail: 2, cursor: first.next_cursor! });
    expect(second.lines).toEqual(["c", "d"]);
    const third = await backend.logs(job, { stream: "stdout", tail: 100, cursor: second.next_cursor! });
    expect(third.lines).toEqual(["e"]);
    const fourth = await backend.logs(job, { stream: "stdout", tail: 100, cursor: third.next_cursor! });
    expect(fourth.lines).toEqual([]);
    expect(fourth.next_cursor).toBe(third.next_cursor);

    // A read from a position asks only for the seconds since it (and a margin for clock skew).
    const read = fake.requestsFor("GET", new RegExp(`/pods/${pod}/log$`)).at(-1)!;
    expect(read.query.get("tailLines")).toBeNull();
    const since = Number(read.query.get("sinceSeconds"));
    expect(since).toBeGreaterThanOrEqual(5 + CLOCK_SKEW_MARGIN_SECONDS);
    expect(since).toBeLessThan(60 + CLOCK_SKEW_MARGIN_SECONDS);
  });

  it("goes on from the first line of a newer pod that replaced the one the cursor was in", async () => {
    const job = await submittedJob();
    fake.addPod(NS, job.id, `${nameOf(job)}-first`, running, "try 1\n");
    const first = await backend.logs(job, { stream: "stdout", tail: 100 });
    expect(first.lines).toEqual(["try 1"]);
    fake.addPod(NS, job.id, `${nameOf(job)}-second`, running, "try 2, line 1\ntry 2, line 2\n");
    const next = await backend.logs(job, { stream: "stdout", tail: 100, cursor: first.next_cursor! });
    expect(next.entries).toEqual([
      expect.objectContaining({ text: "try 2, line 1", source: `${nameOf(job)}-second` }),
      expect.objectContaining({ text: "try 2, line 2", source: `${nameOf(job)}-second` }),
    ]);
  });

  it("answers an empty log whose cursor starts at the beginning for a job whose pod has not started", async () => {
    const job = await submittedJob();
    const logs = await backend.logs(job, { stream: "stdout", tail: 10 });
    expect(logs.lines).toEqual([]);
    fake.addPod(NS, job.id, `${nameOf(job)}-late`, running, "hello\n");
    const next = await backend.logs(job, { stream: "stdout", tail: 10, cursor: logs.next_cursor! });
    expect(next.lines).toEqual(["hello"]);
  });

  it("refuses a cursor it did not issue, saying to pass next_cursor unchanged", async () => {
    const job = await submittedJob();
    const forged = Buffer.from(JSON.stringify(["Not_A_Pod", "yesterday", 0])).toString("base64url");
    await expect(backend.logs(job, { stream: "stdout", tail: 10, cursor: forged })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("pass next_cursor"),
    });
  });

  it("refuses stream=stderr with a sentence saying stdout holds both", async () => {
    const job = await submittedJob();
    const err = (await backend
      .logs(job, { stream: "stderr", tail: 10 })
      .catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.message).toContain("ask for stream=stdout to read both");
  });
});

describe("the kubernetes backend's settings", () => {
  it("names TRAINKIT_KUBERNETES_NAMESPACE when it is missing", () => {
    expect(kubernetesBackend({ KUBECONFIG: kubeconfig }, testContext())).toEqual({
      missing: ["TRAINKIT_KUBERNETES_NAMESPACE"],
    });
  });

  it("names the kubeconfig when there is none to find", () => {
    const made = kubernetesBackend({ TRAINKIT_KUBERNETES_NAMESPACE: NS, HOME: dir }, testContext());
    expect(made).toEqual({ missing: ["KUBECONFIG (or ~/.kube/config, or an in-cluster service account)"] });
  });

  it("throws naming the variable, the value and the fix for a namespace that is not a DNS label", () => {
    expect(() =>
      kubernetesBackend({ TRAINKIT_KUBERNETES_NAMESPACE: "ML_Jobs", KUBECONFIG: kubeconfig }, testContext()),
    ).toThrow(
      "TRAINKIT_KUBERNETES_NAMESPACE must be a lowercase DNS label (letters, digits and '-', at most 63 characters); got \"ML_Jobs\".",
    );
  });

  it("throws naming a KUBECONFIG file that does not exist", () => {
    expect(() =>
      kubernetesBackend(
        { TRAINKIT_KUBERNETES_NAMESPACE: NS, KUBECONFIG: join(dir, "nope.yaml") },
        testContext(),
      ),
    ).toThrow(
      `KUBECONFIG names ${join(dir, "nope.yaml")}, which does not exist; point it at a kubeconfig file.`,
    );
  });

  it("sends jobs to TRAINKIT_KUBERNETES_ENDPOINT instead of the kubeconfig's server", async () => {
    const elsewhere = fake.writeKubeconfig(mkdtempSync(join(dir, "other-")), "https://127.0.0.1:9");
    const made = kubernetesBackend(
      { TRAINKIT_KUBERNETES_NAMESPACE: NS, KUBECONFIG: elsewhere, TRAINKIT_KUBERNETES_ENDPOINT: fake.url },
      testContext(),
    );
    if (!("backend" in made)) throw new Error(`not built: ${made.missing.join(", ")}`);
    const result = await made.backend.submit(backendJob("kubernetes", cpuRequest));
    expect(fake.job(NS, result.cloudJobIdentifier.job_name!)).toBeDefined();
  });
});

describe("the kubernetes backend with a kubeconfig that does not parse", () => {
  const TOKEN = "kube-token-SUPERSECRET-never-shown";
  /** A kubeconfig whose line after `token:` is indented too far, so the YAML parser quotes the token. */
  function brokenKubeconfig(): string {
    const file = join(mkdtempSync(join(dir, "broken-")), "kubeconfig.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "users:",
        "- name: trainkit",
        "  user:",
        `    token: ${TOKEN}`,
        "      client-key-data: abc",
        "current-context: fake",
        "",
      ].join("\n"),
    );
    return file;
  }

  it("fails the submit as a retryable 503 naming the file and line, never the token", async () => {
    const file = brokenKubeconfig();
    const log = testContext();
    const broken = new KubernetesBackend({ namespace: NS }, { files: [file] }, log, {
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      minPollIntervalMs: 0,
    });
    const err = (await broken
      .submit(backendJob("kubernetes", cpuRequest))
      .catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`${file} (line 7) is not valid YAML: bad indentation of a mapping entry`);
    expect(err.message).not.toContain(TOKEN);
    expect(JSON.stringify(log.lines)).toContain(file);
    expect(JSON.stringify(log.lines)).not.toContain(TOKEN);
  });

  it("keeps the job PENDING through the Train API, with no failure that repeats the token", async () => {
    const home = mkdtempSync(join(dir, "home-"));
    const api = await startTrainApi({
      reconcileIntervalMs: 100,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        TRAINKIT_KUBERNETES_NAMESPACE: NS,
        KUBECONFIG: brokenKubeconfig(),
      },
    });
    try {
      const res = await fetch(`${api.url}/v1/kubernetes/jobs`, {
        method: "POST",
        headers: { ...authHeaders(api), "content-type": "application/json" },
        body: JSON.stringify(cpuRequest),
      });
      const text = await res.text();
      expect(res.status).toBe(201);
      expect(text).not.toContain(TOKEN);
      const job = JSON.parse(text) as { id: string; status: string; result?: unknown };
      expect(job.status).toBe("PENDING");
      expect(job.result ?? null).toBeNull();
      const again = await fetch(`${api.url}/v1/jobs/${job.id}`, { headers: authHeaders(api) });
      const seen = await again.text();
      expect(JSON.parse(seen).status).toBe("PENDING");
      expect(seen).not.toContain(TOKEN);
    } finally {
      await api.close();
    }
  });
});
