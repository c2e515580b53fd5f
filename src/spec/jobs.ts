import { z } from "zod";
import { vertexMachineSpecIssues } from "../gpu";
import type { Backend } from "./backend";
import { AbsolutePath, EnvMap, EnvName, ImageRef, NonNegativeInt, PositiveInt } from "./common";

// Each job_config mirrors its cloud's native job API (seed 000), in snake_case. Unknown keys are
// rejected so that a misspelt field fails validation instead of being silently dropped.

/** Accelerators Vertex AI accepts in `machine_spec.accelerator_type` (AcceleratorType in the Vertex API). */
export const VERTEX_ACCELERATOR_TYPES = [
  "NVIDIA_TESLA_T4",
  "NVIDIA_TESLA_V100",
  "NVIDIA_TESLA_P4",
  "NVIDIA_TESLA_P100",
  "NVIDIA_TESLA_A100",
  "NVIDIA_A100_80GB",
  "NVIDIA_L4",
  "NVIDIA_H100_80GB",
  "NVIDIA_H100_MEGA_80GB",
  "NVIDIA_H200_141GB",
  "NVIDIA_B200",
  "TPU_V2",
  "TPU_V3",
  "TPU_V4_POD",
  "TPU_V5_LITEPOD",
] as const;

/** A duration in seconds as Vertex AI writes it (`"86400s"`). */
export const VertexDuration = z
  .string()
  .regex(/^\d+(\.\d+)?s$/, 'must be a duration in seconds such as "86400s"');

export const VertexMachineSpec = z
  .object({
    machine_type: z.string().min(1, "must name a machine type such as g2-standard-8"),
    accelerator_type: z.enum(VERTEX_ACCELERATOR_TYPES).optional(),
    accelerator_count: PositiveInt.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.accelerator_count !== undefined && spec.accelerator_type === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["accelerator_type"],
        message: "must be set when accelerator_count is set",
      });
      return;
    }
    // Vertex only accepts the GPU counts each machine family is built with; catching a wrong pair
    // here fails `pulumi preview` instead of the job minutes later.
    for (const issue of vertexMachineSpecIssues(spec)) {
      ctx.addIssue({ code: "custom", path: [...issue.path], message: issue.message });
    }
  });

export const VertexContainerSpec = z
  .object({
    image_uri: ImageRef,
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: z.array(z.object({ name: EnvName, value: z.string() }).strict()).optional(),
  })
  .strict();

export const VertexWorkerPoolSpec = z
  .object({
    machine_spec: VertexMachineSpec,
    replica_count: PositiveInt,
    container_spec: VertexContainerSpec,
    disk_spec: z
      .object({
        boot_disk_type: z.enum(["pd-ssd", "pd-standard", "hyperdisk-balanced"]).optional(),
        boot_disk_size_gb: z.number().int().min(100, "must be at least 100").max(64000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const VertexAiJobConfig = z
  .object({
    worker_pool_specs: z.array(VertexWorkerPoolSpec).min(1, "must hold at least one worker pool"),
    scheduling: z
      .object({
        timeout: VertexDuration.optional(),
        restart_job_on_worker_restart: z.boolean().optional(),
      })
      .strict()
      .optional(),
    service_account: z.string().email("must be a service account email").optional(),
    labels: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, "must be a lowercase label key"), z.string())
      .optional(),
  })
  .strict();

export const SageMakerJobConfig = z
  .object({
    image: ImageRef,
    command: z.array(z.string()).min(1, "must hold at least the program to run").optional(),
    args: z.array(z.string()).optional(),
    resource_config: z
      .object({
        instance_count: PositiveInt,
        instance_type: z
          .string()
          .regex(/^ml\.[a-z0-9]+\.[a-z0-9]+$/, "must be a SageMaker instance type such as ml.g5.xlarge"),
        volume_size_in_gb: PositiveInt.max(16384, "must be at most 16384").default(50),
      })
      .strict(),
    hyperparameters: z.record(z.string(), z.string()).optional(),
    environment: EnvMap.optional(),
    max_runtime_seconds: PositiveInt.optional(),
  })
  .strict();

export const AzureMlJobConfig = z
  .object({
    command: z.string().trim().min(1, 'must be a shell command such as "python train.py"'),
    environment: z.object({ image: ImageRef }).strict(),
    compute: z.string().min(1, 'must name a compute cluster, or be "serverless"'),
    resources: z
      .object({
        instance_type: z.string().min(1).optional(),
        instance_count: PositiveInt.optional(),
      })
      .strict()
      .optional(),
    environment_variables: EnvMap.optional(),
    limits: z
      .object({ timeout: PositiveInt.describe("seconds") })
      .strict()
      .optional(),
    experiment_name: z.string().min(1).optional(),
  })
  .strict();

export const KubernetesJobConfig = z
  .object({
    image: ImageRef,
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    env: EnvMap.optional(),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a Kubernetes namespace name")
      .optional(),
    resources: z
      .object({
        gpu: NonNegativeInt.optional(),
        cpu: z
          .string()
          .regex(/^\d+(\.\d+)?m?$/, 'must be a CPU quantity such as "4" or "500m"')
          .optional(),
        memory: z
          .string()
          .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$/, 'must be a memory quantity such as "16Gi"')
          .optional(),
      })
      .strict()
      .optional(),
    node_selector: z.record(z.string(), z.string()).optional(),
    queue: z.string().min(1).optional(),
    completions: PositiveInt.optional(),
    parallelism: PositiveInt.optional(),
    backoff_limit: NonNegativeInt.optional(),
    active_deadline_seconds: PositiveInt.optional(),
    /** How long a finished Job and its pods (and their logs) are kept. Defaults to a day. */
    ttl_seconds_after_finished: NonNegativeInt.optional(),
    /**
     * The user id the container runs as, for images that do not set a non-root USER (stock CUDA and
     * PyTorch images run as root, 0). 0 needs a jobs namespace whose Pod Security level allows root
     * (`baseline`). Defaults to the image's user, which must then be non-root.
     */
    run_as_user: NonNegativeInt.optional(),
    /** The primary group id of the container's processes. Defaults to the image's group. */
    run_as_group: NonNegativeInt.optional(),
  })
  .strict();

export const LocalJobConfig = z
  .object({
    command: z.array(z.string().min(1, "must not be empty")).min(1, "must hold at least the program to run"),
    args: z.array(z.string()).optional(),
    env: EnvMap.optional(),
    timeout_seconds: z.number().positive("must be greater than 0").optional(),
    working_dir: AbsolutePath.optional(),
  })
  .strict();

export const JOB_CONFIG_SCHEMAS = {
  "vertex-ai": VertexAiJobConfig,
  sagemaker: SageMakerJobConfig,
  "azure-ml": AzureMlJobConfig,
  kubernetes: KubernetesJobConfig,
  local: LocalJobConfig,
} as const satisfies Record<Backend, z.ZodType>;

export type VertexAiJobConfig = z.input<typeof VertexAiJobConfig>;
export type SageMakerJobConfig = z.input<typeof SageMakerJobConfig>;
export type AzureMlJobConfig = z.input<typeof AzureMlJobConfig>;
export type KubernetesJobConfig = z.input<typeof KubernetesJobConfig>;
export type LocalJobConfig = z.input<typeof LocalJobConfig>;

/** The job_config a backend takes, as a caller writes it. */
export type JobConfigFor<B extends Backend> = z.input<(typeof JOB_CONFIG_SCHEMAS)[B]>;
/** The job_config a backend takes, after validation filled in defaults. */
export type ParsedJobConfigFor<B extends Backend> = z.output<(typeof JOB_CONFIG_SCHEMAS)[B]>;
