import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { formatPath } from "../spec";

/** The account a generated local API key acts for. */
export const LOCAL_ACCOUNT_ID = "local";
/** The file, under the data directory, holding the generated local API key. */
export const LOCAL_API_KEY_FILE = "api-key";

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_RECONCILE_INTERVAL_MS = 2000;
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_BACKEND_CALL_TIMEOUT_MS = 60_000;
export const DEFAULT_RECONCILE_CONCURRENCY = 8;
export const DEFAULT_SUBMIT_MAX_ATTEMPTS = 5;
export const DEFAULT_SYNC_INTERVAL_MS = 30_000;
export const DEFAULT_SUBMIT_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_DB_TIMEOUT_MS = 10_000;
export const DEFAULT_READY_MAX_PASS_AGE_MS = 30_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/**
 * How long a replica's claim on a job it is submitting holds before another replica may take the
 * job over, should the first have died mid-submit. Backends find an existing native job on a second
 * submit, so a claim taken over from a replica that was only slow starts nothing twice.
 */
export const DEFAULT_SUBMIT_LEASE_MS = 20_000;

/**
 * A setting that stops the server at start: names the variable, the bad value and the fix.
 * `message` follows the variable's name, unless `whole` says it already names it.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
    whole = false,
  ) {
    super(whole ? message : `${variable} ${message}`);
    this.name = "ConfigError";
  }
}

const ACCOUNT_ID = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[A-Za-z0-9._:-]+$/, "must hold only letters, digits, '.', '_', ':' and '-'");

/** `TRAINKIT_API_KEYS`: each API key mapped to the account ids it may act for. */
export const ApiKeysSchema = z.record(
  z.string().min(16, "API keys must be at least 16 characters long"),
  z.array(ACCOUNT_ID).min(1, "must list at least one account id"),
);

const port = z.coerce
  .number({ error: "must be a number" })
  .int("must be a whole number")
  .min(0, "must be between 0 and 65535")
  .max(65535, "must be between 0 and 65535");
const positiveMs = (min: number) =>
  z.coerce
    .number({ error: "must be a number of milliseconds" })
    .int("must be a whole number of milliseconds")
    .min(min, `must be at least ${min}`);
const count = (min: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`);

const EnvSchema = z.object({
  PORT: port.default(DEFAULT_PORT),
  HOST: z.string().min(1, "must not be empty").default(DEFAULT_HOST),
  TRAINKIT_DATA_DIR: z.string().min(1, "must not be empty").optional(),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/.+/, "must be a postgres:// or postgresql:// URL")
    .optional(),
  TRAINKIT_API_KEYS: z.string().optional(),
  TRAINKIT_API_KEYS_FILE: z.string().min(1, "must not be empty").optional(),
  TRAINKIT_RECONCILE_INTERVAL_MS: positiveMs(50).default(DEFAULT_RECONCILE_INTERVAL_MS),
  TRAINKIT_BODY_LIMIT_BYTES: positiveMs(1024).default(DEFAULT_BODY_LIMIT_BYTES),
  TRAINKIT_BACKEND_CALL_TIMEOUT_MS: positiveMs(100).default(DEFAULT_BACKEND_CALL_TIMEOUT_MS),
  TRAINKIT_RECONCILE_CONCURRENCY: count(1).default(DEFAULT_RECONCILE_CONCURRENCY),
  TRAINKIT_SUBMIT_MAX_ATTEMPTS: count(1).default(DEFAULT_SUBMIT_MAX_ATTEMPTS),
  TRAINKIT_SYNC_INTERVAL_MS: positiveMs(100).default(DEFAULT_SYNC_INTERVAL_MS),
  TRAINKIT_SUBMIT_TIMEOUT_MS: positiveMs(1000).default(DEFAULT_SUBMIT_TIMEOUT_MS),
  TRAINKIT_DB_TIMEOUT_MS: positiveMs(100).default(DEFAULT_DB_TIMEOUT_MS),
  TRAINKIT_READY_MAX_PASS_AGE_MS: positiveMs(100).default(DEFAULT_READY_MAX_PASS_AGE_MS),
  TRAINKIT_REQUEST_TIMEOUT_MS: positiveMs(100).default(DEFAULT_REQUEST_TIMEOUT_MS),
  TRAINKIT_HEADERS_TIMEOUT_MS: positiveMs(100).default(DEFAULT_HEADERS_TIMEOUT_MS),
  TRAINKIT_SHUTDOWN_TIMEOUT_MS: positiveMs(100).default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
  TRAINKIT_SUBMIT_LEASE_MS: positiveMs(1000).default(DEFAULT_SUBMIT_LEASE_MS),
});

/** How to fix each variable, appended to its error. */
const FIXES: Record<string, string> = {
  PORT: "set it to a TCP port such as 8080, or 0 for any free port",
  HOST: "set it to an address to listen on such as 127.0.0.1 or 0.0.0.0",
  TRAINKIT_DATA_DIR: "set it to a writable directory, or unset it to use .trainkit",
  DATABASE_URL:
    "set it to a URL such as postgresql://user@host:5432/db, or unset it to use the embedded store",
  TRAINKIT_RECONCILE_INTERVAL_MS: "set it to a whole number of milliseconds such as 2000",
  TRAINKIT_BODY_LIMIT_BYTES: "set it to a whole number of bytes such as 1048576",
  TRAINKIT_BACKEND_CALL_TIMEOUT_MS: "set it to a whole number of milliseconds such as 60000",
  TRAINKIT_RECONCILE_CONCURRENCY: "set it to a whole number of jobs such as 8",
  TRAINKIT_SUBMIT_MAX_ATTEMPTS: "set it to a whole number of attempts such as 5",
  TRAINKIT_SYNC_INTERVAL_MS: "set it to a whole number of milliseconds such as 30000",
  TRAINKIT_SUBMIT_TIMEOUT_MS: "set it to a whole number of milliseconds such as 900000",
  TRAINKIT_DB_TIMEOUT_MS: "set it to a whole number of milliseconds such as 10000",
  TRAINKIT_READY_MAX_PASS_AGE_MS: "set it to a whole number of milliseconds such as 30000",
  TRAINKIT_REQUEST_TIMEOUT_MS: "set it to a whole number of milliseconds such as 30000",
  TRAINKIT_HEADERS_TIMEOUT_MS: "set it to a whole number of milliseconds such as 10000",
  TRAINKIT_SHUTDOWN_TIMEOUT_MS: "set it to a whole number of milliseconds such as 10000",
  TRAINKIT_SUBMIT_LEASE_MS: "set it to a whole number of milliseconds such as 20000",
  TRAINKIT_API_KEYS: 'set it to a JSON object such as {"<api-key>": ["<account-id>"]}',
  TRAINKIT_API_KEYS_FILE: 'point it to a readable JSON file such as {"<api-key>": ["<account-id>"]}',
};

export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  reconcileIntervalMs: number;
  bodyLimitBytes: number;
  /** Longest wait for one backend call (submit, poll, cancel), SDK retries included. */
  backendCallTimeoutMs: number;
  /** Calls the reconciler makes at once per backend, for submissions and for polls each. */
  reconcileConcurrency: number;
  /** Submit attempts before a job that keeps failing to submit ends FAILED. */
  submitMaxAttempts: number;
  /** How often a cloud backend lists its jobs' states (one list sync instead of a read per job). */
  syncIntervalMs: number;
  /** Time from a job's first submit attempt after which a failing submit ends the job FAILED. */
  submitTimeoutMs: number;
  /** Postgres connect, pool-acquire and query timeout. */
  dbTimeoutMs: number;
  /** Age of the reconciler's last completed pass past which the server reports itself unready. */
  readyMaxPassAgeMs: number;
  /** Time an authenticated request's body has to arrive. */
  requestTimeoutMs: number;
  /** Time a request's headers (before authentication) have to arrive. */
  headersTimeoutMs: number;
  /** Time SIGTERM waits for a clean shutdown before the process exits anyway. */
  shutdownTimeoutMs: number;
  /** How long a submit claim holds before another replica may take the job over. */
  submitLeaseMs: number;
  apiKeys: ApiKeyring;
  /** Set when no keys were configured and a local key was generated or reused. */
  localApiKeyFile: string | undefined;
  /** `TRAINKIT_API_KEYS_FILE` resolved, when the keys came from it. */
  apiKeysFile: string | undefined;
}

export interface ConfigOverrides {
  host?: string;
  port?: number;
  dataDir?: string;
  databaseUrl?: string;
  apiKeys?: Record<string, string[]>;
  reconcileIntervalMs?: number;
}

/**
 * Reads the configuration from `env`, with explicit overrides winning. Throws `ConfigError` naming
 * the first bad variable.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv,
  overrides: ConfigOverrides = {},
  cwd = process.cwd(),
): ServerConfig {
  // An empty variable counts as unset, as shells and container platforms often leave them so.
  const known = Object.fromEntries(
    Object.keys(EnvSchema.shape).map((k) => [k, env[k] === "" ? undefined : env[k]]),
  );
  const parsed = EnvSchema.safeParse(known);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = formatPath(issue.path);
    throw new ConfigError(
      variable,
      `${issue.message}; got ${shownValue(variable, env[variable])}. Fix: ${FIXES[variable] ?? "correct or unset it"}.`,
    );
  }
  const e = parsed.data;
  const dataDir = resolve(cwd, overrides.dataDir ?? e.TRAINKIT_DATA_DIR ?? ".trainkit");
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ConfigError(
      overrides.dataDir ? "dataDir" : "TRAINKIT_DATA_DIR",
      `${dataDir} cannot be created (${(err as Error).message}). Fix: ${FIXES.TRAINKIT_DATA_DIR}.`,
    );
  }

  let apiKeysFile: string | undefined;
  let keys: Record<string, string[]> | undefined = overrides.apiKeys;
  if (keys) keys = checkKeys(keys, "apiKeys");
  else if (e.TRAINKIT_API_KEYS !== undefined && e.TRAINKIT_API_KEYS.trim() !== "") {
    keys = parseKeysJson(e.TRAINKIT_API_KEYS, "TRAINKIT_API_KEYS");
  } else if (e.TRAINKIT_API_KEYS_FILE !== undefined) {
    let text: string;
    try {
      text = readFileSync(resolve(cwd, e.TRAINKIT_API_KEYS_FILE), "utf8");
    } catch (err) {
      throw new ConfigError(
        "TRAINKIT_API_KEYS_FILE",
        e.TRAINKIT_API_KEYS_FILE.trimStart().startsWith("{")
          ? `holds JSON instead of a file's path (not shown, as it may hold keys). Fix: put the JSON in TRAINKIT_API_KEYS, or ${FIXES.TRAINKIT_API_KEYS_FILE}.`
          : `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name}): ${e.TRAINKIT_API_KEYS_FILE}. Fix: ${FIXES.TRAINKIT_API_KEYS_FILE}.`,
      );
    }
    keys = parseKeysJson(text, "TRAINKIT_API_KEYS_FILE");
    apiKeysFile = resolve(cwd, e.TRAINKIT_API_KEYS_FILE);
  }

  let localApiKeyFile: string | undefined;
  if (!keys) {
    localApiKeyFile = join(dataDir, LOCAL_API_KEY_FILE);
    keys = { [ensureLocalApiKey(localApiKeyFile)]: [LOCAL_ACCOUNT_ID] };
  }

  return {
    host: overrides.host ?? e.HOST,
    port: overrides.port ?? e.PORT,
    dataDir,
    databaseUrl: overrides.databaseUrl ?? e.DATABASE_URL,
    reconcileIntervalMs: overrides.reconcileIntervalMs ?? e.TRAINKIT_RECONCILE_INTERVAL_MS,
    bodyLimitBytes: e.TRAINKIT_BODY_LIMIT_BYTES,
    backendCallTimeoutMs: e.TRAINKIT_BACKEND_CALL_TIMEOUT_MS,
    reconcileConcurrency: e.TRAINKIT_RECONCILE_CONCURRENCY,
    submitMaxAttempts: e.TRAINKIT_SUBMIT_MAX_ATTEMPTS,
    syncIntervalMs: e.TRAINKIT_SYNC_INTERVAL_MS,
    submitTimeoutMs: e.TRAINKIT_SUBMIT_TIMEOUT_MS,
    dbTimeoutMs: e.TRAINKIT_DB_TIMEOUT_MS,
    readyMaxPassAgeMs: e.TRAINKIT_READY_MAX_PASS_AGE_MS,
    requestTimeoutMs: e.TRAINKIT_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: e.TRAINKIT_HEADERS_TIMEOUT_MS,
    shutdownTimeoutMs: e.TRAINKIT_SHUTDOWN_TIMEOUT_MS,
    submitLeaseMs: e.TRAINKIT_SUBMIT_LEASE_MS,
    apiKeys: new ApiKeyring(keys),
    localApiKeyFile,
    apiKeysFile,
  };
}

/**
 * A bad value as an error message may show it: `DATABASE_URL` without its password (only its
 * scheme when it is no URL at all), and nothing of a `TRAINKIT_API_KEYS*` variable, whose value may
 * be the keys themselves.
 */
function shownValue(variable: string, value: string | undefined): string {
  if (value === undefined) return "nothing";
  if (variable.startsWith("TRAINKIT_API_KEYS")) return "a value that is not shown, as it may hold keys";
  return variable === "DATABASE_URL" ? withoutPassword(value) : JSON.stringify(value);
}

/**
 * The URL with its password and query (`?password=` is a libpq option) replaced by `***`. A password
 * may hold `/`, `#`, `?` and `@` unescaped, which moves where a URL parser ends the user info, so
 * everything up to the last `@` counts as user info here.
 */
function withoutPassword(value: string): string {
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(value);
  if (!url) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(value)?.[1];
    return scheme ? `a value starting with "${scheme}:"` : "a value that is not a URL";
  }
  let rest = url[2]!;
  let userInfo = "";
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const info = rest.slice(0, at);
    const colon = info.indexOf(":");
    userInfo = colon >= 0 ? `${info.slice(0, colon)}:***@` : `${info}@`;
    rest = rest.slice(at + 1);
  }
  const query = rest.indexOf("?");
  if (query >= 0) rest = `${rest.slice(0, query)}?***`;
  return JSON.stringify(`${url[1]}://${userInfo}${rest}`);
}

function parseKeysJson(text: string, variable: string): Record<string, string[]> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // The JSON parser's message can quote the text, and the text holds keys: keep only its kind.
    throw new ConfigError(variable, `is not valid JSON (${(err as Error).name}). Fix: ${FIXES[variable]}.`);
  }
  return checkKeys(value, variable);
}

function checkKeys(value: unknown, variable: string): Record<string, string[]> {
  const parsed = ApiKeysSchema.safeParse(value);
  if (parsed.success) {
    if (Object.keys(parsed.data).length === 0) {
      throw new ConfigError(
        variable,
        `holds no keys. Fix: ${FIXES[variable] ?? FIXES.TRAINKIT_API_KEYS}, or unset it for a generated local key.`,
      );
    }
    return parsed.data;
  }
  // Paths into this object start with an API key: the key is replaced by its position.
  const keys = value && typeof value === "object" ? Object.keys(value) : [];
  const issue = parsed.error.issues[0]!;
  const [first, ...rest] = issue.path;
  const where =
    first === undefined ? "(root)" : formatPath([`key #${keys.indexOf(String(first)) + 1}`, ...rest]);
  // A bad key is reported by zod as "Invalid key in record" with the reason nested inside.
  const reason = issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  throw new ConfigError(
    variable,
    `is invalid at ${where}: ${reason}. Fix: ${FIXES[variable] ?? FIXES.TRAINKIT_API_KEYS}.`,
  );
}

/** Reads the local key file, or creates it (mode 0600) with a new random key. */
export function ensureLocalApiKey(file: string): string {
  if (existsSync(file)) {
    const key = readFileSync(file, "utf8").trim();
    if (key.length >= 16) {
      chmodSync(file, 0o600);
      return key;
    }
  }
  const key = `tk_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

const sha256 = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/**
 * The configured API keys, held only as SHA-256 hashes. A lookup compares the presented key's hash
 * with every stored hash in constant time and does not stop at the first match, so timing says
 * nothing about which key, or how much of one, matched.
 */
export class ApiKeyring {
  private readonly entries: { hash: Buffer; accounts: ReadonlySet<string> }[];

  constructor(keys: Record<string, readonly string[]>) {
    this.entries = Object.entries(keys).map(([key, accounts]) => ({
      hash: sha256(key),
      accounts: new Set(accounts),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** Every account some key may act for. */
  accountIds(): string[] {
    return [...new Set(this.entries.flatMap((entry) => [...entry.accounts]))].sort();
  }

  /** The accounts the key may act for, or null when the key is not known. */
  accountsFor(key: string): ReadonlySet<string> | null {
    const hash = sha256(key);
    let found: ReadonlySet<string> | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.hash, hash)) found = entry.accounts;
    }
    return found;
  }

  /** Never prints the hashes either. */
  toJSON(): string {
    return `[${this.entries.length} API key(s)]`;
  }
}
