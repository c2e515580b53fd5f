import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { liveGroupMembers } from "../../src/server/backends/local/proc";
import {
  LocalHarness,
  nodeJob,
  pidExists,
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

// The job starts a child of its own, so that "the whole group is gone" covers more than the main process.
const WITH_GRANDCHILD = `
  const { spawn } = require("node:child_process");
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  console.log("grandchild " + child.pid);
  setInterval(() => {}, 1000);
`;

// Grandchildren are re-parented to pid 1 when the job's main process dies; where pid 1 does not reap
// (minimal containers) they linger as zombies, which `kill(pid, 0)` still finds. The group check
// therefore reads /proc and counts only processes that still run.
describe("local backend: cancel", () => {
  it("stops a running job with SIGTERM, reports CANCELED and leaves no process of its group running", async () => {
    const backend = h.backend();
    const job = nodeJob(WITH_GRANDCHILD);
    await backend.submit(job);
    const status = await runningStatus(backend, job.id);
    await waitUntil(async () => {
      const line = (await backend.logs(job, { stream: "stdout", tail: 1 })).lines[0];
      return line?.startsWith("grandchild ");
    }, "the grandchild to start");
    // The grandchild's pid as printed is the one of the job's pid namespace when it runs in a
    // sandbox, so the group is counted instead: the main process and the grandchild at least.
    expect(liveGroupMembers(status.process.pid)).toContain(status.process.pid);
    expect(liveGroupMembers(status.process.pid).length).toBeGreaterThanOrEqual(2);

    await backend.cancel(job);
    const done = await pollUntil(backend, job, ["CANCELED", "FAILED", "COMPLETED"], 10_000);
    expect(done).toMatchObject({ status: "CANCELED", result: { failure_reason: "canceled on request" } });
    expect(pidExists(status.process.pid)).toBe(false);
    expect(liveGroupMembers(status.process.pid)).toEqual([]);
  });

  it("kills a job that ignores SIGTERM with SIGKILL once the grace period is over", async () => {
    const backend = h.backend({ TRAINKIT_LOCAL_CANCEL_GRACE_SECONDS: "1" });
    const job = nodeJob(
      `process.on("SIGTERM", () => console.log("ignoring SIGTERM")); console.log("ready"); setInterval(() => {}, 1000)`,
    );
    await backend.submit(job);
    const status = await runningStatus(backend, job.id);
    const stdout = async () => (await backend.logs(job, { stream: "stdout", tail: 5 })).lines;
    await waitUntil(async () => (await stdout()).includes("ready"), "the job to install its SIGTERM handler");

    await backend.cancel(job);
    await waitUntil(async () => (await stdout()).includes("ignoring SIGTERM"), "the job to receive SIGTERM");
    expect((await backend.poll(job)).status).toBe("IN_PROGRESS");
    expect(liveGroupMembers(status.process.pid)).toContain(status.process.pid);

    const done = await pollUntil(backend, job, ["CANCELED", "FAILED", "COMPLETED"], 10_000);
    expect(done.status).toBe("CANCELED");
    expect(liveGroupMembers(status.process.pid)).toEqual([]);
  });

  it("reports CANCELED when cancel comes before the supervisor has started the job", async () => {
    const backend = h.backend();
    const job = nodeJob("setInterval(() => {}, 1000)");
    await backend.submit(job);
    await backend.cancel(job);
    const done = await pollUntil(backend, job, ["CANCELED", "FAILED", "COMPLETED"], 10_000);
    expect(done.status).toBe("CANCELED");
  });

  it("leaves a job that already completed COMPLETED", async () => {
    const backend = h.backend();
    const job = nodeJob("0");
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    await backend.cancel(job);
    expect((await backend.poll(job)).status).toBe("COMPLETED");
  });
});
