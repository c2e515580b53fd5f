// Native API calls per job lifecycle for each cloud backend, the reconciler's cost per 1,000 tracked
// jobs, and the client-side cost of one status read through each official SDK against a raw
// `fetch` of the same loopback answer (the baseline), in one run. Run after `npm run build`:
//
//   node bench/backends.mjs [--queued-minutes 5] [--running-minutes 30] [--interval-ms 2000]
//
// Each backend submits one job to a loopback stand-in that counts requests and answers in the
// cloud's documented shapes; the job then stays queued, runs and succeeds, and is polled once per
// reconciler interval of simulated time (the polls are issued back to back: the interval only sets
// how many there are).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AzureMlBackend } from "../packages/server/dist/server/backends/azure-ml/index.js";
import { DEFAULT_MIN_POLL_INTERVAL_SECONDS } from "../packages/server/dist/server/backends/cloud-common.js";
import { SageMakerBackend } from "../packages/server/dist/server/backends/sagemaker/index.js";
import { VertexAiBackend } from "../packages/server/dist/server/backends/vertex-ai/index.js";
import { DEFAULT_RECONCILE_INTERVAL_MS } from "../packages/server/dist/server/config.js";
import { CREATE_JOB_REQUESTS } from "../dist/spec/index.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const INTERVAL_MS = arg("interval-ms", DEFAULT_RECONCILE_INTERVAL_MS);
const QUEUED_POLLS = Math.round((arg("queued-minutes", 5) * 60_000) / INTERVAL_MS);
const RUNNING_POLLS = Math.round((arg("running-minutes", 30) * 60_000) / INTERVAL_MS);
const TRACKED_JOBS = 1000;
// Every poll reads the native state here, as at the reconciler's own interval; the spacing the
// backends apply by default (TRAINKIT_CLOUD_MIN_POLL_INTERVAL_SECONDS) is worked out from it below.
const UNGATED = { minPollIntervalMs: 0 };
const GATED_INTERVAL_MS = Math.max(INTERVAL_MS, DEFAULT_MIN_POLL_INTERVAL_SECONDS * 1000);

const tmp = mkdtempSync(join(tmpdir(), "trainkit-bench-backends-"));
process.env.AWS_ACCESS_KEY_ID = "AKIABENCHMARK0000001";
process.env.AWS_SECRET_ACCESS_KEY = "bench-secret";
process.env.AWS_CONFIG_FILE = join(tmp, "none");
process.env.AWS_SHARED_CREDENTIALS_FILE = join(tmp, "none");

/** A loopback server answering with `answer(req, body)` and counting requests. */
async function responder(answer, tls) {
  const counter = { calls: 0 };
  const listener = (req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      counter.calls += 1;
      const { status = 200, json } = answer(req, body);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json ?? {}));
    });
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  counter.url = `${tls ? "https" : "http"}://127.0.0.1:${server.address().port}`;
  counter.close = () => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  };
  return counter;
}

/** The native state of the benchmark job after `polls` status reads. */
const phase = (polls) =>
  polls < QUEUED_POLLS ? "queued" : polls < QUEUED_POLLS + RUNNING_POLLS ? "running" : "done";

const seeds = {
  "vertex-ai": {
    name: "bench",
    job_config: {
      worker_pool_specs: [
        {
          machine_spec: {
            machine_type: "g2-standard-8",
            accelerator_type: "NVIDIA_L4",
            accelerator_count: 1,
          },
          replica_count: 1,
          container_spec: { image_uri: "registry.example/train:v1", command: ["python3", "train.py"] },
        },
      ],
    },
    storage_mounts: [{ source_uri: "gs://bench/data", mount_path: "/mnt/data", read_only: true }],
  },
  sagemaker: {
    name: "bench",
    job_config: {
      image: "registry.example/train:v1",
      resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge" },
    },
    storage_mounts: [{ source_uri: "s3://bench/data", mount_path: "/mnt/data", read_only: true }],
  },
  "azure-ml": {
    name: "bench",
    job_config: {
      command: "python train.py",
      environment: { image: "registry.example/train:v1" },
      compute: "gpu-cluster",
    },
    storage_mounts: [
      { source_uri: "azureml://datastores/d/paths/data", mount_path: "/mnt/data", read_only: true },
    ],
  },
};

const job = (backend) => ({
  id: randomUUID(),
  accountId: "bench",
  backend,
  request: CREATE_JOB_REQUESTS[backend].parse(seeds[backend]),
  cloudJobIdentifier: null,
  backendState: null,
});

const ctx = { dataDir: tmp, notify() {}, log: { info() {}, warn() {}, error() {} } };

function vertexSetup() {
  let polls = 0;
  const STATE = { queued: "JOB_STATE_QUEUED", running: "JOB_STATE_RUNNING", done: "JOB_STATE_SUCCEEDED" };
  return {
    answer(req, body) {
      if (req.method === "POST" && req.url.endsWith("/customJobs")) {
        return {
          json: {
            ...JSON.parse(body),
            name: "projects/p/locations/us-central1/customJobs/1",
            state: "JOB_STATE_PENDING",
          },
        };
      }
      if (req.url.includes("/customJobs?")) return { json: {} };
      return {
        json: { name: "projects/p/locations/us-central1/customJobs/1", state: STATE[phase(polls++)] },
      };
    },
    async make(url) {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
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
      return new VertexAiBackend({ project: "p", region: "us-central1", endpoint: url }, ctx, UNGATED);
    },
  };
}

function sagemakerSetup() {
  let polls = 0;
  const STATUS = {
    queued: ["InProgress", "Starting"],
    running: ["InProgress", "Training"],
    done: ["Completed", "Completed"],
  };
  return {
    answer(req) {
      if (req.headers["x-amz-target"] === "SageMaker.CreateTrainingJob") {
        return { json: { TrainingJobArn: "arn:aws:sagemaker:us-east-1:123456789012:training-job/bench" } };
      }
      const [primary, secondary] = STATUS[phase(polls++)];
      return { json: { TrainingJobName: "bench", TrainingJobStatus: primary, SecondaryStatus: secondary } };
    },
    make: async (url) =>
      new SageMakerBackend(
        {
          region: "us-east-1",
          roleArn: "arn:aws:iam::123456789012:role/Bench",
          outputS3Uri: "s3://bench/out",
          endpoint: url,
        },
        ctx,
        UNGATED,
      ),
  };
}

function azureSetup(ca) {
  let polls = 0;
  const STATUS = { queued: "Queued", running: "Running", done: "Completed" };
  return {
    tls: true,
    answer(req, body) {
      if (req.method === "PUT")
        return { status: 201, json: { id: req.url.split("?")[0], ...JSON.parse(body) } };
      return { json: { name: "bench", properties: { jobType: "Command", status: STATUS[phase(polls++)] } } };
    },
    // A fixed token: the identity flow's cost (one token request per hour per server, not per job)
    // is left out of a per-job count.
    make: async (url) =>
      new AzureMlBackend(
        {
          subscriptionId: "00000000-0000-0000-0000-000000000000",
          resourceGroup: "rg",
          workspace: "ws",
          endpoint: url,
        },
        ctx,
        {
          credential: {
            getToken: async () => ({ token: "bench", expiresOnTimestamp: Date.now() + 3_600_000 }),
          },
          tlsCa: ca,
          ...UNGATED,
        },
      ),
  };
}

function selfSigned() {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(tmp, "key.pem"),
      "-out",
      join(tmp, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return {
    key: readFileSync(join(tmp, "key.pem"), "utf8"),
    cert: readFileSync(join(tmp, "cert.pem"), "utf8"),
  };
}

async function measure(name, setup, tls) {
  const server = await responder(setup.answer, setup.tls ? tls : undefined);
  const backend = await setup.make(server.url);
  let held = job(name);
  const submitted = await backend.submit(held);
  const submitCalls = server.calls;
  held = {
    ...held,
    cloudJobIdentifier: submitted.cloudJobIdentifier,
    backendState: submitted.backendState ?? null,
  };
  let polls = 0;
  let status = submitted.status ?? "PENDING";
  const started = process.hrtime.bigint();
  while (!["COMPLETED", "FAILED", "CANCELED", "EXPIRED"].includes(status)) {
    const polled = await backend.poll(held);
    status = polled.status;
    held = { ...held, backendState: polled.backendState ?? held.backendState };
    polls += 1;
    if (polls > QUEUED_POLLS + RUNNING_POLLS + 10)
      throw new Error(`${name} still ${status} after ${polls} polls`);
  }
  const pollMs = Number(process.hrtime.bigint() - started) / 1e6 / polls;
  const total = server.calls;
  await backend.close?.();
  await server.close();
  return { name, submitCalls, polls, callsPerPoll: (total - submitCalls) / polls, total, pollMs, status };
}

/** The baseline: one raw GET of a JSON answer from a loopback server, per request, kept alive. */
async function baseline(tls) {
  const server = await responder(() => ({ json: { state: "JOB_STATE_RUNNING" } }), tls);
  const lib = tls ? https : http;
  const agent = new lib.Agent({ keepAlive: true, ...(tls ? { ca: tls.cert } : {}) });
  const n = 500;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await new Promise((resolve, reject) => {
      lib
        .get(`${server.url}/status`, { agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6 / n;
  agent.destroy();
  await server.close();
  return ms;
}

try {
  const tls = selfSigned();
  const baseHttp = await baseline(undefined);
  const baseHttps = await baseline(tls);
  const rows = [];
  rows.push(await measure("vertex-ai", vertexSetup(), tls));
  rows.push(await measure("sagemaker", sagemakerSetup(), tls));
  rows.push(await measure("azure-ml", azureSetup(tls.cert), tls));
  console.log(
    `lifecycle: ${QUEUED_POLLS} polls queued + ${RUNNING_POLLS} running + 1 final, at one poll per ${INTERVAL_MS} ms`,
  );
  console.log(
    `baseline: raw keep-alive GET on loopback, ${baseHttp.toFixed(3)} ms over HTTP (vertex-ai, sagemaker), ${baseHttps.toFixed(3)} ms over HTTPS (azure-ml)`,
  );
  const perMinute = (intervalMs, callsPerPoll) =>
    Math.round(TRACKED_JOBS * (60_000 / intervalMs) * callsPerPoll);
  console.log(
    `calls/min per ${TRACKED_JOBS} tracked jobs, with every poll reading (one per ${INTERVAL_MS} ms) and with the default spacing (one read per ${GATED_INTERVAL_MS / 1000} s)`,
  );
  console.log(
    "backend    submit calls  polls  calls/poll  calls/lifecycle  lifecycle@spaced  calls/min  calls/min@spaced  ms/poll  vs baseline",
  );
  for (const r of rows) {
    const spacedPolls = Math.ceil((r.polls * INTERVAL_MS) / GATED_INTERVAL_MS);
    console.log(
      [
        r.name.padEnd(10),
        String(r.submitCalls).padStart(12),
        String(r.polls).padStart(6),
        r.callsPerPoll.toFixed(2).padStart(11),
        String(r.total).padStart(16),
        String(r.submitCalls + Math.round(spacedPolls * r.callsPerPoll)).padStart(17),
        String(perMinute(INTERVAL_MS, r.callsPerPoll)).padStart(10),
        String(perMinute(GATED_INTERVAL_MS, r.callsPerPoll)).padStart(17),
        r.pollMs.toFixed(3).padStart(8),
        `${(r.pollMs / (r.name === "azure-ml" ? baseHttps : baseHttp)).toFixed(1)}x`.padStart(12),
      ].join(" "),
    );
    if (r.status !== "COMPLETED") throw new Error(`${r.name} ended ${r.status}, not COMPLETED`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
