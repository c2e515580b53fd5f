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
