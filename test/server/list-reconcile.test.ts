import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNFINISHED_FILTER } from "../../src/server/backends/vertex-ai";
import type { Job } from "../../src/spec";
import { type CloudTrainApi, DEFAULT_NAMESPACE, startCloudTrainApi } from "../helpers/cloud-train-api";
import { published } from "../helpers/published";
import { azureExample, sagemakerExample, vertexExample } from "../helpers/sgp-examples";
import { authHeaders } from "../helpers/train-api";

// The real Train API (routes, PGlite store, reconciler) with the vertex-ai and sagemaker backends
// built by their factories, their official clients pointed at loopback stand-ins (fakes) that
// answer the list calls in the shapes the published specifications give and count every request.

/** More jobs than one list page holds, so the sync has to follow page tokens. */
const JOBS = 110;

let api: CloudTrainApi;

beforeAll(async () => {
  // Kubernetes by list here; its watch is kubernetes-watch.test.ts's and reconciler-watch.test.ts's.
  api = await startCloudTrainApi({
    reconcileIntervalMs: 50,
    syncIntervalMs: 300,
    env: { TRAINKIT_KUBERNETES_WATCH: "false" },
  });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

async function post(backend: string, body: unknown): Promise<Job> {
  const res = await fetch(`${api.url}/v1/${backend}/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

/** Submits `count` jobs, ten at a time. */
async function submitMany(backend: string, body: unknown, count: number): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i += 10) {
    jobs.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(10, count - i) }, (_, k) =>
          post(backend, { ...(body as object), name: `list-${i + k}` }),
        ),
      )),
    );
  }
  return jobs;
}

/** Every job of the account, by id, read through `GET /v1/jobs`. */
async function allJobs(): Promise<Map<string, Job>> {
  const found = new Map<string, Job>();
  let cursor: string | null = null;
  do {
    const url = `${api.url}/v1/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = (await (await fetch(url, { headers: authHeaders(api) })).json()) as {
      items: Job[];
      next_cursor: string | null;
    };
    for (const job of page.items) found.set(job.id, job);
    cursor = page.next_cursor;
  } while (cursor);
  return found;
}

/** Waits until every job has reached its cloud (a burst of POSTs is submitted by the reconciler in order). */
async function untilSubmitted(jobs: Job[]): Promise<Job[]> {
  const ids = new Set(jobs.map((j) => j.id));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const all = [...(await allJobs()).values()].filter((j) => ids.has(j.id));
    if (all.every((j) => j.cloud_job_identifier !== null)) return all;
    if (Date.now() > deadline) throw new Error("jobs not submitted");
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until every job in `expected` has the status given for it; returns the last reading. */
async function settle(expected: Map<string, string>, timeoutMs = 60_000): Promise<Map<string, Job>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await allJobs();
    const off = [...expected].filter(([id, status]) => jobs.get(id)?.status !== status);
    if (off.length === 0) return jobs;
    if (Date.now() > deadline)
      throw new Error(
        `${off.length} job(s) not settled, e.g. ${off[0]![0]} is ${jobs.get(off[0]![0])?.status}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("list-based reconciliation against the Vertex AI stand-in", () => {
  it("settles every tracked CustomJob from paged customJobs.list calls, reading one by one only the ones that finished", async () => {
    const start = api.vertex.cloud.requests.length;
    const jobs = await untilSubmitted(await submitMany("vertex-ai", vertexExample, JOBS));
    const names = new Map(jobs.map((j) => [j.id, j.cloud_job_identifier!.job_name!]));
    // While all of them are unfinished a sync takes two pages: wait for one before any job moves.
    const pagedLists = () =>
      api.vertex.cloud.requests
        .slice(start)
        .filter((r) => r.method === "GET" && r.path.endsWith("/customJobs") && r.query.has("pageToken"));
    for (const deadline = Date.now() + 60_000; pagedLists().length === 0; ) {
      if (Date.now() > deadline) throw new Error("no sync followed customJobs.list's nextPageToken");
      await new Promise((r) => setTimeout(r, 100));
    }
    const running = jobs.slice(0, 60);
    const succeeded = jobs.slice(60, 90);
    const failed = jobs.slice(90);
    const before = api.vertex.cloud.requests.length;
    for (const j of running) api.vertex.setState(names.get(j.id)!, "JOB_STATE_RUNNING");
    for (const j of succeeded) api.vertex.setState(names.get(j.id)!, "JOB_STATE_SUCCEEDED");
    for (const j of failed)
      api.vertex.setState(names.get(j.id)!, "JOB_STATE_FAILED", { code: 9, message: "replica exited 1" });

    const expected = new Map<string, string>([
      ...running.map((j): [string, string] => [j.id, "IN_PROGRESS"]),
      ...succeeded.map((j): [string, string] => [j.id, "COMPLETED"]),
      ...failed.map((j): [string, string] => [j.id, "FAILED"]),
    ]);
    const seen = await settle(expected);
    expect(seen.get(failed[0]!.id)?.result?.failure_reason).toBe("replica exited 1");

    const requests = api.vertex.cloud.requests.slice(before);
    const reads = requests.filter((r) => r.method === "GET" && /\/customJobs\/\d+$/.test(r.path));
    const readNames = new Set(reads.map((r) => r.path.replace(/^\/v1\//, "")));
    // Running jobs are settled by the lists alone; the finished ones drop out of the unfinished
    // list and are each read once for their outcome.
    for (const j of running) expect(readNames.has(names.get(j.id)!)).toBe(false);
    for (const j of [...succeeded, ...failed]) expect(readNames.has(names.get(j.id)!)).toBe(true);
    const lists = requests.filter((r) => r.method === "GET" && r.path.endsWith("/customJobs"));
    expect(lists.length).toBeGreaterThan(0);
    for (const list of lists) expect(list.query.get("filter")).toBe(UNFINISHED_FILTER);
    expect(pagedLists().every((r) => r.query.get("filter") === UNFINISHED_FILTER)).toBe(true);
  }, 240_000);

  it("lists with only the filter fields job_service.proto documents for ListCustomJobs", () => {
    const spec = published<{ ListCustomJobsRequest: { filter_supported_fields: Record<string, string[]> } }>(
      "googleapis/aiplatform-v1-list-custom-jobs.json",
    ).ListCustomJobsRequest;
    const terms = UNFINISHED_FILTER.split(" AND ");
    expect(terms[0]).toBe("labels.trainkit-job-id:*");
    expect(spec.filter_supported_fields.labels).toContain("labels.key:*");
    for (const term of terms.slice(1)) {
      expect(term).toMatch(/^state!="JOB_STATE_[A-Z_]+"$/);
      expect(spec.filter_supported_fields.state).toContain("!=");
    }
  });
});

describe("list-based reconciliation against the SageMaker stand-in", () => {
  it("settles tracked training jobs from ListTrainingJobs since the last sync, describing only the failed ones", async () => {
    const jobs = await untilSubmitted(await submitMany("sagemaker", sagemakerExample, JOBS));
    const names = new Map(jobs.map((j) => [j.id, j.cloud_job_identifier!.training_job_name!]));
    // Let a first sync pass (it has no modification time to list from) so the next ones list.
    const firstLists = api.sagemaker.calls("ListTrainingJobs").length;
    await settle(new Map(jobs.map((j) => [j.id, "PENDING"])));
    await new Promise((r) => setTimeout(r, 1000));
    const describesBefore = api.sagemaker.calls("DescribeTrainingJob").length;
    const listsBefore = api.sagemaker.calls("ListTrainingJobs").length;
    expect(listsBefore).toBeGreaterThan(firstLists);

    const training = jobs.slice(0, 60);
    const completed = jobs.slice(60, 90);
    const failed = jobs.slice(90);
    for (const j of training) api.sagemaker.setStatus(names.get(j.id)!, "InProgress", "Training");
    for (const j of completed) api.sagemaker.setStatus(names.get(j.id)!, "Completed", "Completed");
    for (const j of failed)
      api.sagemaker.setStatus(names.get(j.id)!, "Failed", "Failed", "AlgorithmError: exit code 1");
    const seen = await settle(
      new Map<string, string>([
        ...training.map((j): [string, string] => [j.id, "IN_PROGRESS"]),
        ...completed.map((j): [string, string] => [j.id, "COMPLETED"]),
        ...failed.map((j): [string, string] => [j.id, "FAILED"]),
      ]),
    );
    expect(seen.get(failed[0]!.id)?.result?.failure_reason).toBe("AlgorithmError: exit code 1");

    const described = new Set(
      api.sagemaker
        .calls("DescribeTrainingJob")
        .slice(describesBefore)
        .map((r) => (r.json as { TrainingJobName: string }).TrainingJobName),
    );
    for (const j of [...training, ...completed]) expect(described.has(names.get(j.id)!)).toBe(false);
    for (const j of failed) expect(described.has(names.get(j.id)!)).toBe(true);
    const lists = api.sagemaker.calls("ListTrainingJobs").slice(listsBefore);
    for (const list of lists) {
      const body = list.json as { LastModifiedTimeAfter?: number; MaxResults?: number };
      expect(typeof body.LastModifiedTimeAfter).toBe("number");
      expect(body.MaxResults).toBe(
        published<{ MaxResults: { max: number } }>("aws-botocore/sagemaker-list-training-jobs.json")
          .MaxResults.max,
      );
    }
    expect(lists.some((r) => typeof (r.json as { NextToken?: string }).NextToken === "string")).toBe(true);
  }, 240_000);
});

describe("list-based reconciliation against the Azure ML stand-in", () => {
  it("settles every tracked command job from the tagged Jobs_List pages, reading on its own only the job they left out", async () => {
    const jobs = await untilSubmitted(await submitMany("azure-ml", azureExample, 30));
    const names = new Map(jobs.map((j) => [j.id, j.cloud_job_identifier!.job_name!]));
    api.azure.listPageSize = 10;
    const reads = () => api.azure.arm("GET", /\/workspaces\/[^/]+\/jobs\/[^/]+$/);
    const readsBefore = reads().length;
    const listsBefore = api.azure.jobLists().length;
    const [archived, ...rest] = jobs;
    for (const j of rest.slice(0, 20)) api.azure.setStatus(names.get(j.id)!, "Running");
    for (const j of rest.slice(20)) api.azure.setStatus(names.get(j.id)!, "Completed");
    // Archived: Jobs_List's default view leaves it out, so the reconciler reads it on its own.
    const hidden = api.azure.jobs.get(names.get(archived!.id)!)!;
    (hidden.properties as Record<string, unknown>).isArchived = true;
    api.azure.setStatus(names.get(archived!.id)!, "Completed");

    await settle(
      new Map<string, string>([
        ...rest.slice(0, 20).map((j): [string, string] => [j.id, "IN_PROGRESS"]),
        ...rest.slice(20).map((j): [string, string] => [j.id, "COMPLETED"]),
        [archived!.id, "COMPLETED"],
      ]),
    );
    const lists = api.azure.jobLists().slice(listsBefore);
    expect(lists.some((r) => r.query.has("$skipToken"))).toBe(true);
    const readNames = new Set(
      reads()
        .slice(readsBefore)
        .map((r) => r.path.split("/").at(-1)),
    );
    expect(readNames.has(names.get(archived!.id)!)).toBe(true);
    for (const j of rest) expect(readNames.has(names.get(j.id)!)).toBe(false);
  }, 240_000);
});

describe("list-based reconciliation against the Kubernetes stand-in", () => {
  it("settles tracked Jobs from labelled Job lists, reading on its own only the Job the lists left out", async () => {
    const body = {
      job_config: { image: "registry.example/train:v1", command: ["python3", "train.py"] },
      storage_mounts: [],
    };
    const jobs = await untilSubmitted(await submitMany("kubernetes", body, 40));
    const names = new Map(jobs.map((j) => [j.id, j.cloud_job_identifier!.job_name!]));
    const running = jobs.slice(0, 25);
    const completed = jobs.slice(25, 39);
    const deleted = jobs[39]!;
    const reads = () =>
      api.kubernetes.requestsFor("GET", new RegExp(`^/apis/batch/v1/namespaces/${DEFAULT_NAMESPACE}/jobs/`));
    const readsBefore = reads().length;
    const listsBefore = api.kubernetes.jobLists;
    for (const j of running)
      api.kubernetes.setJobStatus(DEFAULT_NAMESPACE, names.get(j.id)!, { active: 1, ready: 1 });
    for (const j of completed)
      api.kubernetes.setJobStatus(DEFAULT_NAMESPACE, names.get(j.id)!, {
        conditions: [{ type: "Complete", status: "True" }],
      });
    api.kubernetes.removeJob(DEFAULT_NAMESPACE, names.get(deleted.id)!);

    const seen = await settle(
      new Map<string, string>([
        ...running.map((j): [string, string] => [j.id, "IN_PROGRESS"]),
        ...completed.map((j): [string, string] => [j.id, "COMPLETED"]),
        [deleted.id, "FAILED"],
      ]),
    );
    expect(seen.get(deleted.id)?.result?.failure_reason).toMatch(
      /was deleted before the Train API saw it finish/,
    );
    expect(api.kubernetes.jobLists).toBeGreaterThan(listsBefore);
    const readNames = new Set(
      reads()
        .slice(readsBefore)
        .map((r) => r.path.split("/").at(-1)),
    );
    for (const j of [...running, ...completed]) expect(readNames.has(names.get(j.id)!)).toBe(false);
    expect(readNames.has(names.get(deleted.id)!)).toBe(true);
  }, 240_000);
});
