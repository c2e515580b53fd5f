#!/usr/bin/env node
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { TrainApiClient } from "../job/clients/trainapi";
import { type ApiSettings, JobApiError } from "../job/clients/types";
import { isTerminal, JOB_STATUSES, type Job, type JobStatus } from "../spec";
import { type ConnectionFlags, resolveSettings, UsageError } from "./config";
import { elapsed, Screen } from "./output";
import { parseBackend, readRequestFile } from "./request-file";

/** What the exit code says. A job's end has its own code, so scripts can tell them apart. */
export const EXIT = {
  /** The command did what it was asked; for `wait` and `logs -f`, the job COMPLETED. */
  ok: 0,
  /** The job FAILED. */
  failed: 1,
  /** A mistake in the command line, a request file or the settings. */
  usage: 2,
  /** The job was CANCELED. */
  canceled: 3,
  /** The job EXPIRED (ran out of its time limit). */
  expired: 4,
  /** `wait --timeout` passed while the job still ran. */
  timeout: 5,
  /** The Train API refused the request or could not be reached. */
  api: 6,
} as const;

const EXIT_BY_STATUS: Partial<Record<JobStatus, number>> = {
  COMPLETED: EXIT.ok,
  FAILED: EXIT.failed,
  CANCELED: EXIT.canceled,
  EXPIRED: EXIT.expired,
};

const EXIT_HELP = `
Exit codes:
  0  done; for wait and logs -f: the job COMPLETED
  1  the job FAILED            3  the job was CANCELED      4  the job EXPIRED
  2  bad command line, request file or settings, or a job id the account does not have
  5  wait --timeout passed while the job still ran
  6  the Train API refused the request or could not be reached

Settings, first found wins: flags; TRAINKIT_API_URL, TRAINKIT_API_KEY, TRAINKIT_ACCOUNT_ID (the
variables TrainingJob reads); the config file (--config, TRAINKIT_CONFIG, else
~/.config/trainkit/config.yaml) with apiUrl, apiKey or apiKeyFile, accountId. With none set, the
server \`npm start\` runs here: http://127.0.0.1:8080, the key in .trainkit/api-key, account local.`;

interface GlobalOptions extends ConnectionFlags {
  plain?: boolean;
}

interface Context {
  readonly client: TrainApiClient;
  readonly settings: ApiSettings;
  readonly screen: Screen;
  readonly errors: Screen;
}

function positiveNumber(what: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0)
      throw new InvalidArgumentError(`${what} must be a number greater than 0.`);
    return n;
  };
}

function positiveInteger(what: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from 1 to ${max}.`);
    }
    return n;
  };
}

/** The command-line program; `run` parses `argv` and resolves to the exit code. */
export function buildProgram(io: {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}) {
  let exitCode: number = EXIT.ok;
  const program = new Command("trainkit")
    .description("Submit training jobs to the Train API and follow them.")
    .option("--api-url <url>", "Train API base URL (TRAINKIT_API_URL)")
    .option(
      "--api-key <key>",
      "API key (TRAINKIT_API_KEY; prefer the variable or --api-key-file: flags show in ps)",
    )
    .option("--api-key-file <path>", "a file holding the API key")
    .option("--account <id>", "account to act for, sent as x-selected-account-id (TRAINKIT_ACCOUNT_ID)")
    .option("--config <path>", "config file (TRAINKIT_CONFIG; default ~/.config/trainkit/config.yaml)")
    .option("--plain", "plain lines even on a terminal: no live status line")
    .version(packageVersion(), "-V, --version")
    .addHelpText("after", EXIT_HELP)
    .showHelpAfterError("(run trainkit --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const context = (): Context => {
    const global = program.opts<GlobalOptions>();
    const settings = resolveSettings(global, io.env, io.cwd);
    // A person waits at the other end: fewer, quicker retries than a deployment's.
    const client = new TrainApiClient(settings, { attempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 });
    return {
      client,
      settings,
      screen: new Screen(io.stdout, global.plain ? false : io.stdout.isTTY === true),
      errors: new Screen(io.stderr, false),
    };
  };

  program
    .command("submit")
    .description("Submit a job from a JSON or YAML create request and print its id.")
    .argument(
      "<file>",
      "the request: {name, job_config, storage_mounts}, as POST /v1/{backend}/jobs takes it",
    )
    .addOption(new Option("-b, --backend <backend>", "where the job runs").makeOptionMandatory())
    .option(
      "--idempotency-key <key>",
      "sent as Idempotency-Key: the same key submits the job once (default: a new one)",
    )
    .addHelpText(
      "after",
      "\nFor the local backend, relative paths in the file (working_dir, mount sources) are taken\n" +
        "from the file's directory. Example:\n  JOB_ID=$(trainkit submit examples/quickstart/job.json --backend local)",
    )
    .action(async (file: string, opts: { backend: string; idempotencyKey?: string }) => {
      const backend = parseBackend(opts.backend);
      const request = readRequestFile(file, backend, io.cwd);
      const { client, screen } = context();
      const job = await client.submit(
        { backend, name: request.name, jobConfig: request.jobConfig, storageMounts: request.storageMounts },
        opts.idempotencyKey ?? randomUUID(),
      );
      screen.print(job.id);
    });

  program
    .command("list")
    .description("List the account's jobs, newest first.")
    .addOption(new Option("-s, --status <status>", "only jobs in this state").choices(JOB_STATUSES))
    .option("-n, --limit <n>", "at most this many jobs", positiveInteger("--limit", 10_000), 20)
    .option("--json", "one job object per line, as the API returns it")
    .action(async (opts: { status?: JobStatus; limit: number; json?: boolean }) => {
      const { client, screen } = context();
      const jobs: Job[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.list({
          status: opts.status,
          limit: Math.min(100, opts.limit - jobs.length),
          cursor,
        });
        jobs.push(...page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor && jobs.length < opts.limit);
      if (opts.json) {
        for (const job of jobs) screen.print(JSON.stringify(job));
        return;
      }
      const rows = [
        ["ID", "NAME", "BACKEND", "STATUS", "CREATED"],
        ...jobs.map((j) => [j.id, j.name, j.job_type, j.status, j.created_at]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const row of rows)
        screen.print(
          row
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join("  ")
            .trimEnd(),
        );
    });

  program
    .command("get")
    .description("Print one job as JSON.")
    .argument("<id>", "the job id")
    .action(async (id: string) => {
      const { client, settings, screen } = context();
      const job = await client.get(id);
      if (!job) throw notFound(id, settings);
      screen.print(JSON.stringify(job, null, 2));
    });

  program
    .command("logs")
    .description("Print a job's output; with -f, follow it until the job ends.")
    .argument("<id>", "the job id")
    .addOption(
      new Option("--stream <stream>", "which output").choices(["stdout", "stderr"]).default("stdout"),
    )
    .option("-n, --tail <n>", "the last n lines first", positiveInteger("--tail", 10_000), 100)
    .option("-f, --follow", "keep printing new lines until the job ends; the exit code says how it ended")
    .option("--interval <seconds>", "seconds between reads while following", positiveNumber("--interval"), 2)
    .action(
      async (
        id: string,
        opts: { stream: "stdout" | "stderr"; tail: number; follow?: boolean; interval: number },
      ) => {
        const ctx = context();
        if (!opts.follow) {
          const logs = await ctx.client.logs(id, { stream: opts.stream, tail: opts.tail });
          if (!logs) throw notFound(id, ctx.settings);
          for (const line of logs.lines) ctx.screen.print(line);
          return;
        }
        exitCode = await follow(ctx, id, opts);
      },
    );

  program
    .command("cancel")
    .description("Ask a job to stop.")
    .argument("<id>", "the job id")
    .action(async (id: string) => {
      const { client, settings, screen } = context();
      const outcome = await client.cancel(id);
      if (outcome === "not-found") throw notFound(id, settings);
      if (outcome === "already-terminal") {
        const job = await client.get(id);
        screen.print(`job ${id} had already ended${job ? ` ${job.status}` : ""}; nothing to cancel`);
        return;
      }
      screen.print(`job ${id}: cancel requested; \`trainkit wait ${id}\` shows when it has stopped`);
    });

  program
    .command("wait")
    .description("Wait for a job to end (or start) and exit with a code that says how it ended.")
    .argument("<id>", "the job id")
    .addOption(
      new Option("--for <state>", "completed: until it ends; running: until it leaves PENDING")
        .choices(["completed", "running"])
        .default("completed"),
    )
    .option(
      "--timeout <seconds>",
      "give up after this long (the job keeps running)",
      positiveNumber("--timeout"),
    )
    .option("--interval <seconds>", "seconds between status reads", positiveNumber("--interval"), 2)
    .action(
      async (id: string, opts: { for: "completed" | "running"; timeout?: number; interval: number }) => {
        const ctx = context();
        const deadline =
          opts.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.timeout * 1000;
        for (;;) {
          const job = await ctx.client.get(id);
          if (!job) throw notFound(id, ctx.settings);
          ctx.screen.setStatus(statusText(job), `job ${job.id} ${job.status}`);
          const reached = opts.for === "running" ? job.status !== "PENDING" : isTerminal(job.status);
          if (reached) {
            ctx.screen.done();
            if (!isTerminal(job.status)) {
              ctx.screen.print(`job ${job.id} is ${job.status}`);
              return;
            }
            ctx.screen.print(endText(job));
            exitCode = EXIT_BY_STATUS[job.status] ?? EXIT.ok;
            return;
          }
          if (Date.now() >= deadline) {
            ctx.screen.done();
            ctx.errors.print(
              `trainkit: job ${job.id} is still ${job.status} after ${opts.timeout} s; it keeps running: ` +
                `run \`trainkit wait ${job.id}\` again, or \`trainkit cancel ${job.id}\` to stop it`,
            );
            exitCode = EXIT.timeout;
            return;
          }
          await sleep(Math.min(opts.interval * 1000, Math.max(0, deadline - Date.now())));
        }
      },
    );

  return {
    program,
    async run(argv: string[]): Promise<number> {
      try {
        await program.parseAsync(argv, { from: "user" });
        return exitCode;
      } catch (err) {
        if (err instanceof CommanderError) {
          // Help and version are not errors; commander has already printed what it had to say.
          return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
        }
        if (err instanceof UsageError) {
          io.stderr.write(`trainkit: ${err.message}\n`);
          return EXIT.usage;
        }
        if (err instanceof JobApiError) {
          io.stderr.write(`trainkit: ${explain(err, program.opts<GlobalOptions>())}\n`);
          return EXIT.api;
        }
        throw err;
      }
    },
  };
}

/**
 * Follows a job's output until it ends: every line once, with a status line on a terminal. The
 * server's event stream is used, so however many people follow a job, its backend's log is read
 * once per interval; a backend that cannot be followed that way is polled instead.
 */
async function follow(
  ctx: Context,
  id: string,
  opts: { stream: "stdout" | "stderr"; tail: number; interval: number },
): Promise<number> {
  const { client, settings, screen, errors } = ctx;
  for (;;) {
    const job = await client.get(id);
    if (!job) throw notFound(id, settings);
    screen.setStatus(statusText(job));
    const redraw = screen.live ? setInterval(() => screen.setStatus(statusText(job)), 1000) : undefined;
    let outcome: Awaited<ReturnType<TrainApiClient["follow"]>>;
    try {
      outcome = await client.follow(id, { stream: opts.stream, tail: opts.tail }, (logs) => {
        for (const line of logs.lines) screen.print(line);
      });
    } finally {
      if (redraw) clearInterval(redraw);
    }
    if (typeof outcome === "object") {
      const ended = outcome.ended;
      screen.done();
      (ended.status === "COMPLETED" ? screen : errors).print(endText(ended));
      return EXIT_BY_STATUS[ended.status] ?? EXIT.ok;
    }
    if (outcome === "not-found") throw notFound(id, settings);
    if (outcome === "not-followable") return pollFollow(ctx, id, opts);
    if (outcome === "closed") {
      screen.done();
      errors.print(
        `trainkit: the Train API closed the stream before job ${id} ended; run \`trainkit logs -f ${id}\` again to go on`,
      );
      return EXIT.api;
    }
    // Not started: its log has no position yet.
    await sleep(opts.interval * 1000);
  }
}

/** Follows by reading the log every interval: for backends whose log the server cannot stream. */
async function pollFollow(
  { client, settings, screen, errors }: Context,
  id: string,
  opts: { stream: "stdout" | "stderr"; tail: number; interval: number },
): Promise<number> {
  let cursor: string | undefined;
  let noticed = false;
  for (;;) {
    const job = await client.get(id);
    if (!job) throw notFound(id, settings);
    const ended = isTerminal(job.status);
    // Read after the status, so the lines a job wrote before it ended are all in the last reads.
    for (;;) {
      const logs = await client.logs(id, { stream: opts.stream, tail: cursor ? 10_000 : opts.tail, cursor });
      if (!logs) throw notFound(id, settings);
      if (cursor !== undefined || logs.next_cursor !== undefined || ended) {
        for (const line of logs.lines) screen.print(line);
      } else if (!noticed) {
        noticed = true;
        errors.print(
          `trainkit: the ${job.job_type} backend's logs cannot be followed line by line; its last lines are printed when the job ends`,
        );
      }
      const more = cursor !== undefined && logs.lines.length > 0;
      if (logs.next_cursor !== undefined) cursor = logs.next_cursor;
      // After the end, read until nothing new comes, so no line is left behind.
      if (!ended || !more) break;
    }
    if (ended) {
      screen.done();
      (job.status === "COMPLETED" ? screen : errors).print(endText(job));
      return EXIT_BY_STATUS[job.status] ?? EXIT.ok;
    }
    screen.setStatus(statusText(job));
    await sleep(opts.interval * 1000);
  }
}

function packageVersion(): string {
  // src/cli and dist/cli are both two levels below the package root.
  return (
    JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }
  ).version;
}

function statusText(job: Job): string {
  return `job ${job.id} (${job.name}) ${job.status} for ${elapsed(job.created_at)}`;
}

function endText(job: Job): string {
  const took = elapsed(job.created_at, new Date(job.updated_at).getTime());
  const reason = job.result?.failure_reason ? `: ${job.result.failure_reason}` : "";
  return `job ${job.id} (${job.name}) ended ${job.status} after ${took}${reason}`;
}

function notFound(id: string, settings: ApiSettings): UsageError {
  return new UsageError(
    `job ${id} does not exist in account ${settings.accountId}; check the id, or the account (--account, TRAINKIT_ACCOUNT_ID); \`trainkit list\` shows the account's jobs`,
  );
}

/** A failed request as a sentence that says what to do about it. The key is never in it. */
function explain(err: JobApiError, flags: GlobalOptions): string {
  if (err.status === undefined) {
    return `${err.message}; check that the Train API runs there (\`npm start\` starts one here) and the URL (--api-url, TRAINKIT_API_URL)`;
  }
  if (err.status === 401) {
    return `${err.message}; check the API key (TRAINKIT_API_KEY, --api-key-file${flags.apiKey ? ", --api-key" : ""} or the config file)`;
  }
  if (err.status === 403)
    return `${err.message}; act for an account the key may use (--account, TRAINKIT_ACCOUNT_ID)`;
  return err.message;
}

export async function main(): Promise<void> {
  const { run } = buildProgram({
    env: process.env,
    cwd: process.cwd(),
    stdout: process.stdout,
    stderr: process.stderr,
  });
  process.exitCode = await run(process.argv.slice(2));
}

/** Runs the command line of this process; what the `trainkit` command does. */
export function runCli(): void {
  main().catch((err: unknown) => {
    process.stderr.write(`trainkit: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  });
}

if (require.main === module) runCli();
