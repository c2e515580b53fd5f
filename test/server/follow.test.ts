import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job, JobLogs } from "../../src/spec";
import { type CloudTrainApi, startCloudTrainApi } from "../helpers/cloud-train-api";
import { azureExample, sagemakerExample, vertexExample } from "../helpers/sgp-examples";
import { authHeaders, filesMount, startTrainApi, type TrainApi, waitForJob } from "../helpers/train-api";

// GET /v1/jobs/{id}/logs?follow=true: Server-Sent Events until the job ends, with one read of the
// job's log per interval however many clients follow it.

interface Event {
  event: string;
  data: unknown;
}

/** The events and `: read N` comments of a whole event stream. */
function parseStream(text: string): { events: Event[]; reads: number[] } {
  const events: Event[] = [];
  const reads: number[] = [];
  for (const block of text.split("\n\n")) {
    const read = /^: read (\d+)$/.exec(block);
    if (read) reads.push(Number(read[1]));
    const named = /^event: (\w+)\ndata: (.*)$/s.exec(block);
    if (named) events.push({ event: named[1]!, data: JSON.parse(named[2]!) });
  }
  return { events, reads };
}

/** Resolves once `check` holds, looking every 50 ms. */
function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (check()) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}

function linesOf(events: Event[]): string[] {
  return events.filter((e) => e.event === "lines").flatMap((e) => (e.data as { lines: string[] }).lines);
}

describe("following a local job's log", () => {
  let api: TrainApi;

  beforeAll(async () => {
    api = await startTrainApi({ followIntervalMs: 100 });
  });

  afterAll(async () => {
    await api?.close();
  });

  it("streams every line once, in order, then ends with the job once it COMPLETED", async () => {
    const script = "for i in $(seq 1 12); do echo line$i; sleep 0.1; done";
    const created = await fetch(`${api.url}/v1/local/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({ name: "followed", job_config: { command: ["sh", "-c", script] } }),
    });
    const job = (await created.json()) as Job;
    await waitForJob<Job>(api, job.id, (j) => j.status !== "PENDING");
    const res = await fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true&tail=100`, {
      headers: authHeaders(api),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const { events } = parseStream(await res.text());
    expect(linesOf(events)).toEqual(Array.from({ length: 12 }, (_, i) => `line${i + 1}`));
    const last = events.at(-1)!;
    expect(last.event).toBe("end");
    expect(last.data).toMatchObject({ id: job.id, status: "COMPLETED" });
  });

  it("answers 400 naming the field when follow is not true or false", async () => {
    const res = await fetch(`${api.url}/v1/jobs/00000000-0000-4000-8000-000000000000/logs?follow=yes`, {
      headers: authHeaders(api),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'follow: must be "true" or "false"',
    );
  });
});

describe("following a local job's log across a restart", () => {
  let api: TrainApi;

  beforeAll(async () => {
    api = await startTrainApi({
      followIntervalMs: 100,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "1" },
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  /** The pid of the job's running process, from its supervisor's status file. */
  async function pidOf(job: Job): Promise<number> {
    for (;;) {
      const current = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
      const file = join(current.cloud_job_identifier?.job_dir ?? "", "status.json");
      if (existsSync(file)) {
        const status = JSON.parse(readFileSync(file, "utf8")) as { process?: { pid: number } };
        if (status.process) return status.process.pid;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("goes on with the new attempt's log from its start after a preemption, after every line of the old one", async () => {
    // The second attempt writes longer lines than the first, so the first attempt's cursor lies
    // inside the second's first line: a follower that kept it would miss the restart's start.
    const mark = `$STORAGE_MOUNT_0_PATH/follow-restart-${randomUUID()}`;
    const pad = "x".repeat(200);
    const script = [
      `if [ -f ${mark} ]; then for i in 1 2 3; do echo second-$i-${pad}; done; exit 0; fi`,
      `touch ${mark}`,
      "for i in $(seq 1 10); do echo first-$i; done",
      "sleep 60",
    ].join("\n");
    const created = await fetch(`${api.url}/v1/local/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({
        name: "followed-restart",
        job_config: { command: ["sh", "-c", script] },
        storage_mounts: [filesMount(api)],
        retry_policy: { max_restarts: 1, on: ["preemption"], backoff_seconds: 0 },
      }),
    });
    const job = (await created.json()) as Job;
    await waitForJob<Job>(api, job.id, (j) => j.status === "IN_PROGRESS");
    const res = await fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true&tail=100`, {
      headers: authHeaders(api),
    });
    expect(res.status).toBe(200);
    const text = res.text();
    // Preempt the first attempt once it has logged all its lines (the follower has them or will).
    const logFile = join(
      (await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null)).cloud_job_identifier!
        .job_dir!,
      "stdout.log",
    );
    await waitForJob<Job>(
      api,
      job.id,
      () => existsSync(logFile) && readFileSync(logFile, "utf8").includes("first-10"),
    );
    process.kill(await pidOf(job), "SIGTERM");

    const { events } = parseStream(await text);
    const expected = [
      ...Array.from({ length: 10 }, (_, i) => `first-${i + 1}`),
      ...[1, 2, 3].map((i) => `second-${i}-${pad}`),
    ];
    expect(linesOf(events)).toEqual(expected);
    const last = events.at(-1)!;
    expect(last.event).toBe("end");
    expect(last.data).toMatchObject({ id: job.id, status: "COMPLETED", restarts: 1 });
  });
});

// The Vertex AI stand-in answers entries.list in the published shapes; counting its requests shows
// how often the Train API reads a followed job's log, not how Cloud Logging behaves.
describe("following a Vertex AI job's log", () => {
  let api: CloudTrainApi;

  beforeAll(async () => {
    api = await startCloudTrainApi({ reconcileIntervalMs: 100, followIntervalMs: 150 });
  });

  afterAll(async () => {
    await api?.close();
  });

  it("reads Cloud Logging once per interval for three followers, and each gets every line", async () => {
    const headers = { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId };
    const created = await fetch(`${api.url}/v1/vertex-ai/jobs`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(vertexExample),
    });
    const job = (await created.json()) as Job;
    const name = job.cloud_job_identifier!.job_name!;
    api.vertex.setState(name, "JOB_STATE_RUNNING");

    const reads = () =>
      api.vertex.cloud
        .received("POST", /^\/v2\/entries:list$/)
        .map((r) => (r.json as { orderBy: string }).orderBy);
    const followers = await Promise.all(
      [1, 2, 3].map(() => fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true`, { headers })),
    );
    for (const f of followers) expect(f.status).toBe(200);
    // One read of the last lines per client as it connects; from then on the reads are shared.
    expect(reads().filter((o) => o === "timestamp desc")).toHaveLength(3);

    for (let i = 1; i <= 5; i++)
      api.vertex.log(name, `epoch ${i}`, i % 2 ? "workerpool0-0" : "workerpool1-0");
    const texts = followers.map((f) => f.text());
    // Once the first follower has the lines, the job ends; the streams then drain and close.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (reads().filter((o) => o === "timestamp asc").length >= 2) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
    api.vertex.setState(name, "JOB_STATE_SUCCEEDED");
    const streams = (await Promise.all(texts)).map(parseStream);

    for (const { events } of streams) {
      expect(linesOf(events)).toEqual(["epoch 1", "epoch 2", "epoch 3", "epoch 4", "epoch 5"]);
      expect(events.at(-1)).toMatchObject({ event: "end", data: { id: job.id, status: "COMPLETED" } });
      const withSources = events
        .filter((e) => e.event === "lines")
        .flatMap((e) => (e.data as { entries: unknown[] }).entries);
      expect(withSources[1]).toMatchObject({ text: "epoch 2", source: "workerpool1-0" });
    }
    // Every follower saw the same numbered reads, and the stand-in received exactly that many.
    const sequences = streams.map((s) => s.reads.join(","));
    expect(new Set(sequences).size).toBe(1);
    const shared = streams[0]!.reads;
    expect(shared.length).toBeGreaterThanOrEqual(2);
    expect(reads().filter((o) => o === "timestamp asc")).toHaveLength(Math.max(...shared));
  });

  // The Azure stand-in answers run history and Blob Storage in the published shapes.
  it("follows an Azure ML job that has no log yet: comments while it waits, then its lines, then the end", async () => {
    const headers = { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId };
    const created = await fetch(`${api.url}/v1/azure-ml/jobs`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(azureExample),
    });
    const job = (await created.json()) as Job;
    const name = job.cloud_job_identifier!.job_name!;

    const early = await fetch(`${api.url}/v1/jobs/${job.id}/logs`, { headers });
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe("logs_not_available");

    const follower = await fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true`, { headers });
    expect(follower.status).toBe(200);
    const text = follower.text();
    const details = () => api.azure.cloud.received("GET", /\/details$/).length;
    const before = details();
    await until(() => details() >= before + 2);
    api.azure.setStatus(name, "Running");
    api.azure.writeLog(name, "user_logs/std_log.txt", "epoch 1\nepoch 2\n");
    const afterLog = details();
    await until(() => details() >= afterLog + 2);
    api.azure.writeLog(name, "user_logs/std_log.txt", "epoch 3\n");
    api.azure.setStatus(name, "Completed");

    const body = await text;
    expect(body.startsWith(": waiting for the job's log to appear\n\n")).toBe(true);
    expect(body).toMatch(/: read \d+, waiting for the job's log to appear\n\n/);
    const { events } = parseStream(body);
    expect(linesOf(events)).toEqual(["epoch 1", "epoch 2", "epoch 3"]);
    expect(events.at(-1)).toMatchObject({ event: "end", data: { id: job.id, status: "COMPLETED" } });
  });

  // The CloudWatch Logs stand-in answers in the published shapes: it shows what the Train API
  // serves from a SageMaker job's streams, not how CloudWatch Logs behaves.
  it("serves a SageMaker job's log from CloudWatch Logs, and follows it until the job ends", async () => {
    const headers = { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId };
    const created = await fetch(`${api.url}/v1/sagemaker/jobs`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(sagemakerExample),
    });
    const job = (await created.json()) as Job;
    const name = job.cloud_job_identifier!.training_job_name!;

    const early = await fetch(`${api.url}/v1/jobs/${job.id}/logs`, { headers });
    expect(early.status).toBe(409);
    const refused = (await early.json()) as { error: { code: string; message: string } };
    expect(refused.error.code).toBe("logs_not_available");
    expect(refused.error.message).toMatch(/^logs not yet available: /);

    const group = "/aws/sagemaker/TrainingJobs";
    const t0 = Date.parse("2026-12-02T10:00:00.000Z");
    api.cloudWatch.log(group, `${name}/algo-1-1764669600`, "epoch 1", t0);
    api.cloudWatch.log(group, `${name}/algo-2-1764669600`, "epoch 1", t0 + 1);
    const res = await fetch(`${api.url}/v1/jobs/${job.id}/logs?tail=10`, { headers });
    expect(res.status).toBe(200);
    const logs = (await res.json()) as JobLogs;
    expect(logs.entries).toEqual([
      { text: "epoch 1", timestamp: "2026-12-02T10:00:00.000Z", source: "algo-1" },
      { text: "epoch 1", timestamp: "2026-12-02T10:00:00.001Z", source: "algo-2" },
    ]);

    const follower = await fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true&cursor=${logs.next_cursor}`, {
      headers,
    });
    expect(follower.status).toBe(200);
    api.cloudWatch.log(group, `${name}/algo-1-1764669600`, "epoch 2", t0 + 2);
    const text = follower.text();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (api.cloudWatch.calls("FilterLogEvents").length >= 2) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
    api.sagemaker.setStatus(name, "Completed", "Completed");
    const { events } = parseStream(await text);
    expect(linesOf(events)).toEqual(["epoch 2"]);
    expect(events.at(-1)).toMatchObject({ event: "end", data: { id: job.id, status: "COMPLETED" } });
  });
});

describe("following a job whose log does not appear", () => {
  let api: CloudTrainApi;

  beforeAll(async () => {
    api = await startCloudTrainApi({ reconcileIntervalMs: 100, followIntervalMs: 100, followMaxWaitMs: 400 });
  });

  afterAll(async () => {
    await api?.close();
  });

  it("ends the stream with an error event naming the wait and its setting once the wait runs out", async () => {
    const headers = { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId };
    const created = await fetch(`${api.url}/v1/sagemaker/jobs`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(sagemakerExample),
    });
    const job = (await created.json()) as Job;
    const res = await fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true`, { headers });
    expect(res.status).toBe(200);
    const { events } = parseStream(await res.text());
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toBe("error");
    const error = (events[0]!.data as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("logs_not_available");
    expect(error.message).toMatch(
      /^logs not yet available: .*; waited 0.4 s \(TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS\)/,
    );
  });
});

// The Vertex AI stand-in counts entries.list requests; the budget is a count per rolling minute.
describe("following Vertex AI jobs within a Cloud Logging read budget", () => {
  let api: CloudTrainApi;

  beforeAll(async () => {
    api = await startCloudTrainApi({
      reconcileIntervalMs: 100,
      followIntervalMs: 50,
      followReadsPerMinute: { "vertex-ai": 3 },
    });
  });

  afterAll(async () => {
    await api?.close();
  });

  it("reads Cloud Logging for followers no more than the budget allows in a minute, however many intervals pass", async () => {
    const headers = { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId };
    const jobs: Job[] = [];
    for (const name of ["budget-a", "budget-b"]) {
      const created = await fetch(`${api.url}/v1/vertex-ai/jobs`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ ...vertexExample, name }),
      });
      const job = (await created.json()) as Job;
      api.vertex.setState(job.cloud_job_identifier!.job_name!, "JOB_STATE_RUNNING");
      jobs.push(job);
    }
    const follows = () =>
      api.vertex.cloud
        .received("POST", /^\/v2\/entries:list$/)
        .filter((r) => (r.json as { orderBy: string }).orderBy === "timestamp asc");
    const aborts = jobs.map(() => new AbortController());
    const streams = await Promise.all(
      jobs.map((job, i) =>
        fetch(`${api.url}/v1/jobs/${job.id}/logs?follow=true`, { headers, signal: aborts[i]!.signal }),
      ),
    );
    for (const s of streams) expect(s.status).toBe(200);
    // Twenty intervals and more pass; the two followed jobs share three reads.
    await until(() => follows().length >= 3);
    await new Promise((r) => setTimeout(r, 1000));
    expect(follows()).toHaveLength(3);
    for (const a of aborts) a.abort();
  });
});
