import { existsSync, mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BackendError } from "../../src/server/backends/types";
import { LocalHarness, localJob, pollUntil, withinWatchdog } from "../helpers/local-harness";

let h: LocalHarness;
beforeEach(() => {
  h = new LocalHarness();
});
afterEach(async () => {
  await h.dispose();
});

function writableMountJob(sourceUri: string) {
  return localJob({
    name: "mount",
    job_config: { command: [process.execPath, "-e", "console.log(process.env.STORAGE_MOUNT_0_PATH)"] },
    storage_mounts: [{ source_uri: sourceUri, mount_path: "/mnt/out" }],
  });
}

async function submitError(sourceUri: string): Promise<BackendError> {
  const backend = h.backend();
  const err = await withinWatchdog(`submit of a mount at ${sourceUri}`, () =>
    backend.submit(writableMountJob(sourceUri)).then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  expect(err).toBeInstanceOf(BackendError);
  const error = err as BackendError;
  expect(error.status).toBe(400);
  expect(error.code).toBe("invalid_mount");
  return error;
}

describe("local backend: writable mounts in places that cannot hold files", () => {
  it("refuses a writable mount under /proc at once, naming the field, the path and the fix", async () => {
    const path = "/proc/trainkit-checkpoints/run-1";
    const err = await submitError(path);
    expect(err.message).toBe(
      `storage_mounts[0].source_uri: ${path} is under /proc, which the kernel provides and which cannot hold job files; name a directory elsewhere`,
    );
    expect(existsSync(path)).toBe(false);
  });

  it("refuses mounts under /sys and /dev the same way", async () => {
    expect((await submitError("/sys/trainkit/out")).message).toContain("/sys/trainkit/out is under /sys,");
    expect((await submitError("file:///dev/trainkit/out")).message).toContain(
      "/dev/trainkit/out is under /dev,",
    );
    expect(existsSync("/dev/trainkit")).toBe(false);
  });

  it("refuses a path that reaches /proc through a symbolic link, naming the path as given", async () => {
    const link = join(h.filesDir, "proc-link");
    symlinkSync("/proc", link);
    const path = join(link, "trainkit", "out");
    const err = await submitError(path);
    expect(err.message).toBe(
      `storage_mounts[0].source_uri: ${path} is under /proc, which the kernel provides and which cannot hold job files; name a directory elsewhere`,
    );
  });

  it("refuses a writable mount under a dangling symbolic link, naming the path, the link and its target", async () => {
    const link = join(h.filesDir, "dangling");
    const target = join(h.filesDir, "gone");
    symlinkSync(target, link);
    const path = join(link, "a", "b");
    const err = await submitError(path);
    expect(err.message).toBe(
      `storage_mounts[0].source_uri: cannot create ${path}: ${link} is a symbolic link to ${target}, which does not exist; create ${target} or name another directory`,
    );
    expect(existsSync(target)).toBe(false);
  });

  it("refuses a writable mount that is itself a dangling symbolic link", async () => {
    const link = join(h.filesDir, "dangling");
    const target = join(h.filesDir, "gone");
    symlinkSync(target, link);
    const err = await submitError(`file://${link}`);
    expect(err.message).toBe(
      `storage_mounts[0].source_uri: cannot create ${link}: ${link} is a symbolic link to ${target}, which does not exist; create ${target} or name another directory`,
    );
  });

  it("refuses a writable mount below a file, naming the file", async () => {
    const file = join(h.filesDir, "stray.txt");
    writeFileSync(file, "x");
    const path = join(file, "out");
    const err = await submitError(path);
    expect(err.message).toBe(
      `storage_mounts[0].source_uri: cannot create ${path}: ${file} exists but is not a directory; name a directory`,
    );
  });
});

describe("local backend: writable mounts that do not exist yet", () => {
  it("creates every missing level of a nested writable mount and runs the job with it", async () => {
    const backend = h.backend();
    const path = join(h.filesDir, "a", "b", "c");
    const job = writableMountJob(`file://${path}`);
    await withinWatchdog("submit of a nested mount", () => backend.submit(job));
    expect(statSync(path).isDirectory()).toBe(true);
    const done = await pollUntil(backend, job, ["COMPLETED", "FAILED"]);
    expect(done).toMatchObject({ status: "COMPLETED", result: { exit_code: 0 } });
    expect((await backend.logs(job, { stream: "stdout", tail: 1 })).lines).toEqual([path]);
  });

  it("creates a missing writable mount reached through a symbolic link to a real directory", async () => {
    const backend = h.backend();
    const real = join(h.filesDir, "real");
    mkdirSync(real);
    const link = join(h.filesDir, "link");
    symlinkSync(real, link);
    const job = writableMountJob(join(link, "x", "y"));
    await withinWatchdog("submit of a mount through a symlink", () => backend.submit(job));
    expect(statSync(join(real, "x", "y")).isDirectory()).toBe(true);
    expect((await pollUntil(backend, job, ["COMPLETED", "FAILED"])).status).toBe("COMPLETED");
  });
});
