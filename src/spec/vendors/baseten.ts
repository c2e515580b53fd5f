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

/** The GPUs of each Baseten training node. */
export const BasetenAccelerator = z
  .object({
    /** Baseten's name of the GPU type (`"H100"`). */
    accelerator: z.string().min(1, 'must name a GPU type such as "H100"'),
    /** GPUs per node. */
    count: PositiveInt,
  })
  .strict();

/** The machines a Baseten training job runs on. Each field left out takes Baseten's default. */
export const BasetenCompute = z
  .object({
    /** How many nodes the job runs on. */
    node_count: PositiveInt.optional(),
    /** CPUs per node. */
    cpu_count: PositiveInt.optional(),
    /** Memory per node, as a quantity (`"64Gi"`). */
    memory: MemoryQuantity.optional(),
    /** The GPUs of each node; null or absent for a CPU-only job. */
    accelerator: BasetenAccelerator.nullable().optional(),
  })
  .strict();

/** Baseten's training cache, a volume kept between a project's jobs. */
export const BasetenCacheConfig = z
  .object({
    /** Mount the cache where older Baseten jobs found the Hugging Face cache. */
    enable_legacy_hf_mount: z.boolean().optional(),
    /** Whether the job gets the cache. */
    enabled: z.boolean().optional(),
    /** The absolute path the cache is mounted under. */
    mount_base_path: AbsolutePath.optional(),
    /** Run the job only where its cache already is. */
    require_cache_affinity: z.boolean().optional(),
  })
  .strict();

/** Where a Baseten job writes checkpoints, which Baseten keeps after the job. */
export const BasetenCheckpointingConfig = z
  .object({
    /** Whether Baseten collects the job's checkpoints. */
    enabled: z.boolean(),
    /** The absolute path the job writes checkpoints to. */
    checkpoint_path: AbsolutePath.optional(),
    /** The checkpoint volume's size in GiB. */
    volume_size_gib: PositiveInt.optional(),
  })
  .strict();

/** What runs inside a Baseten training job's container, and the storage it sees. */
export const BasetenRuntime = z
  .object({
    /** Shell commands run in order when the container starts; the training itself is the last of them. */
    start_commands: z.array(z.string().min(1, "must not be empty")).optional(),
    /** Environment variables for the commands. Defaults to none. */
    environment_variables: EnvMap.optional(),
    /** Passed to Baseten as written; its inside is not documented. */
    artifacts: PassThrough,
    /** Whether the job gets the project's training cache (the older form of `cache_config.enabled`). */
    enable_cache: z.boolean().optional(),
    /** The training cache's settings; null or absent for Baseten's defaults. */
    cache_config: BasetenCacheConfig.nullable().optional(),
    /** Checkpoint collection; null or absent for none. */
    checkpointing_config: BasetenCheckpointingConfig.nullable().optional(),
    /** Passed to Baseten as written; its inside is not documented. */
    load_checkpoint_config: PassThrough,
  })
  .strict();

/** Model weights Baseten downloads and mounts into the job before it starts. */
export const BasetenWeights = z
  .object({
    /** Where the weights come from, as a URI (`"hf://meta-llama/Llama-3-8B@main"`). */
    source: z
      .string()
      .regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/, 'must be a URI such as "hf://meta-llama/Llama-3-8B@main"'),
    /** The absolute path the weights appear at in the container. */
    mount_location: AbsolutePath,
    /** Only files matching these glob patterns are fetched. Defaults to every file. */
    allow_patterns: z.array(z.string()).nullable().optional(),
    /** Files matching these glob patterns are not fetched. Defaults to none. */
    ignore_patterns: z.array(z.string()).nullable().optional(),
    /** The Baseten secret holding the credentials for `source`. Defaults to none (public weights). */
    auth_secret_name: z.string().nullable().optional(),
  })
  .strict();

/** `CreateTrainingJobV1`: what runs, on what, with which weights. */
export const BasetenTrainingJob = z
  .object({
    /** The container image the job runs in. */
    image: z
      .object({
        /** The image reference (`"pytorch/pytorch:2.7.0-cuda12.8-cudnn9-runtime"`). */
        base_image: ImageRef,
        /** Credentials for a private registry, passed to Baseten as written. Defaults to none. */
        docker_auth: PassThrough,
      })
      .strict(),
    /** The machines the job runs on. Defaults to Baseten's. */
    compute: BasetenCompute.optional(),
    /** The commands, environment, cache and checkpoints. Defaults to Baseten's. */
    runtime: BasetenRuntime.optional(),
    /** The job's name; the `TrainingJob`'s `name` is written here when left out. */
    name: z.string().min(1, "must not be empty").optional(),
    /** Passed to Baseten as written; its inside is not documented. */
    truss_user_env: PassThrough,
    /** Passed to Baseten as written; its inside is not documented. */
    interactive_session: PassThrough,
    /** Model weights mounted into the job. Defaults to none. */
    weights: z.array(BasetenWeights).nullable().optional(),
  })
  .strict();

/** The body of `POST /v1/training_projects/{training_project_id}/jobs`, exactly as Baseten's documentation shows it. */
export const BasetenCreateJobRequest = z
  .object({
    /** The job to create. */
    training_job: BasetenTrainingJob,
  })
  .strict();

/**
 * A `TrainingJob`'s `jobConfig` for Baseten: the request body plus the path parameter
 * `training_project_id`, so everything that decides where and what runs is in one input.
 */
export const BasetenJobConfig = BasetenCreateJobRequest.extend({
  /** The Baseten training project the job belongs to, the path parameter of the create. */
  training_project_id: z.string().min(1, "must name the Baseten training project the job belongs to"),
}).strict();
/** A `TrainingJob`'s `jobConfig` for `baseten`, as validated. */
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
  /** Baseten's id of the job. */
  id: z.string().min(1),
  /** The job's name, mark included; absent where an answer leaves it out. */
  name: z.string().nullable().optional(),
  /** One of {@link BASETEN_STATUSES}, or a word Baseten adds later. */
  current_status: z.string(),
  /** When Baseten created the job. */
  created_at: z.string().optional(),
  /** When the job last changed. */
  updated_at: z.string().optional(),
  /** The training project the job belongs to. */
  training_project_id: z.string().optional(),
  /** Why the job failed; null while it has not. */
  error_message: z.string().nullable().optional(),
});
/** A Baseten job as its answers show it. */
export type BasetenTrainingJobObject = z.infer<typeof BasetenTrainingJobObject>;
