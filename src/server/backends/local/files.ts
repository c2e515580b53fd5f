import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { ProcessRef } from "./proc";

/**
 * The files of one job under `<dataDir>/local/<jobId>/`. They are the source of truth for the job:
 * the server's store may lag behind them after a crash, and the supervisor writes them even when no
 * server is running.
 */
export const JOB_FILES = {
  /** What to run, written by the backend before it starts the supervisor. */
  spec: "spec.json",
  /** Created exclusively before the supervisor starts, so that a job is launched at most once. */
  launch: "launch.json",
  /** Written by the supervisor once the job runs and again once it ended. */
  status: "status.json",
  /** A request to stop the job, written before any signal is sent so that it outlives the signal. */
  stop: "stop.json",
  stdout: "stdout.log",
  stderr: "stderr.log",
  /** The supervisor's own diagnostics (a crash of the supervisor itself lands here). */
  supervisorLog: "supervisor.log",
} as const;

/** What the supervisor runs: the job config resolved to a process invocation. */
export interface SupervisorSpec {
  /** Program and arguments, run without a shell. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  timeout_seconds?: number;
  grace_seconds: number;
}

export interface LaunchRecord {
  supervisor: ProcessRef;
  launched_at: string;
}

export type StopReason = "canceled" | "timeout";

export interface StopRecord {
  reason: StopReason;
  requested_at: string;
}

/** How a job ended, as the supervisor saw it. */
export type Outcome = "exited" | StopReason | "spawn_failed";

export interface StatusRecord {
  state: "running" | "ended";
  supervisor: ProcessRef;
  /** The job's main process; it leads its own process group (pgid = pid). Absent if it never started. */
  process?: ProcessRef;
  started_at?: string;
  ended_at?: string;
  outcome?: Outcome;
  exit_code?: number | null;
  signal?: string | null;
  /** Why the job could not be started (`spawn_failed`). */
  error?: string;
}

export function jobFile(jobDir: string, name: keyof typeof JOB_FILES): string {
  return join(jobDir, JOB_FILES[name]);
}

/** Reads a JSON file, or null when it is missing or was cut short by a crash mid-write. */
export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

/** Replaces a file so that a reader sees the old content or the new one, never a part, even across a power loss. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Opens a new file for writing only if it does not exist yet; returns null when it already did. */
export function openExclusive(path: string): number | null {
  try {
    return openSync(path, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return null;
    throw err;
  }
}

/** Writes JSON to a file opened with `openExclusive`, syncs it and closes it. */
export function writeJsonAndClose(fd: number, value: unknown): void {
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates a JSON file only if it does not exist yet; returns false when it already did. */
export function createExclusive(path: string, value: unknown): boolean {
  const fd = openExclusive(path);
  if (fd === null) return false;
  writeJsonAndClose(fd, value);
  return true;
}
