import { clearLine, cursorTo } from "node:readline";

export { elapsed } from "../job/progress";

const SPINNER = ["|", "/", "-", "\\"];

/**
 * Where the CLI writes. On a terminal a status line is redrawn in place below the output; when the
 * output is piped or redirected, each status change is one plain line and nothing is redrawn.
 */
export class Screen {
  private status: string | undefined;
  private lastPlain: string | undefined;
  private frame = 0;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    /** Redraw a live status line: a terminal (and not `--plain`). */
    readonly live: boolean = out.isTTY === true,
  ) {}

  /** A line of output that stays (a log line, a result). */
  print(line: string): void {
    this.erase();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /**
   * The job's state now: redrawn in place on a terminal; otherwise `plainText`, when given, is
   * printed as one line each time it changes.
   */
  setStatus(text: string, plainText?: string): void {
    if (this.live) {
      this.erase();
      this.status = text;
      this.draw();
      return;
    }
    if (plainText !== undefined && plainText !== this.lastPlain) this.out.write(`${plainText}\n`);
    this.lastPlain = plainText;
  }

  /** Removes the status line, before the final result is printed. */
  done(): void {
    this.erase();
    this.status = undefined;
  }

  private draw(): void {
    if (!this.live || this.status === undefined) return;
    const spinner = SPINNER[this.frame++ % SPINNER.length];
    const width = Math.max(20, (this.out.columns ?? 80) - 1);
    this.out.write(`${spinner} ${this.status}`.slice(0, width));
  }

  private erase(): void {
    if (!this.live || this.status === undefined) return;
    clearLine(this.out, 0);
    cursorTo(this.out, 0);
  }
}
