import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBackend } from "../../src/server/backends/local";
import { detectIsolation, type Isolation } from "../../src/server/backends/local/isolation";
import { LOG_PIECE_CHARS } from "../../src/server/backends/local/logs";
import { readLocalSettings } from "../../src/server/backends/local/settings";
import { BackendError, type BackendJob } from "../../src/server/backends/types";
import type { CreateJobRequest } from "../../src/spec";
import {
  LocalHarness,
  localJob,
  NODE_PREFIX,
  nodeJob,
  pollUntil,
  runningStatus,
  waitUntil,
  withinWatchdog,
} from "../helpers/local-harness";

// Jobs written as an attacker holding one account's key would write them. Every test runs real
// processes under the isolation this host offers (a bubblewrap sandbox, users of their own under
// root) and asserts that the attempt fails; where the host offers none, the documented fallback is
// asserted instead: the backend refuses to serve more than one account.

const SECRET = "tk_hostile_secret_0123456789abcdef";

/** The isolations this host can give, strongest first: each is tested. */
const HOST: Isolation = detectIsolation(
  readLocalSettings({ TRAINKIT_LOCAL_SANDBOX_PATHS: `/usr,/bin,/lib,/lib64,/etc,${NODE_PREFIX}` }),
  process.env.PATH,
);
const ISOLATED_MODES = [
  ...(HOST.mode === "sandbox" ? ["sandbox" as const] : []),
  ...(HOST.ownUsers ? ["user" as const] : []),
];

let h: LocalHarness;
let secrets: string;
/** Directories a test made besides the harness's, removed after it. */
const made: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
};
beforeEach(() => {
  h = new LocalHarness();
  // The server's key file, where an operator would keep it: readable by the server's user only.
  secrets = tempDir("trainkit-secrets-");
  writeFileSync(join(secrets, "keys.json"), JSON.stringify({ [SECRET]: ["acct-test", "acct-other"] }), {
    mode: 0o600,
  });
});
afterEach(async () => {
  await h.dispose();
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const keyFile = () => join(secrets, "keys.json");

function backendFor(mode: string, env: NodeJS.ProcessEnv = {}) {
  return h.backend(
    {
      TRAINKIT_LOCAL_ISOLATION: mode,
      TRAINKIT_API_KEYS: JSON.stringify({ [SECRET]: ["acct-test"] }),
      ...env,
    },
    { accounts: ["acct-test", "acct-other"], protectedPaths: [keyFile()] },
  );
}

function asAccount(job: BackendJob<"local">, accountId: string): BackendJob<"local"> {
  return { ...job, accountId };
}

/** Every process whose command line holds `token`. */
function processesWith(token: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, "utf8").includes(token);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function allOutput(backend: ReturnType<typeof backendFor>, job: BackendJob<"local">): Promise<string> {
  const out = await backend.logs(job, { stream: "stdout", tail: 1000 });
  const err = await backend.logs(job, { stream: "stderr", tail: 1000 });
  return [...out.lines, ...err.lines].join("\n");
}

const ATTEMPTS = `
  const fs = require("node:fs");
  const out = {};
  const attempt = (name, fn) => {
    try { out[name] = { ok: true, value: String(fn()).slice(0, 4000) }; }
    catch (e) { out[name] = { ok: false, code: e.code || String(e) }; }
  };
  const env = process.env;
  attempt("server_environ", () => fs.readFileSync("/proc/" + env.SERVER_PID + "/environ", "latin1"));
  attempt("parent_environ", () => fs.readFileSync("/proc/" + process.ppid + "/environ", "latin1"));
  attempt("signal_server", () => process.kill(Number(env.SERVER_PID), 0));
  attempt("list_data_dir", () => fs.readdirSync(env.DATA_DIR).join(","));
  attempt("read_key_file", () => fs.readFileSync(env.KEY_FILE, "utf8"));
  attempt("list_other_job", () => fs.readdirSync(env.OTHER_JOB_DIR).join(","));
  attempt("rewrite_other_status", () => fs.writeFileSync(env.OTHER_JOB_DIR + "/status.json", "{}"));
  attempt("list_other_work", () => fs.readdirSync(env.OTHER_WORK_DIR).join(","));
  attempt("write_read_only_mount", () => fs.writeFileSync(env.STORAGE_MOUNT_0_PATH + "/planted.txt", "x"));
  attempt("write_own_work_dir", () => fs.writeFileSync("scratch.txt", "mine"));
  console.log(JSON.stringify(out));
`;

type Attempts = Record<string, { ok: boolean; code?: string; value?: string }>;

describe.each(ISOLATED_MODES)("a hostile local job under isolation %s", (mode) => {
  async function runAttempts(): Promise<{ attempts: Attempts; output: string }> {
    const backend = backendFor(mode);
    expect(backend.isolation.mode).toBe(mode);
    const other = asAccount(nodeJob("setInterval(() => {}, 1000)"), "acct-other");
    await backend.submit(other);
    await runningStatus(backend, other.id);
    const otherWork = backend.isolation.ownUsers
      ? join(`${h.dataDir}-work`, other.id)
      : join(backend.jobDir(other.id), "work");

    const dataset = join(h.filesDir, "dataset");
    mkdirSync(dataset);
    // Permissions would let anyone write here: only the read-only mount itself may stop the job.
    if (mode === "sandbox") chmodSync(dataset, 0o777);
    const request: CreateJobRequest<"local"> = {
      name: "hostile",
      job_config: {
        command: [process.execPath, "-e", ATTEMPTS],
        env: {
          SERVER_PID: String(process.pid),
          DATA_DIR: h.dataDir,
          KEY_FILE: keyFile(),
          OTHER_JOB_DIR: backend.jobDir(other.id),
          OTHER_WORK_DIR: otherWork,
        },
      },
      storage_mounts: [{ source_uri: dataset, mount_path: "/mnt/data", read_only: true }],
    };
    const job = localJob(request);
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"]);
    const output = await allOutput(backend, job);
    expect(done.status, output).toBe("COMPLETED");
    const line = (await backend.logs(job, { stream: "stdout", tail: 1 })).lines[0] ?? "{}";
    await backend.cancel(other);
    return { attempts: JSON.parse(line) as Attempts, output };
  }

  it("cannot read the server's environment, its data directory or its key file, nor signal it", async () => {
    const { attempts, output } = await runAttempts();
    expect(attempts.server_environ?.ok).toBe(false);
    expect(attempts.signal_server?.ok).toBe(false);
    expect(attempts.list_data_dir?.ok).toBe(false);
    expect(attempts.read_key_file?.ok).toBe(false);
    expect(output).not.toContain(SECRET);
    // What its parent shows is the job's own environment, nothing of the server's.
    expect(attempts.parent_environ?.value ?? "").not.toContain("TRAINKIT_API_KEYS");
  });

  it("cannot list another account's job directory, rewrite its outcome or enter its working directory", async () => {
    const { attempts } = await runAttempts();
    expect(attempts.list_other_job?.ok).toBe(false);
    expect(attempts.rewrite_other_status?.ok).toBe(false);
    expect(attempts.list_other_work?.ok).toBe(false);
    expect(attempts.write_own_work_dir?.ok).toBe(true);
  });

  it("cannot write to a read-only mount", async () => {
    const { attempts } = await runAttempts();
    expect(attempts.write_read_only_mount).toMatchObject({
      ok: false,
      code: mode === "sandbox" ? "EROFS" : "EACCES",
    });
    expect(readdirSync(join(h.filesDir, "dataset"))).toEqual([]);
  });

  it("leaves no process behind on cancel, even one that left its process group and session twice over", async () => {
    const backend = backendFor(mode, { TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "0.5" });
    const token = `escapee-${Date.now()}`;
    const job = nodeJob(`
      const { spawn } = require("node:child_process");
      const nested = 'require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "${token}-b"], { detached: true, stdio: "ignore" }).unref()';
      spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "${token}-a"], { detached: true, stdio: "ignore" }).unref();
      spawn(process.execPath, ["-e", nested], { detached: true, stdio: "ignore" }).unref();
      console.log("spawned");
      setInterval(() => {}, 1000);
    `);
    await backend.submit(job);
    await waitUntil(
      () => processesWith(`${token}-a`).length > 0 && processesWith(`${token}-b`).length > 0,
      "the escapees to start",
    );
    await backend.cancel(job);
    expect((await pollUntil(backend, job, ["CANCELED", "FAILED", "COMPLETED"])).status).toBe("CANCELED");
    expect(processesWith(token)).toEqual([]);
  });

  it("leaves no process behind when it runs past timeout_seconds", async () => {
    const backend = backendFor(mode, { TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "0.5" });
    const token = `escapee-${Date.now()}-timeout`;
    const job = nodeJob(
      `require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "${token}"], { detached: true, stdio: "ignore" }).unref(); setInterval(() => {}, 1000);`,
      { timeout_seconds: 1 },
    );
    await backend.submit(job);
    await waitUntil(() => processesWith(token).length > 0, "the escapee to start");
    expect((await pollUntil(backend, job, ["EXPIRED", "FAILED", "COMPLETED"])).status).toBe("EXPIRED");
    expect(processesWith(token)).toEqual([]);
  });
});

describe("the local backend on a host that can isolate nothing", () => {
  it("refuses to serve more than one account, saying why and what to do", () => {
    expect(() => backendFor("none")).toThrow(
      /^the local backend cannot keep jobs of the 2 accounts apart on this host: TRAINKIT_LOCAL_ISOLATION=none runs jobs as the server's own user, .*Fix: run the server as root or install bubblewrap/,
    );
  });

  it("serves a single account", () => {
    const backend = h.backend({ TRAINKIT_LOCAL_ISOLATION: "none" }, { accounts: ["acct-test"] });
    expect(backend.isolation).toMatchObject({ mode: "none", ownUsers: false, bwrap: null });
  });

  it("still ends a job's detached child on cancel, having followed the job's descendants", async () => {
    const backend = h.backend({
      TRAINKIT_LOCAL_ISOLATION: "none",
      TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "0.5",
    });
    const token = `escapee-${Date.now()}-none`;
    const job = nodeJob(
      `require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "${token}"], { detached: true, stdio: "ignore" }); setInterval(() => {}, 1000);`,
    );
    await backend.submit(job);
    await waitUntil(() => processesWith(token).length > 0, "the detached child to start");
    await backend.cancel(job);
    expect((await pollUntil(backend, job, ["CANCELED", "FAILED", "COMPLETED"])).status).toBe("CANCELED");
    expect(processesWith(token)).toEqual([]);
  });
});

describe("files a job plants in its own directory", () => {
  // Only a job that runs as the server's own user can write its job directory at all; the server
  // still reads it as untrusted.
  const planting = (what: string) =>
    nodeJob(`
      const fs = require("node:fs");
      const { execFileSync } = require("node:child_process");
      ${what}
      console.error("planted");
      setTimeout(() => process.exit(3), 300);
    `);

  it("answers a log replaced by a FIFO with 409 at once instead of waiting for a writer", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_ISOLATION: "none" });
    const job = planting(`fs.unlinkSync("../stdout.log"); execFileSync("mkfifo", ["../stdout.log"]);`);
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["FAILED", "COMPLETED"]);
    expect(done.result?.exit_code).toBe(3);
    const err = await withinWatchdog("logs of a FIFO", () =>
      backend.logs(job, { stream: "stdout", tail: 10 }).catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ status: 409, code: "log_not_a_file" });
    expect((err as Error).message).toContain("is not a regular file");
  });

  it("does not follow a log replaced by a symbolic link, in the logs nor in failure_reason", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_ISOLATION: "none" });
    const target = join(h.filesDir, "outside.txt");
    writeFileSync(target, "server-side secret\n");
    const job = planting(
      `fs.unlinkSync("../stderr.log"); fs.symlinkSync(${JSON.stringify(target)}, "../stderr.log");`,
    );
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["FAILED", "COMPLETED"]);
    expect(done.result?.failure_reason).toContain("is a symbolic link");
    expect(done.result?.failure_reason).not.toContain("server-side secret");
    const err = await backend.logs(job, { stream: "stderr", tail: 10 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 409, code: "log_not_a_file" });
  });

  it("keeps polling when the status record is replaced by a FIFO", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_ISOLATION: "none" });
    const job = nodeJob(
      `const fs = require("node:fs"); fs.unlinkSync("../status.json"); require("node:child_process").execFileSync("mkfifo", ["../status.json"]); console.log("planted"); setInterval(() => {}, 1000);`,
    );
    await backend.submit(job);
    await waitUntil(() => {
      try {
        return statSync(join(backend.jobDir(job.id), "status.json")).isFIFO();
      } catch {
        return false;
      }
    }, "the FIFO to be planted");
    const polled = await withinWatchdog("a poll over a FIFO", () => backend.poll(job));
    expect(polled.status).toBe("IN_PROGRESS");
    await backend.cancel(job);
  });
});

describe("a job that floods its logs", () => {
  it("keeps at most TRAINKIT_LOCAL_LOG_MAX_BYTES on disk and says so at the end of stderr", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_LOG_MAX_BYTES: String(1024 * 1024) });
    const job = nodeJob(
      `const line = "y".repeat(1023) + "\\n"; let n = 0; const write = () => { while (n < 20 * 1024) { n++; if (!process.stdout.write(line)) return process.stdout.once("drain", write); } }; write();`,
    );
    await backend.submit(job);
    expect((await pollUntil(backend, job, ["COMPLETED", "FAILED"])).status).toBe("COMPLETED");
    const dir = backend.jobDir(job.id);
    const onDisk = statSync(join(dir, "stdout.log")).size + statSync(join(dir, "stderr.log")).size;
    expect(onDisk).toBeLessThanOrEqual(1024 * 1024 + 200);
    const stderr = (await backend.logs(job, { stream: "stderr", tail: 1 })).lines;
    expect(stderr[0]).toContain("this job's logs reached TRAINKIT_LOCAL_LOG_MAX_BYTES (1048576 bytes)");
  });

  it("returns one endless line in pieces of at most LOG_PIECE_CHARS characters", async () => {
    const backend = h.backend();
    const job = nodeJob(`process.stdout.write("z".repeat(100000))`);
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    const { lines } = await backend.logs(job, { stream: "stdout", tail: 100 });
    expect(lines.length).toBe(Math.ceil(100000 / LOG_PIECE_CHARS));
    expect(lines.every((l) => l.length <= LOG_PIECE_CHARS)).toBe(true);
    expect(lines.join("")).toBe("z".repeat(100000));
  });
});

describe.each(HOST.ownUsers ? ["auto"] : [])("a mount a job of its own user cannot reach (%s)", () => {
  it("is refused at submit, naming the directory that lets nobody through and the fix", async () => {
    const closed = tempDir("trainkit-closed-");
    chmodSync(closed, 0o700);
    const job = localJob({
      name: "closed",
      job_config: { command: ["true"] },
      storage_mounts: [{ source_uri: join(closed, "out"), mount_path: "/mnt/out" }],
    });
    const err = await h
      .backend()
      .submit(job)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: "invalid_mount" });
    expect((err as Error).message).toBe(
      `storage_mounts[0].source_uri: ${join(closed, "out")} cannot be reached by the job, which runs as a user of its own: ` +
        `${closed} (mode 0700) lets no other user through; allow it (chmod o+x ${closed}) or name a directory others can reach`,
    );
  });
});

describe.each(HOST.ownUsers ? ["auto"] : [])("a data directory other users cannot reach (%s)", () => {
  it("puts the jobs' own directories in the temporary directory instead, where their users can work", async () => {
    const closed = tempDir("trainkit-closed-");
    chmodSync(closed, 0o700);
    const dataDir = join(closed, "data");
    const serverEnv = {
      PATH: process.env.PATH,
      TRAINKIT_LOCAL_SANDBOX_PATHS: `/usr,/bin,/lib,/lib64,/etc,${NODE_PREFIX}`,
    };
    const backend = new LocalBackend(readLocalSettings(serverEnv), serverEnv, { ...h.ctx, dataDir });
    try {
      expect(backend.workRoot).toMatch(new RegExp(`^${tmpdir()}/trainkit-work-[0-9a-f]{16}$`));
      const job = nodeJob(`require("node:fs").writeFileSync("note.txt", "ok"); console.log(process.cwd())`);
      await backend.submit(job);
      const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"]);
      expect(done.status, done.result?.failure_reason).toBe("COMPLETED");
      expect(readFileSync(join(backend.workRoot!, job.id, "note.txt"), "utf8")).toBe("ok");
    } finally {
      await backend.close();
      rmSync(backend.workRoot!, { recursive: true, force: true });
    }
  });
});

describe("mounts and working directories that try to leave the allowed roots", () => {
  async function refusal(request: Partial<CreateJobRequest<"local">>): Promise<BackendError> {
    const job = localJob({ name: "escape", job_config: { command: ["true"] }, ...request });
    const err = await h
      .backend({}, { protectedPaths: [keyFile()] })
      .submit(job)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).status).toBe(400);
    return err as BackendError;
  }
  const mount = (source_uri: string, read_only = false) => ({
    storage_mounts: [{ source_uri, mount_path: "/mnt/x", read_only }],
  });

  it("refuses .. that leads out, naming the field, where it resolves and the setting", async () => {
    const path = `${h.filesDir}/../../etc`;
    const err = await refusal(mount(path, true));
    expect(err.code).toBe("invalid_mount");
    expect(err.message).toMatch(
      new RegExp(
        `^storage_mounts\\[0\\]\\.source_uri: ${path.replace(/[.]/g, "\\.")} is outside the directories local jobs may use \\(it resolves to /etc\\); .*TRAINKIT_LOCAL_ALLOWED_ROOTS`,
      ),
    );
  });

  it("refuses percent-encoded dots in a file:// URI the same way", async () => {
    const err = await refusal(mount(`file://${h.filesDir}/%2e%2e/%2E%2E/etc`));
    expect(err.message).toContain("(it resolves to /etc)");
  });

  it("refuses a symbolic link that leads out of the allowed roots", async () => {
    symlinkSync("/etc", join(h.filesDir, "to-etc"));
    const err = await refusal(mount(join(h.filesDir, "to-etc", "ssl"), true));
    expect(err.message).toContain("(it resolves to /etc/ssl)");
  });

  it("refuses the data directory, anything in it, a directory holding it, and links into it", async () => {
    symlinkSync(h.dataDir, join(h.filesDir, "to-data"));
    for (const path of [h.dataDir, join(h.dataDir, "local"), join(h.filesDir, "to-data", "db")]) {
      expect((await refusal(mount(path))).message).toContain(`lies in the server's own files (${h.dataDir})`);
    }
    expect((await refusal(mount(tmpdir(), true))).message).toContain("holds the server's own files");
  });

  it("refuses the server's key file", async () => {
    expect((await refusal(mount(secrets, true))).message).toContain(
      `holds the server's own files (${keyFile()})`,
    );
  });

  it("refuses a working_dir outside the allowed roots or in the data directory", async () => {
    const etc = await refusal({ job_config: { command: ["true"], working_dir: "/etc" } });
    expect(etc.code).toBe("invalid_working_dir");
    expect(etc.message).toMatch(
      /^job_config\.working_dir: \/etc is outside the directories local jobs may use/,
    );
    const own = await refusal({ job_config: { command: ["true"], working_dir: join(h.dataDir, "local") } });
    expect(own.message).toContain("lies in the server's own files");
  });

  it("accepts a mount under a root named in TRAINKIT_LOCAL_ALLOWED_ROOTS", async () => {
    const root = tempDir("trainkit-root-");
    chmodSync(root, 0o755);
    const backend = h.backend({ TRAINKIT_LOCAL_ALLOWED_ROOTS: root });
    const job = localJob({
      name: "allowed",
      job_config: { command: ["true"] },
      storage_mounts: [{ source_uri: join(root, "out"), mount_path: "/mnt/out" }],
    });
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"]);
    expect(done.status, done.result?.failure_reason).toBe("COMPLETED");
    const outside = localJob({
      name: "outside",
      job_config: { command: ["true"] },
      storage_mounts: [{ source_uri: join(h.filesDir, "out"), mount_path: "/mnt/out" }],
    });
    await expect(backend.submit(outside)).rejects.toThrow(/is outside the directories local jobs may use/);
  });
});
