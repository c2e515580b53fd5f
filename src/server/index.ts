import type { AddressInfo } from "node:net";
import { buildApp } from "./app";
import { type BackendRegistry, buildBackends, closeBackends } from "./backends";
import type { BackendLogger } from "./backends/types";
import { ConfigError, loadConfig } from "./config";
import { DEFAULT_VERTEX_LOGGING_READS_PER_MINUTE } from "./log-follow";
import { Reconciler } from "./reconciler";
import { openStore } from "./store";
import type { Store } from "./store/types";

export { buildApp } from "./app";
export { ApiKeyring, ConfigError, LOCAL_ACCOUNT_ID, loadConfig } from "./config";
export type * from "./store/types";

export interface ServerOptions {
  /** Address to listen on. Defaults to `HOST`, else 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Defaults to `PORT`, else 8080. */
  port?: number;
  /** Where the embedded store, the local key and the local backend's files live. Defaults to `TRAINKIT_DATA_DIR`, else `.trainkit`. */
  dataDir?: string;
  /** A Postgres URL. Defaults to `DATABASE_URL`, else the embedded store. */
  databaseUrl?: string;
  /** API key → account ids it may act for. Defaults to `TRAINKIT_API_KEYS`, else a generated local key. */
  apiKeys?: Record<string, string[]>;
  /** The environment to read settings and backend credentials from. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** How often the reconciler runs. Defaults to `TRAINKIT_RECONCILE_INTERVAL_MS`, else 2000. */
  reconcileIntervalMs?: number;
  /**
   * Logging to stdout: `true` logs requests and reconciler events, `"warn"` only warnings and
   * errors (store outages, failed requests, submits given up), `false` nothing. Defaults to false
   * here; `npm start` logs warnings and errors unless `TRAINKIT_LOG=1` asks for everything.
   */
  log?: boolean | "warn";
  /** Time between two reads of a followed job's log. Defaults to `TRAINKIT_LOGS_FOLLOW_INTERVAL_SECONDS`, else 5 s. */
  followIntervalMs?: number;
  /** Longest a follower waits for a job's log to appear. Defaults to `TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS`, else 30 min. */
  followMaxWaitMs?: number;
  /** Cloud Logging reads followers may make per minute. Defaults to `TRAINKIT_VERTEX_LOGGING_READS_PER_MINUTE`, else 30. */
  vertexLoggingReadsPerMinute?: number;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  store: Store;
  dataDir: string;
  /** The file holding the generated local API key, when no keys were configured. */
  localApiKeyFile: string | undefined;
  /** Time a clean shutdown may take (`TRAINKIT_SHUTDOWN_TIMEOUT_MS`); `main` exits past it. */
  shutdownTimeoutMs: number;
  /**
   * Stops taking requests, stops the reconciler and closes the store. Running local jobs keep
   * running. Open connections are closed, and every step is bounded (backend calls by their
   * timeout, the store by its own), so it finishes even with a dependency hung.
   */
  close(): Promise<void>;
}

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };

/** `TRAINKIT_LOGS_FOLLOW_INTERVAL_SECONDS`, else 5 s: a cloud's logging API sees one read per followed job per interval. */
function followIntervalMs(env: NodeJS.ProcessEnv): number {
  const text = env.TRAINKIT_LOGS_FOLLOW_INTERVAL_SECONDS;
  if (text === undefined || text === "") return 5000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > 3600) {
    throw new ConfigError(
      "TRAINKIT_LOGS_FOLLOW_INTERVAL_SECONDS",
      `must be a number of seconds from 0.1 to 3600; got ${JSON.stringify(text)}`,
    );
  }
  return seconds * 1000;
}

/** `TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS`, else 30 min: how long a follow waits for a job's log to appear. */
function followMaxWaitMs(env: NodeJS.ProcessEnv): number {
  const text = env.TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS;
  if (text === undefined || text === "") return 30 * 60_000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 86_400) {
    throw new ConfigError(
      "TRAINKIT_LOGS_FOLLOW_MAX_WAIT_SECONDS",
      `must be a number of seconds from 0 to 86400; got ${JSON.stringify(text)}`,
    );
  }
  return seconds * 1000;
}

/** `TRAINKIT_VERTEX_LOGGING_READS_PER_MINUTE`, else `DEFAULT_VERTEX_LOGGING_READS_PER_MINUTE` (30). */
function vertexLoggingReadsPerMinute(env: NodeJS.ProcessEnv): number {
  const text = env.TRAINKIT_VERTEX_LOGGING_READS_PER_MINUTE;
  if (text === undefined || text === "") return DEFAULT_VERTEX_LOGGING_READS_PER_MINUTE;
  const reads = Number(text);
  if (!Number.isInteger(reads) || reads < 1 || reads > 100_000) {
    throw new ConfigError(
      "TRAINKIT_VERTEX_LOGGING_READS_PER_MINUTE",
      `must be a whole number of reads from 1 to 100000, at most the project's Cloud Logging read quota (ReadRequestsPerMinutePerProject); got ${JSON.stringify(text)}`,
    );
  }
  return reads;
}

/** Starts the Train API. Throws `ConfigError` (naming the variable) on bad configuration. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const config = loadConfig(env, {
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
    ...(options.databaseUrl !== undefined ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.apiKeys !== undefined ? { apiKeys: options.apiKeys } : {}),
    ...(options.reconcileIntervalMs !== undefined
      ? { reconcileIntervalMs: options.reconcileIntervalMs }
      : {}),
  });
  const followMs = options.followIntervalMs ?? followIntervalMs(env);
  const followWaitMs = options.followMaxWaitMs ?? followMaxWaitMs(env);
  const loggingReads = options.vertexLoggingReadsPerMinute ?? vertexLoggingReadsPerMinute(env);
  const store = await openStore({
    dataDir: config.dataDir,
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    timeoutMs: config.dbTimeoutMs,
  });

  let log: BackendLogger = quiet;
  let reconciler: Reconciler | undefined;
  let backends: BackendRegistry | undefined;
  try {
    backends = buildBackends(env, {
      dataDir: config.dataDir,
      accounts: config.apiKeys.accountIds(),
      protectedPaths: [config.localApiKeyFile, config.apiKeysFile].filter((p) => p !== undefined),
      notify: (jobId) => reconciler?.notify(jobId),
      log: {
        info: (o, m) => log.info(o, m),
        warn: (o, m) => log.warn(o, m),
        error: (o, m) => log.error(o, m),
      },
    });
    reconciler = new Reconciler(store, backends, {
      intervalMs: config.reconcileIntervalMs,
      callTimeoutMs: config.backendCallTimeoutMs,
      concurrency: config.reconcileConcurrency,
      submitMaxAttempts: config.submitMaxAttempts,
      syncIntervalMs: config.syncIntervalMs,
      submitTimeoutMs: config.submitTimeoutMs,
      submitLeaseMs: config.submitLeaseMs,
      log: {
        info: (o, m) => log.info(o, m),
        warn: (o, m) => log.warn(o, m),
        error: (o, m) => log.error(o, m),
      },
    });
    const app = buildApp({
      store,
      backends,
      reconciler,
      apiKeys: config.apiKeys,
      bodyLimitBytes: config.bodyLimitBytes,
      log: options.log ?? false,
      headersTimeoutMs: config.headersTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      readyMaxPassAgeMs: config.readyMaxPassAgeMs,
      readyStoreTimeoutMs: Math.min(config.dbTimeoutMs, 2_000),
      followIntervalMs: followMs,
      followMaxWaitMs: followWaitMs,
      followReadsPerMinute: { "vertex-ai": loggingReads },
    });
    // At level warn the logger drops the backends' and reconciler's info lines itself.
    if (options.log) log = app.log;
    await app.listen({ host: config.host, port: config.port });
    reconciler.start();

    const address = app.server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const running = reconciler;
    const registry = backends;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${host}:${address.port}`,
      store,
      dataDir: config.dataDir,
      localApiKeyFile: config.localApiKeyFile,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      close: () => {
        closing ??= (async () => {
          await app.close();
          await running.stop();
          await closeBackends(registry);
          await store.close();
        })();
        return closing;
      },
    };
  } catch (err) {
    await reconciler?.stop();
    if (backends) await closeBackends(backends);
    await store.close();
    throw err;
  }
}
