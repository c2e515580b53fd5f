import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUICKSTART_DIR, quickstartJobRequest } from "../../src/quickstart";
import type { Job, JobLogs } from "../../src/spec";
import {
  authHeaders,
  filesDirOf,
  filesMount,
  startTrainApi,
  type TrainApi,
  waitForJob,
} from "../helpers/train-api";

// The real Train API on loopback with the real `local` backend: jobs are real processes, and the
// test plays the spot VM's shutdown by signalling a job's process from outside the server.

let api: TrainApi;
beforeAll(async () => {
  api = await startTrainApi({
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "1" },
  });
});
afterAll(async () => {
  await api?.close();
});

type ApiJob = Job & { error?: { code: string; message: string; details?: { path: string }[] } };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: ApiJob }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { ...authHeaders(api), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as ApiJob };
}

const ended = (j: Job) => j.status !== "PENDING" && j.status !== "IN_PROGRESS";

/** A shell job with the test's files directory mounted writable. */
const shellJob = (name: string, script: string, extra: Record<string, unknown> = {}) => ({
  name,
  job_config: { command: ["sh", "-c", script] },
  storage_mounts: [filesMount(api)],
  ...extra,
});

/** The pid of the running process of a job's current attempt, from its supervisor's status file. */
async function jobPid(job: Job): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const current = await waitForJob<Job>(api, job.id, (j) => j.cloud_job_identifier !== null);
    const dir = current.cloud_job_identifier?.job_dir;
    const statusFile = dir ? join(dir, "status.json") : "";
    if (statusFile && existsSync(statusFile)) {
      const status = JSON.parse(readFileSync(statusFile, "utf8")) as { process?: { pid: number } };
      if (status.process) return status.process.pid;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${job.id} never recorded a running process`);
}

/** Waits until the job's current attempt has a native job, then plays a spot shutdown on it. */
async function preempt(job: Job, attempt: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  await waitForJob<Job>(api, job.id, (j) => j.restarts === attempt && j.cloud_job_identifier !== null);
  process.kill(await jobPid(job), signal);
}

describe("a local job preempted by a signal the server did not send", () => {
  it("is restarted under the same id, resumes the quickstart from its checkpoint and finishes with the accuracy of an uninterrupted run", async () => {
    const outputDir = join(filesDirOf(api.dataDir), "quickstart-preempted");
    const request = quickstartJobRequest({ outputDir });
    request.job_config.args = ["--epochs", "30", "--lr", "0.5", "--epoch-seconds", "0.1"];
    request.retry_policy = { max_restarts: 2, on: ["preemption"], backoff_seconds: 0 };
    const created = await call("POST", "/v1/local/jobs", request);
    expect(created.status).toBe(201);
    expect(created.body.restarts).toBe(0);

    const checkpoint = join(outputDir, "checkpoint.json");
    const savedEpoch = async () => {
      for (;;) {
        try {
          const epoch = (JSON.parse(readFileSync(checkpoint, "utf8")) as { epoch: number }).epoch;
          if (epoch >= 5) return epoch;
        } catch {
          // Not written yet.
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const atKill = await savedEpoch();
    await preempt(created.body, 0);

    const done = await waitForJob<Job>(api, created.body.id, ended, 60_000);
    expect(done.status).toBe("COMPLETED");
    expect(done.restarts).toBe(1);
    expect(done.attempts).toHaveLength(2);
    const [first, second] = done.attempts;
    expect(first?.end?.kind).toBe("preemption");
    expect(first?.end?.reason).toContain("SIGTERM");
    expect(first?.ended_at).not.toBeNull();
    expect(second?.end?.kind).toBe("completed");
    expect(second?.cloud_job_identifier?.job_dir).not.toBe(first?.cloud_job_identifier?.job_dir);
    expect(second?.cloud_job_identifier?.job_dir).toContain(`${created.body.id}-r1`);

    const logs = await fetch(`${api.url}/v1/jobs/${created.body.id}/logs?tail=200`, {
      headers: authHeaders(api),
    });
    const lines = ((await logs.json()) as JobLogs).lines;
    const resumed = /^resuming from checkpoint at epoch (\d+)$/.exec(lines[0] ?? "");
    expect(resumed, lines.slice(0, 3).join("\n")).not.toBeNull();
    expect(Number(resumed?.[1])).toBeGreaterThanOrEqual(atKill);

    // The same training run by hand, never interrupted.
    const plainOut = join(filesDirOf(api.dataDir), "quickstart-plain");
    execFileSync("python3", ["train.py", "--epochs", "30", "--lr", "0.5"], {
      cwd: QUICKSTART_DIR,
      env: {
        PATH: process.env.PATH,
        STORAGE_MOUNT_0_PATH: join(QUICKSTART_DIR, "data"),
        STORAGE_MOUNT_1_PATH: plainOut,
      },
    });
    const metrics = (dir: string) => JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8"));
    expect(metrics(outputDir)).toEqual(metrics(plainOut));
  });

  it("ends FAILED with the last attempt's reason once max_restarts is used up", async () => {
    const created = await call(
      "POST",
      "/v1/local/jobs",
      shellJob("preempted-twice", "sleep 30", {
        retry_policy: { max_restarts: 1, on: ["preemption"], backoff_seconds: 0 },
      }),
    );
    await preempt(created.body, 0, "SIGKILL");
    await preempt(created.body, 1, "SIGKILL");
    const done = await waitForJob<Job>(api, created.body.id, ended, 30_000);
    expect(done.status).toBe("FAILED");
    expect(done.restarts).toBe(1);
    expect(done.attempts.map((a) => a.end?.kind)).toEqual(["preemption", "preemption"]);
    expect(done.result?.failure_reason).toContain("killed by SIGKILL");
    expect(done.result?.failure_reason).toContain("max_restarts");
  });

  it("reports IN_PROGRESS between attempts, with the pending attempt listed", async () => {
    const created = await call(
      "POST",
      "/v1/local/jobs",
      shellJob("slow-restart", "sleep 30", {
        retry_policy: { max_restarts: 1, on: ["preemption"], backoff_seconds: 5 },
      }),
    );
    await preempt(created.body, 0);
    const waiting = await waitForJob<Job>(api, created.body.id, (j) => j.restarts === 1);
    expect(waiting.status).toBe("IN_PROGRESS");
    expect(waiting.attempts).toHaveLength(2);
    expect(waiting.attempts[1]).toMatchObject({ attempt: 1, started_at: null, end: null });
    // A cancel during the back-off stops the pending restart: nothing is submitted any more.
    const canceled = await call("POST", `/v1/jobs/${created.body.id}/cancel`);
    expect(canceled.body.status).toBe("CANCELED");
    await new Promise((r) => setTimeout(r, 6000));
    const after = await call("GET", `/v1/jobs/${created.body.id}`);
    expect(after.body.status).toBe("CANCELED");
    expect(after.body.attempts[1]?.cloud_job_identifier).toBeNull();
    expect(existsSync(join(api.dataDir, "local", `${created.body.id}-r1`))).toBe(false);
  });

  it("never restarts a job the user canceled", async () => {
    const created = await call(
      "POST",
      "/v1/local/jobs",
      shellJob("canceled", "sleep 30", {
        retry_policy: { max_restarts: 3, on: ["preemption", "failure"], backoff_seconds: 0 },
      }),
    );
    await jobPid(created.body);
    await call("POST", `/v1/jobs/${created.body.id}/cancel`);
    const done = await waitForJob<Job>(api, created.body.id, ended);
    expect(done.status).toBe("CANCELED");
    expect(done.restarts).toBe(0);
    await new Promise((r) => setTimeout(r, 1000));
    expect(existsSync(join(api.dataDir, "local", `${created.body.id}-r1`))).toBe(false);
  });

  it("does not restart a failure of the job's code unless the policy names failure", async () => {
    const onlyPreemption = await call(
      "POST",
      "/v1/local/jobs",
      shellJob("code-bug", "exit 3", {
        retry_policy: { max_restarts: 2, on: ["preemption"], backoff_seconds: 0 },
      }),
    );
    const failed = await waitForJob<Job>(api, onlyPreemption.body.id, ended);
    expect(failed.status).toBe("FAILED");
    expect(failed.restarts).toBe(0);
    expect(failed.attempts.map((a) => a.end?.kind)).toEqual(["failure"]);

    const onFailure = await call(
      "POST",
      "/v1/local/jobs",
      shellJob("flaky", "exit 3", { retry_policy: { max_restarts: 1, on: ["failure"], backoff_seconds: 0 } }),
    );
    const retried = await waitForJob<Job>(api, onFailure.body.id, ended, 30_000);
    expect(retried.status).toBe("FAILED");
    expect(retried.restarts).toBe(1);
    expect(retried.result?.exit_code).toBe(3);
  });

  it("lists jobs by status", async () => {
    const res = await fetch(`${api.url}/v1/jobs?status=CANCELED&limit=100`, { headers: authHeaders(api) });
    const page = (await res.json()) as { items: Job[] };
    expect(page.items.length).toBeGreaterThanOrEqual(2);
    expect(new Set(page.items.map((j) => j.status))).toEqual(new Set(["CANCELED"]));
  });
});

describe("retry_policy in the create request", () => {
  it.each([
    [{ max_restarts: -1, on: ["preemption"] }, "retry_policy.max_restarts"],
    [{ max_restarts: 2, on: ["spot"] }, "retry_policy.on[0]"],
    [{ max_restarts: 2, on: [] }, "retry_policy.on"],
    [
      { max_restarts: 2, on: ["preemption"], backoff_seconds: 60, max_backoff_seconds: 5 },
      "retry_policy.max_backoff_seconds",
    ],
    [{ on: ["preemption"] }, "retry_policy.max_restarts"],
  ])("refuses %j naming the field", async (policy, path) => {
    const res = await call(
      "POST",
      "/v1/local/jobs",
      shellJob("bad-policy", "exit 0", { retry_policy: policy }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error?.details?.map((d) => d.path)).toContain(path);
  });

  it("is described in the OpenAPI document", async () => {
    const res = await fetch(`${api.url}/openapi.json`);
    const doc = JSON.stringify(await res.json());
    expect(doc).toContain('"retry_policy"');
    expect(doc).toContain('"max_restarts"');
    expect(doc).toContain('"attempts"');
  });
});
