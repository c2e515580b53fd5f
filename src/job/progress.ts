import { isTerminal, type JobStatus } from "../spec";
import type { JobSnapshot } from "./clients/types";

/** Seconds between two progress lines while a job keeps its status; a status change is shown at once. */
export const PROGRESS_INTERVAL_ENV = "TRAINKIT_PROGRESS_INTERVAL_SECONDS";
export const DEFAULT_PROGRESS_INTERVAL_SECONDS = 30;

/** How long from `since` to `now`, as `1h02m03s`, `4m05s` or `6s`. */
export function elapsed(since: string | Date | number, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((now - new Date(since).getTime()) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h${pad(m)}m${pad(s)}s`;
  if (m > 0) return `${m}m${pad(s)}s`;
  return `${s}s`;
}

/** Where progress lines go. */
export type ProgressSink = (message: string) => void;

/**
 * Pulumi's own log. In the dynamic provider host, which has no engine connection of its own, it
 * writes `info:` lines to the host's output, which the engine shows under the deployment.
 */
export function pulumiInfo(): ProgressSink {
  // Loaded when first needed: the module is part of the host's own @pulumi/pulumi.
  const log = require("@pulumi/pulumi/log") as typeof import("@pulumi/pulumi/log");
  return (message) => {
    void log.info(message);
  };
}

/** The newest line of a job's output, where the API serves it. */
export type LastLine = (jobId: string) => Promise<string | undefined>;

/**
 * What a `TrainingJob` says while `pulumi up` waits for it: a line at each status change, and
 * otherwise one every `intervalMs`, with the time waited and the job's last line of output (or,
 * once it failed, the reason).
 */
export class WaitProgress {
  private lastStatus: JobStatus | undefined;
  private lastRestarts = 0;
  private lastAt = Number.NEGATIVE_INFINITY;
  private noLines = false;

  constructor(
    private readonly resourceName: string,
    private readonly sink: ProgressSink,
    private readonly intervalMs: number,
    private readonly lastLine?: LastLine,
    private readonly startedAt = Date.now(),
  ) {}

  /** The interval from `TRAINKIT_PROGRESS_INTERVAL_SECONDS`, else 30 s. */
  static intervalFrom(env: NodeJS.ProcessEnv): number {
    const seconds = Number(env[PROGRESS_INTERVAL_ENV]);
    return (Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_PROGRESS_INTERVAL_SECONDS) * 1000;
  }

  async seen(job: JobSnapshot, now = Date.now()): Promise<void> {
    const restarted = (job.restarts ?? 0) > this.lastRestarts;
    const changed = job.status !== this.lastStatus || restarted;
    if (!changed && now - this.lastAt < this.intervalMs) return;
    this.lastStatus = job.status;
    this.lastRestarts = job.restarts ?? 0;
    this.lastAt = now;
    let detail = "";
    const ended = job.attempts?.at(-2)?.end;
    if (restarted && ended) {
      // A restart is news even though the status stays IN_PROGRESS.
      this.sink(
        `TrainingJob ${this.resourceName}: job ${job.id} restarted (restart ${job.restarts}) after ${ended.kind}: ${oneLine(ended.reason)}`,
      );
    }
    const reason = job.result?.failure_reason?.trim();
    if (reason) detail = `: ${oneLine(reason)}`;
    else if (job.status === "IN_PROGRESS" || isTerminal(job.status)) {
      const line = await this.readLastLine(job.id);
      if (line) detail = `; last output: ${oneLine(line)}`;
    }
    this.sink(
      `TrainingJob ${this.resourceName}: job ${job.id} ${job.status}, waited ${elapsed(this.startedAt, now)}${detail}`,
    );
  }

  private async readLastLine(jobId: string): Promise<string | undefined> {
    // A backend that serves no logs says so once; it is not asked again every interval.
    if (!this.lastLine || this.noLines) return undefined;
    try {
      return await this.lastLine(jobId);
    } catch {
      this.noLines = true;
      return undefined;
    }
  }
}

function oneLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, " | ");
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
