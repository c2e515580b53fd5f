import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quickstartJobRequest } from "../../src/quickstart";
import type { Job, JobLogs } from "../../src/spec";
import {
  authHeaders,
  filesDirOf,
  filesMount,
  startTrainApi,
  type TrainApi,
  waitForJob,
} from "../helpers/train-api";

let api: TrainApi;
beforeAll(async () => {
  api = await startTrainApi({
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "1" },
  });
});
afterAll(async () => {
  await api?.close();
});

async function post(path: string, body?: unknown) {
  const res = await fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { ...authHeaders(api), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return {
    status: res.status,
    body: (await res.json()) as Job & { error: { code: string; message: string } },
  };
}

/** A shell snippet that waits until `file` exists, so the test decides when the job may end. */
const waitFor = (file: string) => `while [ ! -e ${file} ]; do sleep 0.1; done`;

/** A shell job, with the test's files directory mounted so that it can leave files there. */
const shellJob = (name: string, script: string, extra: Record<string, unknown> = {}) => ({
  name,
  job_config: { command: ["sh", "-c", script], ...extra },
  storage_mounts: [filesMount(api)],
});

/** Host pids whose command line starts with `cmdline` (arguments separated by NUL). */
function pidsRunning(cmdline: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, "utf8").startsWith(cmdline);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("a local job over HTTP", () => {
  it("runs the quickstart to COMPLETED and writes its model", async () => {
    const outputDir = join(`${api.dataDir}-runs`, "quickstart-output");
    const created = await post("/v1/local/jobs", quickstartJobRequest({ outputDir }));
    expect(created.status).toBe(201);
    expect(["PENDING", "IN_PROGRESS"]).toContain(created.body.status);
    const done = await waitForJob<Job>(
      api,
      created.body.id,
      (j) => j.status !== "PENDING" && j.status !== "IN_PROGRESS",
    );
    expect(done.status).toBe("COMPLETED");
    const model = JSON.parse(readFileSync(join(outputDir, "model.json"), "utf8")) as { weights: number[] };
    expect(model.weights.length).toBeGreaterThan(0);
    expect(existsSync(join(outputDir, "metrics.json"))).toBe(true);
  });

  it("passes through IN_PROGRESS while the process runs", async () => {
    const go = join(filesDirOf(api.dataDir), "short.go");
    const created = await post("/v1/local/jobs", shellJob("short", waitFor(go)));
    const running = await waitForJob<Job>(api, created.body.id, (j) => j.status !== "PENDING");
    expect(running.status).toBe("IN_PROGRESS");
    expect(running.cloud_job_identifier).not.toBeNull();
    writeFileSync(go, "");
    await waitForJob<Job>(api, created.body.id, (j) => j.status === "COMPLETED");
  });

  it("ends FAILED with the exit code and the last stderr line as reason when the script fails", async () => {
    const created = await post("/v1/local/jobs", shellJob("broken", "echo 'dataset missing' >&2; exit 3"));
    const done = await waitForJob<Job>(api, created.body.id, (j) => j.status === "FAILED");
    expect(done.result?.exit_code).toBe(3);
    expect(done.result?.failure_reason).toContain("dataset missing");
  });

  it("answers the backend's refusal with its status and message, and records the job FAILED with that reason", async () => {
    const missing = join(filesDirOf(api.dataDir), "no-such-dataset");
    const res = await post("/v1/local/jobs", {
      ...shellJob("no-data", "exit 0"),
      storage_mounts: [{ source_uri: `file://${missing}`, mount_path: "/mnt/data", read_only: true }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_mount");
    const id = /job ([0-9a-f-]{36})/.exec(res.body.error.message)?.[1];
    expect(res.body.error.message).toContain(`${missing} does not exist`);
    const job = await waitForJob<Job>(api, id!, () => true);
    expect(job.status).toBe("FAILED");
    expect(job.result?.failure_reason).toContain(`${missing} does not exist`);
  });

  it("serves the job's output through /logs", async () => {
    const created = await post("/v1/local/jobs", shellJob("chatty", "echo one; echo two; echo three"));
    await waitForJob<Job>(api, created.body.id, (j) => j.status === "COMPLETED");
    const res = await fetch(`${api.url}/v1/jobs/${created.body.id}/logs?tail=2`, {
      headers: authHeaders(api),
    });
    const logs = (await res.json()) as JobLogs;
    expect(res.status).toBe(200);
    expect(logs).toEqual({
      job_id: created.body.id,
      stream: "stdout",
      lines: ["two", "three"],
      next_cursor: expect.any(String),
    });
  });

  it("continues /logs from next_cursor, and names the fix for a cursor it did not issue", async () => {
    const created = await post(
      "/v1/local/jobs",
      shellJob("continued", "for i in 1 2 3 4 5; do echo line$i; done"),
    );
    await waitForJob<Job>(api, created.body.id, (j) => j.status === "COMPLETED");
    const read = async (query: string) => {
      const res = await fetch(`${api.url}/v1/jobs/${created.body.id}/logs?${query}`, {
        headers: authHeaders(api),
      });
      return { status: res.status, body: (await res.json()) as JobLogs & { error?: { message: string } } };
    };
    const first = await read("tail=2");
    expect(first.body.lines).toEqual(["line4", "line5"]);
    const after = await read(`cursor=${first.body.next_cursor}`);
    expect(after.body.lines).toEqual([]);
    expect(after.body.next_cursor).toBe(first.body.next_cursor);
    const bad = await read("cursor=not-a-cursor");
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toContain("pass next_cursor from the previous answer unchanged");
  });

  it("cancels a running job to CANCELED and its process is gone", async () => {
    // A pid the job printed would be one of its sandbox's pid namespace: the host's process is found
    // by its unique command line instead.
    const created = await post("/v1/local/jobs", shellJob("cancel-me", "exec sleep 61.25"));
    await waitForJob<Job>(api, created.body.id, (j) => j.status === "IN_PROGRESS");
    let pid: number | undefined;
    while (pid === undefined) {
      pid = pidsRunning("sleep\0" + "61.25")[0];
      if (pid === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(alive(pid)).toBe(true);

    const canceled = await post(`/v1/jobs/${created.body.id}/cancel`);
    expect(canceled.status).toBe(200);
    const done = await waitForJob<Job>(api, created.body.id, (j) => j.status === "CANCELED");
    expect(done.status).toBe("CANCELED");
    expect(alive(pid)).toBe(false);
  });

  it("answers 409 to a cancel of a finished job", async () => {
    const created = await post("/v1/local/jobs", shellJob("finished", "exit 0"));
    await waitForJob<Job>(api, created.body.id, (j) => j.status === "COMPLETED");
    const res = await post(`/v1/jobs/${created.body.id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("job_terminal");
    expect(res.body.error.message).toContain("COMPLETED");
  });

  it("ends EXPIRED when the job outlives timeout_seconds", async () => {
    const created = await post("/v1/local/jobs", shellJob("slow", "exec sleep 60", { timeout_seconds: 1 }));
    const done = await waitForJob<Job>(api, created.body.id, (j) => j.status === "EXPIRED");
    expect(done.status).toBe("EXPIRED");
  });
});

describe("a local backend with room for one job", () => {
  let narrow: TrainApi;
  beforeAll(async () => {
    narrow = await startTrainApi({
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TRAINKIT_LOCAL_MAX_CONCURRENT: "1",
        TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "1",
      },
    });
  });
  afterAll(async () => {
    await narrow?.close();
  });

  const submitTo = async (body: unknown) => {
    const res = await fetch(`${narrow.url}/v1/local/jobs`, {
      method: "POST",
      headers: { ...authHeaders(narrow), "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Job;
  };

  it("keeps later jobs PENDING without a native job until the running one ends, then runs them oldest first", async () => {
    const order = join(filesDirOf(api.dataDir), "order.txt");
    const go = join(filesDirOf(api.dataDir), "first.go");
    const first = await submitTo(shellJob("first", `echo first >> ${order}; ${waitFor(go)}`));
    const second = await submitTo(shellJob("second", `echo second >> ${order}`));
    const third = await submitTo(shellJob("third", `echo third >> ${order}`));
    expect(second).toMatchObject({ status: "PENDING", cloud_job_identifier: null });
    expect(third).toMatchObject({ status: "PENDING", cloud_job_identifier: null });
    writeFileSync(go, "");
    for (const job of [first, second, third])
      await waitForJob<Job>(narrow, job.id, (j) => j.status === "COMPLETED");
    expect(readFileSync(order, "utf8").trim().split("\n")).toEqual(["first", "second", "third"]);
  });

  it("cancels a job still waiting for room at once, and never starts it", async () => {
    const marker = join(filesDirOf(api.dataDir), "never.txt");
    const go = join(filesDirOf(api.dataDir), "blocker.go");
    const blocker = await submitTo(shellJob("blocker", waitFor(go)));
    const waiting = await submitTo(shellJob("waiting", `touch ${marker}`));
    expect(waiting.status).toBe("PENDING");
    const res = await fetch(`${narrow.url}/v1/jobs/${waiting.id}/cancel`, {
      method: "POST",
      headers: authHeaders(narrow),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Job).status).toBe("CANCELED");
    writeFileSync(go, "");
    await waitForJob<Job>(narrow, blocker.id, (j) => j.status === "COMPLETED");
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(marker)).toBe(false);
  });
});
