// Runs one local job on behalf of the Train API, detached from the server so that the job and the
// record of how it ended both outlive a server crash. Usage: node supervisor.js <jobDir>
//
// The job runs in a process group and session of its own, as a user of its own when the server is
// root and in a sandbox when the host has one (see isolation.ts). The supervisor answers SIGTERM (a
// cancel) by passing SIGTERM to that group and, after the grace period, SIGKILL to every process of
// the job: the group, the sandbox (whose first process takes its whole pid namespace with it), every
// process of the job's own user, and every descendant it saw. It enforces timeout_seconds the same
// way, copies the job's output to the logs up to a cap, and finally writes status.json.
// It imports only Node built-ins and its sibling modules, so it starts fast and can run from a
// copy of these files.
import { spawn } from "node:child_process";
import { accessSync, appendFileSync, closeSync, constants, openSync, writeSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { Readable } from "node:stream";
import {
  jobFile,
  type Outcome,
  readJson,
  type StatusRecord,
  type StopReason,
  type StopRecord,
  type SupervisorSpec,
  writeJsonAtomic,
} from "./files";
import {
  childrenOf,
  isRunning,
  type ProcessRef,
  processStartTime,
  signalGroup,
  signalProcess,
  signalUser,
  terminateJob,
} from "./proc";

/** Node caps one timer at about 24.8 days and fires a longer one at once; long waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function after(seconds: number, action: () => void): { cancel(): void } {
  const deadline = Date.now() + seconds * 1000;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = deadline - Date.now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(action, Math.max(left, 0));
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

/** Whether `name` (without a slash) is an executable file in one of the `PATH` directories. */
function onPath(name: string, path: string | undefined): boolean {
  if (name.includes("/")) return true;
  return (path ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir || ".", name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** How often the descendants of the job are looked up, to stop those that leave its group too. */
const DESCENDANT_SCAN_MS = 250;
/** How long output still in the pipes is waited for once the job's process exited. */
const DRAIN_MS = 2000;

function main(jobDir: string): void {
  const self: ProcessRef = { pid: process.pid, start_time: processStartTime(process.pid) ?? "" };
  let stopReason: StopReason | null = null;
  let jobPid: number | null = null;
  let graceTimer: { cancel(): void } | undefined;
  let timeoutTimer: { cancel(): void } | undefined;
  let running: StatusRecord | null = null;

  const spec = readJson<SupervisorSpec>(jobFile(jobDir, "spec"));
  if (spec === null || spec.argv.length === 0) {
    throw new Error(`${jobFile(jobDir, "spec")} is missing or unreadable`);
  }

  // Every descendant seen so far, so that one that left the group and lost its parent is still found.
  const descendants = new Map<number, ProcessRef>();
  const scanDescendants = () => {
    if (jobPid === null) return;
    const queue = childrenOf(jobPid);
    while (queue.length > 0) {
      const pid = queue.shift()!;
      if (!descendants.has(pid)) {
        const start = processStartTime(pid);
        if (start !== null) descendants.set(pid, { pid, start_time: start });
      }
      queue.push(...childrenOf(pid));
    }
  };
  const killEverything = () => {
    if (jobPid === null) return;
    scanDescendants();
    signalGroup(jobPid, "SIGKILL");
    // The sandbox's first process is the init of its pid namespace: the kernel ends the rest with it.
    if (spec.sandbox !== undefined) for (const pid of childrenOf(jobPid)) signalProcess(pid, "SIGKILL");
    if (spec.uid !== undefined) signalUser(spec.uid, "SIGKILL");
    for (const ref of descendants.values()) if (isRunning(ref)) signalProcess(ref.pid, "SIGKILL");
  };

  const stop = (reason: StopReason) => {
    if (stopReason !== null) return;
    stopReason = reason;
    if (jobPid === null) return;
    terminateJob(jobPid, spec.sandbox !== undefined);
    graceTimer = after(spec.grace_seconds, killEverything);
  };
  process.on("SIGTERM", () => stop("canceled"));
  // No terminal owns this session, but a stray SIGINT/SIGHUP must not end the supervisor and lose the record.
  process.on("SIGINT", () => {});
  process.on("SIGHUP", () => {});

  const end = (record: Omit<StatusRecord, "state" | "supervisor" | "ended_at">) => {
    graceTimer?.cancel();
    timeoutTimer?.cancel();
    writeJsonAtomic(jobFile(jobDir, "status"), {
      ...running,
      ...record,
      state: "ended",
      supervisor: self,
      ended_at: new Date().toISOString(),
    } satisfies StatusRecord);
    process.exit(0);
  };

  // A cancel that arrived before this process could install its SIGTERM handler left only this file.
  const earlyStop = readJson<StopRecord>(jobFile(jobDir, "stop"));
  if (earlyStop !== null) {
    end({ outcome: earlyStop.reason, exit_code: null, signal: null });
    return;
  }

  const [program, ...args] = spec.argv as [string, ...string[]];
  // In a sandbox the program starts behind bubblewrap, which would report a missing one only as its
  // own exit status, and a user of its own may not search every PATH directory (EACCES): look it up
  // first, as a plain spawn would.
  if ((spec.sandbox !== undefined || spec.uid !== undefined) && !onPath(program, spec.env.PATH)) {
    end({ outcome: "spawn_failed", exit_code: null, signal: null, error: `spawn ${program} ENOENT` });
    return;
  }
  const command = [...(spec.sandbox ?? []), program, ...args] as [string, ...string[]];
  // Files the job creates in a shared writable mount stay writable by its account's later jobs.
  if (spec.uid !== undefined) process.umask(0o007);
  const child = spawn(command[0], command.slice(1), {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    ...(spec.uid !== undefined && spec.gid !== undefined ? { uid: spec.uid, gid: spec.gid } : {}),
  });

  const stdoutFd = openSync(jobFile(jobDir, "stdout"), "a", 0o600);
  const stderrFd = openSync(jobFile(jobDir, "stderr"), "a", 0o600);
  let budget = spec.log_max_bytes ?? Number.POSITIVE_INFINITY;
  const copy = (stream: Readable | null, fd: number) =>
    new Promise<void>((done) => {
      if (stream === null) return done();
      stream.on("data", (chunk: Buffer) => {
        if (budget <= 0) return;
        const kept = chunk.length <= budget ? chunk : chunk.subarray(0, budget);
        writeSync(fd, kept);
        budget -= kept.length;
        if (budget <= 0) {
          writeSync(
            stderrFd,
            `\n[trainkit] this job's logs reached TRAINKIT_LOCAL_LOG_MAX_BYTES (${spec.log_max_bytes} bytes); later output is dropped\n`,
          );
        }
      });
      stream.on("close", done);
      stream.on("error", () => done());
    });
  const drained = Promise.all([copy(child.stdout, stdoutFd), copy(child.stderr, stderrFd)]);
  const closeLogs = () => {
    child.stdout?.destroy();
    child.stderr?.destroy();
    closeSync(stdoutFd);
    closeSync(stderrFd);
  };

  let scanTimer: NodeJS.Timeout | undefined;
  child.on("error", (err) => {
    if (jobPid !== null) return;
    closeLogs();
    end({ outcome: "spawn_failed", exit_code: null, signal: null, error: err.message });
  });
  child.on("spawn", () => {
    const pid = child.pid!;
    jobPid = pid;
    running = {
      state: "running",
      supervisor: self,
      process: { pid, start_time: processStartTime(pid) ?? "" },
      started_at: new Date().toISOString(),
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
      ...(spec.sandbox !== undefined ? { sandboxed: true } : {}),
    };
    writeJsonAtomic(jobFile(jobDir, "status"), running);
    // A job of its own user, or in a sandbox, cannot escape the kill; one that runs as the server's
    // user is followed through its descendants.
    if (spec.uid === undefined && spec.sandbox === undefined) {
      scanTimer = setInterval(scanDescendants, DESCENDANT_SCAN_MS);
    }
    if (spec.timeout_seconds !== undefined) {
      timeoutTimer = after(spec.timeout_seconds, () => stop("timeout"));
    }
    const pending = stopReason;
    if (pending !== null) {
      stopReason = null;
      stop(pending);
    }
  });
  child.on("exit", (code, signal) => {
    if (scanTimer !== undefined) clearInterval(scanTimer);
    // Processes the job left behind belong to a job that is over; nothing is left to watch them.
    killEverything();
    const outcome: Outcome = stopReason ?? "exited";
    const finish = () => {
      closeLogs();
      end({ outcome, exit_code: code, signal });
    };
    // Output still in the pipes is kept; a process that escaped every kill cannot hold the end up.
    const bound = setTimeout(finish, DRAIN_MS);
    void drained.then(() => {
      clearTimeout(bound);
      finish();
    });
  });
}

const jobDir = process.argv[2];
if (jobDir === undefined) {
  process.stderr.write("usage: supervisor <jobDir>\n");
  process.exit(2);
}
try {
  main(jobDir);
} catch (err) {
  appendFileSync(jobFile(jobDir, "supervisorLog"), `${new Date().toISOString()} ${String(err)}\n`);
  process.exit(1);
}
