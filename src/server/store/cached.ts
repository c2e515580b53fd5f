import {
  isQueued,
  type JobRecord,
  type ListJobsOptions,
  type NewJob,
  type RestartChange,
  type StatusChange,
  type Store,
  type SubmitPaceAnswer,
  type SubmittedChange,
} from "./types";

export interface ChangeHandlers {
  /** Another writer changed (or inserted) the job; `version` is the row's version after it. */
  change(id: string, version: number, accountId: string): void;
  /** Changes may have been missed: forget everything cached. */
  reset(): void;
}

/** The changes other writers (other replicas) make to the store, as they commit. */
export interface ChangeFeed {
  /** How its connection shows to database operators (Postgres: its application_name). */
  readonly connectionName: string;
  start(handlers: ChangeHandlers): void;
  /** Whether changes made elsewhere are being delivered now; the cache is bypassed while not. */
  live(): boolean;
  /**
   * Resolves once every change committed before the call was delivered; rejects when that cannot be
   * known soon (the connection is gone or silent).
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface CachedStoreOptions {
  /**
   * Other writers' changes. Required unless this process is the store's only writer (the embedded
   * store, which one process owns).
   */
  feed?: ChangeFeed;
  /** Jobs kept at most; the oldest cached go first. Defaults to 100000. */
  maxJobs?: number;
  /** An account with more jobs than this has its lists read from the store. Defaults to 10000. */
  maxAccountJobs?: number;
}

/** A cached job, or only the lowest version a read of it must have (`job` null) after a change elsewhere. */
interface Entry {
  version: number;
  job: JobRecord | null;
}

/** An account's job ids, newest first as lists return them, once all of them were read. */
interface AccountIndex {
  ids: string[];
}

const newerFirst = (a: JobRecord, b: JobRecord): number =>
  b.createdAt.getTime() - a.createdAt.getTime() || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);

/**
 * Serves job reads and an account's lists from memory, writing through to `inner`: every write's
 * answer (the row as committed, with its version) replaces what is cached, and a read's answer is
 * kept only when it is newer than what is. Changes made by other replicas arrive through the feed
 * and drop what they touch; a read from memory first waits until every change committed before it
 * arrived (one round trip on the listening connection, shared by the reads that arrive together),
 * so no replica answers older than a write another one acknowledged before the read. While the feed
 * is not live, every read goes to the store.
 */
export class CachedStore implements Store {
  readonly kind: Store["kind"];
  private readonly jobs = new Map<string, Entry>();
  private readonly accounts = new Map<string, AccountIndex>();
  /** Accounts with a list read under way, and the ids inserted for them meanwhile. */
  private readonly loading = new Map<string, Set<string>>();
  /** Accounts with more jobs than `maxAccountJobs`. */
  private readonly large = new Set<string>();
  /** Bumped when everything is forgotten, so a read under way is not kept. */
  private epoch = 0;
  /** Per account: bumped when another writer changed one of its jobs, so a list read under way is not kept. */
  private readonly accountEpochs = new Map<string, number>();
  private readonly maxJobs: number;
  private readonly maxAccountJobs: number;
  /**
   * Per backend, the jobs waiting for their first submission (see `isQueued`), by id: every one in
   * the store once `queueRead`, kept so by the writes that pass through here. A submit asks it
   * whether an older job waits, instead of the store.
   */
  private readonly queued = new Map<string, Map<string, JobRecord>>();
  private queueRead = false;
  private queueLoading: Promise<boolean> | undefined;
  /** Jobs another writer changed and nobody read since: whether they wait is not known. */
  private readonly unknown = new Set<string>();
  /** The feed's sync in flight, and the one reads arriving meanwhile wait for (see `fresh`). */
  private syncing: Promise<void> = Promise.resolve();
  private nextSync: Promise<void> | undefined;

  constructor(
    private readonly inner: Store,
    private readonly options: CachedStoreOptions = {},
  ) {
    this.kind = inner.kind;
    this.maxJobs = options.maxJobs ?? 100_000;
    this.maxAccountJobs = options.maxAccountJobs ?? 10_000;
    options.feed?.start({
      change: (id, version, accountId) => this.changedElsewhere(id, version, accountId),
      reset: () => this.reset(),
    });
  }

  private get bypass(): boolean {
    return this.options.feed !== undefined && !this.options.feed.live();
  }

  /**
   * Resolves once every change other writers committed before the call is known here, so a read
   * answered from memory afterwards is as new as one from the store: a write another replica
   * acknowledged before this read began is never missed. Reads arriving together share one sync
   * (one round trip on the listening connection), which starts after all of them arrived. False
   * when that could not be learnt: the read goes to the store.
   */
  private async fresh(): Promise<boolean> {
    const feed = this.options.feed;
    if (!feed) return true;
    if (!feed.live()) return false;
    this.nextSync ??= this.syncing
      .catch(() => {})
      .then(() => {
        this.nextSync = undefined;
        this.syncing = feed.sync();
        return this.syncing;
      });
    try {
      await this.nextSync;
      return feed.live();
    } catch {
      return false;
    }
  }

  /** Forgets everything cached. */
  reset(): void {
    this.epoch += 1;
    this.jobs.clear();
    this.accounts.clear();
    this.accountEpochs.clear();
    this.large.clear();
    this.queued.clear();
    this.queueRead = false;
    this.unknown.clear();
  }

  private changedElsewhere(id: string, version: number, accountId: string): void {
    const entry = this.jobs.get(id);
    if (entry && entry.version >= version) return;
    this.accountEpochs.set(accountId, (this.accountEpochs.get(accountId) ?? 0) + 1);
    this.jobs.set(id, { version, job: null });
    this.accounts.delete(accountId);
    this.large.delete(accountId);
    this.unknown.add(id);
    // Nobody reads them (no reconciler here): the queue is read again when next needed.
    if (this.unknown.size > this.maxJobs) {
      this.unknown.clear();
      this.queued.clear();
      this.queueRead = false;
    }
  }

  /** Files `job` (its newest known state) among the waiting jobs of its backend, or takes it out. */
  private track(job: JobRecord): void {
    this.unknown.delete(job.id);
    let waiting = this.queued.get(job.backend);
    if (isQueued(job)) {
      if (!waiting) {
        waiting = new Map();
        this.queued.set(job.backend, waiting);
      }
      waiting.set(job.id, job);
    } else waiting?.delete(job.id);
  }

  /** Keeps `job` unless something newer is known; answers the newest known state. */
  private remember(job: JobRecord | null): JobRecord | null {
    if (!job) return job;
    const entry = this.jobs.get(job.id);
    // A newer state changed elsewhere and not read yet stays unknown (`unknown`).
    if (entry && entry.version > job.version) return entry.job ?? job;
    if (entry?.job && entry.version === job.version) return entry.job;
    if (!entry) {
      const index = this.accounts.get(job.accountId);
      if (index) insertSorted(index.ids, job, (id) => this.jobs.get(id)?.job ?? null);
      this.loading.get(job.accountId)?.add(job.id);
    }
    this.jobs.set(job.id, { version: job.version, job });
    this.track(job);
    this.evict();
    return job;
  }

  private evict(): void {
    while (this.jobs.size > this.maxJobs) {
      const oldest = this.jobs.entries().next().value;
      if (!oldest) return;
      this.jobs.delete(oldest[0]);
      if (oldest[1].job) this.accounts.delete(oldest[1].job.accountId);
    }
  }

  async insertJob(job: NewJob): Promise<{ job: JobRecord; created: boolean }> {
    const answer = await this.inner.insertJob(job);
    return { job: this.remember(answer.job) ?? answer.job, created: answer.created };
  }

  async getJob(accountId: string, id: string): Promise<JobRecord | null> {
    const job = await this.getJobById(id, accountId);
    return job && job.accountId === accountId ? job : null;
  }

  async getJobById(id: string, accountId?: string): Promise<JobRecord | null> {
    if (await this.fresh()) {
      const cached = this.jobs.get(id)?.job;
      if (cached) return cached;
      // Every job of a fully read account is cached: one missing does not exist for it.
      const index = accountId === undefined ? undefined : this.accounts.get(accountId);
      if (index && !this.jobs.has(id)) return null;
    }
    return this.remember(await this.inner.getJobById(id));
  }

  async listJobs(accountId: string, options: ListJobsOptions): Promise<JobRecord[]> {
    if (!(await this.fresh()) || this.large.has(accountId))
      return this.rememberAll(await this.inner.listJobs(accountId, options));
    const index = this.accounts.get(accountId) ?? (await this.loadAccount(accountId));
    if (!index) return this.rememberAll(await this.inner.listJobs(accountId, options));
    const page: JobRecord[] = [];
    for (const id of index.ids) {
      const job = this.jobs.get(id)?.job;
      // Dropped since (a change elsewhere, or evicted): the store answers this one.
      if (!job) return this.rememberAll(await this.inner.listJobs(accountId, options));
      if (options.after && !isAfter(job, options.after)) continue;
      if (options.status !== undefined && job.status !== options.status) continue;
      page.push(job);
      if (page.length >= options.limit) break;
    }
    return page;
  }

  private rememberAll(jobs: JobRecord[]): JobRecord[] {
    return jobs.map((job) => this.remember(job) ?? job);
  }

  /** Reads all of an account's jobs into the cache; undefined when too many, or outdated by a change meanwhile. */
  private async loadAccount(accountId: string): Promise<AccountIndex | undefined> {
    const epoch = this.epoch;
    const accountEpoch = this.accountEpochs.get(accountId);
    const inserted = new Set<string>();
    this.loading.set(accountId, inserted);
    let rows: JobRecord[];
    try {
      rows = await this.inner.listJobs(accountId, { limit: this.maxAccountJobs + 1 });
    } finally {
      if (this.loading.get(accountId) === inserted) this.loading.delete(accountId);
    }
    if (rows.length > this.maxAccountJobs) {
      this.large.add(accountId);
      return undefined;
    }
    if (
      epoch !== this.epoch ||
      accountEpoch !== this.accountEpochs.get(accountId) ||
      this.accounts.has(accountId)
    ) {
      return this.accounts.get(accountId);
    }
    const jobs = rows.map((row) => this.remember(row) ?? row);
    for (const id of inserted) {
      const job = this.jobs.get(id)?.job;
      if (job && !jobs.some((j) => j.id === id)) jobs.push(job);
    }
    jobs.sort(newerFirst);
    const index = { ids: jobs.map((j) => j.id) };
    // Kept only if every job is still cached (none evicted while remembering the others).
    if (index.ids.every((id) => this.jobs.get(id)?.job)) this.accounts.set(accountId, index);
    return index.ids.every((id) => this.jobs.get(id)?.job) ? index : undefined;
  }

  async claimSubmit(id: string, leaseMs: number): Promise<JobRecord | null> {
    return this.remember(await this.inner.claimSubmit(id, leaseMs));
  }

  async recordSubmitted(id: string, change: SubmittedChange): Promise<JobRecord | null> {
    return this.remember(await this.inner.recordSubmitted(id, change));
  }

  async releaseClaim(
    id: string,
    error: string,
    options?: { throttled?: boolean },
  ): Promise<JobRecord | null> {
    return this.remember(await this.inner.releaseClaim(id, error, options));
  }

  async transition(id: string, change: StatusChange): Promise<JobRecord | null> {
    return this.remember(await this.inner.transition(id, change));
  }

  async beginRestart(id: string, change: RestartChange): Promise<JobRecord | null> {
    return this.remember(await this.inner.beginRestart(id, change));
  }

  async cancelUnsubmitted(id: string): Promise<JobRecord | null> {
    return this.remember(await this.inner.cancelUnsubmitted(id));
  }

  async requestCancel(id: string): Promise<JobRecord | null> {
    return this.remember(await this.inner.requestCancel(id));
  }

  /**
   * Answered from memory: the waiting jobs of the job's backend, read from the store once and kept
   * current by every write through here. The store answers instead while another replica's change
   * has not been read yet (a reconciler pass reads them all) or the change feed is not live.
   */
  async hasOlderUnsubmitted(job: JobRecord): Promise<boolean> {
    if (!this.queueRead && !this.bypass) await this.loadQueue();
    if (!this.queueRead || !(await this.fresh()) || this.unknown.size > 0)
      return this.inner.hasOlderUnsubmitted(job);
    for (const other of this.queued.get(job.backend)?.values() ?? []) {
      if (other.id !== job.id && isAfter(other, job)) return true;
    }
    return false;
  }

  /** Reads every waiting job into `queued`, once at a time; false when a reset outdated the read. */
  private loadQueue(): Promise<boolean> {
    this.queueLoading ??= (async () => {
      const epoch = this.epoch;
      try {
        const jobs = await this.inner.listQueued();
        if (epoch !== this.epoch) return false;
        // A write that passed through meanwhile carries a higher version and wins in `remember`.
        for (const row of jobs) {
          this.remember(row);
          const known = this.jobs.get(row.id)?.job;
          if (known) this.track(known);
        }
        this.queueRead = true;
        return true;
      } finally {
        this.queueLoading = undefined;
      }
    })();
    return this.queueLoading;
  }

  async listQueued(): Promise<JobRecord[]> {
    return this.rememberAll(await this.inner.listQueued());
  }

  async listUnsubmitted(limit: number, exceptBackends?: readonly string[]): Promise<JobRecord[]> {
    return this.rememberAll(await this.inner.listUnsubmitted(limit, exceptBackends));
  }

  async listActive(backends?: readonly string[]): Promise<JobRecord[]> {
    return this.rememberAll(await this.inner.listActive(backends));
  }

  async noteWaiting(id: string, reason: string): Promise<JobRecord | null> {
    return this.remember(await this.inner.noteWaiting(id, reason));
  }

  changeCursor(): Promise<string> {
    return this.inner.changeCursor();
  }

  async changesSince(cursor: string): Promise<{ jobs: JobRecord[]; cursor: string }> {
    const answer = await this.inner.changesSince(cursor);
    return { jobs: this.rememberAll(answer.jobs), cursor: answer.cursor };
  }

  takeSubmitSlot(backend: string, perMinute: number): Promise<SubmitPaceAnswer> {
    return this.inner.takeSubmitSlot(backend, perMinute);
  }

  slowSubmitPace(backend: string, perMinute: number): Promise<number> {
    return this.inner.slowSubmitPace(backend, perMinute);
  }

  readSubmitPace(backend: string, perMinute: number): Promise<number> {
    return this.inner.readSubmitPace(backend, perMinute);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.reset();
    await this.inner.close();
  }
}

/** Whether `job` comes after the cursor position in a list (newest first). */
function isAfter(job: JobRecord, after: { createdAt: Date; id: string }): boolean {
  const t = job.createdAt.getTime();
  const at = after.createdAt.getTime();
  return t < at || (t === at && job.id < after.id);
}

/** Inserts a new job's id into an account's ids, newest first (usually at the front). */
function insertSorted(ids: string[], job: JobRecord, lookup: (id: string) => JobRecord | null): void {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const other = lookup(ids[mid]!);
    if (other && newerFirst(other, job) < 0) lo = mid + 1;
    else hi = mid;
  }
  ids.splice(lo, 0, job.id);
}
