import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { PollResult } from "../../src/server/backends/types";
import { settle } from "../../src/server/recovery";
import { openPgliteStore } from "../../src/server/store";
import type { Job } from "../../src/spec";
import { seedEmbeddedStore } from "../helpers/store-template";
import {
  authHeaders,
  filesDirOf,
  removeDataDir,
  type SpawnedTrainApi,
  spawnTrainApi,
  waitForJob,
} from "../helpers/train-api";

// The Train API as its own process, SIGKILLed in the middle of a recovery and started again on the
// same data directory; jobs are real `local` processes. No stand-ins.

const dirs: string[] = [];
const servers: SpawnedTrainApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill("SIGKILL")));
});
afterAll(() => {
  for (const dir of dirs) removeDataDir(dir);
});

function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-recovery-"));
  dirs.push(dir);
  return dir;
}

async function spawn(opts: Parameters<typeof spawnTrainApi>[0] = {}): Promise<SpawnedTrainApi> {
  // Started through tsx, which takes its time on a busy machine.
  const server = await spawnTrainApi({ startTimeoutMs: 120_000, ...opts });
  servers.push(server);
  return server;
}

/**
 * A job that appends a line to `starts` each time a process of it starts; the first run then waits
 * to be preempted, and every later run finishes at once.
 */
const restartableJob = (name: string, starts: string, backoffSeconds: number) => ({
  name,
  storage_mounts: [{ source_uri: dirname(starts), mount_path: "/mnt/files" }],
  job_config: {
    command: [
      "sh",
      "-c",
      `echo started >> ${starts}; [ -e ${starts}.ran ] && exit 0; touch ${starts}.ran; sleep 60`,
    ],
  },
  retry_policy: { max_restarts: 3, on: ["preemption"], backoff_seconds: backoffSeconds },
});

async function submit(api: SpawnedTrainApi, body: unknown): Promise<Job> {
  const res = await fetch(`${api.url}/v1/local/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Job;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : []);

/** The pid of the job's running process, from its supervisor's status file. */
async function processOf(api: SpawnedTrainApi, id: string): Promise<number> {
  for (;;) {
    const job = await waitForJob<Job>(api, id, (j) => j.cloud_job_identifier !== null);
    const file = join(job.cloud_job_identifier?.job_dir ?? "", "status.json");
    const pid = existsSync(file)
      ? (JSON.parse(readFileSync(file, "utf8")) as { process?: { pid: number } }).process?.pid
      : undefined;
    if (pid !== undefined) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the first run has marked itself, so the preemption lands while it sleeps and not before. */
async function untilMarked(starts: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(`${starts}.ran`)) {
    if (Date.now() > deadline) throw new Error(`the job never wrote ${starts}.ran`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a server killed in the middle of a recovery", () => {
  it("submits the restart it had recorded exactly once after it starts again", async () => {
    const dataDir = newDataDir();
    const starts = join(filesDirOf(dataDir), "backoff.starts");
    const first = await spawn({ dataDir });
    const job = await submit(first, restartableJob("backoff", starts, 3));
    const pid = await processOf(first, job.id);
    await untilMarked(starts);
    process.kill(pid, "SIGTERM");
    // The restart is recorded and waits out its back-off when the server dies.
    const waiting = await waitForJob<Job>(first, job.id, (j) => j.restarts === 1);
    expect(waiting.attempts[1]?.started_at).toBeNull();
    await first.kill("SIGKILL");

    const second = await spawn({ dataDir, apiKey: first.apiKey });
    const done = await waitForJob<Job>(second, job.id, (j) => j.status === "COMPLETED", 60_000);
    expect(done.restarts).toBe(1);
    expect(done.attempts.map((a) => a.end?.kind)).toEqual(["preemption", "completed"]);
    expect(lines(starts)).toEqual(["started", "started"]);
  }, 300_000);

  it("does not lose a preemption that happened while no server ran", async () => {
    const dataDir = newDataDir();
    const starts = join(filesDirOf(dataDir), "offline.starts");
    const first = await spawn({ dataDir });
    const job = await submit(first, restartableJob("offline", starts, 0));
    const pid = await processOf(first, job.id);
    await untilMarked(starts);
    await first.kill("SIGKILL");
    process.kill(pid, "SIGTERM");

    const second = await spawn({ dataDir, apiKey: first.apiKey });
    const done = await waitForJob<Job>(second, job.id, (j) => j.status === "COMPLETED", 60_000);
    expect(done.restarts).toBe(1);
    expect(done.attempts[0]?.end?.kind).toBe("preemption");
    expect(lines(starts)).toEqual(["started", "started"]);
  }, 300_000);
});

describe("two servers that see the same preemption", () => {
  it("start one restart between them", async () => {
    const dataDir = newDataDir();
    await seedEmbeddedStore(dataDir);
    const store = await openPgliteStore(join(dataDir, "db"));
    try {
      const id = "5b0e0c57-2f5c-4c39-9d33-3f1f9f0d8a11";
      await store.insertJob({
        id,
        accountId: "acct-1",
        backend: "local",
        name: "shared",
        request: {
          name: "shared",
          job_config: { command: ["true"] },
          storage_mounts: [],
          retry_policy: { max_restarts: 5, on: ["preemption"], backoff_seconds: 0, max_backoff_seconds: 0 },
        } as never,
        requestHash: "h",
        idempotencyKey: null,
        createdAt: new Date(),
      });
      await store.claimSubmit(id, 60_000);
      const running = await store.recordSubmitted(id, {
        cloudJobIdentifier: { job_dir: "/x" },
        backendState: null,
        status: "IN_PROGRESS",
      });
      if (!running) throw new Error("not recorded");
      const preempted: PollResult = {
        status: "FAILED",
        result: { failure_reason: "preempted" },
        end: { kind: "preemption", reason: "preempted" },
      };
      // Both read the job before either wrote: the same stale record goes to both.
      const outcomes = await Promise.all([
        settle(store, running, preempted),
        settle(store, running, preempted),
      ]);
      expect(outcomes.map((o) => o.kind)).toEqual(["restarted", "restarted"]);
      const after = await store.getJobById(id);
      expect(after?.attempt).toBe(1);
      expect(after?.attempts).toHaveLength(1);
      expect(after?.status).toBe("IN_PROGRESS");
      // Only one of them may submit it: the claim goes to one caller.
      const claims = await Promise.all([store.claimSubmit(id, 60_000), store.claimSubmit(id, 60_000)]);
      expect(claims.filter((c) => c !== null)).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});
