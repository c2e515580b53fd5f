// Native API calls per recovery on each cloud backend (vertex-ai, sagemaker, azure-ml, kubernetes),
// against the counting loopback stand-ins of the test suite. Run by bench/recovery.mjs, under tsx:
//
//   node --import tsx bench/lib/recovery-clouds.mjs [--reconcile-ms 200] [--cloud-recoveries 5]
import { DEFAULT_NAMESPACE, startCloudTrainApi } from "../../test/helpers/cloud-train-api.ts";
import { VALID_REQUESTS } from "../../test/helpers/train-api-requests.ts";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RECONCILE_MS = arg("reconcile-ms", 200);
const CLOUD_RECOVERIES = arg("cloud-recoveries", 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Native calls per recovery on each cloud backend, against the counting stand-ins. */
async function cloudRecoveries() {
  const cloud = await startCloudTrainApi({ reconcileIntervalMs: RECONCILE_MS });
  const cloudAuth = { "x-api-key": cloud.apiKey, "x-selected-account-id": cloud.accountId };
  const cloudGet = async (id) => (await fetch(`${cloud.url}/v1/jobs/${id}`, { headers: cloudAuth })).json();
  const cloudUntil = async (id, test) => {
    for (;;) {
      const job = await cloudGet(id);
      if (test(job)) return job;
      await sleep(5);
    }
  };
  const recorded = {
    "vertex-ai": () => cloud.vertex.cloud.requests,
    sagemaker: () => [...cloud.sagemaker.cloud.requests, ...cloud.cloudWatch.cloud.requests],
    "azure-ml": () => cloud.azure.cloud.requests.filter((r) => !/\/oauth2\/|openid|discovery/.test(r.path)),
    kubernetes: () => cloud.kubernetes.server.requests,
  };
  /** A request as an operation name: the SageMaker target, else the method and the path without ids. */
  const operation = (r) =>
    r.headers["x-amz-target"]?.replace(/^SageMaker\./, "") ??
    `${r.method} ${r.path
      .replace(/\/customJobs\/\d+/, "/customJobs/{id}")
      .replace(/\/environments\/[^/]+\/versions\/[^/?]+/, "/environments/{env}/versions/{v}")
      .replace(/\/jobs\/[^/?]+/, "/jobs/{name}")
      .replace(/^\/subscriptions\/.*\/workspaces\/[^/]+/, "{workspace}")
      .replace(/\/namespaces\/[^/]+/, "/namespaces/{ns}")}`;
  /** The calls that create the next attempt's native job (and, on Azure ML, its environment). */
  const submission = /^POST .*\/customJobs$|CreateTrainingJob|^PUT |^POST \/apis\/batch/;
  const request = {
    "vertex-ai": {
      ...VALID_REQUESTS["vertex-ai"],
      job_config: { ...VALID_REQUESTS["vertex-ai"].job_config, capacity: "spot" },
    },
    sagemaker: VALID_REQUESTS.sagemaker,
    "azure-ml": VALID_REQUESTS["azure-ml"],
    kubernetes: VALID_REQUESTS.kubernetes,
  };
  /** Ends attempt `n` of `job` as its cloud reports a preemption. */
  const preempt = {
    "vertex-ai": (job) =>
      cloud.vertex.setState(job.cloud_job_identifier.job_name, "JOB_STATE_FAILED", {
        code: 14,
        message: "STOCKOUT: the job's Spot VMs were preempted",
      }),
    sagemaker: (job) =>
      cloud.sagemaker.setStatus(
        job.cloud_job_identifier.training_job_name,
        "Failed",
        "Interrupted",
        "Spot capacity was reclaimed",
      ),
    "azure-ml": (job) =>
      cloud.azure.setStatus(
        job.cloud_job_identifier.job_name,
        "Failed",
        "The job's low-priority node was preempted.",
      ),
    kubernetes: (job, n) => {
      const name = job.cloud_job_identifier.job_name;
      cloud.kubernetes.addPod(DEFAULT_NAMESPACE, n === 0 ? job.id : `${job.id}-r${n}`, `${name}-bench`, {
        phase: "Failed",
        conditions: [{ type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet" }],
      });
      cloud.kubernetes.setJobStatus(DEFAULT_NAMESPACE, name, {
        failed: 1,
        conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }],
      });
    },
  };
  try {
    console.log(
      `\nnative API calls per recovery, against the counting stand-ins (reconcile interval ${RECONCILE_MS} ms, list sync 200 ms, ${CLOUD_RECOVERIES} recoveries each)`,
    );
    for (const backend of ["vertex-ai", "sagemaker", "azure-ml", "kubernetes"]) {
      const res = await fetch(`${cloud.url}/v1/${backend}/jobs`, {
        method: "POST",
        headers: { ...cloudAuth, "content-type": "application/json" },
        body: JSON.stringify({
          ...request[backend],
          retry_policy: { max_restarts: CLOUD_RECOVERIES, on: ["preemption"], backoff_seconds: 0 },
        }),
      });
      const { id } = await res.json();
      const totals = [];
      const submits = [];
      const byOperation = new Map();
      for (let n = 0; n < CLOUD_RECOVERIES; n++) {
        const running = await cloudUntil(id, (j) => j.restarts === n && j.cloud_job_identifier !== null);
        const before = recorded[backend]().length;
        preempt[backend](running, n);
        await cloudUntil(id, (j) => j.restarts === n + 1 && j.cloud_job_identifier !== null);
        const window = recorded[backend]().slice(before).map(operation);
        totals.push(window.length);
        submits.push(window.filter((o) => submission.test(o)).length);
        for (const o of window) byOperation.set(o, (byOperation.get(o) ?? 0) + 1);
      }
      await fetch(`${cloud.url}/v1/jobs/${id}/cancel`, { method: "POST", headers: cloudAuth });
      const ops = [...byOperation]
        .sort((a, b) => b[1] - a[1])
        .map(([o, c]) => `${o} ${(c / CLOUD_RECOVERIES).toFixed(1)}`)
        .join(", ");
      console.log(
        `  ${backend}: median ${median(totals)} calls per recovery (min ${Math.min(...totals)}, max ${Math.max(...totals)}), of which submissions ${median(submits)}`,
      );
      console.log(`    per recovery: ${ops}`);
    }
  } finally {
    await cloud.close();
  }
}

await cloudRecoveries();
