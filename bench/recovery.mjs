// Time from a preemption to the next attempt's start on the `local` backend, against the time from
// a fresh submission to its start (the baseline), and the native calls one recovery costs, on the
// local backend and on each cloud backend against its counting loopback stand-in. Run after
// `npm run build`:
//
//   node bench/recovery.mjs [--restarts 20] [--reconcile-ms 200] [--cloud-recoveries 5]
//
// One job with `retry_policy.backoff_seconds: 0` runs a process that waits to be killed; the bench
// plays a spot VM's shutdown by sending SIGTERM to that process from outside the server, as often
// as --restarts says, and reads each attempt's start from the job's `attempts`. The local backend's
// native calls (supervisor launches) are counted from its job directories.
//
// For vertex-ai, sagemaker, azure-ml and kubernetes, the real Train API (loaded from the sources
// through tsx, with the test suite's stand-ins, test/helpers/cloud-train-api.ts) runs one job per
// backend under a retry policy; the bench ends each attempt with that cloud's preemption signal
// (as test/backends/cloud-recovery.test.ts does) and counts the requests the stand-in received from
// the preemption until the next attempt's native job is recorded. The count includes the reads the
// reconciler makes meanwhile (polls, list syncs), which depend on its intervals; the submission
// calls are shown apart.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../packages/server/dist/server/index.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RESTARTS = arg("restarts", 20);
const RECONCILE_MS = arg("reconcile-ms", 200);
const CLOUD_RECOVERIES = arg("cloud-recoveries", 5);

const dataDir = mkdtempSync(join(tmpdir(), "trainkit-bench-recovery-"));
const apiKey = `tk_bench_${randomBytes(12).toString("hex")}`;
const auth = { "x-api-key": apiKey, "x-selected-account-id": "acct-1" };
const headers = { ...auth, "content-type": "application/json" };
const api = await startServer({
  host: "127.0.0.1",
  port: 0,
  dataDir,
  apiKeys: { [apiKey]: ["acct-1"] },
  reconcileIntervalMs: RECONCILE_MS,
  env: { PATH: process.env.PATH, HOME: process.env.HOME },
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const get = async (id) => (await fetch(`${api.url}/v1/jobs/${id}`, { headers: auth })).json();
async function until(id, test) {
  for (;;) {
    const job = await get(id);
    if (test(job)) return job;
    await sleep(5);
  }
}
/** When the process of the job's current attempt started, from its supervisor's record. */
async function processStart(job) {
  const file = join(job.cloud_job_identifier.job_dir, "status.json");
  for (;;) {
    if (existsSync(file)) {
      const status = JSON.parse(readFileSync(file, "utf8"));
      if (status.process && status.started_at) return status;
    }
    await sleep(5);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const fresh = [];
  const recovery = [];
  const body = {
    name: "bench-recovery",
    job_config: { command: [process.execPath, "-e", "setTimeout(() => {}, 600000)"] },
    retry_policy: { max_restarts: RESTARTS, on: ["preemption"], backoff_seconds: 0 },
  };
  // Baseline: fresh submissions, POST to the process running.
  for (let i = 0; i < RESTARTS; i++) {
    const posted = Date.now();
    const res = await fetch(`${api.url}/v1/local/jobs`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });
    const job = await res.json();
    const started = await processStart(await until(job.id, (j) => j.cloud_job_identifier !== null));
    fresh.push(Date.parse(started.started_at) - posted);
    await fetch(`${api.url}/v1/jobs/${job.id}/cancel`, { method: "POST", headers: auth });
    await until(job.id, (j) => j.status === "CANCELED");
  }
  const res = await fetch(`${api.url}/v1/local/jobs`, {
    method: "POST",
    headers,
    body: JSON.stringify(body),
  });
  const { id } = await res.json();
  for (let n = 0; n < RESTARTS; n++) {
    const running = await until(id, (j) => j.restarts === n && j.cloud_job_identifier !== null);
    const status = await processStart(running);
    const killedAt = Date.now();
    process.kill(status.process.pid, "SIGTERM");
    const next = await until(id, (j) => j.restarts === n + 1 && j.cloud_job_identifier !== null);
    const started = await processStart(next);
    recovery.push(Date.parse(started.started_at) - killedAt);
  }
  const final = await get(id);
  await fetch(`${api.url}/v1/jobs/${id}/cancel`, { method: "POST", headers: auth });
  const launches = readdirSync(join(dataDir, "local")).filter(
    (d) => d.startsWith(id) && existsSync(join(dataDir, "local", d, "launch.json")),
  ).length;

  const m = median(recovery);
  const b = median(fresh);
  console.log(`local backend, reconcile interval ${RECONCILE_MS} ms, ${RESTARTS} preemptions`);
  console.log(
    `  preemption -> next attempt's process started: median ${m} ms (min ${Math.min(...recovery)}, max ${Math.max(...recovery)})`,
  );
  console.log(`  baseline, POST -> first attempt's process started: median ${b} ms`);
  console.log(`  ratio recovery / fresh submission: ${(m / b).toFixed(2)}`);
  console.log(
    `  restarts recorded: ${final.restarts}; supervisor launches for the job: ${launches} (${((launches - 1) / RESTARTS).toFixed(2)} per recovery)`,
  );
} finally {
  await api.close();
  rmSync(dataDir, { recursive: true, force: true });
}

// The cloud part loads the Train API and the stand-ins from the TypeScript sources, so it runs in
// its own process under tsx's loader.
execFileSync(
  process.execPath,
  [
    "--import",
    "tsx",
    fileURLToPath(new URL("./lib/recovery-clouds.mjs", import.meta.url)),
    "--reconcile-ms",
    String(RECONCILE_MS),
    "--cloud-recoveries",
    String(CLOUD_RECOVERIES),
  ],
  { stdio: "inherit" },
);
