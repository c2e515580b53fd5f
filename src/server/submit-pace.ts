import { SubmitPacer } from "./backends/cloud-common";
import type { Store } from "./store/types";

/**
 * One backend's submission pace as the reconciler uses it, whether it lives in this process or in
 * the store shared with other servers.
 */
export interface SubmitPace {
  /** The configured pace, in submissions per minute. */
  readonly perMinute: number;
  /**
   * The pace in force, in submissions per minute: exact for a pace in this process, as of the last
   * call for a shared one (other servers may have changed it since).
   */
  readonly currentPerMinute: number;
  /** The pace in force now, in submissions per minute, taking no slot. */
  read(): Promise<number>;
  /** Takes one submission slot when there is one; false when the job has to wait. */
  tryTake(): Promise<boolean>;
  /** The cloud answered a submission with a throttling error: halve the pace. */
  slowDown(): Promise<void>;
}

/** The pace of a backend that one process submits to alone: memory only, no query per submit. */
export class InProcessSubmitPace implements SubmitPace {
  private readonly pacer: SubmitPacer;

  constructor(readonly perMinute: number) {
    this.pacer = new SubmitPacer(perMinute);
  }

  get currentPerMinute(): number {
    return this.pacer.currentPerMinute;
  }

  async read(): Promise<number> {
    return this.pacer.currentPerMinute;
  }

  async tryTake(): Promise<boolean> {
    return this.pacer.tryTake();
  }

  async slowDown(): Promise<void> {
    this.pacer.slowDown();
  }
}

/** How long a shared pace read from the store is shown without asking again. */
const READ_EVERY_MS = 1000;

/**
 * The pace of a backend that several servers submit to through one Postgres: its bucket is a row of
 * the store (`Store.takeSubmitSlot`), so the servers together keep to the pace, and a throttling
 * answer any of them gets slows all of them.
 */
export class SharedSubmitPace implements SubmitPace {
  private known: number;
  /** When `known` was last answered by the store; never, at first. */
  private knownAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly backend: string,
    readonly perMinute: number,
  ) {
    this.known = perMinute;
  }

  get currentPerMinute(): number {
    return this.known;
  }

  /**
   * Asks the store at most once a second: a burst of jobs queued behind older ones each shows the
   * pace, and the pace changes by the minute, not by the request.
   */
  async read(): Promise<number> {
    if (Date.now() - this.knownAt >= READ_EVERY_MS)
      this.learn(await this.store.readSubmitPace(this.backend, this.perMinute));
    return this.known;
  }

  async tryTake(): Promise<boolean> {
    const answer = await this.store.takeSubmitSlot(this.backend, this.perMinute);
    this.learn(answer.perMinute);
    return answer.taken;
  }

  async slowDown(): Promise<void> {
    this.learn(await this.store.slowSubmitPace(this.backend, this.perMinute));
  }

  private learn(perMinute: number): void {
    this.known = perMinute;
    this.knownAt = Date.now();
  }
}

/**
 * The pace for a backend on `store`: shared through the store on Postgres, where other servers may
 * submit to the same backend; in memory on the embedded store, which one process owns.
 */
export function submitPace(store: Store, backend: string, perMinute: number): SubmitPace {
  return store.kind === "postgres"
    ? new SharedSubmitPace(store, backend, perMinute)
    : new InProcessSubmitPace(perMinute);
}
