// What the GCP components cost over writing the same resources with @pulumi/gcp by hand, under Pulumi's
// mock runtime, and what importing trainkit/gcp costs over importing @pulumi/gcp alone.
// Run after `npm run build`: node bench/gcp.mjs [platforms-per-run] [runs]
// Every measurement runs in a fresh child process so that one variant's heap and module cache do not
// colour the other's; variants alternate so that machine noise falls on both alike.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const self = fileURLToPath(import.meta.url);
const [, , mode, ...rest] = process.argv;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function installMocks(pulumi) {
  await pulumi.runtime.setMocks(
    {
      newResource({ type, name, inputs }) {
        const extra = {};
        if (type === "gcp:serviceaccount/account:Account")
          extra.email = `${inputs.accountId}@bench.iam.gserviceaccount.com`;
        if (type === "gcp:cloudrunv2/service:Service") extra.uri = `https://${name}.a.run.app`;
        if (type === "gcp:storage/bucket:Bucket") extra.name = inputs.name ?? name;
        if (type === "gcp:secretmanager/secret:Secret") extra.secretId = name;
        if (type === "gcp:secretmanager/secretVersion:SecretVersion") extra.version = "1";
        return { id: `${name}-id`, state: { ...inputs, ...extra } };
      },
      call: ({ inputs }) => inputs,
    },
    "bench",
    "bench",
    false,
  );
}

// The resources TrainingPlatform registers (without a cluster), written directly against @pulumi/gcp
// with the same inputs, as a team would without trainkit.
function handWritten(gcp, pulumi, i) {
  const project = "bench-project";
  const location = "us-central1";
  const labels = { "managed-by": "trainkit" };
  const repo = new gcp.artifactregistry.Repository(`h${i}-images`, {
    project,
    location,
    repositoryId: `h${i}-images`,
    format: "DOCKER",
    dockerConfig: { immutableTags: true },
    cleanupPolicies: [
      { id: "delete-untagged", action: "DELETE", condition: { tagState: "UNTAGGED", olderThan: "604800s" } },
      { id: "keep-recent", action: "KEEP", mostRecentVersions: { keepCount: 10 } },
    ],
    cleanupPolicyDryRun: false,
    vulnerabilityScanningConfig: { enablementConfig: "INHERITED" },
    labels,
  });
  const bucket = (name) =>
    new gcp.storage.Bucket(name, {
      project,
      location,
      uniformBucketLevelAccess: true,
      publicAccessPrevention: "enforced",
      versioning: { enabled: true },
      lifecycleRules: [
        { action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: 30, withState: "ARCHIVED" } },
      ],
      softDeletePolicy: { retentionDurationSeconds: 604800 },
      forceDestroy: false,
      labels,
    });
  const data = bucket(`h${i}-data`);
  const output = bucket(`h${i}-output`);
  const jobs = new gcp.serviceaccount.Account(`h${i}-jobs`, { project, accountId: `h${i}-jobs` });
  const jobMember = pulumi.interpolate`serviceAccount:${jobs.email}`;
  new gcp.storage.BucketIAMMember(`h${i}-jobs-read`, {
    bucket: data.name,
    role: "roles/storage.objectViewer",
    member: jobMember,
  });
  new gcp.storage.BucketIAMMember(`h${i}-jobs-write`, {
    bucket: output.name,
    role: "roles/storage.objectAdmin",
    member: jobMember,
  });
  new gcp.artifactregistry.RepositoryIamMember(`h${i}-jobs-pull`, {
    project,
    location,
    repository: repo.name,
    role: "roles/artifactregistry.reader",
    member: jobMember,
  });
  const api = new gcp.serviceaccount.Account(`h${i}-api-sa`, { project, accountId: `h${i}-api` });
  const member = pulumi.interpolate`serviceAccount:${api.email}`;
  const grants = [
    new gcp.projects.IAMMember(`h${i}-aiplatform`, { project, role: "roles/aiplatform.user", member }),
    new gcp.serviceaccount.IAMMember(`h${i}-act-as`, {
      serviceAccountId: pulumi.interpolate`projects/${project}/serviceAccounts/${jobs.email}`,
      role: "roles/iam.serviceAccountUser",
      member,
    }),
    new gcp.storage.BucketIAMMember(`h${i}-api-out`, {
      bucket: output.name,
      role: "roles/storage.objectAdmin",
      member,
    }),
    new gcp.storage.BucketIAMMember(`h${i}-api-data`, {
      bucket: data.name,
      role: "roles/storage.objectAdmin",
      member,
    }),
  ];
  const secret = new gcp.secretmanager.Secret(`h${i}-keys`, { project, replication: { auto: {} }, labels });
  const version = new gcp.secretmanager.SecretVersion(`h${i}-keys`, {
    secret: secret.id,
    secretData: pulumi.secret('{"bench-key-0123456789":["bench"]}'),
  });
  grants.push(
    new gcp.secretmanager.SecretIamMember(`h${i}-keys-access`, {
      project,
      secretId: secret.secretId,
      role: "roles/secretmanager.secretAccessor",
      member,
    }),
  );
  new gcp.cloudrunv2.Service(
    `h${i}-api`,
    {
      project,
      location,
      ingress: "INGRESS_TRAFFIC_INTERNAL_ONLY",
      deletionProtection: false,
      labels,
      template: {
        serviceAccount: api.email,
        scaling: { minInstanceCount: 1, maxInstanceCount: 1 },
        containers: [
          {
            image: "us-central1-docker.pkg.dev/bench/images/trainkit:0.1.0",
            ports: { containerPort: 8080 },
            envs: [
              { name: "HOST", value: "0.0.0.0" },
              { name: "TRAINKIT_VERTEX_PROJECT", value: project },
              { name: "TRAINKIT_VERTEX_REGION", value: location },
              { name: "TRAINKIT_VERTEX_SERVICE_ACCOUNT", value: jobs.email },
              { name: "TRAINKIT_VERTEX_STAGING_BUCKET", value: pulumi.interpolate`gs://${output.name}` },
              {
                name: "TRAINKIT_API_KEYS",
                valueSource: { secretKeyRef: { secret: secret.secretId, version: version.version } },
              },
            ],
            resources: { limits: { cpu: "1", memory: "1Gi" }, cpuIdle: false, startupCpuBoost: true },
          },
        ],
      },
    },
    { dependsOn: grants },
  );
}

async function construct(variant, count) {
  const pulumi = require("@pulumi/pulumi");
  const gcp = require("@pulumi/gcp");
  const { TrainingPlatform } = require("trainkit/gcp");
  await installMocks(pulumi);
  const settings = require("@pulumi/pulumi/runtime/settings");
  // One warm-up of each variant loads the lazily loaded @pulumi/gcp modules both use before timing.
  handWritten(gcp, pulumi, "warm");
  new TrainingPlatform("warm", {
    project: "bench-project",
    region: "us-central1",
    api: { image: "img", apiKeys: { "bench-key-0123456789": ["bench"] } },
  });
  await settings.waitForRPCs();
  global.gc?.();
  const registeredBefore = pulumi.runtime.getMonitor().resources.size;
  const before = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (variant === "trainkit") {
      new TrainingPlatform(`p${i}`, {
        project: "bench-project",
        region: "us-central1",
        api: {
          image: "us-central1-docker.pkg.dev/bench/images/trainkit:0.1.0",
          apiKeys: { "bench-key-0123456789": ["bench"] },
        },
      });
    } else {
      handWritten(gcp, pulumi, i);
    }
  }
  await settings.waitForRPCs();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  global.gc?.();
  // Retained heap is what the constructed program holds once garbage is gone; peak RSS is the most the
  // process ever held, including Node, Pulumi and @pulumi/gcp themselves, which both variants share.
  const retainedMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const resources = (pulumi.runtime.getMonitor().resources.size - registeredBefore) / count;
  process.stdout.write(JSON.stringify({ ms, retainedMb, peakRssMb, resources }));
}

// With `over`, that module is loaded first and only the time to load `target` on top of it is counted.
function importTime(target, over) {
  if (over) require(over);
  const start = process.hrtime.bigint();
  require(target);
  process.stdout.write(JSON.stringify({ ms: Number(process.hrtime.bigint() - start) / 1e6 }));
}

function child(...args) {
  return JSON.parse(execFileSync(process.execPath, ["--expose-gc", self, ...args], { encoding: "utf8" }));
}

async function main() {
  if (!existsSync(fileURLToPath(new URL("../dist/gcp/index.js", import.meta.url)))) {
    throw new Error("dist/gcp/index.js is missing: run npm run build first");
  }
  const count = Number(mode ?? 40);
  const runs = Number(rest[0] ?? 5);
  const perPlatform = { trainkit: [], hand: [] };
  for (let r = 0; r < runs; r++) {
    for (const variant of r % 2 === 0 ? ["hand", "trainkit"] : ["trainkit", "hand"]) {
      perPlatform[variant].push(child("--construct", variant, String(count)));
    }
  }
  const imports = { "trainkit/gcp": [], "@pulumi/gcp": [], extra: [] };
  for (let r = 0; r < runs * 2; r++) {
    for (const target of r % 2 === 0 ? ["@pulumi/gcp", "trainkit/gcp"] : ["trainkit/gcp", "@pulumi/gcp"]) {
      imports[target].push(child("--import", target).ms);
    }
    imports.extra.push(child("--import", "trainkit/gcp", "@pulumi/gcp").ms);
  }
  const stat = (v, key) => median(perPlatform[v].map((x) => x[key]));
  const n = (v) => perPlatform[v][0].resources;
  console.log(
    `Constructing ${count} platforms under the mock runtime (median of ${runs} runs, one process each):`,
  );
  for (const [label, v] of [
    ["TrainingPlatform via trainkit", "trainkit"],
    ["same resources by hand", "hand"],
  ]) {
    console.log(
      `  ${label.padEnd(30)} ${stat(v, "ms").toFixed(0).padStart(6)} ms  ${stat(v, "retainedMb").toFixed(1).padStart(6)} MB retained  ${stat(v, "peakRssMb").toFixed(0).padStart(5)} MB peak RSS  (${n(v)} registrations per platform)`,
    );
  }
  const ratio = (key) => (stat("trainkit", key) / stat("hand", key)).toFixed(2);
  console.log(`  time ratio trainkit/hand:            ${ratio("ms")}`);
  console.log(
    `  time per registration, trainkit/hand: ${(stat("trainkit", "ms") / n("trainkit") / (stat("hand", "ms") / n("hand"))).toFixed(2)}`,
  );
  console.log(`  retained heap ratio trainkit/hand:   ${ratio("retainedMb")}`);
  console.log(`  peak RSS ratio trainkit/hand:        ${ratio("peakRssMb")}`);
  const it = median(imports["trainkit/gcp"]);
  const ig = median(imports["@pulumi/gcp"]);
  console.log(`Import time, fresh process each (median of ${runs * 2}):`);
  console.log(`  require("trainkit/gcp")          ${it.toFixed(1).padStart(8)} ms`);
  console.log(`  require("@pulumi/gcp")           ${ig.toFixed(1).padStart(8)} ms`);
  console.log(`  ratio trainkit/gcp / @pulumi/gcp: ${(it / ig).toFixed(2)}`);
  console.log(`  trainkit/gcp on top of a loaded @pulumi/gcp: ${median(imports.extra).toFixed(1)} ms`);
}

if (mode === "--construct") await construct(rest[0], Number(rest[1]));
else if (mode === "--import") importTime(rest[0], rest[1]);
else await main();
