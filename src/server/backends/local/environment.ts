import type { ParsedCreateJobRequest } from "../../../spec";
import { storageMountEnvName } from "../../../spec";

/**
 * Variables a job inherits from the server. Everything else in the server's environment (API keys,
 * database URLs, cloud credentials) stays out of the job; a job that needs more names it in `env`.
 */
export const INHERITED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TMPDIR",
  "CUDA_VISIBLE_DEVICES",
  "LD_LIBRARY_PATH",
] as const;

/** Set unless the job overrides it: Python writes its progress to the log as it goes, not at exit. */
const JOB_DEFAULTS: Record<string, string> = { PYTHONUNBUFFERED: "1" };

const FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * The whole environment of a job: the inherited base, then the job's `env`, then the mount paths.
 * Each mount is the host directory itself, as resolved (a sandbox binds it at the same path), so
 * `mount_path` is not used.
 */
export function jobEnvironment(
  serverEnv: NodeJS.ProcessEnv,
  request: ParsedCreateJobRequest<"local">,
  mounts: readonly { path: string }[],
): Record<string, string> {
  const env: Record<string, string> = { PATH: FALLBACK_PATH, ...JOB_DEFAULTS };
  for (const name of INHERITED_ENV) {
    const value = serverEnv[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, request.job_config.env ?? {});
  mounts.forEach((mount, i) => {
    env[storageMountEnvName(i)] = mount.path;
  });
  return env;
}
