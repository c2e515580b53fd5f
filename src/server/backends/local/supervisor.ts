// Runs one local job on behalf of the Train API, detached from the server so that the job and the
// record of how it ended both outlive a server crash. Usage: node supervisor.js <jobDir>
//
// The job runs in a process group of its own, so that a stop reaches every process it started. The
// supervisor answers SIGTERM (a cancel) by passing SIGTERM to that group and escalating to SIGKILL
// after the grace period, enforces timeout_seconds the same way, and finally writes status.json.
// It imports only Node built-ins and its sibling modules, so it starts fast and can run from a
// copy of these files.
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, openSync } from "node:fs";
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
import { type ProcessRef, processStartTime, signalGroup } from "./proc";

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

  const stop = (reason: StopReason) => {
    if (stopReason !== null) return;
    stopReason = reason;
    if (jobPid === null) return;
    signalGroup(jobPid, "SIGTERM");
    graceTimer = after(spec.grace_seconds, () => {
      if (jobPid !== null) signalGroup(jobPid, "SIGKILL");
    });
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

  const stdout = openSync(jobFile(jobDir, "stdout"), "a", 0o600);
  const stderr = openSync(jobFile(jobDir, "stderr"), "a", 0o600);
  const [program, ...args] = spec.argv as [string, ...string[]];
  const child = spawn(program, args, {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ["ignore", stdout, stderr],
    detached: true,
  });
  closeSync(stdout);
  closeSync(stderr);

  child.on("error", (err) => {
    if (jobPid !== null) return;
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
    };
    writeJsonAtomic(jobFile(jobDir, "status"), running);
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
    // Processes the job left behind belong to a job that is over; nothing is left to watch them.
    if (jobPid !== null) signalGroup(jobPid, "SIGKILL");
    const outcome: Outcome = stopReason ?? "exited";
    end({ outcome, exit_code: code, signal });
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
