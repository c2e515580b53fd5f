import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody, Job } from "../../src/spec";
import { type CloudTrainApi, startCloudTrainApi } from "../helpers/cloud-train-api";
import { authHeaders } from "../helpers/train-api";

// Every limit a cloud publishes for its native training-job request, tried through the real Train
// API once with a value just inside it and once with a value just outside it. Inside, the job is
// accepted and the native body the backend's official SDK sent to the loopback stand-in carries the
// value unchanged; outside, the API answers 400 naming the field and nothing reaches the stand-in.
// The stand-ins only record what they receive: the limits come from the published specifications
// kept under test/fixtures/published/, named in each rule's `source`.

type CloudBackend = "vertex-ai" | "sagemaker" | "azure-ml" | "kubernetes";
// biome-ignore lint/suspicious/noExplicitAny: requests and native bodies are JSON walked by each rule
type Json = any;

interface Rule {
  backend: CloudBackend;
  rule: string;
  /** Where the cloud publishes it; "Train API" for the API's own rules about the names it sets. */
  source: string;
  inside: (request: Json) => void;
  outside: (request: Json) => void;
  /** The field the 400 names. */
  path: string;
  /** The value in the native body that must carry what the request said. */
  native: (body: Json) => unknown;
  expected: unknown;
}

const VERTEX_PROTO = "googleapis google/cloud/aiplatform/v1";
const VERTEX_DOCS = "cloud.google.com/vertex-ai/docs";
const SAGEMAKER_MODEL = "botocore sagemaker/2017-07-24/service-2.json";
const AZURE_SPEC = "azure-rest-api-specs MachineLearningServices stable/2024-04-01/mfe.json";
const K8S = "kubernetes/kubernetes apimachinery validation";
const OWN = "Train API";

const times = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
const entries = (n: number, key: (i: number) => string, value = "v") =>
  Object.fromEntries(times(n, key).map((k) => [k, value]));

function vertexPool(machine_type: string, accelerator?: [string, number], replica_count = 1): Json {
  return {
    machine_spec: {
      machine_type,
      ...(accelerator ? { accelerator_type: accelerator[0], accelerator_count: accelerator[1] } : {}),
    },
    replica_count,
    container_spec: { image_uri: "us-docker.pkg.dev/p/r/train:1" },
  };
}

const BASE: Record<CloudBackend, Json> = {
  "vertex-ai": {
    name: "limits",
    job_config: { worker_pool_specs: [vertexPool("g2-standard-8", ["NVIDIA_L4", 1])] },
  },
  sagemaker: {
    name: "limits",
    job_config: {
      image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
      resource_config: { instance_count: 1, instance_type: "ml.g5.xlarge" },
    },
  },
  "azure-ml": {
    name: "limits",
    job_config: {
      command: "python train.py",
      environment: { image: "myacr.azurecr.io/train:1" },
      compute: "gpu-cluster",
    },
  },
  kubernetes: { name: "limits", job_config: { image: "registry.example/train:1" } },
};

const GCS_MOUNT = { source_uri: "gs://bucket-a/data", mount_path: "/data", read_only: true };
const S3_MOUNT = { source_uri: "s3://bucket-a/data", mount_path: "/data", read_only: true };
const PVC_MOUNT = { source_uri: "pvc://datasets/v1", mount_path: "/data", read_only: true };
const TRAINING_PLAN = "arn:aws:sagemaker:us-east-1:123456789012:training-plan/p6e-plan";

const pool0 = (r: Json) => r.job_config.worker_pool_specs[0];
const vPool0 = (b: Json) => b.jobSpec.workerPoolSpecs[0];
const container = (b: Json) => b.spec.template.spec.containers[0];

const RULES: Rule[] = [
  // Vertex AI
  {
    backend: "vertex-ai",
    rule: "display name of at most 128 characters",
    source: `${VERTEX_PROTO}/custom_job.proto CustomJob.display_name`,
    inside: (r) => (r.name = "j".repeat(128)),
    outside: (r) => (r.name = "j".repeat(129)),
    path: "name",
    native: (b) => b.displayName,
    expected: "j".repeat(128),
  },
  {
    backend: "vertex-ai",
    rule: "label keys of at most 64 code points",
    source: `${VERTEX_PROTO}/custom_job.proto CustomJob.labels`,
    inside: (r) => (r.job_config.labels = { [`k${"é".repeat(63)}`]: "v" }),
    outside: (r) => (r.job_config.labels = { [`k${"é".repeat(64)}`]: "v" }),
    path: `job_config.labels.k${"é".repeat(64)}`,
    native: (b) => b.labels[`k${"é".repeat(63)}`],
    expected: "v",
  },
  {
    backend: "vertex-ai",
    rule: "label keys start with a lowercase letter",
    source: `${VERTEX_PROTO}/custom_job.proto CustomJob.labels; cloud.google.com/resource-manager/docs/labels-overview`,
    inside: (r) => (r.job_config.labels = { "team_a-1": "x" }),
    outside: (r) => (r.job_config.labels = { Team: "x" }),
    path: "job_config.labels.Team",
    native: (b) => b.labels["team_a-1"],
    expected: "x",
  },
  {
    backend: "vertex-ai",
    rule: "label values of at most 64 code points",
    source: `${VERTEX_PROTO}/custom_job.proto CustomJob.labels`,
    inside: (r) => (r.job_config.labels = { team: "v".repeat(64) }),
    outside: (r) => (r.job_config.labels = { team: "v".repeat(65) }),
    path: "job_config.labels.team",
    native: (b) => b.labels.team,
    expected: "v".repeat(64),
  },
  {
    backend: "vertex-ai",
    rule: "label values of lowercase letters, digits, '_' and '-'",
    source: `${VERTEX_PROTO}/custom_job.proto CustomJob.labels`,
    inside: (r) => (r.job_config.labels = { team: "ml-team_1" }),
    outside: (r) => (r.job_config.labels = { team: "ML team" }),
    path: "job_config.labels.team",
    native: (b) => b.labels.team,
    expected: "ml-team_1",
  },
  {
    backend: "vertex-ai",
    rule: "at most 64 labels, one of them the Train API's",
    source: "cloud.google.com/resource-manager/docs/labels-overview",
    inside: (r) => (r.job_config.labels = entries(63, (i) => `l${i}`)),
    outside: (r) => (r.job_config.labels = entries(64, (i) => `l${i}`)),
    path: "job_config.labels",
    native: (b) => Object.keys(b.labels).length,
    expected: 64,
  },
  {
    backend: "vertex-ai",
    rule: "at most 100 environment variables with the mount variables",
    source: `${VERTEX_PROTO}/custom_job.proto ContainerSpec.env`,
    inside: (r) => {
      r.storage_mounts = [GCS_MOUNT];
      pool0(r).container_spec.env = times(99, (i) => `V${i}`).map((name) => ({ name, value: "x" }));
    },
    outside: (r) => {
      r.storage_mounts = [GCS_MOUNT];
      pool0(r).container_spec.env = times(100, (i) => `V${i}`).map((name) => ({ name, value: "x" }));
    },
    path: "job_config.worker_pool_specs[0].container_spec.env",
    native: (b) => vPool0(b).containerSpec.env.length,
    expected: 100,
  },
  {
    backend: "vertex-ai",
    rule: "environment variable names are C identifiers",
    source: `${VERTEX_PROTO}/env_var.proto EnvVar.name`,
    inside: (r) => (pool0(r).container_spec.env = [{ name: "_MY_VAR1", value: "x" }]),
    outside: (r) => (pool0(r).container_spec.env = [{ name: "MY-VAR", value: "x" }]),
    path: "job_config.worker_pool_specs[0].container_spec.env[0].name",
    native: (b) => vPool0(b).containerSpec.env[0].name,
    expected: "_MY_VAR1",
  },
  {
    backend: "vertex-ai",
    rule: "accelerator types of the AcceleratorType enum, the newest included",
    source: `${VERTEX_PROTO}/accelerator_type.proto AcceleratorType`,
    inside: (r) =>
      (r.job_config.worker_pool_specs = [vertexPool("g4-standard-48", ["NVIDIA_RTX_PRO_6000", 1])]),
    outside: (r) =>
      (r.job_config.worker_pool_specs = [vertexPool("g4-standard-48", ["NVIDIA_RTX_PRO_7000", 1])]),
    path: "job_config.worker_pool_specs[0].machine_spec.accelerator_type",
    native: (b) => vPool0(b).machineSpec.acceleratorType,
    expected: "NVIDIA_RTX_PRO_6000",
  },
  {
    backend: "vertex-ai",
    rule: "accelerator count is an int32",
    source: `${VERTEX_PROTO}/machine_resources.proto MachineSpec.accelerator_count`,
    inside: (r) =>
      (r.job_config.worker_pool_specs = [vertexPool("ct5lp-hightpu-4t", ["TPU_V5_LITEPOD", 2147483647])]),
    outside: (r) =>
      (r.job_config.worker_pool_specs = [vertexPool("ct5lp-hightpu-4t", ["TPU_V5_LITEPOD", 2147483648])]),
    path: "job_config.worker_pool_specs[0].machine_spec.accelerator_count",
    native: (b) => vPool0(b).machineSpec.acceleratorCount,
    expected: 2147483647,
  },
  {
    backend: "vertex-ai",
    rule: "at most four worker pools",
    source: `${VERTEX_DOCS}/training/distributed-training`,
    inside: (r) =>
      (r.job_config.worker_pool_specs = [
        vertexPool("n1-standard-4"),
        ...times(3, () => vertexPool("n1-standard-4", undefined, 2)),
      ]),
    outside: (r) =>
      (r.job_config.worker_pool_specs = [
        vertexPool("n1-standard-4"),
        ...times(4, () => vertexPool("n1-standard-4", undefined, 2)),
      ]),
    path: "job_config.worker_pool_specs",
    native: (b) => b.jobSpec.workerPoolSpecs.length,
    expected: 4,
  },
  {
    backend: "vertex-ai",
    rule: "the first worker pool holds one primary replica",
    source: `${VERTEX_DOCS}/training/distributed-training`,
    inside: (r) =>
      (r.job_config.worker_pool_specs = [
        vertexPool("n1-standard-4"),
        vertexPool("n1-standard-4", undefined, 3),
      ]),
    outside: (r) => (r.job_config.worker_pool_specs = [vertexPool("n1-standard-4", undefined, 2)]),
    path: "job_config.worker_pool_specs[0].replica_count",
    native: (b) => b.jobSpec.workerPoolSpecs.map((p: Json) => p.replicaCount),
    expected: ["1", "3"],
  },
  {
    backend: "vertex-ai",
    rule: "boot disk types of DiskSpec",
    source: `${VERTEX_PROTO}/machine_resources.proto DiskSpec.boot_disk_type`,
    inside: (r) => (pool0(r).disk_spec = { boot_disk_type: "hyperdisk-balanced" }),
    outside: (r) => (pool0(r).disk_spec = { boot_disk_type: "pd-balanced" }),
    path: "job_config.worker_pool_specs[0].disk_spec.boot_disk_type",
    native: (b) => vPool0(b).diskSpec.bootDiskType,
    expected: "hyperdisk-balanced",
  },
  {
    backend: "vertex-ai",
    rule: "boot disks of at most 64000 GB",
    source: `${VERTEX_DOCS}/training/configure-compute#boot_disk_options`,
    inside: (r) => (pool0(r).disk_spec = { boot_disk_size_gb: 64000 }),
    outside: (r) => (pool0(r).disk_spec = { boot_disk_size_gb: 64001 }),
    path: "job_config.worker_pool_specs[0].disk_spec.boot_disk_size_gb",
    native: (b) => vPool0(b).diskSpec.bootDiskSizeGb,
    expected: 64000,
  },
  {
    backend: "vertex-ai",
    rule: "capacity is a Scheduling.Strategy",
    source: `${VERTEX_PROTO}/custom_job.proto Scheduling.Strategy`,
    inside: (r) => (r.job_config.capacity = "flex-start"),
    outside: (r) => (r.job_config.capacity = "preemptible"),
    path: "job_config.capacity",
    native: (b) => b.jobSpec.scheduling.strategy,
    expected: "FLEX_START",
  },
  {
    backend: "vertex-ai",
    rule: "max_wait_duration only with flex-start",
    source: `${VERTEX_PROTO}/custom_job.proto Scheduling.max_wait_duration`,
    inside: (r) =>
      Object.assign(r.job_config, { capacity: "flex-start", scheduling: { max_wait_duration: "3600s" } }),
    outside: (r) =>
      Object.assign(r.job_config, { capacity: "spot", scheduling: { max_wait_duration: "3600s" } }),
    path: "job_config.scheduling.max_wait_duration",
    native: (b) => b.jobSpec.scheduling.maxWaitDuration,
    expected: "3600s",
  },
  {
    backend: "vertex-ai",
    rule: "flex-start jobs run at most seven days",
    source: `${VERTEX_DOCS}/training/schedule-jobs-dws`,
    inside: (r) =>
      Object.assign(r.job_config, { capacity: "flex-start", scheduling: { timeout: "604800s" } }),
    outside: (r) =>
      Object.assign(r.job_config, { capacity: "flex-start", scheduling: { timeout: "604801s" } }),
    path: "job_config.scheduling.timeout",
    native: (b) => b.jobSpec.scheduling.timeout,
    expected: "604800s",
  },
  {
    backend: "vertex-ai",
    rule: "A4 (B200) is not sold on demand",
    source: "cloud.google.com/ai-hypercomputer/docs/consumption-models",
    inside: (r) =>
      Object.assign(r.job_config, {
        worker_pool_specs: [vertexPool("a4-highgpu-8g", ["NVIDIA_B200", 8])],
        capacity: "spot",
      }),
    outside: (r) => (r.job_config.worker_pool_specs = [vertexPool("a4-highgpu-8g", ["NVIDIA_B200", 8])]),
    path: "job_config.capacity",
    native: (b) => [vPool0(b).machineSpec.machineType, b.jobSpec.scheduling.strategy],
    expected: ["a4-highgpu-8g", "SPOT"],
  },
  {
    backend: "vertex-ai",
    rule: "A4X (GB200) only through a reservation",
    source: "cloud.google.com/ai-hypercomputer/docs/consumption-models",
    inside: (r) => {
      const pool = vertexPool("a4x-highgpu-4g", ["NVIDIA_GB200", 4]);
      pool.machine_spec.reservation_affinity = {
        reservation_affinity_type: "SPECIFIC_RESERVATION",
        key: "compute.googleapis.com/reservation-name",
        values: ["projects/p/zones/us-central1-a/reservations/gb200"],
      };
      r.job_config.worker_pool_specs = [pool];
    },
    outside: (r) =>
      Object.assign(r.job_config, {
        worker_pool_specs: [vertexPool("a4x-highgpu-4g", ["NVIDIA_GB200", 4])],
        capacity: "spot",
      }),
    path: "job_config.capacity",
    native: (b) => vPool0(b).machineSpec.reservationAffinity.values,
    expected: ["projects/p/zones/us-central1-a/reservations/gb200"],
  },
  {
    backend: "vertex-ai",
    rule: "a specific reservation names its key and values",
    source: `${VERTEX_PROTO}/reservation_affinity.proto ReservationAffinity`,
    inside: (r) =>
      (pool0(r).machine_spec.reservation_affinity = {
        reservation_affinity_type: "SPECIFIC_RESERVATION",
        key: "compute.googleapis.com/reservation-name",
        values: ["projects/p/zones/us-central1-a/reservations/l4"],
      }),
    outside: (r) =>
      (pool0(r).machine_spec.reservation_affinity = {
        reservation_affinity_type: "SPECIFIC_RESERVATION",
        key: "compute.googleapis.com/reservation-name",
      }),
    path: "job_config.worker_pool_specs[0].machine_spec.reservation_affinity.values",
    native: (b) => vPool0(b).machineSpec.reservationAffinity.reservationAffinityType,
    expected: "SPECIFIC_RESERVATION",
  },
  {
    backend: "vertex-ai",
    rule: "the container image is required",
    source: `${VERTEX_PROTO}/custom_job.proto ContainerSpec.image_uri`,
    inside: (r) => (pool0(r).container_spec.image_uri = "i"),
    outside: (r) => (pool0(r).container_spec.image_uri = ""),
    path: "job_config.worker_pool_specs[0].container_spec.image_uri",
    native: (b) => vPool0(b).containerSpec.imageUri,
    expected: "i",
  },
  {
    backend: "vertex-ai",
    rule: "mount variables come first and are not the job's to set",
    source: OWN,
    inside: (r) => {
      r.storage_mounts = [GCS_MOUNT];
      pool0(r).container_spec.env = [{ name: "DATA_DIR", value: "$(STORAGE_MOUNT_0_PATH)/train" }];
    },
    outside: (r) => {
      r.storage_mounts = [GCS_MOUNT];
      pool0(r).container_spec.env = [{ name: "STORAGE_MOUNT_0_PATH", value: "/elsewhere" }];
    },
    path: "job_config.worker_pool_specs[0].container_spec.env[0].name",
    native: (b) => vPool0(b).containerSpec.env,
    expected: [
      { name: "STORAGE_MOUNT_0_PATH", value: "/gcs/bucket-a/data" },
      { name: "DATA_DIR", value: "$(STORAGE_MOUNT_0_PATH)/train" },
    ],
  },
  {
    backend: "vertex-ai",
    rule: "the job-id label is the Train API's",
    source: OWN,
    inside: (r) => (r.job_config.labels = { "trainkit-team": "x" }),
    outside: (r) => (r.job_config.labels = { "trainkit-job-id": "x" }),
    path: "job_config.labels.trainkit-job-id",
    native: (b) => b.labels["trainkit-team"],
    expected: "x",
  },

  // SageMaker
  {
    backend: "sagemaker",
    rule: "training image of at most 255 characters",
    source: `${SAGEMAKER_MODEL} AlgorithmImage`,
    inside: (r) => (r.job_config.image = `r/${"a".repeat(253)}`),
    outside: (r) => (r.job_config.image = `r/${"a".repeat(254)}`),
    path: "job_config.image",
    native: (b) => b.AlgorithmSpecification.TrainingImage,
    expected: `r/${"a".repeat(253)}`,
  },
  {
    backend: "sagemaker",
    rule: "an entrypoint of at most 100 items",
    source: `${SAGEMAKER_MODEL} TrainingContainerEntrypoint`,
    inside: (r) => (r.job_config.command = times(100, () => "a")),
    outside: (r) => (r.job_config.command = times(101, () => "a")),
    path: "job_config.command",
    native: (b) => b.AlgorithmSpecification.ContainerEntrypoint.length,
    expected: 100,
  },
  {
    backend: "sagemaker",
    rule: "entrypoint items of at most 256 characters",
    source: `${SAGEMAKER_MODEL} TrainingContainerEntrypointString`,
    inside: (r) => (r.job_config.command = ["a".repeat(256)]),
    outside: (r) => (r.job_config.command = ["a".repeat(257)]),
    path: "job_config.command[0]",
    native: (b) => b.AlgorithmSpecification.ContainerEntrypoint[0],
    expected: "a".repeat(256),
  },
  {
    backend: "sagemaker",
    rule: "at most 100 container arguments",
    source: `${SAGEMAKER_MODEL} TrainingContainerArguments`,
    inside: (r) => (r.job_config.args = times(100, () => "b")),
    outside: (r) => (r.job_config.args = times(101, () => "b")),
    path: "job_config.args",
    native: (b) => b.AlgorithmSpecification.ContainerArguments.length,
    expected: 100,
  },
  {
    backend: "sagemaker",
    rule: "container arguments of at most 256 characters",
    source: `${SAGEMAKER_MODEL} TrainingContainerArgument`,
    inside: (r) => (r.job_config.args = ["b".repeat(256)]),
    outside: (r) => (r.job_config.args = ["b".repeat(257)]),
    path: "job_config.args[0]",
    native: (b) => b.AlgorithmSpecification.ContainerArguments[0],
    expected: "b".repeat(256),
  },
  {
    backend: "sagemaker",
    rule: "instance types of the TrainingInstanceType enum, with '-' in them",
    source: `${SAGEMAKER_MODEL} TrainingInstanceType`,
    inside: (r) => (r.job_config.resource_config.instance_type = "ml.p6-b200.48xlarge"),
    outside: (r) => (r.job_config.resource_config.instance_type = "ml.p6-b200.96xlarge"),
    path: "job_config.resource_config.instance_type",
    native: (b) => b.ResourceConfig.InstanceType,
    expected: "ml.p6-b200.48xlarge",
  },
  {
    backend: "sagemaker",
    rule: "at most 100 hyperparameters",
    source: `${SAGEMAKER_MODEL} HyperParameters`,
    inside: (r) => (r.job_config.hyperparameters = entries(100, (i) => `h${i}`)),
    outside: (r) => (r.job_config.hyperparameters = entries(101, (i) => `h${i}`)),
    path: "job_config.hyperparameters",
    native: (b) => Object.keys(b.HyperParameters).length,
    expected: 100,
  },
  {
    backend: "sagemaker",
    rule: "hyperparameter names of at most 256 characters",
    source: `${SAGEMAKER_MODEL} HyperParameterKey`,
    inside: (r) => (r.job_config.hyperparameters = { ["k".repeat(256)]: "1" }),
    outside: (r) => (r.job_config.hyperparameters = { ["k".repeat(257)]: "1" }),
    path: `job_config.hyperparameters.${"k".repeat(257)}`,
    native: (b) => b.HyperParameters["k".repeat(256)],
    expected: "1",
  },
  {
    backend: "sagemaker",
    rule: "hyperparameter values of at most 2500 characters",
    source: `${SAGEMAKER_MODEL} HyperParameterValue`,
    inside: (r) => (r.job_config.hyperparameters = { lr: "1".repeat(2500) }),
    outside: (r) => (r.job_config.hyperparameters = { lr: "1".repeat(2501) }),
    path: "job_config.hyperparameters.lr",
    native: (b) => b.HyperParameters.lr,
    expected: "1".repeat(2500),
  },
  {
    backend: "sagemaker",
    rule: "at most 100 environment variables with the mount variables",
    source: `${SAGEMAKER_MODEL} TrainingEnvironmentMap`,
    inside: (r) =>
      Object.assign(
        r,
        { storage_mounts: [S3_MOUNT] },
        { job_config: { ...r.job_config, environment: entries(99, (i) => `V${i}`) } },
      ),
    outside: (r) =>
      Object.assign(
        r,
        { storage_mounts: [S3_MOUNT] },
        { job_config: { ...r.job_config, environment: entries(100, (i) => `V${i}`) } },
      ),
    path: "job_config.environment",
    native: (b) => Object.keys(b.Environment).length,
    expected: 100,
  },
  {
    backend: "sagemaker",
    rule: "environment names of at most 512 characters",
    source: `${SAGEMAKER_MODEL} TrainingEnvironmentKey`,
    inside: (r) => (r.job_config.environment = { ["K".repeat(512)]: "v" }),
    outside: (r) => (r.job_config.environment = { ["K".repeat(513)]: "v" }),
    path: `job_config.environment.${"K".repeat(513)}`,
    native: (b) => b.Environment["K".repeat(512)],
    expected: "v",
  },
  {
    backend: "sagemaker",
    rule: "environment names match [a-zA-Z_][a-zA-Z0-9_]*",
    source: `${SAGEMAKER_MODEL} TrainingEnvironmentKey`,
    inside: (r) => (r.job_config.environment = { _V1: "v" }),
    outside: (r) => (r.job_config.environment = { "MY-VAR": "v" }),
    path: "job_config.environment.MY-VAR",
    native: (b) => b.Environment._V1,
    expected: "v",
  },
  {
    backend: "sagemaker",
    rule: "environment values of at most 512 characters",
    source: `${SAGEMAKER_MODEL} TrainingEnvironmentValue`,
    inside: (r) => (r.job_config.environment = { V: "v".repeat(512) }),
    outside: (r) => (r.job_config.environment = { V: "v".repeat(513) }),
    path: "job_config.environment.V",
    native: (b) => b.Environment.V,
    expected: "v".repeat(512),
  },
  {
    backend: "sagemaker",
    rule: "S3 URIs of at most 1024 characters",
    source: `${SAGEMAKER_MODEL} S3Uri`,
    inside: (r) => (r.storage_mounts = [{ ...S3_MOUNT, source_uri: `s3://bucket-a/${"p".repeat(1010)}` }]),
    outside: (r) => (r.storage_mounts = [{ ...S3_MOUNT, source_uri: `s3://bucket-a/${"p".repeat(1011)}` }]),
    path: "storage_mounts[0].source_uri",
    native: (b) => b.InputDataConfig[0].DataSource.S3DataSource.S3Uri,
    expected: `s3://bucket-a/${"p".repeat(1010)}`,
  },
  {
    backend: "sagemaker",
    rule: "a checkpoint path of at most 4096 characters",
    source: `${SAGEMAKER_MODEL} DirectoryPath (CheckpointConfig.LocalPath)`,
    inside: (r) =>
      (r.storage_mounts = [
        { source_uri: "s3://ckpt/run", mount_path: `/${"c".repeat(4095)}`, read_only: false },
      ]),
    outside: (r) =>
      (r.storage_mounts = [
        { source_uri: "s3://ckpt/run", mount_path: `/${"c".repeat(4096)}`, read_only: false },
      ]),
    path: "storage_mounts[0].mount_path",
    native: (b) => b.CheckpointConfig.LocalPath,
    expected: `/${"c".repeat(4095)}`,
  },
  {
    backend: "sagemaker",
    rule: "a maximum run time of at least one second",
    source: `${SAGEMAKER_MODEL} MaxRuntimeInSeconds`,
    inside: (r) => (r.job_config.max_runtime_seconds = 1),
    outside: (r) => (r.job_config.max_runtime_seconds = 0),
    path: "job_config.max_runtime_seconds",
    native: (b) => b.StoppingCondition.MaxRuntimeInSeconds,
    expected: 1,
  },
  {
    backend: "sagemaker",
    rule: "a spot job waits at least as long as it runs",
    source: `${SAGEMAKER_MODEL} StoppingCondition.MaxWaitTimeInSeconds`,
    inside: (r) =>
      Object.assign(r.job_config, {
        capacity: "spot",
        max_runtime_seconds: 3600,
        max_wait_time_seconds: 3600,
      }),
    outside: (r) =>
      Object.assign(r.job_config, {
        capacity: "spot",
        max_runtime_seconds: 3600,
        max_wait_time_seconds: 3599,
      }),
    path: "job_config.max_wait_time_seconds",
    native: (b) => [b.EnableManagedSpotTraining, b.StoppingCondition.MaxWaitTimeInSeconds],
    expected: [true, 3600],
  },
  {
    backend: "sagemaker",
    rule: "a maximum wait only for managed spot training",
    source: `${SAGEMAKER_MODEL} StoppingCondition.MaxWaitTimeInSeconds`,
    inside: (r) => Object.assign(r.job_config, { capacity: "spot", max_wait_time_seconds: 90000 }),
    outside: (r) => Object.assign(r.job_config, { max_wait_time_seconds: 90000 }),
    path: "job_config.max_wait_time_seconds",
    native: (b) => b.StoppingCondition.MaxWaitTimeInSeconds,
    expected: 90000,
  },
  {
    backend: "sagemaker",
    rule: "a maximum pending time of 7200 to 2419200 seconds",
    source: `${SAGEMAKER_MODEL} MaxPendingTimeInSeconds`,
    inside: (r) => (r.job_config.max_pending_time_seconds = 7200),
    outside: (r) => (r.job_config.max_pending_time_seconds = 7199),
    path: "job_config.max_pending_time_seconds",
    native: (b) => b.StoppingCondition.MaxPendingTimeInSeconds,
    expected: 7200,
  },
  {
    backend: "sagemaker",
    rule: "training plan ARNs of the published pattern",
    source: `${SAGEMAKER_MODEL} TrainingPlanArn`,
    inside: (r) => (r.job_config.resource_config.training_plan_arn = TRAINING_PLAN),
    outside: (r) =>
      (r.job_config.resource_config.training_plan_arn =
        "arn:aws:sagemaker:us-east-1:1234:training-plan/p6e-plan-x"),
    path: "job_config.resource_config.training_plan_arn",
    native: (b) => b.ResourceConfig.TrainingPlanArn,
    expected: TRAINING_PLAN,
  },
  {
    backend: "sagemaker",
    rule: "capacity is on demand or managed spot",
    source: `${SAGEMAKER_MODEL} EnableManagedSpotTraining`,
    inside: (r) => (r.job_config.capacity = "spot"),
    outside: (r) => (r.job_config.capacity = "flex-start"),
    path: "job_config.capacity",
    native: (b) => b.EnableManagedSpotTraining,
    expected: true,
  },
  {
    backend: "sagemaker",
    rule: "UltraServer instances only on a training plan",
    source: "docs.aws.amazon.com/sagemaker/latest/dg/reserve-capacity-with-training-plans.html",
    inside: (r) =>
      (r.job_config.resource_config = {
        instance_count: 1,
        instance_type: "ml.p6e-gb200.36xlarge",
        training_plan_arn: TRAINING_PLAN,
      }),
    outside: (r) =>
      (r.job_config.resource_config = { instance_count: 1, instance_type: "ml.p6e-gb200.36xlarge" }),
    path: "job_config.capacity",
    native: (b) => b.ResourceConfig.InstanceType,
    expected: "ml.p6e-gb200.36xlarge",
  },
  {
    backend: "sagemaker",
    rule: "mount variables are not the job's to set",
    source: OWN,
    inside: (r) =>
      Object.assign(
        r,
        { storage_mounts: [S3_MOUNT] },
        { job_config: { ...r.job_config, environment: { DATA: "x" } } },
      ),
    outside: (r) =>
      Object.assign(
        r,
        { storage_mounts: [S3_MOUNT] },
        { job_config: { ...r.job_config, environment: { STORAGE_MOUNT_0_PATH: "x" } } },
      ),
    path: "job_config.environment.STORAGE_MOUNT_0_PATH",
    native: (b) => Object.keys(b.Environment),
    expected: ["STORAGE_MOUNT_0_PATH", "DATA"],
  },

  // Azure ML
  {
    backend: "azure-ml",
    rule: "a command holding a letter, digit or '_'",
    source: `${AZURE_SPEC} CommandJob.command`,
    inside: (r) => (r.job_config.command = "_"),
    outside: (r) => (r.job_config.command = "&&"),
    path: "job_config.command",
    native: (b) => b.command,
    expected: "_",
  },
  {
    backend: "azure-ml",
    rule: "a command of at least one character",
    source: `${AZURE_SPEC} CommandJob.command`,
    inside: (r) => (r.job_config.command = " python train.py "),
    outside: (r) => (r.job_config.command = "   "),
    path: "job_config.command",
    native: (b) => b.command,
    expected: "python train.py",
  },
  {
    backend: "azure-ml",
    rule: "an instance count that is an int32",
    source: `${AZURE_SPEC} ResourceConfiguration.instanceCount`,
    inside: (r) => (r.job_config.resources = { instance_count: 2147483647 }),
    outside: (r) => (r.job_config.resources = { instance_count: 2147483648 }),
    path: "job_config.resources.instance_count",
    native: (b) => b.resources.instanceCount,
    expected: 2147483647,
  },
  {
    backend: "azure-ml",
    rule: "a shared memory size of the published pattern",
    source: `${AZURE_SPEC} JobResourceConfiguration.shmSize`,
    inside: (r) => (r.job_config.resources = { shm_size: "16g" }),
    outside: (r) => (r.job_config.resources = { shm_size: "16gb" }),
    path: "job_config.resources.shm_size",
    native: (b) => b.resources.shmSize,
    expected: "16g",
  },
  {
    backend: "azure-ml",
    rule: "spot is a serverless job tier",
    source: `${AZURE_SPEC} QueueSettings.jobTier`,
    inside: (r) =>
      Object.assign(r.job_config, {
        compute: "serverless",
        capacity: "spot",
        resources: { instance_type: "Standard_NC24ads_A100_v4" },
      }),
    outside: (r) => Object.assign(r.job_config, { capacity: "spot" }),
    path: "job_config.capacity",
    native: (b) => b.queueSettings.jobTier,
    expected: "Spot",
  },
  {
    backend: "azure-ml",
    rule: "capacity is on demand or spot",
    source: `${AZURE_SPEC} JobTier`,
    inside: (r) => Object.assign(r.job_config, { compute: "serverless", capacity: "on-demand" }),
    outside: (r) => Object.assign(r.job_config, { compute: "serverless", capacity: "flex-start" }),
    path: "job_config.capacity",
    native: (b) => b.queueSettings.jobTier,
    expected: "Standard",
  },
  {
    backend: "azure-ml",
    rule: "a timeout of whole seconds",
    source: `${AZURE_SPEC} JobLimits.timeout`,
    inside: (r) => (r.job_config.limits = { timeout: 1 }),
    outside: (r) => (r.job_config.limits = { timeout: 0.5 }),
    path: "job_config.limits.timeout",
    native: (b) => b.limits.timeout,
    expected: "PT1S",
  },
  {
    backend: "azure-ml",
    rule: "mount variables are not the job's to set",
    source: OWN,
    inside: (r) => (r.job_config.environment_variables = { DATA: "x" }),
    outside: (r) => (r.job_config.environment_variables = { STORAGE_MOUNT_0_PATH: "x" }),
    path: "job_config.environment_variables.STORAGE_MOUNT_0_PATH",
    native: (b) => b.environmentVariables,
    expected: { DATA: "x" },
  },

  // Kubernetes
  {
    backend: "kubernetes",
    rule: "namespaces of at most 63 characters",
    source: `${K8S} IsDNS1123Label`,
    inside: (r) => (r.job_config.namespace = "n".repeat(63)),
    outside: (r) => (r.job_config.namespace = "n".repeat(64)),
    path: "job_config.namespace",
    native: (b) => b.metadata.namespace,
    expected: "n".repeat(63),
  },
  {
    backend: "kubernetes",
    rule: "namespaces are DNS-1123 labels",
    source: `${K8S} IsDNS1123Label`,
    inside: (r) => (r.job_config.namespace = "team-a"),
    outside: (r) => (r.job_config.namespace = "Team_A"),
    path: "job_config.namespace",
    native: (b) => b.metadata.namespace,
    expected: "team-a",
  },
  {
    backend: "kubernetes",
    rule: "label key names of at most 63 characters",
    source: `${K8S} IsQualifiedName`,
    inside: (r) => (r.job_config.node_selector = { [`example.com/${"k".repeat(63)}`]: "v" }),
    outside: (r) => (r.job_config.node_selector = { [`example.com/${"k".repeat(64)}`]: "v" }),
    path: `job_config.node_selector.example.com/${"k".repeat(64)}`,
    native: (b) => b.spec.template.spec.nodeSelector[`example.com/${"k".repeat(63)}`],
    expected: "v",
  },
  {
    backend: "kubernetes",
    rule: "label key names start and end with a letter or digit",
    source: `${K8S} IsQualifiedName`,
    inside: (r) => (r.job_config.node_selector = { "example.com/gpu.kind_1": "v" }),
    outside: (r) => (r.job_config.node_selector = { "example.com/-gpu": "v" }),
    path: "job_config.node_selector.example.com/-gpu",
    native: (b) => b.spec.template.spec.nodeSelector["example.com/gpu.kind_1"],
    expected: "v",
  },
  {
    backend: "kubernetes",
    rule: "label key prefixes are DNS-1123 subdomains",
    source: `${K8S} IsDNS1123Subdomain`,
    inside: (r) => (r.job_config.node_selector = { "gpu.example.com/kind": "v" }),
    outside: (r) => (r.job_config.node_selector = { "GPU.example.com/kind": "v" }),
    path: "job_config.node_selector.GPU.example.com/kind",
    native: (b) => b.spec.template.spec.nodeSelector["gpu.example.com/kind"],
    expected: "v",
  },
  {
    backend: "kubernetes",
    rule: "label values of at most 63 characters",
    source: `${K8S} IsValidLabelValue`,
    inside: (r) => (r.job_config.node_selector = { kind: "v".repeat(63) }),
    outside: (r) => (r.job_config.node_selector = { kind: "v".repeat(64) }),
    path: "job_config.node_selector.kind",
    native: (b) => b.spec.template.spec.nodeSelector.kind,
    expected: "v".repeat(63),
  },
  {
    backend: "kubernetes",
    rule: "label values start and end with a letter or digit",
    source: `${K8S} IsValidLabelValue`,
    inside: (r) => (r.job_config.node_selector = { kind: "a.b_c-d" }),
    outside: (r) => (r.job_config.node_selector = { kind: "-bad" }),
    path: "job_config.node_selector.kind",
    native: (b) => b.spec.template.spec.nodeSelector.kind,
    expected: "a.b_c-d",
  },
  {
    backend: "kubernetes",
    rule: "the Kueue queue is a label value",
    source: `${K8S} IsValidLabelValue`,
    inside: (r) => (r.job_config.queue = "gpu-queue"),
    outside: (r) => (r.job_config.queue = "gpu queue"),
    path: "job_config.queue",
    native: (b) => b.metadata.labels["kueue.x-k8s.io/queue-name"],
    expected: "gpu-queue",
  },
  {
    backend: "kubernetes",
    rule: "CPU requests are quantities",
    source: "kubernetes/kubernetes apimachinery resource.Quantity",
    inside: (r) => (r.job_config.resources = { cpu: "500m" }),
    outside: (r) => (r.job_config.resources = { cpu: "0.5 cores" }),
    path: "job_config.resources.cpu",
    native: (b) => container(b).resources.requests.cpu,
    expected: "500m",
  },
  {
    backend: "kubernetes",
    rule: "memory requests are quantities",
    source: "kubernetes/kubernetes apimachinery resource.Quantity",
    inside: (r) => (r.job_config.resources = { memory: "1.5Gi" }),
    outside: (r) => (r.job_config.resources = { memory: "16GB" }),
    path: "job_config.resources.memory",
    native: (b) => container(b).resources.requests.memory,
    expected: "1.5Gi",
  },
  {
    backend: "kubernetes",
    rule: "GPU counts are non-negative",
    source: "kubernetes/kubernetes apimachinery resource.Quantity (requests are non-negative)",
    inside: (r) => (r.job_config.resources = { gpu: 8 }),
    outside: (r) => (r.job_config.resources = { gpu: -1 }),
    path: "job_config.resources.gpu",
    native: (b) => container(b).resources.limits["nvidia.com/gpu"],
    expected: "8",
  },
  {
    backend: "kubernetes",
    rule: "completions is an int32",
    source: "kubernetes/kubernetes batch/v1 JobSpec.completions",
    inside: (r) => (r.job_config.completions = 2147483647),
    outside: (r) => (r.job_config.completions = 2147483648),
    path: "job_config.completions",
    native: (b) => b.spec.completions,
    expected: 2147483647,
  },
  {
    backend: "kubernetes",
    rule: "parallelism is an int32",
    source: "kubernetes/kubernetes batch/v1 JobSpec.parallelism",
    inside: (r) => (r.job_config.parallelism = 2147483647),
    outside: (r) => (r.job_config.parallelism = 2147483648),
    path: "job_config.parallelism",
    native: (b) => b.spec.parallelism,
    expected: 2147483647,
  },
  {
    backend: "kubernetes",
    rule: "backoffLimit is non-negative",
    source: "kubernetes/kubernetes batch/v1 JobSpec.backoffLimit",
    inside: (r) => (r.job_config.backoff_limit = 0),
    outside: (r) => (r.job_config.backoff_limit = -1),
    path: "job_config.backoff_limit",
    native: (b) => b.spec.backoffLimit,
    expected: 0,
  },
  {
    backend: "kubernetes",
    rule: "activeDeadlineSeconds is positive",
    source: "kubernetes/kubernetes batch/v1 JobSpec.activeDeadlineSeconds",
    inside: (r) => (r.job_config.active_deadline_seconds = 1),
    outside: (r) => (r.job_config.active_deadline_seconds = 0),
    path: "job_config.active_deadline_seconds",
    native: (b) => b.spec.activeDeadlineSeconds,
    expected: 1,
  },
  {
    backend: "kubernetes",
    rule: "ttlSecondsAfterFinished is non-negative",
    source: "kubernetes/kubernetes batch/v1 JobSpec.ttlSecondsAfterFinished",
    inside: (r) => (r.job_config.ttl_seconds_after_finished = 0),
    outside: (r) => (r.job_config.ttl_seconds_after_finished = -1),
    path: "job_config.ttl_seconds_after_finished",
    native: (b) => b.spec.ttlSecondsAfterFinished,
    expected: 0,
  },
  {
    backend: "kubernetes",
    rule: "container images hold no whitespace",
    source: "kubernetes/kubernetes core validation Container.image",
    inside: (r) => (r.job_config.image = "registry.example/train@sha256:abc"),
    outside: (r) => (r.job_config.image = "registry.example/train :1"),
    path: "job_config.image",
    native: (b) => container(b).image,
    expected: "registry.example/train@sha256:abc",
  },
  {
    backend: "kubernetes",
    rule: "capacity selects on demand or spot nodes",
    source: OWN,
    inside: (r) => (r.job_config.capacity = "spot"),
    outside: (r) => (r.job_config.capacity = "flex-start"),
    path: "job_config.capacity",
    native: (b) => b.spec.template.spec.nodeSelector["trainkit.dev/capacity"],
    expected: "spot",
  },
  {
    backend: "kubernetes",
    rule: "capacity and the capacity node selector agree",
    source: OWN,
    inside: (r) =>
      Object.assign(r.job_config, { capacity: "spot", node_selector: { "trainkit.dev/capacity": "spot" } }),
    outside: (r) =>
      Object.assign(r.job_config, {
        capacity: "spot",
        node_selector: { "trainkit.dev/capacity": "on-demand" },
      }),
    path: "job_config.node_selector.trainkit.dev/capacity",
    native: (b) => b.spec.template.spec.nodeSelector["trainkit.dev/capacity"],
    expected: "spot",
  },
  {
    backend: "kubernetes",
    rule: "mount variables come first and are not the job's to set",
    source: OWN,
    inside: (r) =>
      Object.assign(
        r,
        { storage_mounts: [PVC_MOUNT] },
        { job_config: { ...r.job_config, env: { DATA: "$(STORAGE_MOUNT_0_PATH)/x" } } },
      ),
    outside: (r) =>
      Object.assign(
        r,
        { storage_mounts: [PVC_MOUNT] },
        { job_config: { ...r.job_config, env: { STORAGE_MOUNT_0_PATH: "x" } } },
      ),
    path: "job_config.env.STORAGE_MOUNT_0_PATH",
    native: (b) => container(b).env,
    expected: [
      { name: "STORAGE_MOUNT_0_PATH", value: "/data" },
      { name: "DATA", value: "$(STORAGE_MOUNT_0_PATH)/x" },
    ],
  },
];

let api: CloudTrainApi;
const tally = new Map<
  CloudBackend,
  { rules: number; published: number; accepted: number; refused: number }
>();

beforeAll(async () => {
  // Each refused request must send the cloud nothing; a Kubernetes watch, started by an accepted
  // job's namespace, would list and watch in the background meanwhile.
  api = await startCloudTrainApi({ env: { TRAINKIT_KUBERNETES_WATCH: "false" } });
}, 180_000);

afterAll(async () => {
  await api?.close();
  const rows = [...tally].map(([backend, t]) => ({ backend, ...t }));
  console.log("published limits matrix (rules enforced; requests accepted and refused):");
  console.table(rows);
});

function count(backend: CloudBackend, field: "accepted" | "refused") {
  const t = tally.get(backend) ?? { rules: 0, published: 0, accepted: 0, refused: 0 };
  t[field] += 1;
  tally.set(backend, t);
}

async function post(backend: CloudBackend, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${api.url}/v1/${backend}/jobs`, {
    method: "POST",
    headers: { ...authHeaders(api), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

function nativeBodyOf(backend: CloudBackend, job: Job): Json {
  const id = job.cloud_job_identifier ?? {};
  switch (backend) {
    case "vertex-ai":
      return api.vertex.jobs.get(id.job_name!);
    case "sagemaker":
      return api.sagemaker.jobs.get(id.training_job_name!)?.request;
    case "azure-ml":
      return api.azure.jobs.get(id.job_name!)?.properties;
    case "kubernetes":
      return api.kubernetes.job(id.namespace!, id.job_name!);
  }
}

function request(rule: Rule, side: "inside" | "outside"): Json {
  const body = structuredClone(BASE[rule.backend]);
  rule[side](body);
  return body;
}

for (const rule of RULES) {
  const t = tally.get(rule.backend) ?? { rules: 0, published: 0, accepted: 0, refused: 0 };
  t.rules += 1;
  if (rule.source !== OWN) t.published += 1;
  tally.set(rule.backend, t);
}

describe("the clouds' published request limits through the Train API", () => {
  for (const rule of RULES) {
    describe(`${rule.backend}: ${rule.rule} (${rule.source})`, () => {
      it("accepts a value just inside and sends it to the cloud unchanged", { timeout: 60_000 }, async () => {
        const before = api.requestCounts()[rule.backend];
        const { status, json } = await post(rule.backend, request(rule, "inside"));
        expect(status, JSON.stringify(json)).toBe(201);
        expect(api.requestCounts()[rule.backend]).toBeGreaterThan(before);
        const body = nativeBodyOf(rule.backend, json as Job);
        expect(body).toBeDefined();
        expect(rule.native(body)).toEqual(rule.expected);
        count(rule.backend, "accepted");
      });

      it(`refuses a value just outside with 400 naming ${rule.path}, sending nothing`, {
        timeout: 60_000,
      }, async () => {
        const before = api.requestCounts();
        const { status, json } = await post(rule.backend, request(rule, "outside"));
        expect(status, JSON.stringify(json)).toBe(400);
        const details = (json as ErrorBody).error.details ?? [];
        expect(details).toContainEqual({ path: rule.path, message: expect.stringMatching(/\S/) });
        expect(api.requestCounts()).toEqual(before);
        count(rule.backend, "refused");
      });
    });
  }
});

describe("the matrix", () => {
  it("covers every cloud backend with rules the cloud publishes, each tried inside and outside", () => {
    for (const backend of ["vertex-ai", "sagemaker", "azure-ml", "kubernetes"] as const) {
      const t = tally.get(backend)!;
      expect(t.published).toBeGreaterThan(5);
      expect(t.accepted).toBe(t.rules);
      expect(t.refused).toBe(t.rules);
    }
  });
});
