import { isTerminal, type Job, type JobLogs } from "../spec";
import type { BackendRegistry, BackendSlot } from "./backends";
import { type Backend, BackendError, type BackendJob } from "./backends/types";
import { toApiJob, toBackendJob } from "./jobs";
import { attemptJobId } from "./recovery";
import type { JobRecord, Store } from "./store/types";

/** What one follower is sent: new lines, a mark after each read, and the job once it ended. */
export interface Follower {
  lines(logs: JobLogs): void;
  /** After each shared read, numbered per job: followers of one job see the same numbers. */
  polled(read: number): void;
  ended(job: Job): void;
  /** After each read that found no log yet, while the follower waits for it to appear. */
  waiting(read: number): void;
  /** The wait for the log ran out, or the log that appeared cannot be continued from a position. */
  failed(error: BackendError): void;
}

/**
 * Where a follower is: in the log of which attempt of the job, at a cursor or waiting (since a time)
 * for that log to appear. A restarted job writes a new log per attempt, so a cursor is only good
 * for the attempt it was read from.
 */
type Position = ({ cursor: string } | { waitingSince: number }) & { attempt: number };

/**
 * Cloud Logging reads followers make per minute unless `TRAINKIT_VERTEX_LOGGING_READS_PER_MINUTE`
 * says otherwise: half of the lowest per-project value of Cloud Logging's read quota
 * (`ReadRequestsPerMinutePerProject`, 60), leaving the rest to direct reads and other readers.
 */
export const DEFAULT_VERTEX_LOGGING_READS_PER_MINUTE = 30;

/**
 * Reads of one backend's logging API allowed per rolling minute, across every followed job: a cloud
 * whose read quota is counted per project (Cloud Logging's `ReadRequestsPerMinutePerProject`) is
 * kept under it however many jobs are followed. A read over budget is skipped and tried at a later
 * interval, from the same position, so followers see every line, later.
 */
export class ReadBudget {
  private readonly reads = new Map<string, number[]>();

  constructor(
    private readonly perMinute: Readonly<Partial<Record<string, number>>>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a read of `backend` fits the budget now; when it does, it is counted. */
  take(backend: string): boolean {
    const limit = this.perMinute[backend];
    if (limit === undefined) return true;
    const at = this.now();
    const recent = (this.reads.get(backend) ?? []).filter((t) => at - t < 60_000);
    if (recent.length >= limit) {
      this.reads.set(backend, recent);
      return false;
    }
    recent.push(at);
    this.reads.set(backend, recent);
    return true;
  }
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
    /** Longest a follower waits for a job's log to appear before it is told the log is not there. */
    private readonly maxWaitMs: number = 30 * 60_000,
    private readonly now: () => number = Date.now,
    private readonly budget: ReadBudget = new ReadBudget({}),
  ) {}

  /**
   * Starts sending `follower` what is logged after `cursor`, or with `cursor` null, everything once
   * the job's log appears (the job has not written one yet); returns the function that stops it.
   */
  follow(job: JobRecord, stream: "stdout" | "stderr", cursor: string | null, follower: Follower): () => void {
    const key = `${job.id}/${stream}`;
    let follow = this.jobs.get(key);
    if (!follow) {
      follow = new JobFollow(
        job.id,
        stream,
        this.store,
        this.backends,
        this.intervalMs,
        this.maxWaitMs,
        this.now,
        this.budget,
        () => this.jobs.delete(key),
      );
      this.jobs.set(key, follow);
    }
    const attempt = job.attempt;
    return follow.add(
      follower,
      cursor === null ? { waitingSince: this.now(), attempt } : { cursor, attempt },
    );
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

/** Whether a read failed only because the job has written no log yet. */
function notYetLogged(err: unknown): err is BackendError {
  return err instanceof BackendError && err.code === "logs_not_available";
}

class JobFollow {
  private readonly cursors = new Map<Follower, Position>();
  private timer: NodeJS.Timeout | undefined;
  private reads = 0;
  private running = false;

  constructor(
    private readonly jobId: string,
    private readonly stream: "stdout" | "stderr",
    private readonly store: Store,
    private readonly backends: BackendRegistry,
    private readonly intervalMs: number,
    private readonly maxWaitMs: number,
    private readonly now: () => number,
    private readonly budget: ReadBudget,
    private readonly onIdle: () => void,
  ) {}

  add(follower: Follower, position: Position): () => void {
    this.cursors.set(follower, position);
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
      const byPosition = new Map<string, { attempt: number; cursor: string | null; followers: Follower[] }>();
      for (const [follower, position] of this.cursors) {
        const cursor = "cursor" in position ? position.cursor : null;
        const key = JSON.stringify([position.attempt, cursor]);
        const group = byPosition.get(key) ?? { attempt: position.attempt, cursor, followers: [] };
        group.followers.push(follower);
        byPosition.set(key, group);
      }
      let drained = true;
      for (const { attempt, cursor, followers } of byPosition.values()) {
        const current = attempt === job.attempt;
        if (!this.budget.take(job.backend)) {
          drained = false;
          continue;
        }
        let logs: JobLogs;
        try {
          // Followers waiting for the log read its start once it appears: the last lines, as many
          // as one read takes.
          logs = await backend.logs(current ? toBackendJob(job) : pastAttempt(job, attempt), {
            stream: this.stream,
            tail: READ_LINES,
            ...(cursor === null ? {} : { cursor }),
          });
        } catch (err) {
          if (!current) {
            // An earlier attempt's log that cannot be read (never written, or gone with its native
            // job) has nothing more to give: its followers go on to the next attempt's.
            this.reads++;
            for (const follower of followers) this.nextAttempt(follower, attempt, backend);
            drained = false;
            continue;
          }
          if (cursor === null && notYetLogged(err)) {
            this.reads++;
            for (const follower of followers) this.stillWaiting(follower, err, ended);
            continue;
          }
          // A failed read is tried again at the next interval, from the same position.
          drained = false;
          continue;
        }
        this.reads++;
        const more = logs.lines.length >= READ_LINES;
        if (more) drained = false;
        for (const follower of followers) {
          if (logs.lines.length > 0) follower.lines({ ...logs, job_id: job.id });
          if (logs.next_cursor !== undefined) {
            this.cursors.set(follower, { cursor: logs.next_cursor, attempt });
            follower.polled(this.reads);
            // An earlier attempt's log read to its end: the follower goes on to the next attempt's.
            if (!current && !more) {
              this.nextAttempt(follower, attempt, backend);
              drained = false;
            }
          } else {
            this.cursors.delete(follower);
            follower.failed(
              new BackendError(
                409,
                "logs_not_followable",
                `the ${job.backend} backend cannot continue a log from where a read stopped; read the last lines without follow=true`,
              ),
            );
          }
        }
      }
      if (this.cursors.size === 0) return this.stop();
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

  /**
   * Moves a follower that has read all of `attempt`'s log to the start of the next attempt's, so it
   * goes on with what the restart logs rather than reading the new log from the old one's cursor.
   */
  private nextAttempt(follower: Follower, attempt: number, backend: Backend): void {
    if (!this.cursors.has(follower)) return;
    const next = attempt + 1;
    const start = backend.logStart?.();
    this.cursors.set(
      follower,
      start === undefined ? { waitingSince: this.now(), attempt: next } : { cursor: start, attempt: next },
    );
  }

  /**
   * A follower whose job has no log yet: told so after each read, until the log appears, the job
   * ends (nothing more will be logged) or the wait runs out.
   */
  private stillWaiting(follower: Follower, err: BackendError, ended: boolean): void {
    const position = this.cursors.get(follower);
    if (!position || !("waitingSince" in position) || ended) return;
    if (this.now() - position.waitingSince < this.maxWaitMs) {
      follower.waiting(this.reads);
      return;
    }
    this.cursors.delete(follower);
    follower.failed(
      new BackendError(
        409,
        "logs_not_available",
        `${err.message.replace(/; ask again.*$/, "")}; waited ${this.maxWaitMs / 1000} s (TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS) for it to appear; follow the job again later`,
      ),
    );
  }
}

/**
 * An attempt of the job before its current one, as its backend saw it: the attempt's own id, which
 * names its native job, and the native identifier recorded when it ended.
 */
function pastAttempt(job: JobRecord, attempt: number): BackendJob {
  const recorded = job.attempts.find((a) => a.attempt === attempt);
  return {
    ...toBackendJob(job),
    id: attemptJobId(job.id, attempt),
    cloudJobIdentifier: recorded?.cloud_job_identifier ?? null,
    backendState: null,
  };
}
