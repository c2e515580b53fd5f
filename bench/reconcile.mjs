// What reconciling cloud jobs costs against each cloud's quotas, in one run. Run after `npm run build`:
//
//   node bench/reconcile.mjs [--jobs 1000] [--pace 600] [--pace-seconds 20] [--notices 20]
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test node bench/reconcile.mjs
//
// 1. Native calls per minute per 1,000 tracked jobs for the vertex-ai, sagemaker, azure-ml and
//    kubernetes backends: one read per job at the default poll spacing (the baseline) against one
//    list sync per sync interval, counted at loopback stand-ins that hold the jobs and answer the
//    list calls in the documented shapes (filters, pages of 100, `nextLink` for Azure ML, or
//    `limit`/`continue` for Kubernetes). Kubernetes is measured twice: listing on every sync (its
//    fallback) and watching (a list only every WATCH_RELIST_MS).
// 1b. Kubernetes with 1,000 jobs whose pods wait (PENDING, each with an unschedulable pod): the pod
//    reads that say why, per job on every sync before (one pod list per waiting job, as `poll`
//    still reads them; counted here from polls) against one paged list of the namespace's waiting
//    pods at most once per min poll interval after, over one simulated minute of syncs (one every
//    sync interval, plus one per watch event) with the clock moved forward.
// 2. Time to notice a change: for the list-synced backends, at most one sync interval plus the
//    sync's own duration; for the Kubernetes watch, measured here from the stand-in sending a Job's
//    change to the backend telling the reconciler of it, and to a sync reading it from the watch.
// 3. Creations per minute against the configured pace: the real reconciler and embedded store
//    submitting a burst of jobs to the Vertex AI stand-in, creations counted per minute of the run;
//    with DATABASE_URL set, also two reconcilers on one Postgres (two servers sharing the pace)
//    submitting the same burst between them.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CREATE_JOB_REQUESTS } from "../dist/spec/index.js";
import { AzureMlBackend, JOB_ID_TAG } from "../packages/server/dist/server/backends/azure-ml/index.js";
import { DEFAULT_MIN_POLL_INTERVAL_SECONDS } from "../packages/server/dist/server/backends/cloud-common.js";
import {
  KubernetesBackend,
  LIST_PAGE_SIZE,
  MANAGED_LABEL,
  WATCH_RELIST_MS,
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
import { withBenchSchema } from "./lib/postgres-schema.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const TRACKED = arg("jobs", 1000);
const PACE = arg("pace", 600);
const PACE_SECONDS = arg("pace-seconds", 20);
const NOTICES = arg("notices", 20);
// Twice what the pace lets through in the run (200 at least), so the queue never runs dry and a pace
// exceeded shows in the figures instead of ending early.
const BURST = Math.max(200, 2 * Math.ceil((PACE * PACE_SECONDS) / 60));
const PAGE = 100;
const SYNCS_PER_MINUTE = 60_000 / DEFAULT_SYNC_INTERVAL_MS;
const READS_PER_MINUTE = 60 / DEFAULT_MIN_POLL_INTERVAL_SECONDS;
const per1000 = (calls) => Math.round((calls * 1000) / TRACKED);
const CHANGED_PER_INTERVAL = Math.round(TRACKED / 100);

const tmp = mkdtempSync(join(tmpdir(), "trainkit-bench-reconcile-"));
process.env.AWS_ACCESS_KEY_ID = "AKIABENCHMARK0000001";
process.env.AWS_SECRET_ACCESS_KEY = "bench-secret";
process.env.AWS_CONFIG_FILE = join(tmp, "none");
process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmp, "none");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** A certificate for 127.0.0.1 (Azure's bearer-token policy sends tokens over HTTPS only). */
function loopbackCertificate() {
  const key = join(tmp, "key.pem");
  const cert = join(tmp, "cert.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1"].concat([
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]),
    { stdio: "ignore" },
  );
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/**
 * A loopback server answering with `answer(req, url, body)` and counting requests by kind. An
 * answer with `stream` keeps the response open and hands it over (a watch).
 */
async function standIn(answer, tls) {
  const counts = new Map();
  const listener = (req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      const url = new URL(req.url, "http://x");
      const { kind, status = 200, json, stream } = answer(req, url, body);
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      res.writeHead(status, { "content-type": "application/json" });
      if (stream) {
        res.flushHeaders();
        stream(res);
        return;
      }
      res.end(JSON.stringify(json ?? {}));
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${server.address().port}`,
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    /** Requests of every kind but `except` (a watch stream is one long request, not a call a minute). */
    calls: (except) => [...counts.entries()].filter(([k]) => k !== except).reduce((a, [, n]) => a + n, 0),
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
const azureRequest = CREATE_JOB_REQUESTS["azure-ml"].parse({
  name: "bench",
  job_config: {
    command: "python train.py",
    environment: { image: "registry.example/train:v1" },
    compute: "gpu-cluster",
  },
});
const kubernetesRequest = CREATE_JOB_REQUESTS.kubernetes.parse({
  name: "bench",
  job_config: { image: "registry.example/train:v1", command: ["python3", "train.py"] },
});

/** A tracked job as the reconciler hands it to a backend. */
const trackedJob = (backend, request, id, cloudJobIdentifier, backendState) => ({
  id,
  accountId: "bench",
  backend,
  request,
  cloudJobIdentifier,
  backendState: { ...backendState, lastStatus: "IN_PROGRESS" },
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

/**
 * The Azure Resource Manager stand-in: Jobs_List (tag, jobType, listViewType; pages of 100 with an
 * absolute nextLink, newest first, both the stand-in's choice) and Jobs_Get.
 */
function azureCloud() {
  const jobs = new Map();
  return {
    jobs,
    answer(_req, url) {
      const m = /\/workspaces\/[^/]+\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
      if (m?.[1]) return { kind: "get", json: jobs.get(m[1]) };
      const tag = url.searchParams.get("tag");
      const all = [...jobs.values()].reverse().filter((j) => !tag || tag in j.properties.tags);
      const { items, next } = page(all, url.searchParams.get("$skipToken"), PAGE);
      const nextLink = new URL(`${this.url}${url.pathname}${url.search}`);
      if (next) nextLink.searchParams.set("$skipToken", next);
      return { kind: "list", json: { value: items, ...(next ? { nextLink: nextLink.toString() } : {}) } };
    },
  };
}

/**
 * The kube-apiserver stand-in: Jobs by name, read one by one, listed by label selector in pages
 * (with the resourceVersion the list is current at) or watched from a resourceVersion.
 */
function kubernetesCloud() {
  const jobs = new Map();
  const pods = new Map();
  const watches = new Set();
  let version = 1;
  return {
    jobs,
    pods,
    get openWatches() {
      return watches.size;
    },
    /** Changes a Job's status and sends the change to every open watch. */
    change(name, status) {
      const job = jobs.get(name);
      job.status = status;
      version += 1;
      job.metadata.resourceVersion = String(version);
      for (const res of watches) res.write(`${JSON.stringify({ type: "MODIFIED", object: job })}\n`);
    },
    answer(req, url) {
      if (/^\/api\/v1\/namespaces\/[^/]+\/pods$/.test(url.pathname)) return listPods(pods, url);
      const m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m || req.method !== "GET")
        return { kind: "other", status: 404, json: { kind: "Status", code: 404 } };
      if (m[2]) {
        const job = jobs.get(m[2]);
        return job
          ? { kind: "read", json: job }
          : { kind: "read", status: 404, json: { kind: "Status", code: 404 } };
      }
      if (url.searchParams.get("watch") === "true") {
        return {
          kind: "watch",
          stream: (res) => {
            watches.add(res);
            res.on("close", () => watches.delete(res));
          },
        };
      }
      const [key, value] = (url.searchParams.get("labelSelector") ?? "").split("=");
      const all = [...jobs.values()].filter((j) => !key || j.metadata.labels[key] === value);
      const limit = Number(url.searchParams.get("limit")) || all.length;
      const { items, next } = page(all, url.searchParams.get("continue"), limit);
      return {
        kind: "list",
        json: {
          kind: "JobList",
          apiVersion: "batch/v1",
          metadata: { continue: next ?? "", resourceVersion: String(version) },
          items,
        },
      };
    },
  };
}

/**
 * Pods matching `labelSelector` (`key=value` or a key alone) and `fieldSelector` (`status.phase`
 * terms with `=` or `!=`, joined by commas), paged by `limit`/`continue`.
 */
function listPods(pods, url) {
  const [key, value] = (url.searchParams.get("labelSelector") ?? "").split("=");
  const phases = (url.searchParams.get("fieldSelector") ?? "")
    .split(",")
    .filter((t) => t !== "")
    .map((t) => /^status\.phase(!=|=)(.*)$/.exec(t));
  const all = [...pods.values()].filter(
    (p) =>
      (!key || (value === undefined ? key in p.metadata.labels : p.metadata.labels[key] === value)) &&
      phases.every(([, op, phase]) => (p.status.phase === phase) === (op === "=")),
  );
  const limit = Number(url.searchParams.get("limit")) || all.length;
  const { items, next } = page(all, url.searchParams.get("continue"), limit);
  return {
    kind: "pods",
    json: { kind: "PodList", apiVersion: "v1", metadata: { continue: next ?? "" }, items },
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

function kubeconfigFor(url) {
  const file = join(tmp, `kubeconfig-${randomUUID()}.yaml`);
  writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      `clusters: [{name: bench, cluster: {server: '${url}', insecure-skip-tls-verify: true}}]`,
      "users: [{name: bench, user: {token: bench-token}}]",
      "contexts: [{name: bench, context: {cluster: bench, user: bench}}]",
      "current-context: bench",
      "",
    ].join("\n"),
  );
  return file;
}

/** Reads every job the sync left out, as the reconciler does; returns how many. */
async function syncRound(backend, jobs, since) {
  const settled = await backend.sync(jobs, since);
  const left = jobs.filter((j) => !settled.has(j.id));
  for (const j of left) await backend.poll(j);
  return left.length;
}

/**
 * The three figures every backend gets, the same way: calls for one read of each job (the
 * baseline), for one sync when nothing changed, and for one sync after `finish` moved
 * CHANGED_PER_INTERVAL jobs to an end; each scaled to a minute and to 1,000 jobs.
 */
async function callsRow(name, { server, backend, jobs, finish, since = () => new Date(), prime }) {
  if (prime) await prime();
  server.reset();
  for (const j of jobs) await backend.poll(j);
  const before = server.total();
  server.reset();
  const started = performance.now();
  await syncRound(backend, jobs, since());
  const syncMs = performance.now() - started;
  const quiet = server.total();
  server.reset();
  finish(jobs.slice(0, CHANGED_PER_INTERVAL));
  await syncRound(backend, jobs, since());
  const churn = server.total();
  return {
    backend: name,
    "before: per-job reads /min": per1000(before * READS_PER_MINUTE),
    "after: list sync /min (no change)": per1000(quiet * SYNCS_PER_MINUTE),
    [`after: /min with ${CHANGED_PER_INTERVAL} finishing per sync`]: per1000(churn * SYNCS_PER_MINUTE),
    "ratio (no change)": (quiet / before / (READS_PER_MINUTE / SYNCS_PER_MINUTE)).toFixed(4),
    "sync duration ms": Math.round(syncMs),
  };
}

async function callsFigures() {
  const rows = [];
  const extra = [];

  // Vertex AI: running CustomJobs, listed unfinished by label.
  const vc = vertexCloud();
  const vs = await standIn((req, url, body) => vc.answer(req, url, body));
  const vjobs = Array.from({ length: TRACKED }, (_, i) => {
    const id = randomUUID();
    const name = `projects/p/locations/us-central1/customJobs/r${i}`;
    vc.jobs.set(name, { name, labels: { "trainkit-job-id": id }, state: "JOB_STATE_RUNNING" });
    return trackedJob("vertex-ai", vertexRequest, id, { job_name: name }, { customJobName: name });
  });
  rows.push(
    await callsRow("vertex-ai", {
      server: vs,
      backend: vertexBackend(vs.url),
      jobs: vjobs,
      finish: (done) => {
        for (const j of done) vc.jobs.get(j.cloudJobIdentifier.job_name).state = "JOB_STATE_SUCCEEDED";
      },
    }),
  );
  await vs.close();

  // SageMaker: InProgress training jobs, listed by modification time.
  const sc = sagemakerCloud();
  const ss = await standIn((req, url, body) => sc.answer(req, url, body));
  const sb = new SageMakerBackend(
    {
      region: "us-east-1",
      roleArn: "arn:aws:iam::123456789012:role/Bench",
      outputS3Uri: "s3://bench/out",
      endpoint: ss.url,
    },
    ctx,
    { minPollIntervalMs: 0 },
  );
  const longAgo = Date.now() / 1000 - 3600;
  const sjobs = Array.from({ length: TRACKED }, (_, i) => {
    const name = `bench-${i}`;
    sc.jobs.set(name, { status: "InProgress", secondary: "Training", modified: longAgo });
    return trackedJob(
      "sagemaker",
      sagemakerRequest,
      randomUUID(),
      { training_job_name: name },
      {
        trainingJobName: name,
      },
    );
  });
  ss.reset();
  await syncRound(sb, sjobs, undefined);
  extra.push(
    `sagemaker's first sync after a start has no modification time to list from and reads each job once: ${per1000(ss.total())} calls per 1,000 jobs, once.`,
  );
  rows.push(
    await callsRow("sagemaker", {
      server: ss,
      backend: sb,
      jobs: sjobs,
      finish: (done) => {
        const now = Date.now() / 1000;
        done.forEach((j, i) => {
          const failed = i % 2 === 1;
          Object.assign(sc.jobs.get(j.cloudJobIdentifier.training_job_name), {
            status: failed ? "Failed" : "Completed",
            secondary: failed ? "Failed" : "Completed",
            reason: failed ? "AlgorithmError" : undefined,
            modified: now,
          });
        });
      },
    }),
  );
  await ss.close();
  await sb.close();

  // Azure ML: running command jobs tagged with their job id, listed by tag through the SDK's pager.
  const ac = azureCloud();
  const tls = loopbackCertificate();
  const as = await standIn((req, url, body) => ac.answer(req, url, body), tls);
  ac.url = as.url;
  const ab = new AzureMlBackend(
    {
      subscriptionId: "00000000-1111-2222-3333-444444444444",
      resourceGroup: "rg",
      workspace: "ws",
      endpoint: as.url,
    },
    ctx,
    {
      credential: { getToken: async () => ({ token: "bench", expiresOnTimestamp: Date.now() + 3_600_000 }) },
      tlsCa: tls.cert,
      minPollIntervalMs: 0,
    },
  );
  const ajobs = Array.from({ length: TRACKED }, (_, i) => {
    const id = randomUUID();
    const name = `bench-${i}`;
    ac.jobs.set(name, {
      id: `/jobs/${name}`,
      name,
      properties: { jobType: "Command", status: "Running", tags: { [JOB_ID_TAG]: id } },
    });
    return trackedJob("azure-ml", azureRequest, id, { job_name: name }, { jobName: name });
  });
  rows.push(
    await callsRow("azure-ml", {
      server: as,
      backend: ab,
      jobs: ajobs,
      finish: (done) => {
        for (const j of done) ac.jobs.get(j.cloudJobIdentifier.job_name).properties.status = "Completed";
      },
    }),
  );
  await as.close();

  // Kubernetes: running batch/v1 Jobs; listed at most LIST_PAGE_SIZE a page on every sync (the
  // watch off, as while it is broken), then watched.
  const kc = kubernetesCloud();
  const ks = await standIn((req, url) => kc.answer(req, url));
  const kubeconfig = kubeconfigFor(ks.url);
  const kjobs = Array.from({ length: TRACKED }, (_, i) => {
    const id = randomUUID();
    const name = `bench-${String(i).padStart(5, "0")}`;
    kc.jobs.set(name, {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name,
        namespace: "ml-jobs",
        resourceVersion: "1",
        labels: { [MANAGED_LABEL]: "trainkit", "trainkit.dev/job-id": id },
      },
      status: { active: 1, ready: 1 },
    });
    return trackedJob(
      "kubernetes",
      kubernetesRequest,
      id,
      { namespace: "ml-jobs", job_name: name },
      {
        namespace: "ml-jobs",
        jobName: name,
      },
    );
  });
  const kb = new KubernetesBackend({ namespace: "ml-jobs" }, { files: [kubeconfig] }, ctx, {
    minPollIntervalMs: 0,
    watch: false,
  });
  const listed = await callsRow("kubernetes (list)", {
    server: ks,
    backend: kb,
    jobs: kjobs,
    prime: () => kb.poll(kjobs[0]),
    finish: (done) => {
      for (const j of done)
        kc.change(j.cloudJobIdentifier.job_name, { conditions: [{ type: "Complete", status: "True" }] });
    },
  });
  rows.push(listed);
  for (const j of kjobs.slice(0, CHANGED_PER_INTERVAL))
    kc.change(j.cloudJobIdentifier.job_name, { active: 1, ready: 1 });
  const watched = await watchFigures(kc, ks, kubeconfig, kjobs);
  rows.push(watched.row);
  const waitingRows = await waitingFigures(kc, ks, kubeconfig, kjobs);
  await ks.close();

  console.log(
    `native calls per minute per 1,000 tracked jobs (${TRACKED} tracked; baseline: one read per job every ${DEFAULT_MIN_POLL_INTERVAL_SECONDS} s; after: one list sync every ${DEFAULT_SYNC_INTERVAL_MS / 1000} s, pages of ${PAGE}, kubernetes ${LIST_PAGE_SIZE}; kubernetes (watch): one open watch, a list every ${WATCH_RELIST_MS / 60_000} min):`,
  );
  console.table(rows);
  for (const line of extra) console.log(line);
  console.log(
    `time to notice a change, list-synced backends: at most ${DEFAULT_SYNC_INTERVAL_MS / 1000} s (TRAINKIT_SYNC_INTERVAL_MS) + the sync's duration (${rows
      .filter((r) => r.backend !== "kubernetes (watch)")
      .map((r) => `${r.backend} ${r["sync duration ms"]} ms`)
      .join(", ")} here); on average half the interval plus the duration.`,
  );
  console.log(
    `kubernetes, ${TRACKED} jobs whose pods wait (each PENDING with one unschedulable pod): native calls per minute per 1,000 tracked jobs, with ${WATCH_EVENTS_PER_MINUTE} watch events a minute each bringing a sync on (min poll interval ${DEFAULT_MIN_POLL_INTERVAL_SECONDS} s, pod pages of ${LIST_PAGE_SIZE}):`,
  );
  console.table(waitingRows);
  console.log(
    `time to notice a change, kubernetes watch (${watched.notices.length} changes, one at a time): the backend tells the reconciler in median ${watched.median.notify} ms (max ${watched.max.notify} ms); a sync from the watch reads the new status in median ${watched.median.read} ms (max ${watched.max.read} ms) after the change was sent. Ratio to the list sync's worst case (${DEFAULT_SYNC_INTERVAL_MS / 1000} s): ${(watched.max.read / DEFAULT_SYNC_INTERVAL_MS).toFixed(5)}.`,
  );
}

/**
 * The Kubernetes backend with its watch on: native calls while nothing changes (the watch's list
 * again every WATCH_RELIST_MS, scaled to a minute), and the time from the stand-in sending a Job's
 * change to the backend's notice and to a sync returning the new status.
 */
async function watchFigures(kc, ks, kubeconfig, kjobs) {
  const notified = new Map();
  const kb = new KubernetesBackend(
    { namespace: "ml-jobs" },
    { files: [kubeconfig] },
    { ...ctx, notify: (jobId) => notified.set(jobId, performance.now()) },
    { minPollIntervalMs: 0 },
  );
  await kb.sync(kjobs, undefined);
  while (kc.openWatches === 0) await new Promise((r) => setTimeout(r, 10));
  // The watch answers once its own list is in: a sync that lists nothing.
  for (;;) {
    ks.reset();
    await kb.sync(kjobs, undefined);
    if (ks.calls("watch") === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  ks.reset();
  const started = performance.now();
  await kb.sync(kjobs, undefined);
  const syncMs = performance.now() - started;
  const quiet = ks.calls("watch");
  const notices = [];
  for (const j of kjobs.slice(CHANGED_PER_INTERVAL, CHANGED_PER_INTERVAL + NOTICES)) {
    // The watch's first list told of every job already: only what follows this change counts.
    notified.delete(j.id);
    const sent = performance.now();
    kc.change(j.cloudJobIdentifier.job_name, { conditions: [{ type: "Complete", status: "True" }] });
    while (!notified.has(j.id)) await new Promise((r) => setImmediate(r));
    const notify = notified.get(j.id) - sent;
    for (;;) {
      const reading = (await kb.sync([j], undefined)).get(j.id);
      if (reading?.status === "COMPLETED") break;
      await new Promise((r) => setImmediate(r));
    }
    notices.push({ notify, read: performance.now() - sent });
  }
  await kb.close();
  const sorted = (key) => notices.map((n) => n[key]).sort((a, b) => a - b);
  const median = (key) => Math.round(sorted(key)[Math.floor(notices.length / 2)] * 10) / 10;
  const max = (key) => Math.round(sorted(key).at(-1) * 10) / 10;
  const relistPerMinute = Math.ceil(TRACKED / LIST_PAGE_SIZE) * (60_000 / WATCH_RELIST_MS);
  return {
    notices,
    median: { notify: median("notify"), read: median("read") },
    max: { notify: max("notify"), read: max("read") },
    row: {
      backend: "kubernetes (watch)",
      "before: per-job reads /min": "",
      "after: list sync /min (no change)": (
        ((quiet * SYNCS_PER_MINUTE + relistPerMinute) * 1000) /
        TRACKED
      ).toFixed(1),
      [`after: /min with ${CHANGED_PER_INTERVAL} finishing per sync`]: "",
      "ratio (no change)": "",
      "sync duration ms": Math.round(syncMs),
    },
  };
}

/** Watch events a minute in the waiting case: as many as jobs finishing in the churn figures. */
const WATCH_EVENTS_PER_MINUTE = CHANGED_PER_INTERVAL * SYNCS_PER_MINUTE;

/**
 * Kubernetes with every tracked job waiting: PENDING, its Job with one active pod that is not
 * ready, the pod unschedulable. Before: the Job lists of each sync plus one pod list per waiting
 * job per sync (counted from polling each job once, which reads the job's pods as every sync did).
 * After: the calls of one minute of syncs, moved through by advancing `Date.now`: one sync each
 * sync interval, and with the watch on, one after each watch event too.
 */
async function waitingFigures(kc, ks, kubeconfig, tracked) {
  // Jobs the reconciler last recorded PENDING: a Job seen running stays IN_PROGRESS.
  const kjobs = tracked.map((j) => ({ ...j, backendState: { ...j.backendState, lastStatus: "PENDING" } }));
  for (const j of kjobs) {
    const name = j.cloudJobIdentifier.job_name;
    kc.change(name, { active: 1, ready: 0 });
    kc.pods.set(`${name}-0`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `${name}-0`, namespace: "ml-jobs", labels: { "trainkit.dev/job-id": j.id } },
      status: {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/4 nodes are available: 4 Insufficient nvidia.com/gpu.",
          },
        ],
      },
    });
  }
  const realNow = Date.now;
  let skew = 0;
  Date.now = () => realNow.call(Date) + skew;
  const rows = [];
  try {
    for (const watch of [false, true]) {
      const kb = new KubernetesBackend({ namespace: "ml-jobs" }, { files: [kubeconfig] }, ctx, { watch });
      let settled = await kb.sync(kjobs, undefined);
      if (watch) {
        // Until the watch's own list is in, a sync lists the Jobs itself.
        while (kc.openWatches === 0) await new Promise((r) => setTimeout(r, 10));
        for (;;) {
          ks.reset();
          settled = await kb.sync(kjobs, undefined);
          if (ks.counts.get("list") === undefined) break;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      const explained = kjobs.filter((j) => settled.get(j.id)?.backendState?.waiting).length;
      ks.reset();
      await kb.sync(kjobs, undefined);
      const jobListsPerSync = ks.counts.get("list") ?? 0;
      ks.reset();
      for (const j of kjobs) await kb.poll(j);
      const perJobPodLists = ks.counts.get("pods") ?? 0;
      const syncsPerMinute = SYNCS_PER_MINUTE + (watch ? WATCH_EVENTS_PER_MINUTE : 0);
      const before = jobListsPerSync * SYNCS_PER_MINUTE + perJobPodLists * syncsPerMinute;

      // One minute from a read of the pods just made: in each sync interval, the syncs the watch
      // brings on, then the interval's own.
      skew += DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000;
      await kb.sync(kjobs, undefined);
      ks.reset();
      const events = watch ? WATCH_EVENTS_PER_MINUTE / SYNCS_PER_MINUTE : 0;
      const step = DEFAULT_SYNC_INTERVAL_MS / (events + 1);
      let changed = 0;
      for (let interval = 0; interval < SYNCS_PER_MINUTE; interval += 1) {
        for (let e = 0; e <= events; e += 1) {
          skew += step;
          if (e < events) kc.change(kjobs[changed++].cloudJobIdentifier.job_name, { active: 1, ready: 0 });
          await kb.sync(kjobs, undefined);
        }
      }
      const podLists = ks.counts.get("pods") ?? 0;
      const relist = watch ? Math.ceil(TRACKED / LIST_PAGE_SIZE) * (60_000 / WATCH_RELIST_MS) : 0;
      const after = ks.calls("watch") + relist;
      await kb.close();
      rows.push({
        backend: watch ? "kubernetes (watch)" : "kubernetes (list)",
        "syncs /min": syncsPerMinute,
        "waiting reasons shown": `${explained}/${kjobs.length}`,
        "before: per-job pod reads /min": per1000(before),
        "after: /min": Math.round(((after * 1000) / TRACKED) * 10) / 10,
        "of which pod list pages": per1000(podLists),
        ratio: (after / before).toFixed(4),
      });
    }
  } finally {
    Date.now = realNow;
  }
  return rows;
}

/**
 * A burst of BURST jobs spread over `stores` (one reconciler each, as servers sharing one database
 * run), submitted for PACE_SECONDS to one Vertex AI stand-in that notes when each creation arrived;
 * answers that run's row of the table.
 */
async function paceRun(label, stores) {
  const vc = vertexCloud();
  const creations = [];
  const counted = await standIn((req, url, body) => {
    const answer = vc.answer(req, url, body);
    if (answer.kind === "create") creations.push(Date.now());
    return answer;
  });
  const reconcilers = stores.map(
    (store) =>
      new Reconciler(
        store,
        { "vertex-ai": { backend: vertexBackend(counted.url) } },
        { intervalMs: 100, submitsPerMinute: { "vertex-ai": PACE }, log: ctx.log },
      ),
  );
  for (let i = 0; i < BURST; i += 1) {
    await stores[i % stores.length].insertJob({
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
  for (const reconciler of reconcilers) reconciler.start();
  await new Promise((r) => setTimeout(r, PACE_SECONDS * 1000));
  await Promise.all(reconcilers.map((reconciler) => reconciler.stop()));
  const elapsedMin = (Date.now() - start) / 60_000;
  // The busiest 60 s (or the whole run when shorter), scaled to a minute.
  const window = Math.min(60_000, Date.now() - start);
  let busiest = 0;
  for (const t of creations)
    busiest = Math.max(busiest, creations.filter((u) => u >= t && u < t + window).length);
  const perMinute = (busiest * 60_000) / window;
  await counted.close();
  return {
    store: label,
    "configured /min": PACE,
    created: creations.length,
    "mean /min": Math.round(creations.length / elapsedMin),
    "busiest window /min": Math.round(perMinute),
    "ratio to configured": (perMinute / PACE).toFixed(3),
  };
}

/**
 * Creations per minute against the configured pace: one server on the embedded store, and, when
 * DATABASE_URL is set, two servers on one Postgres (in a schema of their own), which share the pace.
 */
async function paceFigures() {
  const rows = [];
  const embedded = await openStore({ dataDir: join(tmp, "store") });
  rows.push(await paceRun("embedded, 1 server", [embedded]));
  await embedded.close();
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    await withBenchSchema(databaseUrl, async (url) => {
      const replicas = [
        await openStore({ dataDir: join(tmp, "replica-a"), databaseUrl: url }),
        await openStore({ dataDir: join(tmp, "replica-b"), databaseUrl: url }),
      ];
      rows.push(await paceRun("Postgres, 2 servers", replicas));
      for (const store of replicas) await store.close();
    });
  }
  console.log(
    `creations per minute against the configured pace (burst of ${BURST} jobs, pace ${PACE}/min, ${PACE_SECONDS} s run; Vertex AI's published default is ${VERTEX_SUBMITS_PER_MINUTE}/min):`,
  );
  console.table(rows);
}

try {
  await callsFigures();
  await paceFigures();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
