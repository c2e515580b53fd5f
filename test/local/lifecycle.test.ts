import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { linesFrom } from "../../src/server/backends/local/logs";
import { isRunning } from "../../src/server/backends/local/proc";
import { BackendError } from "../../src/server/backends/types";
import {
  afterSubmit,
  LocalHarness,
  localJob,
  nodeJob,
  pollUntil,
  runningStatus,
  waitUntil,
} from "../helpers/local-harness";

let h: LocalHarness;
beforeEach(() => {
  h = new LocalHarness();
});
afterEach(async () => {
  await h.dispose();
});

describe("local backend: a job that runs to its end", () => {
  it("reports IN_PROGRESS right after submit and COMPLETED with exit code 0 once the process exits 0", async () => {
    const backend = h.backend();
    const job = nodeJob("setTimeout(() => {}, 300)");
    const submitted = await backend.submit(job);
    expect(submitted.status).toBe("IN_PROGRESS");
    expect(submitted.cloudJobIdentifier.job_dir).toBe(join(h.dataDir, "local", job.id));
    expect((await backend.poll(afterSubmit(job, submitted))).status).toBe("IN_PROGRESS");
    const done = await pollUntil(backend, afterSubmit(job, submitted), ["COMPLETED", "FAILED"]);
    expect(done).toMatchObject({ status: "COMPLETED", result: { exit_code: 0 } });
  });

  it("reports FAILED with the exit code and the last stderr lines when the process exits non-zero", async () => {
    const backend = h.backend();
    const lines = Array.from({ length: 30 }, (_, i) => `console.error("trace line ${i + 1}")`).join(";");
    const job = nodeJob(`${lines}; console.error("ValueError: lr must be positive"); process.exit(3)`);
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"]);
    expect(done.status).toBe("FAILED");
    expect(done.result?.exit_code).toBe(3);
    const reason = done.result?.failure_reason ?? "";
    expect(reason.startsWith("exited with code 3")).toBe(true);
    expect(reason).toContain("ValueError: lr must be positive");
    expect(reason).toContain("trace line 30");
    expect(reason).not.toContain("trace line 5\n");
    expect(reason.split("\n").length).toBeLessThanOrEqual(21);
  });

  it("bounds the stderr excerpt in failure_reason to 4 KB however long the lines are", async () => {
    const backend = h.backend();
    const job = nodeJob(`for (let i = 0; i < 5; i++) console.error("x".repeat(3000)); process.exit(1)`);
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["FAILED"]);
    expect(done.result?.failure_reason?.length).toBeLessThan(4200);
  });

  it("reports FAILED naming the program when the command cannot be started", async () => {
    const backend = h.backend();
    const job = localJob({ name: "missing", job_config: { command: ["no-such-program-trainkit"] } });
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["FAILED", "COMPLETED"]);
    expect(done.status).toBe("FAILED");
    expect(done.result?.failure_reason).toMatch(
      /could not start the job: .*no-such-program-trainkit.*ENOENT/,
    );
  });

  it("reports EXPIRED and stops the process once timeout_seconds has passed", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "0.5" });
    const job = nodeJob("setTimeout(() => {}, 60000)", { timeout_seconds: 0.5 });
    await backend.submit(job);
    const done = await pollUntil(backend, job, ["EXPIRED", "FAILED", "COMPLETED"], 10_000);
    expect(done.status).toBe("EXPIRED");
    expect(done.result?.failure_reason).toBe("ran longer than timeout_seconds (0.5) and was stopped");
  });

  it("lets a job with a timeout longer than Node's longest timer (about 24.8 days) run to its end", async () => {
    const backend = h.backend();
    const job = nodeJob("setTimeout(() => {}, 300)", { timeout_seconds: 3_000_000 });
    await backend.submit(job);
    expect((await pollUntil(backend, job, ["COMPLETED", "EXPIRED", "FAILED"])).status).toBe("COMPLETED");
  });

  it("calls notify with the job id as soon as the job's process ends", async () => {
    const backend = h.backend();
    const job = nodeJob("process.exit(0)");
    await backend.submit(job);
    await waitUntil(() => h.notified.includes(job.id), "notify");
    expect(h.notified).toEqual([job.id]);
  });
});

describe("local backend: close", () => {
  it("stops watching on close but leaves running jobs running", async () => {
    const backend = h.backend();
    const job = nodeJob("setTimeout(() => {}, 500)");
    await backend.submit(job);
    const status = await runningStatus(backend, job.id);
    await backend.close();
    expect(isRunning(status.process)).toBe(true);
    expect(isRunning(status.supervisor)).toBe(true);
    expect((await pollUntil(h.backend(), job, ["COMPLETED", "FAILED"])).status).toBe("COMPLETED");
  });
});

describe("local backend: the job's environment", () => {
  it("hides the server's variables from the job, such as TRAINKIT_API_KEYS", async () => {
    const backend = h.backend({
      TRAINKIT_API_KEYS: '{"secret-key":["acct"]}',
      DATABASE_URL: "postgres://u:p@h/db",
    });
    const job = nodeJob("console.log(JSON.stringify(process.env))");
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    const env = JSON.parse((await backend.logs(job, { stream: "stdout", tail: 1 })).lines[0] ?? "{}");
    expect(env.TRAINKIT_API_KEYS).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.PATH).toBe(process.env.PATH);
  });

  it("passes the job's env and one STORAGE_MOUNT_<i>_PATH per mount, creating writable mounts", async () => {
    const backend = h.backend();
    const input = join(h.filesDir, "in");
    const output = join(h.filesDir, "nested", "out");
    mkdirSync(input);
    const job = localJob({
      name: "mounts",
      job_config: {
        command: [process.execPath, "-e", "console.log(JSON.stringify(process.env))"],
        env: { LEARNING_RATE: "0.1" },
      },
      storage_mounts: [
        { source_uri: `file://${input}`, mount_path: "/mnt/in", read_only: true },
        { source_uri: output, mount_path: "/mnt/out" },
      ],
    });
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    const env = JSON.parse((await backend.logs(job, { stream: "stdout", tail: 1 })).lines[0] ?? "{}");
    expect(env).toMatchObject({
      LEARNING_RATE: "0.1",
      STORAGE_MOUNT_0_PATH: input,
      STORAGE_MOUNT_1_PATH: output,
    });
    expect(existsSync(output)).toBe(true);
  });

  it("refuses a read-only mount whose directory does not exist, naming the field and the path", async () => {
    const backend = h.backend();
    const missing = join(h.filesDir, "absent");
    const job = localJob({
      name: "ro",
      job_config: { command: ["true"] },
      storage_mounts: [{ source_uri: missing, mount_path: "/mnt/in", read_only: true }],
    });
    const err = await backend.submit(job).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).status).toBe(400);
    expect((err as BackendError).message).toBe(
      `storage_mounts[0].source_uri: ${missing} does not exist; a read-only mount must name an existing directory`,
    );
  });

  it("refuses a working_dir that does not exist, naming the field and the fix", async () => {
    const backend = h.backend();
    const missing = join(h.filesDir, "nowhere");
    const job = localJob({ name: "cwd", job_config: { command: ["true"], working_dir: missing } });
    await expect(backend.submit(job)).rejects.toThrow(
      `job_config.working_dir: ${missing} is not an existing directory; create it or name another`,
    );
  });

  it("runs the job in working_dir when given and in a fresh directory of its own otherwise", async () => {
    const backend = h.backend();
    const given = localJob({
      name: "cwd",
      job_config: {
        command: [process.execPath, "-e", "console.log(process.cwd())"],
        working_dir: h.filesDir,
      },
    });
    const own = nodeJob("console.log(process.cwd())");
    await backend.submit(given);
    await backend.submit(own);
    await pollUntil(backend, given, ["COMPLETED"]);
    await pollUntil(backend, own, ["COMPLETED"]);
    expect((await backend.logs(given, { stream: "stdout", tail: 1 })).lines).toEqual([h.filesDir]);
    // A job of its own user cannot reach into the data directory, so its directory lies beside it.
    expect((await backend.logs(own, { stream: "stdout", tail: 1 })).lines).toEqual([
      backend.isolation.ownUsers
        ? join(`${h.dataDir}-work`, own.id)
        : join(h.dataDir, "local", own.id, "work"),
    ]);
  });
});

describe("local backend: logs", () => {
  it("returns the last N lines of the chosen stream", async () => {
    const backend = h.backend();
    const job = nodeJob(`for (let i = 1; i <= 500; i++) console.log("out " + i); console.error("err only")`);
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    expect(await backend.logs(job, { stream: "stdout", tail: 3 })).toEqual({
      job_id: job.id,
      stream: "stdout",
      lines: ["out 498", "out 499", "out 500"],
      next_cursor: expect.any(String),
    });
    expect((await backend.logs(job, { stream: "stderr", tail: 100 })).lines).toEqual(["err only"]);
    expect(readFileSync(join(h.dataDir, "local", job.id, "stdout.log"), "utf8").split("\n")).toHaveLength(
      501,
    );
  });

  it("reads from a cursor at most tail lines, each once, and continues where it stopped", async () => {
    const backend = h.backend();
    const job = nodeJob(`for (let i = 1; i <= 25; i++) console.log("out " + i)`);
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    const start = (await backend.logs(job, { stream: "stdout", tail: 20 })).next_cursor!;
    const seen: string[] = [];
    let cursor = start;
    for (let read = 0; read < 5; read++) {
      const page = await backend.logs(job, { stream: "stdout", tail: 2, cursor });
      expect(page.lines.length).toBeLessThanOrEqual(2);
      seen.push(...page.lines);
      cursor = page.next_cursor!;
    }
    expect(seen).toEqual([]);
    // From the start of the file: a cursor at offset 0, as the API encodes it.
    cursor = Buffer.from(JSON.stringify({ offset: 0 })).toString("base64url");
    for (let read = 0; read < 20 && seen.length < 25; read++) {
      const page = await backend.logs(job, { stream: "stdout", tail: 7, cursor });
      expect(page.lines.length).toBeLessThanOrEqual(7);
      seen.push(...page.lines);
      cursor = page.next_cursor!;
    }
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `out ${i + 1}`));
    expect(cursor).toBe(start);
  });

  it("holds back a line still being written until its newline arrives", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trainkit-lines-"));
    const file = join(dir, "out.log");
    writeFileSync(file, "whole\npart");
    const first = linesFrom(file, 0, 100, 1024);
    expect(first.lines).toEqual(["whole"]);
    appendFileSync(file, "ial\n");
    expect(linesFrom(file, first.end, 100, 1024).lines).toEqual(["partial"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns no lines for a job that has written nothing", async () => {
    const backend = h.backend();
    const job = nodeJob("0");
    expect((await backend.logs(job, { stream: "stderr", tail: 10 })).lines).toEqual([]);
  });
});
