// What the GCP components cost over writing the same resources with @pulumi/gcp by hand, under Pulumi's
// mock runtime, and what importing trainkit/gcp costs over importing @pulumi/gcp alone.
// Run after `npm run build`: node bench/gcp.mjs [platforms-per-run] [runs]
import { runPlatformBench } from "./lib/platform-bench.mjs";

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

await runPlatformBench(import.meta.url, {
  cloud: "gcp",
  provider: (require) => require("@pulumi/gcp"),
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
  platformArgs: () => ({
    project: "bench-project",
    region: "us-central1",
    api: {
      image: "us-central1-docker.pkg.dev/bench/images/trainkit:0.1.0",
      apiKeys: { "bench-key-0123456789": ["bench"] },
    },
  }),
  handWritten,
});
