// What one TrainingJob costs the Train API and the user, in one run. Run after `npm run build`:
//
//   node bench/job.mjs [--job-seconds 10] [--runs 3] [--jobs 500]
//
// 1. HTTP requests per lifecycle: the provider's `create` with waitFor `completed` for a local job
//    that runs --job-seconds, counted at a loopback proxy in front of a real Train API (embedded
//    store, local backend, default reconcile interval). Baseline: polling once a second, the
//    simplest loop a user would write.
// 2. Delay from the job's end to `create` returning: from the moment the job's process exits (it
//    writes the time as its last act) and from the moment the API records COMPLETED (updated_at).
// 3. check + diff of --jobs TrainingJobs across all backends, no network, against the baseline of
//    validating the same request bodies with the schema alone.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { TrainingJobProvider } from "../dist/job/provider.js";
import { startServer } from "../packages/server/dist/server/index.js";
import { CREATE_JOB_REQUESTS } from "../dist/spec/index.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const JOB_SECONDS = arg("job-seconds", 10);
const RUNS = arg("runs", 3);
const JOBS = arg("jobs", 500);

/** A pass-through proxy that counts requests by method and route. */
async function countingProxy(upstream) {
  const counts = new Map();
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const route = `${req.method} ${req.url.replace(/[0-9a-f-]{36}/, "{id}")}`;
    counts.set(route, (counts.get(route) ?? 0) + 1);
    const forward = http.request(
      {
        hostname: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function lifecycles() {
  const dataDir = mkdtempSync(join(tmpdir(), "trainkit-bench-job-"));
  const apiKey = `tk_bench_${randomBytes(12).toString("hex")}`;
  const api = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    apiKeys: { [apiKey]: ["acct-1"] },
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  const proxy = await countingProxy(api.url);
  const provider = new TrainingJobProvider();
  await provider.configure({ config: { get: () => undefined } });
  const results = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      proxy.counts.clear();
      const endFile = join(dataDir, `end-${run}`);
      const script = `setTimeout(() => require("fs").writeFileSync(${JSON.stringify(endFile)}, String(Date.now())), ${JOB_SECONDS * 1000})`;
      const inputs = {
        backend: "local",
        name: `bench-${run}`,
        jobConfig: { command: [process.execPath, "-e", script] },
        apiUrl: proxy.url,
        apiKey,
        accountId: "acct-1",
        waitFor: "completed",
      };
      const checked = await provider.check({}, inputs);
      const created = await provider.create(checked.inputs);
      const returnedAt = Date.now();
      const processEnd = Number(readFileSync(endFile, "utf8"));
      const recorded = Date.parse(created.outs.updatedAt);
      const requests = [...proxy.counts.values()].reduce((a, b) => a + b, 0);
      results.push({
        status: created.outs.status,
        requests,
        routes: Object.fromEntries(proxy.counts),
        fromExitMs: returnedAt - processEnd,
        fromRecordedMs: returnedAt - recorded,
        apiLagMs: recorded - processEnd,
      });
    }
  } finally {
    await proxy.close();
    await api.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

function specs(n) {
  const makers = [
    (i) => ({
      backend: "vertex-ai",
      jobConfig: {
        worker_pool_specs: [
          {
            machine_spec: {
              machine_type: "g2-standard-8",
              accelerator_type: "NVIDIA_L4",
              accelerator_count: 1,
            },
            replica_count: 1 + (i % 4),
            container_spec: { image_uri: "registry.example/train:v1", command: ["python3", "train.py"] },
          },
        ],
      },
      storageMounts: [{ sourceUri: `gs://bucket/data-${i}`, mountPath: "/mnt/data", readOnly: true }],
    }),
    (i) => ({
      backend: "sagemaker",
      jobConfig: {
        image: "img:1",
        resource_config: { instance_count: 1 + (i % 2), instance_type: "ml.g5.xlarge" },
        hyperparameters: { lr: "0.001", seed: String(i) },
      },
      storageMounts: [{ sourceUri: `s3://bucket/data-${i}`, mountPath: "/mnt/data" }],
    }),
    (i) => ({
      backend: "azure-ml",
      jobConfig: {
        command: `python train.py --seed ${i}`,
        environment: { image: "img:1" },
        compute: "gpu-cluster",
      },
    }),
    (i) => ({
      backend: "kubernetes",
      jobConfig: { image: "img:1", args: [`--seed=${i}`], resources: { gpu: 1, memory: "16Gi" } },
      storageMounts: [{ sourceUri: "pvc://datasets/mnist", mountPath: "/data", readOnly: true }],
    }),
    (i) => ({ backend: "local", jobConfig: { command: ["python3", "train.py"], args: [`--seed=${i}`] } }),
  ];
  return Array.from({ length: n }, (_, i) => ({
    name: `job-${i}`,
    apiUrl: "http://127.0.0.1:9",
    apiKey: "k",
    accountId: "a",
    ...makers[i % makers.length](i),
  }));
}

async function checkAndDiff() {
  const provider = new TrainingJobProvider();
  await provider.configure({ config: { get: () => undefined } });
  const jobs = specs(JOBS);
  const requests = jobs.map((j) => ({
    backend: j.backend,
    body: {
      name: j.name,
      job_config: j.jobConfig,
      storage_mounts: (j.storageMounts ?? []).map((m) => ({
        source_uri: m.sourceUri,
        mount_path: m.mountPath,
        read_only: m.readOnly,
      })),
    },
  }));
  const schemaOnly = () => {
    for (const r of requests) CREATE_JOB_REQUESTS[r.backend].parse(r.body);
  };
  const olds = [];
  for (const j of jobs)
    olds.push({ ...(await provider.check({}, j)).inputs, jobId: "x", status: "COMPLETED" });
  const provider500 = async () => {
    let failures = 0;
    for (let i = 0; i < jobs.length; i++) {
      const checked = await provider.check(olds[i], jobs[i]);
      failures += checked.failures.length;
      const diff = await provider.diff("x", olds[i], checked.inputs);
      if (diff.changes) failures++;
    }
    if (failures > 0) throw new Error(`${failures} unexpected failures or changes`);
  };
  // Samples alternate between the two so that noise from other work on the machine falls on both.
  await provider500();
  schemaOnly();
  const providerSamples = [];
  const schemaSamples = [];
  for (let r = 0; r < 15; r++) {
    let t = performance.now();
    await provider500();
    providerSamples.push(performance.now() - t);
    t = performance.now();
    schemaOnly();
    schemaSamples.push(performance.now() - t);
  }
  return { providerMs: median(providerSamples), schemaMs: median(schemaSamples) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const runs = RUNS > 0 ? await lifecycles() : [];
if (runs.length > 0) {
  const baselinePolls = JOB_SECONDS + 1;
  console.log(`TrainingJob lifecycle: local job of ${JOB_SECONDS} s, waitFor completed, ${RUNS} runs`);
  for (const r of runs) {
    console.log(
      `  ${r.status}: ${r.requests} HTTP requests ${JSON.stringify(r.routes)}; create returned ` +
        `${r.fromExitMs} ms after the job's process ended, ${r.fromRecordedMs} ms after the API recorded COMPLETED ` +
        `(the API took ${r.apiLagMs} ms to notice)`,
    );
  }
  const requests = median(runs.map((r) => r.requests));
  console.log(
    `  median ${requests} requests per lifecycle vs ${baselinePolls + 1} for a 1 s fixed poll ` +
      `(ratio ${(requests / (baselinePolls + 1)).toFixed(2)})`,
  );
  console.log(
    `  median delay after the process ended ${median(runs.map((r) => r.fromExitMs))} ms; ` +
      `after the API recorded COMPLETED ${median(runs.map((r) => r.fromRecordedMs))} ms`,
  );
}

const { providerMs, schemaMs } = await checkAndDiff();
console.log(`check + diff of ${JOBS} TrainingJobs (5 backends, no network, in process), median of 15:`);
console.log(
  `  provider ${providerMs.toFixed(1)} ms (${((providerMs / JOBS) * 1000).toFixed(0)} µs per job); ` +
    `schema parse alone ${schemaMs.toFixed(1)} ms; ratio ${(providerMs / schemaMs).toFixed(2)}`,
);
