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

export const TensorOneModelConfig = z
  .object({
    modelType: z.string().min(1, 'must name a model type such as "language_model"'),
    baseModel: z.string().optional(),
    customCode: z.string().optional(),
  })
  .strict();

export const TensorOneDatasetConfig = z
  .object({
    datasetId: z.string().optional(),
    datasetUrl: z.string().optional(),
    format: z.string().optional(),
  })
  .strict()
  .refine((d) => d.datasetId !== undefined || d.datasetUrl !== undefined, {
    message: "must set datasetId or datasetUrl",
  });

export const TensorOneHyperparameters = z
  .object({
    learningRate: z.number().positive("must be greater than 0").optional(),
    batchSize: PositiveInt.optional(),
    epochs: PositiveInt.optional(),
    optimizer: z.string().optional(),
  })
  .strict();

export const TensorOneInfrastructure = z
  .object({
    gpuType: z.string().min(1, 'must name a GPU type such as "rtx-4090"'),
    gpuCount: PositiveInt.optional(),
    memory: Size.optional(),
    storage: Size.optional(),
  })
  .strict();

/** The reference form of the create body. */
export const TensorOneStructuredJob = z
  .object({
    name: Name,
    description: z.string().optional(),
    framework: z.string().min(1, 'must name a framework such as "pytorch"'),
    modelConfig: TensorOneModelConfig,
    datasetConfig: TensorOneDatasetConfig,
    hyperparameters: TensorOneHyperparameters.optional(),
    infrastructure: TensorOneInfrastructure,
  })
  .strict();

const Unit = z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1");

export const TensorOneTrainingParameters = z
  .object({
    epochs: PositiveInt.optional(),
    batch_size: PositiveInt.optional(),
    learning_rate: z
      .number()
      .min(1e-6, "must be between 1e-6 and 1e-1")
      .max(1e-1, "must be between 1e-6 and 1e-1")
      .optional(),
    weight_decay: z.number().nonnegative("must not be negative").optional(),
    warmup_steps: z.number().int("must be a whole number").nonnegative("must not be negative").optional(),
    gradient_accumulation_steps: PositiveInt.optional(),
    momentum: Unit.optional(),
  })
  .strict();

/** `config`: what to train and how, for language (baseModel, strategy) or vision (architecture) models. */
export const TensorOneTrainingConfig = z
  .object({
    baseModel: z.string().optional(),
    strategy: z.enum(["lora", "qlora", "full"]).optional(),
    parameters: z
      .object({
        rank: PositiveInt.optional(),
        alpha: PositiveInt.optional(),
        dropout: Unit.optional(),
        target_modules: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
    architecture: z.string().optional(),
    input_size: z.array(PositiveInt).optional(),
    num_classes: PositiveInt.optional(),
    training: TensorOneTrainingParameters.optional(),
    optimization: z
      .object({
        mixed_precision: z.enum(["fp16", "bf16", "fp32"]).optional(),
        gradient_checkpointing: z.boolean().optional(),
        max_grad_norm: z.number().positive("must be greater than 0").optional(),
      })
      .strict()
      .optional(),
    augmentation: z.record(z.string(), z.number()).optional(),
  })
  .strict();

export const TENSORONE_MODEL_TYPES = ["llm", "vision", "multimodal", "custom"] as const;
export const TENSORONE_GPU_TYPES = ["a100", "h100", "v100", "rtx4090"] as const;

/** The form of the create body the documentation's parameter list and examples use. */
export const TensorOneConfigJob = z
  .object({
    name: Name,
    description: z.string().optional(),
    tags: z.array(z.string()).optional(),
    modelType: z.enum(TENSORONE_MODEL_TYPES),
    datasetId: z.string().min(1, 'must name a dataset such as "ds_1234567890abcdef"'),
    config: TensorOneTrainingConfig,
    gpuType: z.enum(TENSORONE_GPU_TYPES).optional(),
    maxWorkers: z
      .number()
      .int("must be a whole number")
      .min(1, "must be 1 to 32")
      .max(32, "must be 1 to 32")
      .optional(),
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
  error: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type TensorOneError = z.infer<typeof TensorOneError>;

/**
 * A job object as create, get and list return it; create names the id `jobId`, the others `id`.
 * The documents give a job no failure field of its own, so a failed job's reason is read in
 * TensorOne's error shape: whole under `error`, or as the job's `error`, `message` and `details`.
 */
export const TensorOneJobObject = z.object({
  id: z.string().min(1).optional(),
  jobId: z.string().min(1).optional(),
  name: z.string().optional(),
  status: z.string(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  error: z.union([z.string(), TensorOneError]).nullable().optional(),
  message: z.string().nullable().optional(),
  details: z.record(z.string(), z.unknown()).nullable().optional(),
  /** The checkpoints a job's details list, `/resume` takes one's id. */
  checkpoints: z
    .array(z.object({ id: z.string().min(1), createdAt: z.string().optional() }))
    .nullable()
    .optional(),
});
export type TensorOneJobObject = z.infer<typeof TensorOneJobObject>;

/** One page of `GET /v2/training/jobs`. */
export const TensorOneJobPage = z.object({
  jobs: z.array(TensorOneJobObject),
  pagination: z.object({ hasMore: z.boolean().optional() }).optional(),
});
