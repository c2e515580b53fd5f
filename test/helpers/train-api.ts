import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server";
import { seedEmbeddedStore } from "./store-template";

export const TEST_ACCOUNT_ID = "acct-1";

const REPO_ROOT = resolve(__dirname, "..", "..");

/**
 * The settings every test server gets: local jobs are Node.js programs, so a sandbox must show the
 * Node.js that runs the tests.
 */
const TEST_LOCAL_ENV = {
  TRAINKIT_LOCAL_SANDBOX_PATHS: `/usr,/bin,/sbin,/lib,/lib64,/etc,/opt,${dirname(dirname(process.execPath))}`,
};

/**
 * The directory beside the data directory where tests' local jobs leave files (`<data dir>-files`):
 * jobs cannot reach the data directory itself, may run as users of their own, and in a sandbox see
 * only what they mount (see `filesMount`).
 */
export function filesDirOf(dataDir: string): string {
  const dir = `${dataDir}-files`;
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o777);
  return dir;
}

/** The files directory as a writable mount, for a local job that writes there. */
export function filesMount(api: { dataDir: string }) {
  return { source_uri: filesDirOf(api.dataDir), mount_path: "/mnt/files" };
}

/** The data directory and what the server and tests keep beside it. */
export function removeDataDir(dataDir: string): void {
  for (const dir of [dataDir, `${dataDir}-work`, `${dataDir}-runs`, `${dataDir}-files`]) {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function newApiKey(): string {
  return `tk_test_${randomBytes(18).toString("base64url")}`;
}

export interface TrainApi {
  url: string;
  apiKey: string;
  accountId: string;
  dataDir: string;
  server: RunningServer;
  /** Stops the server and removes the data directory (unless it was passed in). */
  close(): Promise<void>;
}

export interface StartTrainApiOptions extends Omit<ServerOptions, "port" | "host"> {
  /** Extra API keys besides the generated one for `acct-1`. */
  extraApiKeys?: Record<string, string[]>;
}

/** A Train API in this process on an ephemeral loopback port, with a temp data dir and one key for `acct-1`. */
export async function startTrainApi(opts: StartTrainApiOptions = {}): Promise<TrainApi> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "trainkit-api-"));
  if (ownDir && opts.databaseUrl === undefined) await seedEmbeddedStore(dataDir);
  const apiKey = newApiKey();
  const { extraApiKeys, ...serverOptions } = opts;
  const server = await startServer({
    reconcileIntervalMs: 200,
    // Settings come from the options, never from the environment of whoever runs the tests.
    ...serverOptions,
    env: { ...TEST_LOCAL_ENV, ...(serverOptions.env ?? { PATH: process.env.PATH, HOME: process.env.HOME }) },
    host: "127.0.0.1",
    port: 0,
    dataDir,
    apiKeys: opts.apiKeys ?? { [apiKey]: [TEST_ACCOUNT_ID], ...extraApiKeys },
  });
  return {
    url: server.url,
    apiKey,
    accountId: TEST_ACCOUNT_ID,
    dataDir,
    server,
    close: async () => {
      await server.close();
      if (ownDir) removeDataDir(dataDir);
    },
  };
}

export interface SpawnedTrainApi {
  url: string;
  apiKey: string;
  accountId: string;
  dataDir: string;
  child: ChildProcess;
  /** Everything the child printed so far. */
  output(): string;
  /** Sends a signal and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM, then waits for it to exit. */
  stop(): Promise<void>;
}

export interface SpawnTrainApiOptions {
  /** Reuse a data directory (to restart a server on the same state). Defaults to a new temp dir. */
  dataDir?: string;
  /** Reuse a key (a restart must accept the same one). Defaults to a new key for `acct-1`. */
  apiKey?: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the server to print its URL. Defaults to 30 s. */
  startTimeoutMs?: number;
}

/**
 * The server as its own process (`src/server/main.ts` through the tsx loader, so no build is needed),
 * on an ephemeral loopback port. Resolves once it printed the URL it listens on.
 */
export async function spawnTrainApi(opts: SpawnTrainApiOptions = {}): Promise<SpawnedTrainApi> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "trainkit-api-"));
  if (opts.dataDir === undefined && opts.env?.DATABASE_URL === undefined) await seedEmbeddedStore(dataDir);
  const apiKey = opts.apiKey ?? newApiKey();
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src", "server", "main.ts")], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOST: "127.0.0.1",
      PORT: "0",
      TRAINKIT_DATA_DIR: dataDir,
      TRAINKIT_API_KEYS: JSON.stringify({ [apiKey]: [TEST_ACCOUNT_ID] }),
      TRAINKIT_RECONCILE_INTERVAL_MS: "200",
      ...TEST_LOCAL_ENV,
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<void>((res) => child.once("exit", () => res()));

  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rej(
        new Error(`Train API did not start within ${opts.startTimeoutMs ?? 30_000} ms; it printed:\n${out}`),
      );
    }, opts.startTimeoutMs ?? 30_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`Train API exited (${code ?? signal}) before listening; it printed:\n${out}`));
    });
  });

  const kill = async (signal: NodeJS.Signals = "SIGKILL") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    apiKey,
    accountId: TEST_ACCOUNT_ID,
    dataDir,
    child,
    output: () => out,
    kill,
    stop: () => kill("SIGTERM"),
  };
}

/** Headers for the test account. */
export function authHeaders(api: { apiKey: string; accountId: string }): Record<string, string> {
  return { "x-api-key": api.apiKey, "x-selected-account-id": api.accountId };
}

/** Polls `GET /v1/jobs/{id}` until `done` holds for the job, or throws with the last job seen. */
export async function waitForJob<T extends { status: string }>(
  api: { url: string; apiKey: string; accountId: string },
  id: string,
  done: (job: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    const res = await fetch(`${api.url}/v1/jobs/${id}`, { headers: authHeaders(api) });
    last = (await res.json()) as T;
    if (res.ok && done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `job ${id} did not reach the expected state in ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`,
  );
}
