/** The local backend's settings, read from the server's environment. */
export interface LocalSettings {
  /** Jobs that may run at once; the server keeps the rest PENDING. */
  maxConcurrent: number;
  /** Seconds between SIGTERM and SIGKILL when a job is canceled or times out. */
  cancelGraceSeconds: number;
}

export const LOCAL_SETTING_DEFAULTS: LocalSettings = { maxConcurrent: 2, cancelGraceSeconds: 10 };

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

/** Reads `TRAINKIT_LOCAL_MAX_CONCURRENT` and `TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS`; throws naming the bad one. */
export function readLocalSettings(env: NodeJS.ProcessEnv): LocalSettings {
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
  };
}
