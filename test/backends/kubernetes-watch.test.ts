import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { KubernetesBackend, kubernetesBackend, MANAGED_SELECTOR } from "../../src/server/backends/kubernetes";
import type { BackendJob, PollResult } from "../../src/server/backends/types";
import type { CreateJobRequest } from "../../src/spec";
import { backendJob, submitted, testContext } from "../helpers/backend-job";
import { FakeKubernetes } from "../helpers/fake-kubernetes";
import { published } from "../helpers/published";

// The backend's watch is the official @kubernetes/client-node ListWatch, driven against a loopback
// stand-in (fake) for the kube-apiserver that serves `?watch=true` streams as the API concepts page
// describes (test/fixtures/published/kubernetes/watch.json): changes after a resourceVersion, one
// JSON line each, and 410 Gone for a version older than the history it keeps. What is tested is the
// backend's reaction; the fake's event timing is its own.

const NS = "ml-jobs";
const WATCH = published<{ eventTypes: string[]; gone: string }>("kubernetes/watch.json");

let fake: FakeKubernetes;
let dir: string;
let backend: KubernetesBackend;
const notified: string[] = [];

beforeAll(async () => {
  fake = await FakeKubernetes.start();
  dir = mkdtempSync(join(tmpdir(), "trainkit-k8s-watch-"));
  backend = new KubernetesBackend(
    { namespace: NS },
    { files: [fake.writeKubeconfig(dir)] },
    { ...testContext(), notify: (jobId) => notified.push(jobId) },
    { retry: { initialDelayMs: 5, maxDelayMs: 40 }, minPollIntervalMs: 0 },
  );
});

afterEach(() => {
  fake.server.heal();
});

afterAll(async () => {
  await backend.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const request: CreateJobRequest<"kubernetes"> = {
  name: "watched",
  job_config: { image: "registry.example/train:v1", command: ["python3", "train.py"] },
  storage_mounts: [],
};

async function submitMany(count: number): Promise<BackendJob<"kubernetes">[]> {
  const jobs: BackendJob<"kubernetes">[] = [];
  for (let i = 0; i < count; i += 1) {
    const job = backendJob("kubernetes", request);
    jobs.push(submitted(job, await backend.submit(job)));
  }
  return jobs;
}

const nameOf = (job: BackendJob<"kubernetes">) => job.cloudJobIdentifier!.job_name!;
const lists = () =>
  fake
    .requestsFor("GET", /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs$/)
    .filter((r) => r.query.get("watch") !== "true").length;
const statusIn = (settled: Map<string, PollResult | "unchanged">, job: BackendJob<"kubernetes">) =>
  (settled.get(job.id) as PollResult | undefined)?.status;
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 10 });

/** Waits until the watch is open and `sync` answers from it (no list). */
async function watchCurrent(jobs: BackendJob<"kubernetes">[]): Promise<void> {
  await until(() => expect(fake.openWatches).toBe(1));
  await until(async () => {
    const before = lists();
    await backend.sync(jobs);
    expect(lists()).toBe(before);
  });
}

describe("the kubernetes backend's Job watch", () => {
  it("starts with the namespace's first submit or sync: one labelled list, then a watch from its resourceVersion", async () => {
    const jobs = await submitMany(3);
    await backend.sync(jobs);
    await until(() => expect(fake.watchRequests()).toHaveLength(1));
    const [watch] = fake.watchRequests();
    expect(watch!.query.get("labelSelector")).toBe(MANAGED_SELECTOR);
    expect(Number(watch!.query.get("resourceVersion"))).toBeGreaterThan(0);
    await watchCurrent(jobs);
  });

  it("settles jobs from what the watch delivered, listing nothing, and tells the reconciler of each change", async () => {
    const jobs = await submitMany(4);
    await watchCurrent(jobs);
    const listsBefore = lists();
    notified.length = 0;
    fake.setJobStatus(NS, nameOf(jobs[0]!), { active: 1, ready: 1 });
    fake.setJobStatus(NS, nameOf(jobs[1]!), { conditions: [{ type: "Complete", status: "True" }] });
    await until(() => expect(notified).toEqual(expect.arrayContaining([jobs[0]!.id, jobs[1]!.id])));
    const settled = await backend.sync(jobs);
    expect(statusIn(settled, jobs[0]!)).toBe("IN_PROGRESS");
    expect(statusIn(settled, jobs[1]!)).toBe("COMPLETED");
    expect(statusIn(settled, jobs[2]!)).toBe("PENDING");
    expect(lists()).toBe(listsBefore);
  });

  it("leaves a Job the watch saw deleted to a poll, which reports it", async () => {
    const [job] = await submitMany(1);
    await watchCurrent([job!]);
    notified.length = 0;
    fake.removeJob(NS, nameOf(job!));
    await until(() => expect(notified).toContain(job!.id));
    expect((await backend.sync([job!])).has(job!.id)).toBe(false);
    expect((await backend.poll(job!)).status).toBe("FAILED");
  });

  it("resumes from the last resourceVersion it saw when the server ends the watch, without listing", async () => {
    const jobs = await submitMany(1);
    await watchCurrent(jobs);
    const listsBefore = lists();
    const watchesBefore = fake.watchRequests().length;
    fake.setJobStatus(NS, nameOf(jobs[0]!), { active: 1, ready: 1 });
    const seen = fake.job(NS, nameOf(jobs[0]!))!.metadata.resourceVersion;
    await until(async () => expect(statusIn(await backend.sync(jobs), jobs[0]!)).toBe("IN_PROGRESS"));
    fake.endWatches();
    await until(() => expect(fake.watchRequests().length).toBe(watchesBefore + 1));
    expect(fake.watchRequests().at(-1)!.query.get("resourceVersion")).toBe(seen);
    expect(lists()).toBe(listsBefore);
  });

  it("lists again and watches from the new list's version after 410 Gone, missing no change", async () => {
    expect(WATCH.gone).toMatch(/410 Gone/);
    expect(WATCH.eventTypes).toContain("ERROR");
    const jobs = await submitMany(2);
    await watchCurrent(jobs);
    const listsBefore = lists();
    fake.expireWatches();
    // A change made while the watcher is gone and the history it would resume from is compacted.
    fake.setJobStatus(NS, nameOf(jobs[1]!), { conditions: [{ type: "Complete", status: "True" }] });
    await until(() => expect(lists()).toBeGreaterThan(listsBefore));
    await until(() => expect(fake.openWatches).toBe(1));
    await until(async () => expect(statusIn(await backend.sync(jobs), jobs[1]!)).toBe("COMPLETED"));
  });

  it("lists on every sync while the watch is broken, and goes back to the watch once it is restored", async () => {
    const jobs = await submitMany(1);
    await watchCurrent(jobs);
    fake.server.failNext(
      (r) => r.query.get("watch") === "true",
      { respond: { status: 503, body: { kind: "Status", code: 503, reason: "ServiceUnavailable" } } },
      Number.POSITIVE_INFINITY,
    );
    fake.endWatches();
    await until(() => expect(fake.openWatches).toBe(0));
    fake.setJobStatus(NS, nameOf(jobs[0]!), { active: 1, ready: 1 });
    await until(async () => {
      const before = lists();
      expect(statusIn(await backend.sync(jobs), jobs[0]!)).toBe("IN_PROGRESS");
      expect(lists()).toBeGreaterThan(before);
    });
    fake.server.heal();
    await watchCurrent(jobs);
  });
});

describe("the kubernetes backend's settings for watching and pacing", () => {
  const env = () => ({ TRAINKIT_KUBERNETES_NAMESPACE: NS, KUBECONFIG: fake.writeKubeconfig(dir) });

  it("watches by default; TRAINKIT_KUBERNETES_WATCH=false lists on every sync instead", async () => {
    const made = kubernetesBackend({ ...env(), TRAINKIT_KUBERNETES_WATCH: "false" }, testContext());
    if (!("backend" in made)) throw new Error("not built");
    const watchesBefore = fake.watchRequests().length;
    const [job] = await submitMany(1);
    const listsBefore = lists();
    await made.backend.sync!([job!], undefined);
    await made.backend.sync!([job!], undefined);
    expect(lists()).toBe(listsBefore + 2);
    expect(fake.watchRequests().length).toBe(watchesBefore);
    expect(() => kubernetesBackend({ ...env(), TRAINKIT_KUBERNETES_WATCH: "yes" }, testContext())).toThrow(
      /TRAINKIT_KUBERNETES_WATCH must be true or false/,
    );
  });

  it("paces submissions only when TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE is set", () => {
    const unpaced = kubernetesBackend(env(), testContext());
    expect("backend" in unpaced && unpaced.backend.submitsPerMinute).toBeUndefined();
    const paced = kubernetesBackend(
      { ...env(), TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE: "120" },
      testContext(),
    );
    expect("backend" in paced && paced.backend.submitsPerMinute).toBe(120);
    expect(() =>
      kubernetesBackend({ ...env(), TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE: "0" }, testContext()),
    ).toThrow(
      /TRAINKIT_KUBERNETES_SUBMIT_PER_MINUTE must be a number of job submissions per minute above 0 \(unset it for no pace\)/,
    );
  });
});
