import { describe, expect, it } from "vitest";
import { CREATE_JOB_REQUESTS, issuesToDetails } from "../src/spec";

// The three example requests of seed 000, unchanged.
const vertexExample = {
  name: "mnist-training",
  job_config: {
    worker_pool_specs: [
      {
        machine_spec: { machine_type: "g2-standard-8", accelerator_type: "NVIDIA_L4", accelerator_count: 1 },
        replica_count: 1,
        container_spec: {
          image_uri: "docker-registry.your-sgp-deployment-url/pytorch-gpu:v1",
          command: ["python3", "train.py"],
          args: ["--epochs", "3"],
        },
      },
    ],
    scheduling: { timeout: "86400s" },
  },
  storage_mounts: [
    { source_uri: "gs://my-bucket/mnist-data", mount_path: "/mnt/data", read_only: true },
    { source_uri: "gs://my-bucket/output/run-1", mount_path: "/mnt/output", read_only: false },
  ],
};
const sagemakerExample = {
  name: "mnist-training",
  job_config: {
    image: "docker-registry.your-sgp-deployment-url/pytorch-gpu:v1",
    command: ["python3", "/app/train.py"],
    resource_config: { instance_count: 1, instance_type: "ml.g4dn.xlarge", volume_size_in_gb: 50 },
    hyperparameters: { learning_rate: "0.001" },
  },
  storage_mounts: [
    { source_uri: "s3://my-bucket/mnist-data", mount_path: "/mnt/data", read_only: true },
    { source_uri: "s3://my-bucket/output/run-1", mount_path: "/mnt/output", read_only: false },
  ],
};
const azureExample = {
  name: "mnist-training",
  job_config: {
    command: "python train.py --epochs 3",
    environment: { image: "docker-registry.your-sgp-deployment-url/pytorch-gpu:v1" },
    compute: "gpu-cluster",
    resources: { instance_type: "Standard_NC24ads_A100_v4", instance_count: 1 },
    environment_variables: { LEARNING_RATE: "0.001" },
  },
  storage_mounts: [
    { source_uri: "azureml://datastores/traindata/paths/mnist", mount_path: "/mnt/data", read_only: true },
    {
      source_uri: "azureml://datastores/trainoutput/paths/run-1",
      mount_path: "/mnt/output",
      read_only: false,
    },
  ],
};

describe("the Train API request schemas", () => {
  it("accept seed 000's Vertex AI example unchanged", () => {
    expect(CREATE_JOB_REQUESTS["vertex-ai"].parse(vertexExample)).toEqual(vertexExample);
  });

  it("accept seed 000's SageMaker example unchanged", () => {
    expect(CREATE_JOB_REQUESTS.sagemaker.parse(sagemakerExample)).toEqual(sagemakerExample);
  });

  it("accept seed 000's Azure ML example unchanged", () => {
    expect(CREATE_JOB_REQUESTS["azure-ml"].parse(azureExample)).toEqual(azureExample);
  });

  it("reject a mount of another cloud's storage with the mount's path", () => {
    const result = CREATE_JOB_REQUESTS.sagemaker.safeParse({
      ...sagemakerExample,
      storage_mounts: [{ source_uri: "gs://my-bucket/data", mount_path: "/mnt/data" }],
    });
    expect(result.success).toBe(false);
    const details = issuesToDetails(result.error!);
    expect(details).toEqual([
      {
        path: "storage_mounts[0].source_uri",
        message: "must be an s3://<bucket>/<prefix> URI for the sagemaker backend",
      },
    ]);
  });

  it("name an unknown field by its full path", () => {
    const bad = structuredClone(vertexExample) as Record<string, unknown> & typeof vertexExample;
    (bad.job_config.worker_pool_specs[0] as Record<string, unknown>).replica_cnt = 2;
    const result = CREATE_JOB_REQUESTS["vertex-ai"].safeParse(bad);
    expect(issuesToDetails(result.error!, "")).toContainEqual({
      path: "job_config.worker_pool_specs[0].replica_cnt",
      message: "is not a known field; remove it or check its spelling",
    });
  });

  it("fill the local backend's mounts with an empty list when none are given", () => {
    const parsed = CREATE_JOB_REQUESTS.local.parse({ name: "x", job_config: { command: ["true"] } });
    expect(parsed.storage_mounts).toEqual([]);
  });
});
