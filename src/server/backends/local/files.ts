import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  writeSync,
} from "node:fs";
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
  /** The user and group the job runs as, when the server runs as root; unset: the server's own. */
  uid?: number;
  gid?: number;
  /** The sandbox program and its arguments (ending in `--`), put before `argv`; unset: no sandbox. */
  sandbox?: string[];
  /** Bytes of stdout and stderr together the job may leave on disk; later output is dropped. */
  log_max_bytes?: number;
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
  /** The user the job runs as, when it has one of its own: every process of that user is the job's. */
  uid?: number;
  /** Whether the job runs in a sandbox, whose first process `process` is. */
  sandboxed?: boolean;
}

export function jobFile(jobDir: string, name: keyof typeof JOB_FILES): string {
  return join(jobDir, JOB_FILES[name]);
}

/** The most the server reads of one JSON record in a job directory. */
export const RECORD_MAX_BYTES = 4 * 1024 * 1024;

/** Why a job-directory file cannot be read as a plain file. */
export class UntrustedFileError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path} ${reason}; only regular files are read from a job directory`);
    this.name = "UntrustedFileError";
  }
}

/**
 * Opens a file in a job directory for reading as a job might have left it: a symbolic link is not
 * followed (O_NOFOLLOW), and the open does not wait for a writer (O_NONBLOCK, so a FIFO planted in
 * place of a log cannot stall the server); anything but a regular file is refused. Returns null
 * when the file does not exist.
 */
export function openUntrusted(path: string): { fd: number; size: number } | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new UntrustedFileError(path, "is a symbolic link");
    throw err;
  }
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new UntrustedFileError(path, "is not a regular file");
  }
  return { fd, size: stat.size };
}

/** Reads at most `maxBytes` of a job-directory file opened with `openUntrusted`'s checks. */
export function readUntrusted(path: string, maxBytes: number): Buffer | null {
  const opened = openUntrusted(path);
  if (opened === null) return null;
  try {
    const buffer = Buffer.alloc(Math.min(opened.size, maxBytes));
    let filled = 0;
    while (filled < buffer.length) {
      const n = readSync(opened.fd, buffer, filled, buffer.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * Reads a JSON record, or null when it is missing, was cut short by a crash mid-write, is larger
 * than `RECORD_MAX_BYTES`, or is not a regular file (see `openUntrusted`).
 */
export function readJson<T>(path: string): T | null {
  try {
    const bytes = readUntrusted(path, RECORD_MAX_BYTES + 1);
    if (bytes === null || bytes.length > RECORD_MAX_BYTES) return null;
    return JSON.parse(bytes.toString("utf8")) as T;
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
