import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LOCAL_SETTING_DEFAULTS, LocalBackend } from "../../src/server/backends/local";
import {
  jobFile,
  type LaunchRecord,
  readJson,
  type StatusRecord,
} from "../../src/server/backends/local/files";
import {
  isRunning,
  liveGroupMembers,
  signalGroup,
  signalProcess,
  signalUser,
} from "../../src/server/backends/local/proc";
import { readLocalSettings } from "../../src/server/backends/local/settings";
import type { BackendContext, BackendJob, PollResult, SubmitResult } from "../../src/server/backends/types";
import { CREATE_JOB_REQUESTS, type CreateJobRequest, type JobStatus } from "../../src/spec";

const WATCHDOG_SECONDS = 20;

/**
 * Runs `work` under a separate process that kills this test process if `work` has not settled in
 * time. A synchronous hang blocks this process's event loop, so vitest's own timeout could never fire.
 */
export async function withinWatchdog<T>(what: string, work: () => Promise<T>): Promise<T> {
  const watchdog = spawn(
    process.execPath,
    [
      "-e",
      `setTimeout(() => {
        console.error(${JSON.stringify(`${what} did not return within ${WATCHDOG_SECONDS} s; killing the test process`)});
        process.kill(${process.pid}, "SIGKILL");
      }, ${WATCHDOG_SECONDS * 1000})`,
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  try {
    return await work();
  } finally {
    watchdog.kill("SIGKILL");
  }
}

/** Where the Node.js running the tests is installed. */
export const NODE_PREFIX = dirname(dirname(process.execPath));

/** A real BackendContext over a fresh data directory, recording every notify. */
export class LocalHarness {
  readonly dataDir = mkdtempSync(join(tmpdir(), "trainkit-local-"));
  /**
   * A directory for a test's mounts and working directories, apart from the data directory (which no
   * job may reach), and writable by every user, as jobs may run as users of their own.
   */
  readonly filesDir = mkdtempSync(join(tmpdir(), "trainkit-files-"));
  readonly notified: string[] = [];
  readonly logged: { level: string; obj: object; msg?: string }[] = [];
  private readonly backends: LocalBackend[] = [];

  constructor() {
    chmodSync(this.filesDir, 0o777);
  }

  /** `filesDir` as a writable mount, so that a job in a sandbox can reach it. */
  filesMount() {
    return { source_uri: this.filesDir, mount_path: "/mnt/files" };
  }

  readonly ctx: BackendContext = {
    dataDir: this.dataDir,
    notify: (jobId) => this.notified.push(jobId),
    log: {
      info: (obj, msg) => this.logged.push({ level: "info", obj, ...(msg ? { msg } : {}) }),
      warn: (obj, msg) => this.logged.push({ level: "warn", obj, ...(msg ? { msg } : {}) }),
      error: (obj, msg) => this.logged.push({ level: "error", obj, ...(msg ? { msg } : {}) }),
    },
  };

  /**
   * A backend over this data directory, as the server would build it from `env`. A sandbox shows the
   * Node.js that runs these tests too, as test jobs are Node.js programs.
   */
  backend(env: NodeJS.ProcessEnv = {}, context: Partial<BackendContext> = {}): LocalBackend {
    const serverEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TRAINKIT_LOCAL_SANDBOX_PATHS: [...LOCAL_SETTING_DEFAULTS.sandboxPaths, NODE_PREFIX].join(","),
      // Lets the same tests run under a weaker isolation than the host allows, as another host would.
      ...(process.env.TRAINKIT_LOCAL_ISOLATION
        ? { TRAINKIT_LOCAL_ISOLATION: process.env.TRAINKIT_LOCAL_ISOLATION }
        : {}),
      ...env,
    };
    const backend = new LocalBackend(readLocalSettings(serverEnv), serverEnv, { ...this.ctx, ...context });
    this.backends.push(backend);
    return backend;
  }

  /** Every process a test left behind is killed, then the data directory is removed. */
  async dispose(): Promise<void> {
    for (const backend of this.backends) await backend.close();
    const root = join(this.dataDir, "local");
    for (const id of safeReaddir(root)) {
      const dir = join(root, id);
      const status = readJson<StatusRecord>(jobFile(dir, "status"));
      const launch = readJson<LaunchRecord>(jobFile(dir, "launch"));
      const supervisor = status?.supervisor ?? launch?.supervisor;
      if (supervisor && isRunning(supervisor)) signalProcess(supervisor.pid, "SIGKILL");
      if (status?.process && liveGroupMembers(status.process.pid).length > 0) {
        signalGroup(status.process.pid, "SIGKILL");
      }
      if (status?.uid !== undefined) signalUser(status.uid, "SIGKILL");
    }
    rmSync(this.dataDir, { recursive: true, force: true });
    rmSync(`${this.dataDir}-work`, { recursive: true, force: true });
    rmSync(this.filesDir, { recursive: true, force: true });
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A job as the server hands it to a backend: validated by the same schema, not yet submitted. */
export function localJob(request: CreateJobRequest<"local">, id: string = randomUUID()): BackendJob<"local"> {
  return {
    id,
    accountId: "acct-test",
    backend: "local",
    request: CREATE_JOB_REQUESTS.local.parse(request),
    cloudJobIdentifier: null,
    backendState: null,
  };
}

/** The job as the store holds it after `submit` returned. */
export function afterSubmit(job: BackendJob<"local">, result: SubmitResult): BackendJob<"local"> {
  return { ...job, cloudJobIdentifier: result.cloudJobIdentifier, backendState: result.backendState ?? null };
}

/** A job that runs a Node.js program given as source text. */
export function nodeJob(source: string, extra: Partial<CreateJobRequest<"local">["job_config"]> = {}) {
  return localJob({ name: "node-job", job_config: { command: [process.execPath, "-e", source], ...extra } });
}

export async function waitUntil<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls until the job reaches one of `statuses` and returns that poll. */
export function pollUntil(
  backend: LocalBackend,
  job: BackendJob<"local">,
  statuses: JobStatus[],
  timeoutMs?: number,
): Promise<PollResult> {
  return waitUntil(
    async () => {
      const result = await backend.poll(job);
      return statuses.includes(result.status) ? result : undefined;
    },
    `job ${job.id} to be ${statuses.join(" or ")}`,
    timeoutMs,
  );
}

/** The job's status record, once the supervisor has started the job's process. */
export function runningStatus(
  backend: LocalBackend,
  jobId: string,
): Promise<StatusRecord & { process: { pid: number } }> {
  return waitUntil(() => {
    const status = readJson<StatusRecord>(jobFile(backend.jobDir(jobId), "status"));
    return status?.process ? (status as StatusRecord & { process: { pid: number } }) : undefined;
  }, `job ${jobId} to start`);
}

/** Whether a process exists in the kernel's sense (zombies included), as `kill(pid, 0)` sees it. */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
