import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { realUid } from "./proc";
import type { LocalSettings } from "./settings";

/**
 * How jobs are kept from the server and from each other:
 * - `sandbox`: in a bubblewrap sandbox (own mount, pid, ipc and uts namespaces) that shows the job only
 *   the system paths, its own directory and its mounts, read-only mounts bound read-only; and, when
 *   the server runs as root, as a user of its own too;
 * - `user`: as a user of its own (the server runs as root, but bubblewrap is missing or cannot run);
 * - `none`: as the server's own user, which only a single-account server may do.
 */
export interface Isolation {
  mode: "sandbox" | "user" | "none";
  /** Jobs run as users of their own (the server runs as root). */
  ownUsers: boolean;
  /** The bubblewrap program, in `sandbox` mode. */
  bwrap: string | null;
  /** Why the mode is what it is, for the start-up log and for refusals. */
  reason: string;
}

const isRoot = () => process.getuid?.() === 0;

function findProgram(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? "/usr/local/bin:/usr/bin:/bin").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Arguments that show a sandboxed program the system paths and nothing else of the host. */
export function sandboxBaseArgs(systemPaths: readonly string[]): string[] {
  const args = ["--unshare-all", "--share-net", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"];
  for (const path of systemPaths) args.push("--ro-bind-try", path, path);
  // GPU jobs need the accelerator devices, which the minimal /dev lacks.
  for (const device of safeReaddir("/dev").filter((d) => /^nvidia/.test(d))) {
    args.push("--dev-bind", `/dev/${device}`, `/dev/${device}`);
  }
  if (existsSync("/dev/dri")) args.push("--dev-bind", "/dev/dri", "/dev/dri");
  args.push("--ro-bind-try", "/sys", "/sys");
  return args;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A user no process runs as, for probing what an unprivileged job could do. */
export const PROBE_UID = 65534;

/**
 * Decides how jobs run on this host, by trying it: bubblewrap must start a sandbox (as an
 * unprivileged user when the server is root). Throws when the setting asks for more than the host
 * allows, saying what is missing.
 */
export function detectIsolation(settings: LocalSettings, path: string | undefined): Isolation {
  const ownUsers = isRoot();
  const wanted = settings.isolation;
  let sandboxProblem = "";
  let bwrap: string | null = null;
  if (wanted === "auto" || wanted === "sandbox") {
    bwrap = findProgram("bwrap", path);
    if (bwrap === null) {
      sandboxProblem = "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)";
    } else {
      const probe = spawnSync(bwrap, [...sandboxBaseArgs(settings.sandboxPaths), "--", "true"], {
        stdio: ["ignore", "ignore", "pipe"],
        timeout: 10_000,
        ...(ownUsers ? { uid: PROBE_UID, gid: PROBE_UID } : {}),
      });
      if (probe.status !== 0) {
        const said = probe.stderr?.toString().trim() || probe.error?.message || `exit status ${probe.status}`;
        sandboxProblem = `bubblewrap cannot start a sandbox here (${said}); unprivileged user namespaces may be off (sysctl user.max_user_namespaces)`;
        bwrap = null;
      }
    }
  }
  if (wanted === "sandbox" && bwrap === null) {
    throw new Error(
      `TRAINKIT_LOCAL_ISOLATION=sandbox cannot be met: ${sandboxProblem}. Fix that, or unset it.`,
    );
  }
  if (wanted === "user" && !ownUsers) {
    throw new Error(
      "TRAINKIT_LOCAL_ISOLATION=user needs the server to run as root, to start jobs as users of their own. Run it as root, or unset it.",
    );
  }
  if (bwrap !== null) {
    return {
      mode: "sandbox",
      ownUsers,
      bwrap,
      reason: ownUsers
        ? "each job runs in a bubblewrap sandbox as a user of its own"
        : "each job runs in a bubblewrap sandbox (as the server's user: the server does not run as root)",
    };
  }
  if (ownUsers && wanted !== "none") {
    return {
      mode: "user",
      ownUsers,
      bwrap: null,
      reason: `each job runs as a user of its own, without a sandbox: ${sandboxProblem || "TRAINKIT_LOCAL_ISOLATION=user"}; read-only mounts are then protected by file permissions only`,
    };
  }
  return {
    mode: "none",
    ownUsers: false,
    bwrap: null,
    reason:
      wanted === "none"
        ? "TRAINKIT_LOCAL_ISOLATION=none runs jobs as the server's own user"
        : `jobs run as the server's own user: the server is not root and ${sandboxProblem}`,
  };
}

/** Users whose processes run now, among `[from, from + count)`. */
export function usersInUse(from: number, count: number): Set<number> {
  const used = new Set<number>();
  for (const entry of safeReaddir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const uid = realUid(Number(entry));
    if (uid !== null && uid >= from && uid < from + count) used.add(uid);
  }
  return used;
}
