import { isTerminal, type Job, type JobLogs } from "../spec";
import type { BackendRegistry, BackendSlot } from "./backends";
import { toApiJob, toBackendJob } from "./jobs";
import type { JobRecord, Store } from "./store/types";

/** What one follower is sent: new lines, a mark after each read, and the job once it ended. */
export interface Follower {
  lines(logs: JobLogs): void;
  /** After each shared read, numbered per job: followers of one job see the same numbers. */
  polled(read: number): void;
  ended(job: Job): void;
}

/** Lines one shared read asks for: a busy job's backlog is drained over a few intervals, never lost. */
const READ_LINES = 1000;

/**
 * Followers of job logs (`GET /v1/jobs/{id}/logs?follow=true`). However many clients follow one
 * job, its log is read once per interval for each position they are at; followers that started
 * apart reach the same position (the end of the log) after one read, and from then on share every
 * read. A cloud's logging API therefore sees one read per job per interval.
 */
export class LogFollowers {
  private readonly jobs = new Map<string, JobFollow>();

  constructor(
    private readonly store: Store,
    private readonly backends: BackendRegistry,
    private readonly intervalMs: number,
  ) {}

  /** Starts sending `follower` what is logged after `cursor`; returns the function that stops it. */
  follow(job: JobRecord, stream: "stdout" | "stderr", cursor: string, follower: Follower): () => void {
    const key = `${job.id}/${stream}`;
    let follow = this.jobs.get(key);
    if (!follow) {
      follow = new JobFollow(job.id, stream, this.store, this.backends, this.intervalMs, () =>
        this.jobs.delete(key),
      );
      this.jobs.set(key, follow);
    }
    return follow.add(follower, cursor);
  }

  /** How many jobs are being followed now. */
  get size(): number {
    return this.jobs.size;
  }

  close(): void {
    for (const follow of this.jobs.values()) follow.stop();
    this.jobs.clear();
  }
}

class JobFollow {
  private readonly cursors = new Map<Follower, string>();
  private timer: NodeJS.Timeout | undefined;
  private reads = 0;
  private running = false;

  constructor(
    private readonly jobId: string,
    private readonly stream: "stdout" | "stderr",
    private readonly store: Store,
    private readonly backends: BackendRegistry,
    private readonly intervalMs: number,
    private readonly onIdle: () => void,
  ) {}

  add(follower: Follower, cursor: string): () => void {
    this.cursors.set(follower, cursor);
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
    return () => {
      this.cursors.delete(follower);
      if (this.cursors.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.onIdle();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // The status first: lines written before the job ended are then all in this read or later ones.
      const job = await this.store.getJobById(this.jobId);
      if (!job) return this.stop();
      const slot: BackendSlot = this.backends[job.backend];
      const backend = "backend" in slot ? slot.backend : undefined;
      if (!backend?.logs) return this.stop();
      const ended = isTerminal(job.status);
      const byCursor = new Map<string, Follower[]>();
      for (const [follower, cursor] of this.cursors)
        byCursor.set(cursor, [...(byCursor.get(cursor) ?? []), follower]);
      let drained = true;
      for (const [cursor, followers] of byCursor) {
        let logs: JobLogs;
        try {
          logs = await backend.logs(toBackendJob(job), { stream: this.stream, tail: READ_LINES, cursor });
        } catch {
          // A failed read is tried again at the next interval, from the same position.
          drained = false;
          continue;
        }
        this.reads++;
        if (logs.lines.length >= READ_LINES) drained = false;
        for (const follower of followers) {
          if (logs.lines.length > 0) follower.lines({ ...logs, job_id: job.id });
          if (logs.next_cursor !== undefined) this.cursors.set(follower, logs.next_cursor);
          follower.polled(this.reads);
        }
      }
      if (ended && drained) {
        const final = toApiJob(job);
        for (const follower of [...this.cursors.keys()]) follower.ended(final);
        this.cursors.clear();
        this.stop();
      }
    } finally {
      this.running = false;
    }
  }
}
