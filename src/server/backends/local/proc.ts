import { readdirSync, readFileSync } from "node:fs";

/** A process as the local backend records it: a pid alone can be reused by an unrelated process. */
export interface ProcessRef {
  pid: number;
  /** Field 22 of `/proc/<pid>/stat`: clock ticks after boot at which the process started. */
  start_time: string;
}

interface ProcStat {
  state: string;
  pgid: number;
  startTime: string;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const pgid = Number(fields[2]);
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !Number.isInteger(pgid)) return null;
  return { state, pgid, startTime };
}

/** The start time of a running process, or null when there is none with that pid. */
export function processStartTime(pid: number): string | null {
  return readStat(pid)?.startTime ?? null;
}

/**
 * Whether the process that was recorded still runs. A zombie counts as gone: where pid 1 does not
 * reap orphans (minimal containers), an exited process can stay in the process table indefinitely.
 */
export function isRunning(ref: ProcessRef): boolean {
  const stat = readStat(ref.pid);
  return stat !== null && stat.state !== "Z" && stat.startTime === ref.start_time;
}

/** Pids of the live (non-zombie) members of a process group. */
export function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== null && stat.pgid === pgid && stat.state !== "Z") members.push(Number(entry));
  }
  return members;
}

/** Sends a signal to every process of a group; a group that no longer exists is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Sends a signal to one process; a process that no longer exists is not an error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** The real user id of a process, or null when it is gone. */
export function realUid(pid: number): number | null {
  try {
    const match = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Sends a signal to every process running as `uid`. A job that runs as a user of its own cannot
 * change user, so this reaches every process it started, even those that left its process group
 * and session. Never used for the server's own user.
 */
export function signalUser(uid: number, signal: NodeJS.Signals): number {
  if (uid === process.getuid?.() || uid === 0) return 0;
  let sent = 0;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    if (realUid(Number(entry)) !== uid) continue;
    signalProcess(Number(entry), signal);
    sent++;
  }
  return sent;
}

/** The direct children of a process, as the kernel lists them. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter((p) => p !== "")
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Asks a job to stop: SIGTERM to its process group. A sandboxed job's first two processes are
 * bubblewrap itself and the init of the sandbox's pid namespace; bubblewrap ends the whole sandbox
 * at once when it receives SIGTERM, so they are left out and the job's own processes get the
 * grace period.
 */
export function terminateJob(main: number, sandboxed: boolean): void {
  if (!sandboxed) {
    signalGroup(main, "SIGTERM");
    return;
  }
  const sandbox = new Set([main, ...childrenOf(main)]);
  for (const pid of liveGroupMembers(main)) if (!sandbox.has(pid)) signalProcess(pid, "SIGTERM");
}
