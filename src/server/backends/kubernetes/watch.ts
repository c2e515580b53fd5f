import type { ListWatch, V1Job } from "@kubernetes/client-node" with { "resolution-mode": "import" };
import { messageOf } from "../cloud-common";
import type { BackendLogger } from "../types";

export interface JobWatchOptions {
  /** Wait before the first restart of a broken watch; doubled after each failed one. */
  retryInitialMs: number;
  /** Longest wait between two restarts. */
  retryMaxMs: number;
}

/**
 * One namespace's Train API Jobs, kept current by the client's ListWatch: a labelled list, then a
 * watch from its resourceVersion that resumes where it stopped and lists again after 410 Gone. A
 * watch that fails otherwise (the server unreachable, a 5xx, a refused list) is restarted with
 * backoff; until it is back, `current` answers undefined and the backend lists instead.
 */
export class JobWatch {
  private cache: ListWatch<V1Job> | undefined;
  private failures = 0;
  private broken = true;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;

  constructor(
    readonly namespace: string,
    private readonly make: () => Promise<ListWatch<V1Job>>,
    /** Called with each Job the watch saw added, changed or deleted. */
    private readonly onChange: (job: V1Job) => void,
    private readonly log: BackendLogger,
    private readonly options: JobWatchOptions,
  ) {
    this.delay = options.retryInitialMs;
  }

  /** Starts listing and watching; failures are retried in the background. */
  start(): void {
    void this.run();
  }

  /** The watched Jobs by name, or undefined while the watch is not current (not listed yet, broken). */
  current(): ((name: string) => V1Job | undefined) | undefined {
    const cache = this.cache;
    if (!cache || this.broken || cache.latestResourceVersion() === "") return undefined;
    return (name) => cache.get(name, this.namespace);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.cache?.stop();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (!this.cache) {
        this.cache = await this.make();
        this.cache.on("add", this.onChange);
        this.cache.on("update", this.onChange);
        this.cache.on("delete", this.onChange);
        this.cache.on("error", (err) => this.failed(err));
      }
      const before = this.failures;
      await this.cache.start();
      // The list and the watch request went through: the cache is current from here.
      if (this.failures === before && !this.stopped) {
        this.broken = false;
        this.delay = this.options.retryInitialMs;
      }
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    this.failures += 1;
    this.broken = true;
    if (this.stopped) return;
    this.log.warn(
      { namespace: this.namespace, err: messageOf(err), retryInMs: this.delay },
      "the Job watch broke; listing Jobs until it is back",
    );
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, this.options.retryMaxMs);
  }
}
