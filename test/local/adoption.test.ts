import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jobFile, type LaunchRecord } from "../../src/server/backends/local/files";
import {
  isRunning,
  liveGroupMembers,
  processStartTime,
  signalGroup,
} from "../../src/server/backends/local/proc";
import type { SubmitResult } from "../../src/server/backends/types";
import {
  afterSubmit,
  LocalHarness,
  localJob,
  NODE_PREFIX,
  nodeJob,
  pollUntil,
  runningStatus,
  waitUntil,
} from "../helpers/local-harness";

/** The backend's sources, loaded by a separate Node process through the tsx loader. */
const LOCAL_BACKEND_SOURCE = join(__dirname, "../../src/server/backends/local/index.ts");

let h: LocalHarness;
beforeEach(() => {
  h = new LocalHarness();
});
afterEach(async () => {
  await h.dispose();
});

/** A job that appends one line to `marker` (in the files mount) each time it starts, then runs for `ms`. */
function countedJob(marker: string, ms: number) {
  return localJob({
    name: "counted",
    job_config: {
      command: [
        process.execPath,
        "-e",
        `require("node:fs").appendFileSync(${JSON.stringify(marker)}, "started\\n"); setTimeout(() => {}, ${ms})`,
      ],
    },
    storage_mounts: [h.filesMount()],
  });
}

describe("local backend: adopting jobs after a restart", () => {
  it("lets a fresh instance over the same data directory follow a job another instance started to COMPLETED", async () => {
    const first = h.backend();
    const job = nodeJob("setTimeout(() => {}, 500)");
    const submitted = afterSubmit(job, await first.submit(job));
    await first.close();

    const second = h.backend();
    expect((await second.poll(submitted)).status).toBe("IN_PROGRESS");
    expect(await pollUntil(second, submitted, ["COMPLETED", "FAILED"])).toMatchObject({
      status: "COMPLETED",
    });
  });

  it("answers a second submit of the same job with the first launch and starts no second process", async () => {
    const marker = join(h.filesDir, "starts.txt");
    const first = h.backend();
    const job = countedJob(marker, 400);
    const one = await first.submit(job);
    const again = await first.submit(job);
    const fromFresh = await h.backend().submit(job);
    expect(again.cloudJobIdentifier).toEqual(one.cloudJobIdentifier);
    expect(fromFresh.cloudJobIdentifier).toEqual(one.cloudJobIdentifier);
    await pollUntil(first, job, ["COMPLETED"]);
    expect(readFileSync(marker, "utf8")).toBe("started\n");
  });

  it("does not start a job again when it is submitted after it has ended", async () => {
    const marker = join(h.filesDir, "starts.txt");
    const backend = h.backend();
    const job = countedJob(marker, 0);
    await backend.submit(job);
    await pollUntil(backend, job, ["COMPLETED"]);
    const late: SubmitResult = await h.backend().submit(job);
    expect(late.status).toBe("IN_PROGRESS");
    expect((await backend.poll(job)).status).toBe("COMPLETED");
    expect(readFileSync(marker, "utf8")).toBe("started\n");
  });

  it("keeps the job running when the server process that submitted it is SIGKILLed, and a new server sees it complete", async () => {
    const done = join(h.filesDir, "done.txt");
    const job = localJob({
      name: "trains",
      job_config: {
        command: [
          process.execPath,
          "-e",
          `setTimeout(() => require("node:fs").writeFileSync(${JSON.stringify(done)}, "trained"), 1000)`,
        ],
      },
      storage_mounts: [h.filesMount()],
    });
    const server = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `
        const { localBackend } = require(${JSON.stringify(LOCAL_BACKEND_SOURCE)});
        const quiet = { info() {}, warn() {}, error() {} };
        const { backend } = localBackend(process.env, { dataDir: process.argv[1], notify() {}, log: quiet });
        backend.submit(JSON.parse(process.argv[2])).then((r) => {
          process.stdout.write(JSON.stringify(r) + "\\n");
          setInterval(() => {}, 1000);
        });
        `,
        h.dataDir,
        JSON.stringify(job),
      ],
      {
        env: {
          PATH: process.env.PATH,
          TRAINKIT_LOCAL_SANDBOX_PATHS: `/usr,/bin,/lib,/lib64,/etc,${NODE_PREFIX}`,
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const [line] = (await once(server.stdout!, "data")) as [Buffer];
    const submitted = afterSubmit(job, JSON.parse(line.toString()) as SubmitResult);
    server.kill("SIGKILL");
    await once(server, "exit");
    expect(existsSync(done)).toBe(false);

    const restarted = h.backend();
    expect((await restarted.poll(submitted)).status).toBe("IN_PROGRESS");
    expect((await pollUntil(restarted, submitted, ["COMPLETED", "FAILED"])).status).toBe("COMPLETED");
    expect(readFileSync(done, "utf8")).toBe("trained");
  });
});

describe("local backend: jobs whose processes are gone", () => {
  it("reports FAILED 'process gone' when the supervisor and the job were killed without a record", async () => {
    const backend = h.backend();
    const job = nodeJob("setInterval(() => {}, 1000)");
    const submitted = afterSubmit(job, await backend.submit(job));
    const status = await runningStatus(backend, job.id);
    process.kill(status.supervisor.pid, "SIGKILL");
    signalGroup(status.process.pid, "SIGKILL");
    const done = await pollUntil(backend, submitted, ["FAILED", "COMPLETED", "CANCELED"]);
    expect(done.status).toBe("FAILED");
    expect(done.result?.failure_reason).toMatch(
      new RegExp(
        `^process gone: its process \\(pid ${status.process.pid}\\) and supervisor \\(pid ${status.supervisor.pid}\\)`,
      ),
    );
  });

  it("reports FAILED 'process gone' for a launch record whose pid now belongs to another process", async () => {
    const backend = h.backend();
    const job = localJob({ name: "rebooted", job_config: { command: ["true"] } });
    const dir = backend.jobDir(job.id);
    mkdirSync(dir, { recursive: true });
    // After a reboot the recorded pid can be reused; here it is this very test process, started at another time.
    const launch: LaunchRecord = {
      supervisor: { pid: process.pid, start_time: "1" },
      launched_at: "2020-01-01T00:00:00.000Z",
    };
    writeFileSync(jobFile(dir, "launch"), JSON.stringify(launch));
    expect(processStartTime(process.pid)).not.toBe("1");
    const result = await h.backend().poll(job);
    expect(result.status).toBe("FAILED");
    expect(result.result?.failure_reason).toMatch(
      /^process gone: its supervisor \(pid \d+\) stopped running/,
    );
  });

  it("reports FAILED 'process gone' for a job this data directory has no record of starting", async () => {
    const result = await h.backend().poll(localJob({ name: "unknown", job_config: { command: ["true"] } }));
    expect(result.status).toBe("FAILED");
    expect(result.result?.failure_reason).toMatch(
      /^process gone: there is no record of this job being started here/,
    );
  });

  it("keeps reporting IN_PROGRESS for a job whose supervisor was killed while the job itself still runs", async () => {
    const backend = h.backend();
    const job = nodeJob("setInterval(() => {}, 1000)");
    await backend.submit(job);
    const status = await runningStatus(backend, job.id);
    process.kill(status.supervisor.pid, "SIGKILL");
    await waitUntil(() => !isRunning(status.supervisor), "the supervisor to die");
    expect((await backend.poll(job)).status).toBe("IN_PROGRESS");
    // In a sandbox the group also holds the sandbox's own processes.
    expect(liveGroupMembers(status.process.pid)).toContain(status.process.pid);
  });

  it("cancels a job whose supervisor was killed by signalling its process group directly", async () => {
    const backend = h.backend();
    const job = nodeJob("setInterval(() => {}, 1000)");
    await backend.submit(job);
    const status = await runningStatus(backend, job.id);
    process.kill(status.supervisor.pid, "SIGKILL");
    await waitUntil(() => !isRunning(status.supervisor), "the supervisor to die");
    await backend.cancel(job);
    expect((await pollUntil(backend, job, ["CANCELED", "FAILED"])).status).toBe("CANCELED");
    expect(liveGroupMembers(status.process.pid)).toEqual([]);
  });
});
