import { z } from "zod";
import { PositiveInt } from "../common";

// TensorOne's training API: `POST /v2/training/jobs`. Its documentation shows the body twice,
// in two shapes: the reference form (framework, modelConfig, datasetConfig, hyperparameters,
// infrastructure) and the form its examples and parameter list use (modelType, datasetId, config,
// gpuType, maxWorkers, priority). Both are accepted, each strict; `name` and `description` are
// common to both. Inside `config` the HTTP examples write snake_case, as TensorOne's own
// CONFIGURATION_ERROR example (`config.training.learning_rate`) confirms.

const Name = z.string().min(1, "must not be empty").max(100, "must be at most 100 characters");
const Size = z.string().regex(/^\d+(\.\d+)?\s?(KB|MB|GB|TB)$/, 'must be a size such as "32GB"');

/** The reference form's `modelConfig`: what model is trained. */
export const TensorOneModelConfig = z
  .object({
    /** The kind of model (`"language_model"`). */
    modelType: z.string().min(1, 'must name a model type such as "language_model"'),
    /** The model fine-tuned, such as a Hugging Face id. Defaults to none (training from scratch). */
    baseModel: z.string().optional(),
    /** Training code of the user's own, passed to TensorOne as written. Defaults to none. */
    customCode: z.string().optional(),
  })
  .strict();

/** The reference form's `datasetConfig`: the data trained on, by `datasetId` or `datasetUrl`. */
export const TensorOneDatasetConfig = z
  .object({
    /** A dataset uploaded to TensorOne. */
    datasetId: z.string().optional(),
    /** A URL TensorOne downloads the dataset from. */
    datasetUrl: z.string().optional(),
    /** The dataset's file format (`"jsonl"`). Defaults to TensorOne's detection. */
    format: z.string().optional(),
  })
  .strict()
  .refine((d) => d.datasetId !== undefined || d.datasetUrl !== undefined, {
    message: "must set datasetId or datasetUrl",
  });

/** The reference form's `hyperparameters`. Each left out takes TensorOne's default. */
export const TensorOneHyperparameters = z
  .object({
    /** The optimizer's learning rate. */
    learningRate: z.number().positive("must be greater than 0").optional(),
    /** Examples per batch. */
    batchSize: PositiveInt.optional(),
    /** Passes over the dataset. */
    epochs: PositiveInt.optional(),
    /** The optimizer's name (`"adamw"`). */
    optimizer: z.string().optional(),
  })
  .strict();

/** The reference form's `infrastructure`: the machines the job runs on. */
export const TensorOneInfrastructure = z
  .object({
    /** TensorOne's name of the GPU type (`"rtx-4090"`). */
    gpuType: z.string().min(1, 'must name a GPU type such as "rtx-4090"'),
    /** GPUs the job gets. Defaults to TensorOne's. */
    gpuCount: PositiveInt.optional(),
    /** Memory the job gets, such as `"32GB"`. Defaults to TensorOne's. */
    memory: Size.optional(),
    /** Disk the job gets, such as `"100GB"`. Defaults to TensorOne's. */
    storage: Size.optional(),
  })
  .strict();

/** The reference form of the create body. */
export const TensorOneStructuredJob = z
  .object({
    /**
     * The job's name, 1 to 100 characters with the mark; the `TrainingJob`'s `name` is written here when left
     * out.
     */
    name: Name,
    /** A description shown with the job. Defaults to none. */
    description: z.string().optional(),
    /** The training framework (`"pytorch"`). */
    framework: z.string().min(1, 'must name a framework such as "pytorch"'),
    /** What model is trained. */
    modelConfig: TensorOneModelConfig,
    /** The data trained on. */
    datasetConfig: TensorOneDatasetConfig,
    /** Training hyperparameters. Defaults to TensorOne's. */
    hyperparameters: TensorOneHyperparameters.optional(),
    /** The machines the job runs on. */
    infrastructure: TensorOneInfrastructure,
  })
  .strict();

const Unit = z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1");

/** `config.training`: the optimisation loop's settings. Each left out takes TensorOne's default. */
export const TensorOneTrainingParameters = z
  .object({
    /** Passes over the dataset. */
    epochs: PositiveInt.optional(),
    /** Examples per batch. */
    batch_size: PositiveInt.optional(),
    /** The learning rate, 1e-6 to 1e-1. */
    learning_rate: z
      .number()
      .min(1e-6, "must be between 1e-6 and 1e-1")
      .max(1e-1, "must be between 1e-6 and 1e-1")
      .optional(),
    /** Weight decay, 0 or more. */
    weight_decay: z.number().nonnegative("must not be negative").optional(),
    /** Steps over which the learning rate ramps up. */
    warmup_steps: z.number().int("must be a whole number").nonnegative("must not be negative").optional(),
    /** Batches whose gradients are summed before each optimizer step. */
    gradient_accumulation_steps: PositiveInt.optional(),
    /** The optimizer's momentum, 0 to 1. */
    momentum: Unit.optional(),
  })
  .strict();

/** `config`: what to train and how, for language (baseModel, strategy) or vision (architecture) models. */
export const TensorOneTrainingConfig = z
  .object({
    /** Language models: the model fine-tuned. */
    baseModel: z.string().optional(),
    /** Language models: `lora`, `qlora` or full fine-tuning. */
    strategy: z.enum(["lora", "qlora", "full"]).optional(),
    /** LoRA and QLoRA settings. */
    parameters: z
      .object({
        /** The adapters' rank. */
        rank: PositiveInt.optional(),
        /** The adapters' scaling factor. */
        alpha: PositiveInt.optional(),
        /** Dropout on the adapters, 0 to 1. */
        dropout: Unit.optional(),
        /** The modules adapters are added to (`"q_proj"`). */
        target_modules: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    /** Vision models: the network architecture (`"resnet50"`). */
    architecture: z.string().optional(),
    /** Vision models: the input's dimensions (`[224, 224]`). */
    input_size: z.array(PositiveInt).optional(),
    /** Vision models: how many classes are predicted. */
    num_classes: PositiveInt.optional(),
    /** The optimisation loop's settings. */
    training: TensorOneTrainingParameters.optional(),
    /** Numerical settings of training. */
    optimization: z
      .object({
        /** The precision computed in: `fp16`, `bf16` or `fp32`. */
        mixed_precision: z.enum(["fp16", "bf16", "fp32"]).optional(),
        /** Recompute activations in the backward pass to save memory. */
        gradient_checkpointing: z.boolean().optional(),
        /** Gradients are clipped to this norm. */
        max_grad_norm: z.number().positive("must be greater than 0").optional(),
      })
      .strict()
      .optional(),
    /** Vision models: data augmentation settings by name, each a number. Passed as written. */
    augmentation: z.record(z.string(), z.number()).optional(),
  })
  .strict();

/** The `modelType`s of the parameter-list form. */
export const TENSORONE_MODEL_TYPES = ["llm", "vision", "multimodal", "custom"] as const;
/** The `gpuType`s of the parameter-list form. */
export const TENSORONE_GPU_TYPES = ["a100", "h100", "v100", "rtx4090"] as const;

/** The form of the create body the documentation's parameter list and examples use. */
export const TensorOneConfigJob = z
  .object({
    /**
     * The job's name, 1 to 100 characters with the mark; the `TrainingJob`'s `name` is written here when left
     * out.
     */
    name: Name,
    /** A description shown with the job. Defaults to none. */
    description: z.string().optional(),
    /** Tags to find the job by. Defaults to none. */
    tags: z.array(z.string()).optional(),
    /** The kind of model, one of {@link TENSORONE_MODEL_TYPES}. */
    modelType: z.enum(TENSORONE_MODEL_TYPES),
    /** The dataset trained on, uploaded to TensorOne (`"ds_1234567890abcdef"`). */
    datasetId: z.string().min(1, 'must name a dataset such as "ds_1234567890abcdef"'),
    /** What to train and how. */
    config: TensorOneTrainingConfig,
    /** The GPU type, one of {@link TENSORONE_GPU_TYPES}. Defaults to TensorOne's choice. */
    gpuType: z.enum(TENSORONE_GPU_TYPES).optional(),
    /** The most workers the job runs on, 1 to 32. Defaults to TensorOne's. */
    maxWorkers: z
      .number()
      .int("must be a whole number")
      .min(1, "must be 1 to 32")
      .max(32, "must be 1 to 32")
      .optional(),
    /** The job's place in TensorOne's queue: `high`, `normal` or `low`. Defaults to TensorOne's. */
    priority: z.enum(["high", "normal", "low"]).optional(),
  })
  .strict();

/** Keys only the reference form has; a body holding any of them is read as that form. */
const STRUCTURED_KEYS = ["framework", "modelConfig", "datasetConfig", "hyperparameters", "infrastructure"];

/** The schema of the form `value` is written in, so a mistake is reported against that form only. */
export function tensorOneFormOf(value: unknown): typeof TensorOneStructuredJob | typeof TensorOneConfigJob {
  const keys = value && typeof value === "object" ? Object.keys(value) : [];
  return keys.some((k) => STRUCTURED_KEYS.includes(k)) ? TensorOneStructuredJob : TensorOneConfigJob;
}

/**
 * The body of `POST /v2/training/jobs`, in either of its documented forms; also a `TrainingJob`'s
 * `jobConfig`. Validate with `tensorOneFormOf(value)` to get errors for the form the user wrote.
 */
export const TensorOneJobConfig = z.union([TensorOneStructuredJob, TensorOneConfigJob]);
/** A `TrainingJob`'s `jobConfig` for `tensorone`, as validated, in either form. */
export type TensorOneJobConfig = z.infer<typeof TensorOneJobConfig>;

/** TensorOne's job statuses (its documentation lists pending, running, completed, failed, cancelled; queued is what create answers; stopped follows `/stop`). */
export const TENSORONE_STATUSES = [
  "queued",
  "pending",
  "running",
  "completed",
  "failed",
  "cancelled",
  "stopped",
] as const;

/** An error body, and TensorOne's one shape for what went wrong: `{ error: CODE, message, details }`. */
export const TensorOneError = z.object({
  /** The error's code (`CONFIGURATION_ERROR`). */
  error: z.string(),
  /** What went wrong. */
  message: z.string(),
  /** Further facts about the error, as TensorOne gives them. */
  details: z.record(z.string(), z.unknown()).optional(),
});
/** A TensorOne error body. */
export type TensorOneError = z.infer<typeof TensorOneError>;

/**
 * A job object as create, get and list return it; create names the id `jobId`, the others `id`.
 * The documents give a job no failure field of its own, so a failed job's reason is read in
 * TensorOne's error shape: whole under `error`, or as the job's `error`, `message` and `details`.
 */
export const TensorOneJobObject = z.object({
  /** The job's id, in get and list answers. */
  id: z.string().min(1).optional(),
  /** The job's id, in the create answer. */
  jobId: z.string().min(1).optional(),
  /** The job's name, mark included. */
  name: z.string().optional(),
  /** One of {@link TENSORONE_STATUSES}, or a word TensorOne adds later. */
  status: z.string(),
  /** When the job was created. */
  createdAt: z.string().optional(),
  /** When the job last changed. */
  updatedAt: z.string().optional(),
  /** Why the job failed: an error code, or a whole error body; null while it has not. */
  error: z.union([z.string(), TensorOneError]).nullable().optional(),
  /** A message about the job, such as why it failed. */
  message: z.string().nullable().optional(),
  /** Further facts about the job's failure, as TensorOne gives them. */
  details: z.record(z.string(), z.unknown()).nullable().optional(),
  /** The checkpoints a job's details list, `/resume` takes one's id. */
  checkpoints: z
    .array(
      z.object({
        /** The checkpoint's id. */
        id: z.string().min(1),
        /** When the checkpoint was saved. */
        createdAt: z.string().optional(),
      }),
    )
    .nullable()
    .optional(),
});
/** A TensorOne job as its answers show it. */
export type TensorOneJobObject = z.infer<typeof TensorOneJobObject>;

/** One page of `GET /v2/training/jobs`. */
export const TensorOneJobPage = z.object({
  /** The page's jobs. */
  jobs: z.array(TensorOneJobObject),
  /** Whether more pages follow. */
  pagination: z
    .object({
      /** True when another page follows. */
      hasMore: z.boolean().optional(),
    })
    .optional(),
});
