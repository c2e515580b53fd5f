import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, LOCAL_ACCOUNT_ID, loadConfig } from "../../src/server/config";

const root = mkdtempSync(join(tmpdir(), "trainkit-config-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SECRET = "tk_secret_key_that_must_not_leak";

const BAD: { variable: string; env: Record<string, string>; says: string }[] = [
  { variable: "PORT", env: { PORT: "eighty" }, says: "must be a number" },
  { variable: "PORT", env: { PORT: "70000" }, says: "between 0 and 65535" },
  {
    variable: "TRAINKIT_RECONCILE_INTERVAL_MS",
    env: { TRAINKIT_RECONCILE_INTERVAL_MS: "10" },
    says: "at least 50",
  },
  { variable: "TRAINKIT_BODY_LIMIT_BYTES", env: { TRAINKIT_BODY_LIMIT_BYTES: "1.5" }, says: "whole number" },
  {
    variable: "TRAINKIT_BACKEND_CALL_TIMEOUT_MS",
    env: { TRAINKIT_BACKEND_CALL_TIMEOUT_MS: "5" },
    says: "at least 100",
  },
  {
    variable: "TRAINKIT_SUBMIT_MAX_ATTEMPTS",
    env: { TRAINKIT_SUBMIT_MAX_ATTEMPTS: "0" },
    says: "at least 1",
  },
  { variable: "TRAINKIT_DB_TIMEOUT_MS", env: { TRAINKIT_DB_TIMEOUT_MS: "soon" }, says: "must be a number" },
  {
    variable: "DATABASE_URL",
    env: { DATABASE_URL: "mysql://db/x" },
    says: "postgres:// or postgresql:// URL",
  },
  { variable: "TRAINKIT_API_KEYS", env: { TRAINKIT_API_KEYS: `{"${SECRET}": ` }, says: "not valid JSON" },
  { variable: "TRAINKIT_API_KEYS", env: { TRAINKIT_API_KEYS: `{"${SECRET}": "acct-1"}` }, says: "key #1" },
  {
    variable: "TRAINKIT_API_KEYS",
    env: { TRAINKIT_API_KEYS: `{"${SECRET}": []}` },
    says: "at least one account id",
  },
  {
    variable: "TRAINKIT_API_KEYS",
    env: { TRAINKIT_API_KEYS: `{"short": ["acct-1"]}` },
    says: "at least 16 characters",
  },
  { variable: "TRAINKIT_API_KEYS", env: { TRAINKIT_API_KEYS: "{}" }, says: "holds no keys" },
  {
    variable: "TRAINKIT_API_KEYS_FILE",
    env: { TRAINKIT_API_KEYS_FILE: "/nonexistent/keys.json" },
    says: "cannot be read",
  },
];

describe("configuration from the environment", () => {
  it.each(BAD)(
    "rejects a bad $variable ($says) naming it, its fix, and never the key",
    ({ variable, env, says }) => {
      let error: unknown;
      try {
        loadConfig({ TRAINKIT_DATA_DIR: join(root, "bad"), ...env });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect((error as ConfigError).variable).toBe(variable);
      expect(message.startsWith(`${variable} `)).toBe(true);
      expect(message).toContain(says);
      expect(message).toContain("Fix:");
      expect(message).not.toContain(SECRET);
    },
  );

  it("uses the documented defaults", () => {
    const config = loadConfig({ TRAINKIT_DATA_DIR: join(root, "defaults") });
    expect(config).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      databaseUrl: undefined,
      reconcileIntervalMs: 2000,
      bodyLimitBytes: 1024 * 1024,
      backendCallTimeoutMs: 60_000,
      reconcileConcurrency: 8,
      submitMaxAttempts: 5,
      submitTimeoutMs: 900_000,
      dbTimeoutMs: 10_000,
      readyMaxPassAgeMs: 30_000,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      shutdownTimeoutMs: 10_000,
      submitLeaseMs: 20_000,
    });
  });

  it("puts the data directory at .trainkit in the working directory by default", () => {
    const cwd = join(root, "cwd");
    expect(loadConfig({}, {}, cwd).dataDir).toBe(resolve(cwd, ".trainkit"));
  });

  it("generates a local key into a 0600 file on first start and reuses it later", () => {
    const dataDir = join(root, "local-key");
    const first = loadConfig({ TRAINKIT_DATA_DIR: dataDir });
    const file = join(dataDir, "api-key");
    expect(first.localApiKeyFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = readFileSync(file, "utf8").trim();
    expect(first.apiKeys.accountsFor(key)).toEqual(new Set([LOCAL_ACCOUNT_ID]));
    const second = loadConfig({ TRAINKIT_DATA_DIR: dataDir });
    expect(readFileSync(file, "utf8").trim()).toBe(key);
    expect(second.apiKeys.accountsFor(key)).toEqual(new Set([LOCAL_ACCOUNT_ID]));
  });

  it("reads keys from TRAINKIT_API_KEYS_FILE and generates none", () => {
    const file = join(root, "keys.json");
    writeFileSync(file, JSON.stringify({ [SECRET]: ["acct-a", "acct-b"] }));
    const config = loadConfig({ TRAINKIT_DATA_DIR: join(root, "from-file"), TRAINKIT_API_KEYS_FILE: file });
    expect(config.localApiKeyFile).toBeUndefined();
    expect(config.apiKeys.accountsFor(SECRET)).toEqual(new Set(["acct-a", "acct-b"]));
    expect(config.apiKeys.accountsFor(`${SECRET}x`)).toBeNull();
  });

  it("keeps keys only as hashes, so serializing the configuration reveals none", () => {
    const config = loadConfig({
      TRAINKIT_DATA_DIR: join(root, "hashed"),
      TRAINKIT_API_KEYS: JSON.stringify({ [SECRET]: ["a"] }),
    });
    expect(JSON.stringify(config)).not.toContain(SECRET);
  });
});

describe("a bad DATABASE_URL or TRAINKIT_API_KEYS_FILE in an error message", () => {
  const PASSWORD = "S3cretPassw0rd";
  const MISTYPED: { value: string; shown: string }[] = [
    { value: `postgresql+psycopg://u:${PASSWORD}@db/tk`, shown: '"postgresql+psycopg://u:***@db/tk"' },
    { value: `mysql://u:${PASSWORD}@db/tk?password=${PASSWORD}`, shown: '"mysql://u:***@db/tk?***"' },
    { value: `jdbc://u:p/${PASSWORD}@db/tk`, shown: '"jdbc://u:***@db/tk"' },
    { value: `u:${PASSWORD}@db/tk`, shown: 'a value starting with "u:"' },
    { value: `//u:${PASSWORD}@db/tk`, shown: "a value that is not a URL" },
  ];

  function configError(env: Record<string, string>): ConfigError {
    try {
      loadConfig({ TRAINKIT_DATA_DIR: join(root, "redacted"), ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error("loadConfig accepted the configuration");
  }

  it.each(MISTYPED)(
    "shows DATABASE_URL $value as $shown, with the fix and without the password",
    ({ value, shown }) => {
      const { message } = configError({ DATABASE_URL: value });
      expect(message).toBe(
        `DATABASE_URL must be a postgres:// or postgresql:// URL; got ${shown}. Fix: set it to a URL such as postgresql://user@host:5432/db, or unset it to use the embedded store.`,
      );
      expect(message).not.toContain(PASSWORD);
    },
  );

  it("does not repeat keys put in TRAINKIT_API_KEYS_FILE instead of a path", () => {
    const { message, variable } = configError({
      TRAINKIT_API_KEYS_FILE: JSON.stringify({ [SECRET]: ["a"] }),
    });
    expect(variable).toBe("TRAINKIT_API_KEYS_FILE");
    expect(message).toContain("holds JSON instead of a file's path");
    expect(message).toContain("put the JSON in TRAINKIT_API_KEYS");
    expect(message).not.toContain(SECRET);
  });
});

async function startMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", resolve(__dirname, "../../src/server/main.ts")], {
    env: { PATH: process.env.PATH, TRAINKIT_DATA_DIR: join(root, "main"), PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
  return { code, stderr };
}

describe("npm start with bad configuration", () => {
  it("exits with status 2 and a message naming a bad server variable", async () => {
    const { code, stderr } = await startMain({ PORT: "not-a-port" });
    expect(code).toBe(2);
    expect(stderr).toContain("trainkit: configuration error: PORT must be a number");
  });

  it("prints a mistyped DATABASE_URL without its password", async () => {
    const { code, stderr } = await startMain({ DATABASE_URL: "postgresql+psycopg://u:S3cretPassw0rd@db/tk" });
    expect(code).toBe(2);
    expect(stderr).toContain(
      'trainkit: configuration error: DATABASE_URL must be a postgres:// or postgresql:// URL; got "postgresql+psycopg://u:***@db/tk". Fix:',
    );
    expect(stderr).not.toContain("S3cretPassw0rd");
  });

  it("exits with status 2 and a message naming a bad backend variable", async () => {
    const { code, stderr } = await startMain({ TRAINKIT_LOCAL_MAX_CONCURRENT: "0" });
    expect(code).toBe(2);
    expect(stderr).toContain("trainkit: configuration error: TRAINKIT_LOCAL_MAX_CONCURRENT must be");
  });

  it("exits with status 2 and a message listing the backends for an unknown one in TRAINKIT_BACKENDS", async () => {
    const { code, stderr } = await startMain({ TRAINKIT_BACKENDS: "vertex-ai,slurm" });
    expect(code).toBe(2);
    expect(stderr).toContain(
      'TRAINKIT_BACKENDS must be a comma-separated list of vertex-ai, sagemaker, azure-ml, kubernetes, local; got "vertex-ai,slurm"',
    );
  });
});
