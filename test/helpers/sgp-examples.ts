// The three example requests of the SGP Train API document, unchanged.

export const vertexExample = {
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

export const sagemakerExample = {
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

export const azureExample = {
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
