import type { SqlClient } from "./sql";

/** Runs `work` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
export type Transact = <T>(work: (tx: SqlClient) => Promise<T>) => Promise<T>;

/** Runs several writes of one kind as one statement, answering each in order. */
export type MergedWrite<I, T> = (db: SqlClient, items: I[]) => Promise<T[]>;

/** One write waiting for its batch. */
interface Pending {
  /** A write of its own, or one item of a merged write. */
  work?: (db: SqlClient) => Promise<unknown>;
  merged?: { run: MergedWrite<unknown, unknown>; item: unknown };
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

export interface GroupCommitOptions {
  /** Writes in one transaction at most. Defaults to 64. */
  maxBatch?: number;
  /** Transactions committing at once (each on its own connection). Defaults to 1. */
  maxInFlight?: number;
}

/**
 * Group commit: writes that arrive while others are being committed share the next transaction,
 * so N concurrent writers pay for one commit instead of N. A writer's promise resolves only after
 * the transaction holding its write committed, so nothing acknowledged can be lost to a crash that
 * a write of its own would not have lost either.
 *
 * A batch that fails on a statement (a constraint, a deadlock between replicas) is rolled back and
 * its writes are run again one per transaction, so one bad write fails alone. A batch that fails
 * because the database went away fails every write in it: none of them is acknowledged.
 */
export class GroupCommit {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  /** Writes committed, and the commits they took (a batch of one commits without BEGIN). */
  readonly stats = { writes: 0, commits: 0 };

  constructor(
    /** Where a batch of one write runs, in a transaction of its own without BEGIN and COMMIT. */
    private readonly direct: SqlClient,
    private readonly transact: Transact,
    /** Whether an error says the database was not reached (no point running the writes again). */
    private readonly isUnavailable: (err: unknown) => boolean,
    options: GroupCommitOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Runs `work` in the next batch's transaction; resolves with its result once that committed. */
  write<T>(work: (db: SqlClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /**
   * Like `write`, but the items given with the same `run` in one batch go to one call of it (one
   * statement, such as a multi-row insert), in arrival order.
   */
  writeMerged<I, T>(run: MergedWrite<I, T>, item: I): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        merged: { run: run as MergedWrite<unknown, unknown>, item },
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // One turn of the event loop gathers the writes of requests being handled together.
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        this.inFlight += 1;
        void this.commit(batch).finally(() => {
          this.inFlight -= 1;
          this.schedule();
        });
      }
    });
  }

  private async commit(batch: Pending[]): Promise<void> {
    let results: unknown[];
    try {
      results =
        batch.length === 1
          ? await runBatch(this.direct, batch)
          : await this.transact((tx) => runBatch(tx, batch));
    } catch (err) {
      if (batch.length === 1 || this.isUnavailable(err)) {
        for (const p of batch) p.reject(err);
        return;
      }
      // Find the write that failed: each runs again on its own.
      await Promise.all(batch.map((p) => this.commit([p])));
      return;
    }
    this.stats.writes += batch.length;
    this.stats.commits += 1;
    batch.forEach((p, i) => {
      p.resolve(results[i]);
    });
  }
}

/** Runs a batch's writes in arrival order, merging those of one kind into one statement each. */
async function runBatch(db: SqlClient, batch: Pending[]): Promise<unknown[]> {
  const results = new Array<unknown>(batch.length);
  const merged = new Map<MergedWrite<unknown, unknown>, number[]>();
  batch.forEach((p, i) => {
    if (p.merged) merged.set(p.merged.run, [...(merged.get(p.merged.run) ?? []), i]);
  });
  // Merged writes (new jobs) go first: no write queued with them can be about one of them, since
  // its caller has not been told of the job yet.
  for (const [run, indexes] of merged) {
    const answers = await run(
      db,
      indexes.map((i) => batch[i]?.merged?.item),
    );
    indexes.forEach((i, n) => {
      results[i] = answers[n];
    });
  }
  for (const [i, p] of batch.entries()) {
    if (p.work) results[i] = await p.work(db);
  }
  return results;
}
