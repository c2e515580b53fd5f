import { z } from "zod";
import { AbsolutePath, EnvMap, ImageRef, PositiveInt } from "../common";

// Baseten's training API: `POST /v1/training_projects/{training_project_id}/jobs` with
// `{ training_job: CreateTrainingJobV1 }`. Field names are Baseten's own. Fields the documentation only ever
// shows as null (docker_auth, artifacts, load_checkpoint_config, truss_user_env,
// interactive_session) take null or an object that is passed through as written, since the
// documentation does not document their inside.

const PassThrough = z.record(z.string(), z.unknown()).nullable().optional();

/** A Kubernetes-style memory quantity, as Baseten writes it (`"2Gi"`). */
const MemoryQuantity = z
  .string()
  .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$/, 'must be a memory quantity such as "2Gi" or "512Mi"');

export const BasetenAccelerator = z
  .object({
    accelerator: z.string().min(1, 'must name a GPU type such as "H100"'),
    count: PositiveInt,
  })
  .strict();

export const BasetenCompute = z
  .object({
    node_count: PositiveInt.optional(),
    cpu_count: PositiveInt.optional(),
    memory: MemoryQuantity.optional(),
    accelerator: BasetenAccelerator.nullable().optional(),
  })
  .strict();

export const BasetenCacheConfig = z
  .object({
    enable_legacy_hf_mount: z.boolean().optional(),
    enabled: z.boolean().optional(),
    mount_base_path: AbsolutePath.optional(),
    require_cache_affinity: z.boolean().optional(),
  })
  .strict();

export const BasetenCheckpointingConfig = z
  .object({
    enabled: z.boolean(),
    checkpoint_path: AbsolutePath.optional(),
    volume_size_gib: PositiveInt.optional(),
  })
  .strict();

export const BasetenRuntime = z
  .object({
    start_commands: z.array(z.string().min(1, "must not be empty")).optional(),
    environment_variables: EnvMap.optional(),
    artifacts: PassThrough,
    enable_cache: z.boolean().optional(),
    cache_config: BasetenCacheConfig.nullable().optional(),
    checkpointing_config: BasetenCheckpointingConfig.nullable().optional(),
    load_checkpoint_config: PassThrough,
  })
  .strict();

export const BasetenWeights = z
  .object({
    source: z
      .string()
      .regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/, 'must be a URI such as "hf://meta-llama/Llama-3-8B@main"'),
    mount_location: AbsolutePath,
    allow_patterns: z.array(z.string()).nullable().optional(),
    ignore_patterns: z.array(z.string()).nullable().optional(),
    auth_secret_name: z.string().nullable().optional(),
  })
  .strict();

/** `CreateTrainingJobV1`: what runs, on what, with which weights. */
export const BasetenTrainingJob = z
  .object({
    image: z.object({ base_image: ImageRef, docker_auth: PassThrough }).strict(),
    compute: BasetenCompute.optional(),
    runtime: BasetenRuntime.optional(),
    name: z.string().min(1, "must not be empty").optional(),
    truss_user_env: PassThrough,
    interactive_session: PassThrough,
    weights: z.array(BasetenWeights).nullable().optional(),
  })
  .strict();

/** The body of `POST /v1/training_projects/{training_project_id}/jobs`, exactly as Baseten's documentation shows it. */
export const BasetenCreateJobRequest = z.object({ training_job: BasetenTrainingJob }).strict();

/**
 * A `TrainingJob`'s `jobConfig` for Baseten: the request body plus the path parameter
 * `training_project_id`, so everything that decides where and what runs is in one input.
 */
export const BasetenJobConfig = BasetenCreateJobRequest.extend({
  training_project_id: z.string().min(1, "must name the Baseten training project the job belongs to"),
}).strict();
export type BasetenJobConfig = z.infer<typeof BasetenJobConfig>;

/** Statuses of a Baseten training job (`current_status`). */
export const BASETEN_STATUSES = [
  "TRAINING_JOB_CREATED",
  "TRAINING_JOB_DEPLOYING",
  "TRAINING_JOB_RUNNING",
  "TRAINING_JOB_COMPLETED",
  "TRAINING_JOB_FAILED",
  "TRAINING_JOB_DEPLOY_FAILED",
  "TRAINING_JOB_STOPPED",
] as const;

/** `TrainingJobV1` as the documented create response shows it; only what the provider reads is required. */
export const BasetenTrainingJobObject = z.object({
  id: z.string().min(1),
  name: z.string().nullable().optional(),
  current_status: z.string(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  training_project_id: z.string().optional(),
  error_message: z.string().nullable().optional(),
});
export type BasetenTrainingJobObject = z.infer<typeof BasetenTrainingJobObject>;
