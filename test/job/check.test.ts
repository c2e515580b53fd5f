import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TrainingJob, type TrainingJobArgs } from "../../src/job";
import { ensureBuilt } from "../helpers/provider-build";
import {
  ProviderHost,
  type Registration,
  registerWithMocks,
  secret,
  UNKNOWN,
} from "../helpers/provider-host";

// `check` as the engine calls it during preview: program inputs from the mock runtime, sent to the
// real provider host, failures read back with their property paths.

let host: ProviderHost;

beforeAll(async () => {
  ensureBuilt();
  host = await ProviderHost.start({
    config: {
      "trainkit:apiUrl": "http://127.0.0.1:9",
      "trainkit:apiKey": secret("check-key"),
      "trainkit:accountId": "acct-1",
    },
  });
});

afterAll(async () => {
  await host?.close();
});

/** A resource whose `path` output is unknown during preview, as a bucket's name would be. */
class Directory extends pulumi.CustomResource {
  declare readonly path: pulumi.Output<string>;
  constructor(name: string) {
    super("test:index:Directory", name, { path: undefined });
  }
}

async function register(args: TrainingJobArgs): Promise<Registration> {
  const [registration] = await registerWithMocks(() => new TrainingJob("job", args));
  return registration!;
}

const vertexPool = {
  machine_spec: {
    machine_type: "g2-standard-8",
    accelerator_type: "NVIDIA_L4" as const,
    accelerator_count: 1,
  },
  replica_count: 1,
  container_spec: { image_uri: "registry.example/train:v1", command: ["python3", "train.py"] },
};

const badSpecs: { title: string; args: TrainingJobArgs; property: string; reason: string }[] = [
  {
    title: "a vertex-ai pool with no replicas",
    args: {
      backend: "vertex-ai",
      name: "v",
      jobConfig: { worker_pool_specs: [{ ...vertexPool, replica_count: 0 }] },
    },
    property: "jobConfig.worker_pool_specs[0].replica_count",
    reason: "must be greater than 0; got 0",
  },
  {
    title: "a vertex-ai accelerator count without an accelerator type",
    args: {
      backend: "vertex-ai",
      name: "v",
      jobConfig: {
        worker_pool_specs: [
          { ...vertexPool, machine_spec: { machine_type: "g2-standard-8", accelerator_count: 2 } },
        ],
      },
    },
    property: "jobConfig.worker_pool_specs[0].machine_spec.accelerator_type",
    reason: "must be set when accelerator_count is set",
  },
  {
    title: "a vertex-ai job without worker pools",
    args: { backend: "vertex-ai", name: "v", jobConfig: { worker_pool_specs: [] } },
    property: "jobConfig.worker_pool_specs",
    reason: "must hold at least one worker pool",
  },
  {
    title: "a vertex-ai mount of an S3 bucket",
    args: {
      backend: "vertex-ai",
      name: "v",
      jobConfig: { worker_pool_specs: [vertexPool] },
      storageMounts: [{ sourceUri: "s3://data/mnist", mountPath: "/mnt/data" }],
    },
    property: "storageMounts[0].sourceUri",
    reason: "must be a gs://<bucket>/<path> URI for the vertex-ai backend",
  },
  {
    title: "a sagemaker instance type without the ml. prefix",
    args: {
      backend: "sagemaker",
      name: "s",
      jobConfig: { image: "img:1", resource_config: { instance_count: 1, instance_type: "g5.xlarge" } },
    },
    property: "jobConfig.resource_config.instance_type",
    reason: "must be a SageMaker instance type such as ml.g5.xlarge",
  },
  {
    title: "a misspelt sagemaker field",
    args: {
      backend: "sagemaker",
      name: "s",
      jobConfig: {
        image: "img:1",
        resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge" },
        hyperparamters: { lr: "0.1" },
      } as never,
    },
    property: "jobConfig.hyperparamters",
    reason: "is not a known field; remove it or check its spelling",
  },
  {
    title: "an azure-ml job without compute",
    args: {
      backend: "azure-ml",
      name: "a",
      jobConfig: { command: "python train.py", environment: { image: "img:1" } } as never,
    },
    property: "jobConfig.compute",
    reason: "is required",
  },
  {
    title: "an azure-ml command of blanks",
    args: {
      backend: "azure-ml",
      name: "a",
      jobConfig: { command: "   ", environment: { image: "img:1" }, compute: "gpu-cluster" },
    },
    property: "jobConfig.command",
    reason: 'must be a shell command such as "python train.py"',
  },
  {
    title: "a kubernetes CPU quantity in words",
    args: { backend: "kubernetes", name: "k", jobConfig: { image: "img:1", resources: { cpu: "four" } } },
    property: "jobConfig.resources.cpu",
    reason:
      'must be a CPU quantity such as "4" or "500m": a number and an optional suffix (m, k, M, G, Ki, Mi, Gi, ...; a Kubernetes resource.Quantity); got "four"',
  },
  {
    title: "a kubernetes namespace with capitals",
    args: { backend: "kubernetes", name: "k", jobConfig: { image: "img:1", namespace: "Team_A" } },
    property: "jobConfig.namespace",
    reason: "must be a Kubernetes namespace name",
  },
  {
    title: "a kubernetes mount that is not a claim",
    args: {
      backend: "kubernetes",
      name: "k",
      jobConfig: { image: "img:1" },
      storageMounts: [{ sourceUri: "gs://bucket/data", mountPath: "/data" }],
    },
    property: "storageMounts[0].sourceUri",
    reason:
      "must be a pvc://<claim-name>/<sub-path> URI naming a PersistentVolumeClaim for the kubernetes backend",
  },
  {
    title: "a local job with nothing to run",
    args: { backend: "local", name: "l", jobConfig: { command: [] } },
    property: "jobConfig.command",
    reason: "must hold at least the program to run",
  },
  {
    title: "two local mounts at the same path",
    args: {
      backend: "local",
      name: "l",
      jobConfig: { command: ["node"] },
      storageMounts: [
        { sourceUri: "/tmp/a", mountPath: "/mnt/x" },
        { sourceUri: "/tmp/b", mountPath: "/mnt/x" },
      ],
    },
    property: "storageMounts[1].mountPath",
    reason: "must differ from storage_mounts[0].mount_path",
  },
  {
    title: "a local mount path that is relative",
    args: {
      backend: "local",
      name: "l",
      jobConfig: { command: ["node"] },
      storageMounts: [{ sourceUri: "/tmp/a", mountPath: "data" }],
    },
    property: "storageMounts[0].mountPath",
    reason: "must be an absolute path starting with '/'",
  },
  {
    title: "a job name with a space",
    args: { backend: "local", name: "my job", jobConfig: { command: ["node"] } },
    property: "name",
    reason: "must start with a letter or digit and hold only letters, digits",
  },
  {
    title: "an unknown backend",
    args: { backend: "gke", name: "g", jobConfig: {} } as never,
    property: "backend",
    reason: 'must be one of vertex-ai, sagemaker, azure-ml, kubernetes, local; got "gke"',
  },
  {
    title: "an unknown wait mode",
    args: { backend: "local", name: "l", jobConfig: { command: ["node"] }, waitFor: "finished" as never },
    property: "waitFor",
    reason: 'must be one of submitted, running, completed; got "finished"',
  },
  {
    title: "an API URL that is not http",
    args: { backend: "local", name: "l", jobConfig: { command: ["node"] }, apiUrl: "ftp://example.com" },
    property: "apiUrl",
    reason: "must be an http:// or https:// URL such as http://127.0.0.1:8080",
  },
  {
    title: "an API URL carrying a password",
    args: {
      backend: "local",
      name: "l",
      jobConfig: { command: ["node"] },
      apiUrl: "http://u:hunter2@127.0.0.1:8080",
    },
    property: "apiUrl",
    reason: "must not carry credentials (user:password@); pass the key as apiKey or trainkit:apiKey instead",
  },
  {
    title: "a negative wait timeout",
    args: { backend: "local", name: "l", jobConfig: { command: ["node"] }, waitTimeoutSeconds: -5 },
    property: "waitTimeoutSeconds",
    reason: "must be a number of seconds greater than 0; got -5",
  },
];

describe("check", () => {
  it.each(badSpecs)("rejects $title at $property", async ({ args, property, reason }) => {
    const registration = await register(args);
    const { failures } = await host.check(registration.urn, {}, registration.inputs);
    expect(failures).toContainEqual({ property, reason: expect.stringContaining(reason) });
  });

  it("accepts the SGP Train API's vertex-ai example with no failures", async () => {
    const registration = await register({
      backend: "vertex-ai",
      name: "mnist-training",
      jobConfig: { worker_pool_specs: [vertexPool], scheduling: { timeout: "86400s" } },
      storageMounts: [{ sourceUri: "gs://my-bucket/mnist-data", mountPath: "/mnt/data", readOnly: true }],
    });
    const { failures } = await host.check(registration.urn, {}, registration.inputs);
    expect(failures).toEqual([]);
  });

  it("fills in the schema's defaults and the watch defaults", async () => {
    const registration = await register({
      backend: "sagemaker",
      name: "s",
      jobConfig: { image: "img:1", resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge" } },
      storageMounts: [{ sourceUri: "s3://bucket/data", mountPath: "/mnt/data" }],
    });
    const { inputs } = await host.check(registration.urn, {}, registration.inputs);
    expect(inputs.jobConfig).toEqual({
      image: "img:1",
      resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge", volume_size_in_gb: 50 },
    });
    expect(inputs.storageMounts).toEqual([
      { sourceUri: "s3://bucket/data", mountPath: "/mnt/data", readOnly: false },
    ]);
    expect(inputs).toMatchObject({
      waitFor: "submitted",
      waitTimeoutSeconds: 3600,
      requestTimeoutSeconds: 30,
    });
  });

  it("accepts values still unknown during preview", async () => {
    const registrations = await registerWithMocks(
      () => {
        const dir = new Directory("dir");
        const path = dir.path;
        return [
          dir,
          new TrainingJob("job", {
            backend: "local",
            name: "l",
            jobConfig: { command: ["node", path] },
            storageMounts: [{ sourceUri: path, mountPath: "/mnt/data" }],
          }),
        ];
      },
      { preview: true },
    );
    const job = registrations.find((r) => r.name === "job")!;
    expect(job.inputs.storageMounts).toEqual([{ sourceUri: UNKNOWN, mountPath: "/mnt/data" }]);
    const { failures } = await host.check(job.urn, {}, job.inputs);
    expect(failures).toEqual([]);
  });

  it("names every way to set an API setting that is missing everywhere", async () => {
    const bare = await ProviderHost.start();
    try {
      const registration = await register({ backend: "local", name: "l", jobConfig: { command: ["node"] } });
      const { failures } = await bare.check(registration.urn, {}, registration.inputs);
      expect(failures.map((f) => f.property)).toEqual(["apiUrl", "apiKey", "accountId"]);
      expect(failures[1]!.reason).toBe(
        "is not set; pass apiKey to the TrainingJob, run `pulumi config set --secret trainkit:apiKey <key>`, or set TRAINKIT_API_KEY",
      );
    } finally {
      await bare.close();
    }
  });

  it("takes the API settings from environment variables when neither inputs nor config set them", async () => {
    const withEnv = await ProviderHost.start({
      env: {
        ...process.env,
        TRAINKIT_API_URL: "http://127.0.0.1:9",
        TRAINKIT_API_KEY: "k",
        TRAINKIT_ACCOUNT_ID: "a",
      },
    });
    try {
      const registration = await register({ backend: "local", name: "l", jobConfig: { command: ["node"] } });
      const { failures } = await withEnv.check(registration.urn, {}, registration.inputs);
      expect(failures).toEqual([]);
    } finally {
      await withEnv.close();
    }
  });
});
