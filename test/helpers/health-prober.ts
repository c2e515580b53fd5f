/** One answer of a health endpoint. */
export interface HealthAnswer {
  path: string;
  /** The HTTP status, or 0 when no answer came (connection refused, reset, or the probe's own 10 s limit). */
  status: number;
  ms: number;
  at: number;
  body: unknown;
}

/**
 * Reads `/healthz` and `/readyz` of a Train API every `everyMs`, as a load balancer or kubelet
 * would, and keeps every answer with how long it took.
 */
export class HealthProber {
  private readonly seen: HealthAnswer[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  private constructor(
    private readonly url: string,
    private readonly everyMs: number,
  ) {
    this.loop = this.run();
  }

  static start(url: string, everyMs = 100): HealthProber {
    return new HealthProber(url, everyMs);
  }

  /** Answers of one path, oldest first; `since` keeps only those probed at or after it. */
  answers(path: string, since = 0): HealthAnswer[] {
    return this.seen.filter((a) => a.path === path && a.at >= since);
  }

  /** Answers that were not 200. */
  failures(since = 0): HealthAnswer[] {
    return this.seen.filter((a) => a.status !== 200 && a.at >= since);
  }

  /** The longest a probe of `path` waited for its answer, in milliseconds. */
  slowest(path: string): number {
    return Math.max(0, ...this.answers(path).map((a) => a.ms));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      await Promise.all(["/healthz", "/readyz"].map((path) => this.probe(path)));
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  private async probe(path: string): Promise<void> {
    const at = Date.now();
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(10_000) });
      const body = await res.json().catch(() => undefined);
      this.seen.push({ path, status: res.status, ms: Date.now() - at, at, body });
    } catch {
      this.seen.push({ path, status: 0, ms: Date.now() - at, at, body: undefined });
    }
  }
}
