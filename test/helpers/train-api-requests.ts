/** Valid create requests, one per backend, to derive malformed ones from. */
export const VALID_REQUESTS = {
  "vertex-ai": {
    name: "mnist-training",
    job_config: {
      worker_pool_specs: [
        {
          machine_spec: {
            machine_type: "g2-standard-8",
            accelerator_type: "NVIDIA_L4",
            accelerator_count: 1,
          },
          replica_count: 1,
          container_spec: { image_uri: "registry.example/pytorch-gpu:v1", command: ["python3", "train.py"] },
        },
      ],
      scheduling: { timeout: "86400s" },
    },
    storage_mounts: [{ source_uri: "gs://my-bucket/mnist-data", mount_path: "/mnt/data", read_only: true }],
  },
  sagemaker: {
    name: "mnist-training",
    job_config: {
      image: "registry.example/pytorch-gpu:v1",
      command: ["python3", "/app/train.py"],
      resource_config: { instance_count: 1, instance_type: "ml.g4dn.xlarge", volume_size_in_gb: 50 },
    },
    storage_mounts: [{ source_uri: "s3://my-bucket/mnist-data", mount_path: "/mnt/data", read_only: true }],
  },
  "azure-ml": {
    name: "mnist-training",
    job_config: {
      command: "python train.py --epochs 3",
      environment: { image: "registry.example/pytorch-gpu:v1" },
      compute: "gpu-cluster",
      resources: { instance_type: "Standard_NC24ads_A100_v4", instance_count: 1 },
    },
    storage_mounts: [],
  },
  kubernetes: {
    name: "mnist-training",
    job_config: { image: "registry.example/pytorch-gpu:v1", command: ["python3", "train.py"] },
    storage_mounts: [],
  },
  local: {
    name: "sleepy",
    job_config: { command: ["sh", "-c", "exit 0"] },
    storage_mounts: [],
  },
} as const;

/** A deep copy of `value` with `path` set to `replacement` (or removed when it is `undefined`). */
export function withValue<T>(value: T, path: (string | number)[], replacement: unknown): T {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (replacement === undefined) delete node[last];
  else node[last] = replacement;
  return copy as T;
}
