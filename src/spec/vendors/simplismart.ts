import { z } from "zod";
import { PositiveInt } from "../common";

// Simplismart's training suite: `POST /job/` as multipart/form-data, whose structured
// fields are JSON text. A `TrainingJob` takes those fields as objects (or as the JSON text itself,
// so a form copied from Simplismart's documentation works unchanged) and the client encodes them again.

const Text = z.string().min(1, "must not be empty");

export const SimplismartDatasetConfig = z
  .object({
    preprocessing: z
      .object({
        lazy_tokenize: z.boolean().optional(),
        streaming: z.boolean().optional(),
        prompt: z
          .object({
            system: z.string().nullable().optional(),
            max_length: PositiveInt.optional(),
            template: z.string().nullable().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    split: z
      .object({
        type: Text,
        ratios: z
          .array(z.number().gt(0, "must be greater than 0").max(1, "must be at most 1"))
          .min(1, "must hold at least one ratio")
          .refine((r) => Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-6, "must add up to 1"),
      })
      .strict()
      .optional(),
  })
  .strict();

export const SimplismartModelDetails = z
  .object({
    base_model: z.string().min(1, 'must name a model such as "meta-llama/Llama-3.2-1B-Instruct"'),
    ownership: z.enum(["public", "private"]),
    source_type: Text,
    model_type: Text,
    quantization: z
      .object({ quant_bits: z.union([z.literal(4), z.literal(8)], "must be 4 or 8") })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

export const SimplismartTrainConfig = z
  .object({
    type: Text,
    torch_dtype: z.enum(["bfloat16", "float16", "float32"]).optional(),
    task_type: Text,
    train_type: Text,
    tuner_backend: Text.optional(),
    hyperparameters: z
      .object({
        num_epochs: PositiveInt.optional(),
        per_device_train_batch_size: PositiveInt.optional(),
        per_device_eval_batch_size: PositiveInt.optional(),
        gradient_checkpointing: z.boolean().optional(),
        save_steps: PositiveInt.optional(),
        save_total_limit: PositiveInt.optional(),
        eval_steps: PositiveInt.optional(),
        logging_steps: PositiveInt.optional(),
        learning_rate: z.number().positive("must be greater than 0").optional(),
        dataloader_num_workers: z
          .number()
          .int("must be a whole number")
          .nonnegative("must not be negative")
          .optional(),
      })
      .strict()
      .optional(),
    adapter_config: z
      .object({
        r: PositiveInt,
        alpha: PositiveInt,
        dropout: z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").optional(),
        targets: z.array(Text).min(1, "must name at least one module, or all-linear"),
      })
      .strict()
      .nullable()
      .optional(),
    distributed: z
      .object({ type: z.enum(["ddp", "fsdp", "deepspeed"]) })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

export const SimplismartDatasetDetails = z
  .object({
    dataset_name: Text,
    dataset_path: Text,
    dataset_description: z.string().optional(),
    dataset_type: Text,
    dataset_format: Text,
    source_type: Text,
    ownership: z.enum(["public", "private"]),
    secret_id: z.string().optional(),
    region: z.string().optional(),
  })
  .strict();

export const SimplismartInfraConfig = z
  .object({
    gpu_type: z.string().min(1, 'must name a GPU type such as "h100"'),
    gpu_count: PositiveInt,
    infra_type: Text,
    node_count: PositiveInt,
  })
  .strict();

/** The form's fields that carry JSON text, in the order Simplismart's documentation sends them. */
export const SIMPLISMART_JSON_FIELDS = [
  "dataset_config",
  "model_details",
  "train_config",
  "dataset_details",
  "infra_config",
] as const;

/** JSON text as the value it holds; anything else, text that is not JSON included, as it is. */
function decodeJson(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Accepts the object, or JSON text of it (as in the form); yields the object. */
function jsonOrObject<T extends z.ZodType>(schema: T): z.ZodType<z.output<T>, z.input<T> | string> {
  // Text that is not JSON is left as it is, so the schema reports it as not an object.
  return z.preprocess(decodeJson, schema) as unknown as z.ZodType<z.output<T>, z.input<T> | string>;
}

/**
 * The job config with its JSON-text fields decoded, so that a mistake inside one is reported with
 * the value found there ("expected a number; got \"two\""), not as a value missing.
 */
export function decodeSimplismartJsonFields(jobConfig: Record<string, unknown>): Record<string, unknown> {
  const decoded = { ...jobConfig };
  for (const field of SIMPLISMART_JSON_FIELDS) {
    if (field in decoded) decoded[field] = decodeJson(decoded[field]);
  }
  return decoded;
}

/** A `TrainingJob`'s `jobConfig`: the form's fields, the JSON ones as objects. */
export const SimplismartJobConfig = z
  .object({
    org: z.string().min(1, "must be the organization id the job belongs to"),
    experiment_name: z.string().min(1, "must not be empty").optional(),
    dataset_config: jsonOrObject(SimplismartDatasetConfig),
    model_details: jsonOrObject(SimplismartModelDetails),
    train_config: jsonOrObject(SimplismartTrainConfig),
    dataset_details: jsonOrObject(SimplismartDatasetDetails),
    infra_config: jsonOrObject(SimplismartInfraConfig),
  })
  .strict();
export type SimplismartJobConfig = z.input<typeof SimplismartJobConfig>;

/** The multipart form of `POST /job/` exactly as sent: every field a string, the JSON ones valid JSON of their shape. */
export const SimplismartJobForm = z
  .object({
    org: Text,
    experiment_name: Text,
    ...Object.fromEntries(
      SIMPLISMART_JSON_FIELDS.map((f) => [
        f,
        z.string().pipe(SimplismartJobConfig.shape[f] as unknown as z.ZodType<unknown, string>),
      ]),
    ),
  })
  .strict();

/** Statuses as Simplismart's documentation lists them. */
export const SIMPLISMART_STATUSES = ["QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELED"] as const;

/**
 * A job as `POST /job/` answers it, and as the inferred `GET /job/{request_id}/` and list are taken
 * to answer it too. `message` is "additional information about the job submission", not a failure
 * reason, and the object has no creation time.
 */
export const SimplismartJobObject = z.object({
  request_id: z.string().min(1),
  status: z.string().optional(),
  message: z.string().nullable().optional(),
  experiment_name: z.string().optional(),
});
export type SimplismartJobObject = z.infer<typeof SimplismartJobObject>;
