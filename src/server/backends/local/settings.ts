import { tmpdir } from "node:os";
import { isAbsolute, resolve } from "node:path";

/** How strongly jobs are kept apart from the server and from each other; see isolation.ts. */
export const ISOLATION_MODES = ["auto", "sandbox", "user", "none"] as const;
export type IsolationSetting = (typeof ISOLATION_MODES)[number];

/** The local backend's settings, read from the server's environment. */
export interface LocalSettings {
  /** Jobs that may run at once; the server keeps the rest PENDING. */
  maxConcurrent: number;
  /** Seconds between SIGTERM and SIGKILL when a job is canceled or times out. */
  cancelGraceSeconds: number;
  /** Host directories mounts and working directories must lie in (after resolving links). */
  allowedRoots: string[];
  /** Bytes of stdout and stderr together that one job may leave on disk; the rest is dropped. */
  logMaxBytes: number;
  /** The isolation asked for; `auto` takes the strongest the host allows. */
  isolation: IsolationSetting;
  /** Host paths a sandboxed job sees, read-only, besides its own directories and mounts. */
  sandboxPaths: string[];
  /** Jobs run as their own user, numbered from here, when the server runs as root. */
  jobUidBase: number;
}

export const LOCAL_SETTING_DEFAULTS = {
  maxConcurrent: 2,
  cancelGraceSeconds: 10,
  logMaxBytes: 256 * 1024 * 1024,
  isolation: "auto" as IsolationSetting,
  sandboxPaths: ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"],
  jobUidBase: 2_000_000_000,
};

/** How many users jobs are numbered across (from `jobUidBase`). */
export const JOB_UID_RANGE = 1_000_000;

/**
 * The roots allowed when `TRAINKIT_LOCAL_ALLOWED_ROOTS` is unset: the server's working directory
 * and the temporary directory. A server started in `/` does not open the whole machine that way:
 * only the temporary directory is allowed then.
 */
export function defaultAllowedRoots(cwd: string): string[] {
  return [...new Set([cwd, tmpdir()].map((p) => resolve(p)).filter((p) => p !== "/"))];
}

function readNumber(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  rule: string,
  ok: (n: number) => boolean,
) {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!ok(value)) {
    throw new Error(
      `${name} must be ${rule}; got ${JSON.stringify(raw)}. Unset it to use the default of ${fallback}.`,
    );
  }
  return value;
}

function readPaths(env: NodeJS.ProcessEnv, name: string, fallback: string[], example: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const paths = raw.split(",").map((p) => p.trim());
  const bad = paths.find((p) => !isAbsolute(p) || p.includes("\0"));
  if (bad !== undefined) {
    throw new Error(
      `${name} must be a comma-separated list of absolute paths such as ${example}; got ${JSON.stringify(bad)} in it. ` +
        `Unset it to use the default of ${fallback.join(",")}.`,
    );
  }
  return paths.map((p) => resolve(p));
}

/**
 * Reads the `TRAINKIT_LOCAL_*` settings; throws naming the bad one. `cwd` is where the server runs,
 * the default allowed root.
 */
export function readLocalSettings(env: NodeJS.ProcessEnv, cwd = process.cwd()): LocalSettings {
  const isolation = (env.TRAINKIT_LOCAL_ISOLATION?.trim() || "auto") as IsolationSetting;
  if (!ISOLATION_MODES.includes(isolation)) {
    throw new Error(
      `TRAINKIT_LOCAL_ISOLATION must be one of ${ISOLATION_MODES.join(", ")}; got ${JSON.stringify(env.TRAINKIT_LOCAL_ISOLATION)}. ` +
        "Unset it to use the default of auto.",
    );
  }
  return {
    maxConcurrent: readNumber(
      env,
      "TRAINKIT_LOCAL_MAX_CONCURRENT",
      LOCAL_SETTING_DEFAULTS.maxConcurrent,
      "a whole number of at least 1",
      (n) => Number.isInteger(n) && n >= 1,
    ),
    cancelGraceSeconds: readNumber(
      env,
      "TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS",
      LOCAL_SETTING_DEFAULTS.cancelGraceSeconds,
      "a number of seconds of 0 or more (fractions allowed)",
      (n) => Number.isFinite(n) && n >= 0,
    ),
    allowedRoots: readPaths(
      env,
      "TRAINKIT_LOCAL_ALLOWED_ROOTS",
      defaultAllowedRoots(cwd),
      "/srv/datasets,/srv/checkpoints",
    ),
    logMaxBytes: readNumber(
      env,
      "TRAINKIT_LOCAL_LOG_MAX_BYTES",
      LOCAL_SETTING_DEFAULTS.logMaxBytes,
      "a whole number of bytes of at least 1024",
      (n) => Number.isSafeInteger(n) && n >= 1024,
    ),
    isolation,
    sandboxPaths: readPaths(
      env,
      "TRAINKIT_LOCAL_SANDBOX_PATHS",
      LOCAL_SETTING_DEFAULTS.sandboxPaths,
      "/usr,/etc,/opt/conda",
    ),
    jobUidBase: readNumber(
      env,
      "TRAINKIT_LOCAL_JOB_UID_BASE",
      LOCAL_SETTING_DEFAULTS.jobUidBase,
      `a whole number from 1000 to ${2 ** 32 - 2 - JOB_UID_RANGE}`,
      (n) => Number.isInteger(n) && n >= 1000 && n <= 2 ** 32 - 2 - JOB_UID_RANGE,
    ),
  };
}
