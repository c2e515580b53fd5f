// What reconciling cloud jobs costs against each cloud's quotas, in one run. Run after `npm run build`:
//
//   node bench/reconcile.mjs [--jobs 1000] [--pace 600] [--pace-seconds 20]
//
// 1. Native calls per minute per 1,000 tracked jobs for the vertex-ai, sagemaker and kubernetes
//    backends: one read per job at the default poll spacing (the baseline) against one list sync
//    per sync interval, counted at loopback stand-ins that hold the jobs and answer the list calls
//    in the documented shapes (filters, pages of 100 or, for Kubernetes, `limit`/`continue`).
// 2. Time to notice a change: at most one sync interval plus the sync's own duration, measured here.
// 3. Creations per minute against the configured pace: the real reconciler and embedded store
//    submitting a burst of 200 jobs to the Vertex AI stand-in, creations counted per minute of the run.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CREATE_JOB_REQUESTS } from "../dist/spec/index.js";
import { DEFAULT_MIN_POLL_INTERVAL_SECONDS } from "../packages/server/dist/server/backends/cloud-common.js";
import {
  KubernetesBackend,
  LIST_PAGE_SIZE,
  MANAGED_LABEL,
} from "../packages/server/dist/server/backends/kubernetes/index.js";
import { SageMakerBackend } from "../packages/server/dist/server/backends/sagemaker/index.js";
import {
  VERTEX_SUBMITS_PER_MINUTE,
  VertexAiBackend,
} from "../packages/server/dist/server/backends/vertex-ai/index.js";
import { DEFAULT_SYNC_INTERVAL_MS } from "../packages/server/dist/server/config.js";
import { requestHash } from "../packages/server/dist/server/jobs.js";
import { Reconciler } from "../packages/server/dist/server/reconciler.js";
import { openStore } from "../packages/server/dist/server/store/index.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TRACKED = arg("jobs", 1000);
const PACE = arg("pace", 600);
const PACE_SECONDS = arg("pace-seconds", 20);
const BURST = 200;
const PAGE = 100;
const SYNCS_PER_MINUTE = 60_000 / DEFAULT_SYNC_INTERVAL_MS;
const READS_PER_MINUTE = 60 / DEFAULT_MIN_POLL_INTERVAL_SECONDS;
const per1000 = (calls) => Math.round((calls * 1000) / TRACKED);

const tmp = mkdtempSync(join(tmpdir(), "trainkit-bench-reconcile-"));
process.env.AWS_ACCESS_KEY_ID = "AKIABENCHMARK0000001";
process.env.AWS_SECRET_ACCESS_KEY = "bench-secret";
process.env.AWS_CONFIG_FILE = join(tmp, "none");
process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmp, "none");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** A loopback server answering with `answer(req, url, body)` and counting requests by kind. */
async function standIn(answer) {
  const counts = new Map();
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      const { kind, status = 200, json } = answer(req, url, body);
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json ?? {}));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => counts.clear(),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

const page = (all, token, size) => {
  const start = token ? Number(token) : 0;
  return {
    items: all.slice(start, start + size),
    next: start + size < all.length ? String(start + size) : undefined,
  };
};

const ctx = { dataDir: tmp, notify() {}, log: { info() {}, warn() {}, error() {} } };

const vertexRequest = CREATE_JOB_REQUESTS["vertex-ai"].parse({
  name: "bench",
  job_config: {
    worker_pool_specs: [
      {
        machine_spec: { machine_type: "g2-standard-8", accelerator_type: "NVIDIA_L4", accelerator_count: 1 },
        replica_count: 1,
        container_spec: { image_uri: "registry.example/train:v1", command: ["python3", "train.py"] },
      },
    ],
  },
});
const sagemakerRequest = CREATE_JOB_REQUESTS.sagemaker.parse({
  name: "bench",
  job_config: {
    image: "registry.example/train:v1",
    resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge" },
  },
});

/** The Vertex AI stand-in: CustomJobs by name, list with the label/state filter, get, create. */
function vertexCloud() {
  const jobs = new Map();
  let next = 1;
  const FINISHED = /state!="([A-Z_]+)"/g;
  return {
    jobs,
    answer(req, url, body) {
      if (req.method === "POST" && url.pathname.endsWith("/customJobs")) {
        const name = `projects/p/locations/us-central1/customJobs/${next++}`;
        const job = { ...JSON.parse(body), name, state: "JOB_STATE_PENDING" };
        jobs.set(name, job);
        return { kind: "create", json: job };
      }
      if (req.method === "GET" && url.pathname.endsWith("/customJobs")) {
        const filter = url.searchParams.get("filter") ?? "";
        const label = /labels\.([a-z0-9_-]+)="([^"]*)"/.exec(filter);
        const excluded = new Set([...filter.matchAll(FINISHED)].map((m) => m[1]));
        const matching = [...jobs.values()].filter(
          (j) => (!label || j.labels?.[label[1]] === label[2]) && !excluded.has(j.state),
        );
        const size = Math.min(Number(url.searchParams.get("pageSize") || PAGE), PAGE);
        const { items, next: token } = page(matching, url.searchParams.get("pageToken"), size);
        return { kind: "list", json: { customJobs: items, ...(token ? { nextPageToken: token } : {}) } };
      }
      const name = url.pathname.replace(/^\/v1\//, "");
      return { kind: "get", json: jobs.get(name) ?? {} };
    },
  };
}

/** The SageMaker stand-in: ListTrainingJobs (LastModifiedTimeAfter, MaxResults, NextToken) and Describe. */
function sagemakerCloud() {
  const jobs = new Map();
  return {
    jobs,
    answer(req, _url, body) {
      const input = JSON.parse(body || "{}");
      const target = req.headers["x-amz-target"];
      if (target === "SageMaker.ListTrainingJobs") {
        const after = input.LastModifiedTimeAfter ?? 0;
        const changed = [...jobs.entries()].filter(([, j]) => j.modified > after);
        const { items, next } = page(changed, input.NextToken, Math.min(input.MaxResults ?? PAGE, PAGE));
        return {
          kind: "list",
          json: {
            TrainingJobSummaries: items.map(([name, j]) => ({
              TrainingJobName: name,
              TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${name}`,
              CreationTime: 0,
              LastModifiedTime: j.modified,
              TrainingJobStatus: j.status,
              SecondaryStatus: j.secondary,
            })),
            ...(next ? { NextToken: next } : {}),
          },
        };
      }
      const j = jobs.get(input.TrainingJobName);
      return {
        kind: "describe",
        json: {
          TrainingJobName: input.TrainingJobName,
          TrainingJobStatus: j.status,
          SecondaryStatus: j.secondary,
          ...(j.reason ? { FailureReason: j.reason } : {}),
        },
      };
    },
  };
}

function vertexBackend(url) {
  const keyFile = join(tmp, "sa.json");
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: "service_account",
      project_id: "p",
      private_key_id: "k1",
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: "bench@p.iam.gserviceaccount.com",
      client_id: "1",
      token_uri: `${url}/token`,
    }),
  );
  process.env.GOOGLE_APPLICATION_CREDENTIALS = keyFile;
  return new VertexAiBackend({ project: "p", region: "us-central1", endpoint: url }, ctx, {
    minPollIntervalMs: 0,
  });
}

const sagemakerBackend = (url) =>
  new SageMakerBackend(
    {
      region: "us-east-1",
      roleArn: "arn:aws:iam::123456789012:role/Bench",
      outputS3Uri: "s3://bench/out",
      endpoint: url,
    },
    ctx,
    { minPollIntervalMs: 0 },
  );

/** The kube-apiserver stand-in: Jobs by name, read one by one or listed by label selector in pages. */
function kubernetesCloud() {
  const jobs = new Map();
  return {
    jobs,
    answer(req, url) {
      const m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m || req.method !== "GET")
        return { kind: "other", status: 404, json: { kind: "Status", code: 404 } };
      if (m[2]) {
        const job = jobs.get(m[2]);
        return job
          ? { kind: "read", json: job }
          : { kind: "read", status: 404, json: { kind: "Status", code: 404 } };
      }
      const [key, value] = (url.searchParams.get("labelSelector") ?? "").split("=");
      const all = [...jobs.values()].filter((j) => !key || j.metadata.labels[key] === value);
      const { items, next } = page(
        all,
        url.searchParams.get("continue"),
        Number(url.searchParams.get("limit")),
      );
      return {
        kind: "list",
        json: { kind: "JobList", apiVersion: "batch/v1", metadata: { continue: next ?? "" }, items },
      };
    },
  };
}

const kubernetesRequest = CREATE_JOB_REQUESTS.kubernetes.parse({
  name: "bench",
  job_config: { image: "registry.example/train:v1", command: ["python3", "train.py"] },
});

/** Reads every job the sync left out, as the reconciler does; returns the calls made. */
async function syncRound(backend, jobs, since) {
  const settled = await backend.sync(jobs, since);
  const left = jobs.filter((j) => !settled.has(j.id));
  for (const j of left) await backend.poll(j);
  return left.length;
}

async function callsFigures() {
  const rows = [];
  const changedPerInterval = Math.round(TRACKED / 100);

  // Vertex AI: 1,000 running CustomJobs made through the backend.
  const vc = vertexCloud();
  const vs = await standIn((req, url, body) => vc.answer(req, url, body));
  const vb = vertexBackend(vs.url);
  const vjobs = [];
  for (let i = 0; i < TRACKED; i += 1) {
    const id = randomUUID();
    const name = `projects/p/locations/us-central1/customJobs/r${i}`;
    vc.jobs.set(name, { name, labels: { "trainkit-job-id": id }, state: "JOB_STATE_RUNNING" });
    vjobs.push({
      id,
      accountId: "bench",
      backend: "vertex-ai",
      request: vertexRequest,
      cloudJobIdentifier: { job_name: name },
      backendState: { customJobName: name, lastStatus: "IN_PROGRESS" },
    });
  }
  vs.reset();
  for (const j of vjobs) await vb.poll(j);
  const vBefore = vs.total();
  vs.reset();
  let started = performance.now();
  await syncRound(vb, vjobs, new Date());
  const vSyncMs = performance.now() - started;
  const vQuiet = vs.total();
  vs.reset();
  for (const j of vjobs.slice(0, changedPerInterval))
    vc.jobs.get(j.cloudJobIdentifier.job_name).state = "JOB_STATE_SUCCEEDED";
  await syncRound(vb, vjobs, new Date());
  const vChurn = vs.total();
  rows.push({
    backend: "vertex-ai",
    "before: per-job reads /min": per1000(vBefore * READS_PER_MINUTE),
    "after: list sync /min (no change)": per1000(vQuiet * SYNCS_PER_MINUTE),
    [`after: /min with ${changedPerInterval} finishing per sync`]: per1000(vChurn * SYNCS_PER_MINUTE),
    "ratio (no change)": (vQuiet / vBefore / (READS_PER_MINUTE / SYNCS_PER_MINUTE)).toFixed(4),
    "sync duration ms": Math.round(vSyncMs),
  });
  await vs.close();

  // SageMaker: 1,000 InProgress training jobs.
  const sc = sagemakerCloud();
  const ss = await standIn((req, url, body) => sc.answer(req, url, body));
  const sb = sagemakerBackend(ss.url);
  const sjobs = [];
  const longAgo = Date.now() / 1000 - 3600;
  for (let i = 0; i < TRACKED; i += 1) {
    const name = `bench-${i}`;
    sc.jobs.set(name, { status: "InProgress", secondary: "Training", modified: longAgo });
    sjobs.push({
      id: randomUUID(),
      accountId: "bench",
      backend: "sagemaker",
      request: sagemakerRequest,
      cloudJobIdentifier: { training_job_name: name },
      backendState: { trainingJobName: name, lastStatus: "IN_PROGRESS" },
    });
  }
  ss.reset();
  for (const j of sjobs) await sb.poll(j);
  const sBefore = ss.total();
  ss.reset();
  await syncRound(sb, sjobs, undefined);
  const sFirst = ss.total();
  ss.reset();
  started = performance.now();
  await syncRound(sb, sjobs, new Date());
  const sSyncMs = performance.now() - started;
  const sQuiet = ss.total();
  ss.reset();
  const now = Date.now() / 1000;
  sjobs.slice(0, changedPerInterval).forEach((j, i) => {
    const failed = i % 2 === 1;
    Object.assign(sc.jobs.get(j.cloudJobIdentifier.training_job_name), {
      status: failed ? "Failed" : "Completed",
      secondary: failed ? "Failed" : "Completed",
      reason: failed ? "AlgorithmError" : undefined,
      modified: now,
    });
  });
  await syncRound(sb, sjobs, new Date());
  const sChurn = ss.total();
  rows.push({
    backend: "sagemaker",
    "before: per-job reads /min": per1000(sBefore * READS_PER_MINUTE),
    "after: list sync /min (no change)": per1000(sQuiet * SYNCS_PER_MINUTE),
    [`after: /min with ${changedPerInterval} finishing per sync`]: per1000(sChurn * SYNCS_PER_MINUTE),
    "ratio (no change)": (sQuiet / sBefore / (READS_PER_MINUTE / SYNCS_PER_MINUTE)).toFixed(4),
    "sync duration ms": Math.round(sSyncMs),
  });
  await ss.close();
  await sb.close();

  // Kubernetes: 1,000 running batch/v1 Jobs, listed at most LIST_PAGE_SIZE a page.
  const kc = kubernetesCloud();
  const ks = await standIn((req, url) => kc.answer(req, url));
  const kubeconfig = join(tmp, "kubeconfig.yaml");
  writeFileSync(
    kubeconfig,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters: [{name: bench, cluster: {server: '" + ks.url + "', insecure-skip-tls-verify: true}}]",
      "users: [{name: bench, user: {token: bench-token}}]",
      "contexts: [{name: bench, context: {cluster: bench, user: bench}}]",
      "current-context: bench",
      "",
    ].join("\n"),
  );
  const kb = new KubernetesBackend({ namespace: "ml-jobs" }, { files: [kubeconfig] }, ctx, {
    minPollIntervalMs: 0,
  });
  const kjobs = [];
  for (let i = 0; i < TRACKED; i += 1) {
    const id = randomUUID();
    const name = `bench-${String(i).padStart(5, "0")}`;
    kc.jobs.set(name, {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name,
        namespace: "ml-jobs",
        labels: { [MANAGED_LABEL]: "trainkit", "trainkit.dev/job-id": id },
      },
      status: { active: 1, ready: 1 },
    });
    kjobs.push({
      id,
      accountId: "bench",
      backend: "kubernetes",
      request: kubernetesRequest,
      cloudJobIdentifier: { namespace: "ml-jobs", job_name: name },
      backendState: { namespace: "ml-jobs", jobName: name, lastStatus: "IN_PROGRESS" },
    });
  }
  for (const j of kjobs) await kb.poll(j);
  ks.reset();
  for (const j of kjobs) await kb.poll(j);
  const kBefore = ks.total();
  ks.reset();
  started = performance.now();
  await syncRound(kb, kjobs, new Date());
  const kSyncMs = performance.now() - started;
  const kQuiet = ks.total();
  ks.reset();
  for (const j of kjobs.slice(0, changedPerInterval))
    kc.jobs.get(j.cloudJobIdentifier.job_name).status = {
      conditions: [{ type: "Complete", status: "True" }],
    };
  await syncRound(kb, kjobs, new Date());
  const kChurn = ks.total();
  rows.push({
    backend: "kubernetes",
    "before: per-job reads /min": per1000(kBefore * READS_PER_MINUTE),
    "after: list sync /min (no change)": per1000(kQuiet * SYNCS_PER_MINUTE),
    [`after: /min with ${changedPerInterval} finishing per sync`]: per1000(kChurn * SYNCS_PER_MINUTE),
    "ratio (no change)": (kQuiet / kBefore / (READS_PER_MINUTE / SYNCS_PER_MINUTE)).toFixed(4),
    "sync duration ms": Math.round(kSyncMs),
  });
  await ks.close();
  console.log(
    `native calls per minute per 1,000 tracked jobs (${TRACKED} tracked; baseline: one read per job every ${DEFAULT_MIN_POLL_INTERVAL_SECONDS} s; after: one list sync every ${DEFAULT_SYNC_INTERVAL_MS / 1000} s, pages of ${PAGE}, kubernetes ${LIST_PAGE_SIZE}):`,
  );
  console.table(rows);
  console.log(
    `sagemaker's first sync after a start has no modification time to list from and reads each job once: ${per1000(sFirst)} calls per 1,000 jobs, once.`,
  );
  console.log("azure-ml still reads job by job (no list sync yet): its figures are bench/backends.mjs's.");
  console.log(
    `time to notice a change: at most ${DEFAULT_SYNC_INTERVAL_MS / 1000} s (TRAINKIT_SYNC_INTERVAL_MS) + the sync's duration (vertex-ai ${Math.round(vSyncMs)} ms, sagemaker ${Math.round(sSyncMs)} ms, kubernetes ${Math.round(kSyncMs)} ms here); on average half the interval plus the duration.`,
  );
}

async function paceFigures() {
  const vc = vertexCloud();
  const vs = await standIn((req, url, body) => vc.answer(req, url, body));
  const creations = [];
  const counted = await standIn((req, url, body) => {
    const answer = vc.answer(req, url, body);
    if (answer.kind === "create") creations.push(Date.now());
    return answer;
  });
  await vs.close();
  const backend = vertexBackend(counted.url);
  const dataDir = join(tmp, "store");
  const store = await openStore({ dataDir });
  const reconciler = new Reconciler(
    store,
    { "vertex-ai": { backend } },
    { intervalMs: 100, submitsPerMinute: { "vertex-ai": PACE }, log: ctx.log },
  );
  for (let i = 0; i < BURST; i += 1) {
    await store.insertJob({
      id: randomUUID(),
      accountId: "bench",
      backend: "vertex-ai",
      name: `burst-${i}`,
      request: vertexRequest,
      requestHash: requestHash("vertex-ai", { i }),
      idempotencyKey: null,
      createdAt: new Date(),
    });
  }
  const start = Date.now();
  reconciler.start();
  await new Promise((r) => setTimeout(r, PACE_SECONDS * 1000));
  await reconciler.stop();
  const elapsedMin = (Date.now() - start) / 60_000;
  // The busiest 60 s (or the whole run when shorter), scaled to a minute.
  const window = Math.min(60_000, Date.now() - start);
  let busiest = 0;
  for (const t of creations)
    busiest = Math.max(busiest, creations.filter((u) => u >= t && u < t + window).length);
  const perMinute = (busiest * 60_000) / window;
  console.log(
    `creations per minute against the configured pace (burst of ${BURST} jobs, pace ${PACE}/min, ${PACE_SECONDS} s run; Vertex AI's published default is ${VERTEX_SUBMITS_PER_MINUTE}/min):`,
  );
  console.table([
    {
      "configured /min": PACE,
      created: creations.length,
      "mean /min": Math.round(creations.length / elapsedMin),
      "busiest window /min": Math.round(perMinute),
      "ratio to configured": (perMinute / PACE).toFixed(3),
    },
  ]);
  await store.close();
  await counted.close();
}

try {
  await callsFigures();
  await paceFigures();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
