import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubernetesBackend, LIST_PAGE_SIZE, MANAGED_SELECTOR } from "../../src/server/backends/kubernetes";
import type { BackendJob } from "../../src/server/backends/types";
import { submitKubernetesJobs, testContext } from "../helpers/backend-job";
import { FakeKubernetes } from "../helpers/fake-kubernetes";
import { published } from "../helpers/published";

// The backend drives the official @kubernetes/client-node against a loopback stand-in (fake) for
// the kube-apiserver that answers Job lists by label selector, paged with limit/continue, and
// counts them.

const NS = "ml-jobs";
const OTHER_NS = "research";
const PAGE = 10;
const LIST = published<{ clientParameters: string[]; limit: string; continue: string }>(
  "kubernetes/job-list.json",
);

let fake: FakeKubernetes;
let dir: string;
let backend: KubernetesBackend;

beforeAll(async () => {
  fake = await FakeKubernetes.start();
  dir = mkdtempSync(join(tmpdir(), "trainkit-k8s-sync-"));
  backend = new KubernetesBackend({ namespace: NS }, { files: [fake.writeKubeconfig(dir)] }, testContext(), {
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    minPollIntervalMs: 0,
    listPageSize: PAGE,
    // The list sync itself, as it runs while a watch is off or broken (kubernetes-watch.test.ts).
    watch: false,
  });
});

afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const submitMany = (count: number, namespace?: string) => submitKubernetesJobs(backend, count, namespace);

const nameOf = (job: BackendJob<"kubernetes">) => job.cloudJobIdentifier!.job_name!;
const jobReads = () => fake.requestsFor("GET", /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs\/[^/]+$/).length;
const jobListRequests = () => fake.requestsFor("GET", /^\/apis\/batch\/v1\/namespaces\/[^/]+\/jobs$/);

describe("the kubernetes backend's list sync", () => {
  it("settles many jobs from the pages of one labelled Job list, reading no Job on its own", async () => {
    const jobs = await submitMany(35);
    const running = jobs.slice(0, 20);
    const complete = jobs.slice(20, 30);
    for (const j of running) fake.setJobStatus(NS, nameOf(j), { active: 1, ready: 1 });
    for (const j of complete)
      fake.setJobStatus(NS, nameOf(j), { conditions: [{ type: "Complete", status: "True" }] });
    const listsBefore = jobListRequests().length;
    const readsBefore = jobReads();

    const settled = await backend.sync(jobs);

    for (const j of running) expect((settled.get(j.id) as { status: string }).status).toBe("IN_PROGRESS");
    for (const j of complete) expect((settled.get(j.id) as { status: string }).status).toBe("COMPLETED");
    for (const j of jobs.slice(30)) expect((settled.get(j.id) as { status: string }).status).toBe("PENDING");
    expect(jobReads()).toBe(readsBefore);
    // 35 Jobs at 10 a page: four pages, each continuing from the last.
    const lists = jobListRequests().slice(listsBefore);
    expect(lists).toHaveLength(Math.ceil(fake.jobs.size / PAGE));
    expect(lists[0]!.query.has("continue")).toBe(false);
    for (const list of lists.slice(1)) expect(list.query.get("continue")).toBeTruthy();
    for (const list of lists) {
      expect(list.query.get("labelSelector")).toBe(MANAGED_SELECTOR);
      expect(list.query.get("limit")).toBe(String(PAGE));
    }
  });

  it("maps a listed Job's status exactly as a poll of it does", async () => {
    const [job] = await submitMany(1);
    fake.setJobStatus(NS, nameOf(job!), {
      conditions: [
        {
          type: "Failed",
          status: "True",
          reason: "BackoffLimitExceeded",
          message: "Job has reached the specified backoff limit",
        },
      ],
    });
    const fromList = (await backend.sync([job!])).get(job!.id);
    expect(fromList).toEqual(await backend.poll(job!));
    expect((fromList as { status: string }).status).toBe("FAILED");
  });

  it("leaves out a job whose Job the list does not hold, or holds unlabelled for it, for a poll to read", async () => {
    const [gone, kept, foreign] = await submitMany(3);
    fake.removeJob(NS, nameOf(gone!));
    // A hand-made Job under the name, marked for another job.
    const labels = fake.job(NS, nameOf(foreign!))!.metadata.labels as Record<string, string>;
    labels["trainkit.dev/job-id"] = "someone-else";
    const settled = await backend.sync([gone!, kept!, foreign!]);
    expect(settled.has(gone!.id)).toBe(false);
    expect(settled.has(foreign!.id)).toBe(false);
    expect(settled.has(kept!.id)).toBe(true);
    expect((await backend.poll(gone!)).status).toBe("FAILED");
  });

  it("lists each namespace the tracked jobs run in once", async () => {
    const here = await submitMany(2);
    const there = await submitMany(2, OTHER_NS);
    const before = jobListRequests().length;
    const settled = await backend.sync([...here, ...there]);
    expect(settled.size).toBe(4);
    const lists = jobListRequests().slice(before);
    const namespaces = lists.map((r) => r.path.split("/")[5]);
    expect(namespaces.filter((n) => n === OTHER_NS)).toHaveLength(1);
    expect(namespaces.every((n) => n === NS || n === OTHER_NS)).toBe(true);
  });

  it("sends only list parameters the Kubernetes OpenAPI documents, with a page size the server may cap", () => {
    for (const p of ["labelSelector", "limit", "_continue"]) expect(LIST.clientParameters).toContain(p);
    expect(LIST.limit).toMatch(
      /If limit is specified and the continue field is empty, clients may assume that no more results are available/,
    );
    expect(LIST.continue).toMatch(/410 ResourceExpired/);
    expect(LIST_PAGE_SIZE).toBeGreaterThan(0);
  });
});
