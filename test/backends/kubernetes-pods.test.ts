import { mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  JOB_ID_LABEL,
  KubernetesBackend,
  PENDING_OR_FAILED_PODS,
} from "../../src/server/backends/kubernetes";
import type { BackendJob, PollResult, SyncResult } from "../../src/server/backends/types";
import { submitKubernetesJobs, testContext } from "../helpers/backend-job";
import { FAKE_KUBE_TOKEN, FakeKubernetes } from "../helpers/fake-kubernetes";
import { published } from "../helpers/published";

// How `sync` reads pods: once per namespace for all the jobs that need theirs (a Failed Job's end,
// a waiting job's reason), against a loopback stand-in (fake) for the kube-apiserver that filters
// pods by label and `status.phase` field selectors and counts the lists it answers. Each test runs
// in namespaces of its own, so a namespace's list holds only that test's pods.

const NS = "ml-jobs";
const PAGE = 10;
const POD_LIST = published<{
  fieldSelectors: { podFields: string[]; operators: string[]; setBasedOperators: string };
  labelSelectorKeyAlone: string;
  PodPhase: Record<string, string>;
  JobStatus: { active: string; terminating: string };
  listNamespacedPod: { clientParameters: string[] };
}>("kubernetes/pod-list.json");

let fake: FakeKubernetes;
let dir: string;
const backends: KubernetesBackend[] = [];
const notified: string[] = [];

function makeBackend(
  namespace: string,
  options: { minPollIntervalMs: number; watch: boolean },
): KubernetesBackend {
  const backend = new KubernetesBackend(
    { namespace },
    { files: [fake.writeKubeconfig(dir)] },
    { ...testContext(), notify: (jobId) => notified.push(jobId) },
    { retry: { initialDelayMs: 5, maxDelayMs: 20 }, listPageSize: PAGE, ...options },
  );
  backends.push(backend);
  return backend;
}

beforeAll(async () => {
  fake = await FakeKubernetes.start();
  dir = mkdtempSync(join(tmpdir(), "trainkit-k8s-pods-"));
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  for (const backend of backends) await backend.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const nameOf = (job: BackendJob<"kubernetes">) => job.cloudJobIdentifier!.job_name!;
const namespaceOf = (job: BackendJob<"kubernetes">) => job.cloudJobIdentifier!.namespace!;
const podLists = () => fake.requestsFor("GET", /^\/api\/v1\/namespaces\/[^/]+\/pods$/);
const reading = (settled: SyncResult, job: BackendJob<"kubernetes">) => settled.get(job.id) as PollResult;
const waitingOf = (settled: SyncResult, job: BackendJob<"kubernetes">) =>
  reading(settled, job).backendState?.waiting;

/** Gives the job a pod that cannot pull its image, and its Job one active pod that is not ready. */
function waitOnImage(job: BackendJob<"kubernetes">): void {
  fake.addPod(namespaceOf(job), job.id, `${nameOf(job)}-pull`, {
    phase: "Pending",
    containerStatuses: [
      {
        name: "trainer",
        ready: false,
        restartCount: 0,
        image: "registry.example/train:v1",
        imageID: "",
        state: { waiting: { reason: "ImagePullBackOff", message: "Back-off pulling image" } },
      },
    ],
  });
  fake.setJobStatus(namespaceOf(job), nameOf(job), { active: 1, ready: 0 });
}

/** Gives the job a pod no node can take, and its Job one active pod that is not ready. */
function waitOnNodes(job: BackendJob<"kubernetes">): void {
  fake.addPod(namespaceOf(job), job.id, `${nameOf(job)}-gpu`, {
    phase: "Pending",
    conditions: [
      {
        type: "PodScheduled",
        status: "False",
        reason: "Unschedulable",
        message: "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
      },
    ],
  });
  fake.setJobStatus(namespaceOf(job), nameOf(job), { active: 1, ready: 0 });
}

/** Marks the Job Failed as the Job controller does once none of its pods is left stopping. */
function failJob(job: BackendJob<"kubernetes">, terminating: number | undefined): void {
  fake.setJobStatus(namespaceOf(job), nameOf(job), {
    failed: 1,
    ...(terminating !== undefined ? { terminating } : {}),
    conditions: [
      {
        type: "Failed",
        status: "True",
        reason: "BackoffLimitExceeded",
        message: "Job has reached the specified backoff limit",
      },
    ],
  });
}

/** A GET to the stand-in as any API client would send it, trusting the certificate it was made with. */
function getFromFake(path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${fake.url}${path}`,
      { ca: fake.ca, headers: { authorization: `Bearer ${FAKE_KUBE_TOKEN}` } },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
  });
}

/** The job as the reconciler holds it after a sync: with the state the sync returned. */
const recorded = (settled: SyncResult, job: BackendJob<"kubernetes">): BackendJob<"kubernetes"> => ({
  ...job,
  backendState: reading(settled, job).backendState!,
});

describe("the kubernetes backend's pod reads in a sync", () => {
  it("reads the pods of many waiting jobs with one paged pod list per namespace, not one per job", async () => {
    const backend = makeBackend("waiting", { minPollIntervalMs: 0, watch: false });
    const pulling = await submitKubernetesJobs(backend, 14);
    const unschedulable = await submitKubernetesJobs(backend, 9);
    const elsewhere = await submitKubernetesJobs(backend, 3, "waiting-too");
    const running = await submitKubernetesJobs(backend, 4);
    for (const job of [...pulling, ...elsewhere]) waitOnImage(job);
    for (const job of unschedulable) waitOnNodes(job);
    for (const job of running) {
      fake.addPod(namespaceOf(job), job.id, `${nameOf(job)}-run`, { phase: "Running" });
      fake.setJobStatus(namespaceOf(job), nameOf(job), { active: 1, ready: 1 });
    }
    const before = podLists().length;

    const settled = await backend.sync([...pulling, ...unschedulable, ...elsewhere, ...running]);

    for (const job of [...pulling, ...elsewhere]) {
      expect(reading(settled, job).status).toBe("PENDING");
      expect(waitingOf(settled, job)).toBe(
        `pod ${nameOf(job)}-pull: ImagePullBackOff: Back-off pulling image`,
      );
    }
    for (const job of unschedulable) {
      expect(waitingOf(settled, job)).toBe(
        `pod ${nameOf(job)}-gpu: Unschedulable: 0/4 nodes are available: 4 Insufficient nvidia.com/gpu.`,
      );
    }
    for (const job of running) expect(reading(settled, job).status).toBe("IN_PROGRESS");
    const lists = podLists().slice(before);
    // 23 waiting pods in one namespace at 10 a page: three pages; the other's 3 pods: one.
    expect(lists.map((r) => r.path.split("/")[4])).toEqual(["waiting", "waiting", "waiting", "waiting-too"]);
    for (const list of lists) {
      expect(list.query.get("labelSelector")).toBe(JOB_ID_LABEL);
      expect(list.query.get("fieldSelector")).toBe(PENDING_OR_FAILED_PODS);
      expect(list.query.get("limit")).toBe(String(PAGE));
    }
    expect(lists[1]!.query.get("continue")).toBeTruthy();
  });

  it("gives Failed jobs their end through the grouped read, and reads on its own a Job whose pods may still be stopping", async () => {
    const backend = makeBackend("failed", { minPollIntervalMs: 0, watch: false });
    const [preempted, crashed, stopping] = await submitKubernetesJobs(backend, 3);
    fake.addPod("failed", preempted!.id, `${nameOf(preempted!)}-a`, {
      phase: "Failed",
      conditions: [
        {
          type: "DisruptionTarget",
          status: "True",
          reason: "PreemptionByScheduler",
          message: "Preempted in order to admit critical pod",
        },
      ],
    });
    fake.addPod("failed", crashed!.id, `${nameOf(crashed!)}-a`, {
      phase: "Failed",
      containerStatuses: [
        {
          name: "trainer",
          ready: false,
          restartCount: 0,
          image: "registry.example/train:v1",
          imageID: "",
          state: { terminated: { exitCode: 137, reason: "OOMKilled" } },
        },
      ],
    });
    // Still Running while it stops: the disruption that failed the Job, which the phase filter
    // would hide, so a Job that does not say none of its pods is stopping is read on its own.
    fake.addPod("failed", stopping!.id, `${nameOf(stopping!)}-a`, {
      phase: "Running",
      conditions: [{ type: "DisruptionTarget", status: "True", reason: "EvictionByEvictionAPI" }],
    });
    failJob(preempted!, 0);
    failJob(crashed!, 0);
    failJob(stopping!, undefined);
    const before = podLists().length;

    const settled = await backend.sync([preempted!, crashed!, stopping!]);

    expect(reading(settled, preempted!)).toMatchObject({
      status: "FAILED",
      end: {
        kind: "preemption",
        reason: `preempted: pod ${nameOf(preempted!)}-a was disrupted (PreemptionByScheduler): Preempted in order to admit critical pod`,
      },
    });
    expect(reading(settled, crashed!).status).toBe("FAILED");
    expect(reading(settled, crashed!).end).toBeUndefined();
    expect(reading(settled, crashed!).result?.failure_reason).toContain(
      `pod ${nameOf(crashed!)}-a: container trainer terminated with OOMKilled (exit code 137)`,
    );
    expect(reading(settled, stopping!).end).toMatchObject({ kind: "preemption" });
    const selectors = podLists()
      .slice(before)
      .map((r) => [r.query.get("labelSelector"), r.query.get("fieldSelector")]);
    expect(selectors).toEqual([
      [JOB_ID_LABEL, PENDING_OR_FAILED_PODS],
      [`${JOB_ID_LABEL}=${stopping!.id}`, null],
    ]);
  });

  it("answers waiting reasons from the last pod read until the min poll interval has passed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const backend = makeBackend("interval", { minPollIntervalMs: 30_000, watch: false });
    let jobs = await submitKubernetesJobs(backend, 5);
    for (const job of jobs) waitOnNodes(job);
    const first = await backend.sync(jobs);
    jobs = jobs.map((job) => recorded(first, job));
    const listed = fake.podLists;

    vi.setSystemTime(Date.now() + 29_000);
    const again = await backend.sync(jobs);
    expect(fake.podLists).toBe(listed);
    for (const job of jobs) expect(waitingOf(again, job)).toMatch(/: Unschedulable: 0\/4 nodes/);

    vi.setSystemTime(Date.now() + 2_000);
    await backend.sync(jobs);
    expect(fake.podLists).toBe(listed + 1);
  });

  it("lists no pods again for the syncs the watch brings on within the interval, and keeps the reasons", async () => {
    const backend = makeBackend("watched", { minPollIntervalMs: 60_000, watch: true });
    let jobs = await submitKubernetesJobs(backend, 6);
    for (const job of jobs) waitOnImage(job);
    // Until the watch has delivered every Job's status, a sync sees some jobs not waiting yet.
    let first: SyncResult = new Map();
    await vi.waitFor(
      async () => {
        first = await backend.sync(jobs);
        for (const job of jobs) expect(waitingOf(first, job)).toMatch(/: ImagePullBackOff: /);
      },
      { timeout: 10_000, interval: 10 },
    );
    jobs = jobs.map((job) => recorded(first, job));
    const listed = fake.podLists;

    for (const job of jobs.slice(0, 3)) {
      notified.length = 0;
      fake.setJobStatus(namespaceOf(job), nameOf(job), { active: 1, ready: 0, uncountedTerminatedPods: {} });
      await vi.waitFor(() => expect(notified).toContain(job.id), { timeout: 10_000, interval: 10 });
      const settled = await backend.sync(jobs);
      for (const j of jobs) expect(waitingOf(settled, j)).toMatch(/: ImagePullBackOff: /);
    }
    expect(fake.podLists).toBe(listed);
  });

  it("sends a pod selector of only the fields, operators and phases the Kubernetes documentation lists", () => {
    for (const p of ["labelSelector", "fieldSelector", "limit", "_continue"])
      expect(POD_LIST.listNamespacedPod.clientParameters).toContain(p);
    expect(POD_LIST.labelSelectorKeyAlone).toMatch(/selects all resources including a label with key/);
    const terms = PENDING_OR_FAILED_PODS.split(",").map((t) => /^([^!=]+)(==|=|!=)(.*)$/.exec(t)!);
    for (const [, field, operator, phase] of terms) {
      expect(POD_LIST.fieldSelectors.podFields).toContain(field);
      expect(POD_LIST.fieldSelectors.operators).toContain(operator);
      expect(Object.keys(POD_LIST.PodPhase)).toContain(phase);
    }
    // What the read keeps: a waiting pod (containers not started) and a failed one.
    const excluded = new Set(terms.map(([, , , phase]) => phase));
    expect(Object.keys(POD_LIST.PodPhase).filter((p) => !excluded.has(p))).toEqual([
      "Pending",
      "Failed",
      "Unknown",
    ]);
    expect(POD_LIST.PodPhase.Pending).toMatch(/one or more of the containers\s+has not been started/);
    expect(POD_LIST.JobStatus.active).toMatch(/The value is zero for finished jobs/);
    expect(POD_LIST.JobStatus.terminating).toMatch(
      /in phase Pending or Running and have a deletionTimestamp/,
    );
  });

  it("is refused, as the API server refuses it, a pod field selector on a field Pods do not support", async () => {
    const answer = await getFromFake(
      `/api/v1/namespaces/${NS}/pods?fieldSelector=${encodeURIComponent("status.reason!=Evicted")}`,
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ reason: "BadRequest", code: 400 });
    expect((answer.body as { message: string }).message).toContain(
      '"status.reason" is not a known field selector: only "metadata.name", "metadata.namespace", "spec.nodeName"',
    );
    const phase = await getFromFake(
      `/api/v1/namespaces/${NS}/pods?fieldSelector=${encodeURIComponent("status.phase=Pending")}`,
    );
    expect(phase.status).toBe(200);
  });
});
