import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Job } from "../../src/spec";
import {
  authHeaders,
  filesDirOf,
  removeDataDir,
  type SpawnedTrainApi,
  spawnTrainApi,
  waitForJob,
} from "../helpers/train-api";

const dirs: string[] = [];
const servers: SpawnedTrainApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill("SIGKILL")));
});
afterAll(() => {
  for (const dir of dirs) removeDataDir(dir);
});

async function spawn(opts: Parameters<typeof spawnTrainApi>[0] = {}): Promise<SpawnedTrainApi> {
  const server = await spawnTrainApi(opts);
  servers.push(server);
  return server;
}

function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-crash-"));
  dirs.push(dir);
  return dir;
}

/** Where the jobs of a test over `dataDir` leave their files. */
const files = (dataDir: string, name: string) => join(filesDirOf(dataDir), name);

async function submit(
  api: SpawnedTrainApi,
  body: unknown,
  key?: string,
): Promise<{ status: number; job: Job }> {
  const res = await fetch(`${api.url}/v1/local/jobs`, {
    method: "POST",
    headers: {
      ...authHeaders(api),
      "content-type": "application/json",
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, job: (await res.json()) as Job };
}

/**
 * A job that appends one line to `startsFile` each time a process of it starts, and then runs until
 * `goFile` exists (when given), so the test decides when it ends.
 */
const countedJob = (name: string, startsFile: string, goFile?: string) => ({
  name,
  // The job's files lie beside the data directory, which no job may reach, and are mounted for it.
  storage_mounts: [{ source_uri: dirname(startsFile), mount_path: "/mnt/files" }],
  job_config: {
    command: [
      "sh",
      "-c",
      `echo started >> ${startsFile}; ${goFile ? `while [ ! -e ${goFile} ]; do sleep 0.1; done;` : ""} echo done`,
    ],
  },
});

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : []);

describe("a server killed with SIGKILL", () => {
  it("finds a running job after the restart, started once, and sees it to COMPLETED", async () => {
    const dataDir = newDataDir();
    const startsFile = files(dataDir, "long-job.starts");
    const goFile = files(dataDir, "long-job.go");
    const first = await spawn({ dataDir });
    const { status, job } = await submit(first, countedJob("long", startsFile, goFile));
    expect(status).toBe(201);
    await waitForJob<Job>(first, job.id, (j) => j.status === "IN_PROGRESS");

    await first.kill("SIGKILL");
    const second = await spawn({ dataDir, apiKey: first.apiKey });
    const after = await waitForJob<Job>(second, job.id, () => true);
    expect(after.id).toBe(job.id);
    expect(after.status).toBe("IN_PROGRESS");

    writeFileSync(goFile, "");
    const done = await waitForJob<Job>(second, job.id, (j) => j.status === "COMPLETED", 30_000);
    expect(done.result?.exit_code).toBe(0);
    expect(lines(startsFile)).toEqual(["started"]);
  });

  it("keeps every job it acknowledged, and submits each exactly once after the restart", async () => {
    const dataDir = newDataDir();
    // One job at a time, so most acknowledged jobs are still waiting unsubmitted when the server dies.
    const env = { TRAINKIT_LOCAL_MAX_CONCURRENT: "1" };
    const first = await spawn({ dataDir, env });
    const acknowledged: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { status, job } = await submit(
        first,
        countedJob(`acked-${i}`, files(dataDir, `acked-${i}.starts`)),
        `acked-${i}`,
      );
      expect(status).toBe(201);
      acknowledged.push(job.id);
    }
    await first.kill("SIGKILL");

    const second = await spawn({ dataDir, apiKey: first.apiKey, env });
    for (const id of acknowledged) {
      const done = await waitForJob<Job>(second, id, (j) => j.status === "COMPLETED", 30_000);
      expect(done.status).toBe("COMPLETED");
    }
    for (let i = 0; i < 4; i++) expect(lines(files(dataDir, `acked-${i}.starts`))).toEqual(["started"]);

    // A client that retries its request after the crash gets the same job back.
    const retried = await submit(second, countedJob("acked-0", files(dataDir, "acked-0.starts")), "acked-0");
    expect(retried.status).toBe(200);
    expect(retried.job.id).toBe(acknowledged[0]);
  });

  it("submits at once, and once, a job whose submit the killed server had claimed", async () => {
    const dataDir = newDataDir();
    const env = { TRAINKIT_LOCAL_MAX_CONCURRENT: "1" };
    const first = await spawn({ dataDir, env });
    const goFile = files(dataDir, "blocker.go");
    const blocker = await submit(first, countedJob("blocker", files(dataDir, "blocker.starts"), goFile));
    await waitForJob<Job>(first, blocker.job.id, (j) => j.status === "IN_PROGRESS");
    const startsFile = files(dataDir, "claimed.starts");
    const { job } = await submit(first, countedJob("claimed", startsFile));
    expect(job.status).toBe("PENDING");
    await first.kill("SIGKILL");

    // What a kill between claiming a submit and recording it leaves: a claim nobody will release.
    // Its lease (over a minute) outlasts the wait below, so only a start that knows the claim is
    // dead gets the job submitted in time.
    const db = await PGlite.create({ dataDir: join(dataDir, "db") });
    const claimed = await db.query(
      "UPDATE jobs SET submit_claimed_at = now(), submit_attempts = submit_attempts + 1 WHERE id = $1 AND submitted_at IS NULL RETURNING id",
      [job.id],
    );
    await db.close();
    expect(claimed.rows).toHaveLength(1);

    const second = await spawn({ dataDir, apiKey: first.apiKey, env });
    writeFileSync(goFile, "");
    const done = await waitForJob<Job>(second, job.id, (j) => j.status === "COMPLETED", 20_000);
    expect(done.status).toBe("COMPLETED");
    expect(lines(startsFile)).toEqual(["started"]);
  });

  it("closes on SIGTERM without stopping the running job, which the next start adopts", async () => {
    const dataDir = newDataDir();
    const startsFile = files(dataDir, "graceful.starts");
    const goFile = files(dataDir, "graceful.go");
    const first = await spawn({ dataDir });
    const { job } = await submit(first, countedJob("graceful", startsFile, goFile));
    await waitForJob<Job>(first, job.id, (j) => j.status === "IN_PROGRESS");
    await first.stop();
    expect(first.child.exitCode).toBe(0);

    const second = await spawn({ dataDir, apiKey: first.apiKey });
    expect((await waitForJob<Job>(second, job.id, () => true)).status).toBe("IN_PROGRESS");
    writeFileSync(goFile, "");
    const done = await waitForJob<Job>(second, job.id, (j) => j.status === "COMPLETED", 30_000);
    expect(done.status).toBe("COMPLETED");
    expect(lines(startsFile)).toEqual(["started"]);
  });
});
