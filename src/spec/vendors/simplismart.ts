import { z } from "zod";
import { PositiveInt } from "../common";

// Simplismart's training suite: `POST /job/` as multipart/form-data, whose structured
// fields are JSON text. A `TrainingJob` takes those fields as objects (or as the JSON text itself,
// so a form copied from Simplismart's documentation works unchanged) and the client encodes them again.

const Text = z.string().min(1, "must not be empty");

/** The form's `dataset_config`: how the dataset is turned into training examples. */
export const SimplismartDatasetConfig = z
  .object({
    /** How examples are tokenized and prompted. Defaults to Simplismart's. */
    preprocessing: z
      .object({
        /** Tokenize examples as they are read rather than all up front. */
        lazy_tokenize: z.boolean().optional(),
        /** Stream the dataset instead of downloading it first. */
        streaming: z.boolean().optional(),
        /** The prompt each example is wrapped in. */
        prompt: z
          .object({
            /** The system prompt; null for none. */
            system: z.string().nullable().optional(),
            /** The longest example, in tokens; longer ones are cut. */
            max_length: PositiveInt.optional(),
            /** The chat template's name; null for the model's own. */
            template: z.string().nullable().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    /** How the dataset is split, such as into training and evaluation sets. Defaults to Simplismart's. */
    split: z
      .object({
        /** The kind of split, as Simplismart names it. */
        type: Text,
        /** The parts' shares, each above 0 and together 1 (`[0.9, 0.1]`). */
        ratios: z
          .array(z.number().gt(0, "must be greater than 0").max(1, "must be at most 1"))
          .min(1, "must hold at least one ratio")
          .refine((r) => Math.abs(r.reduce((a, b) => a + b, 0) - 1) < 1e-6, "must add up to 1"),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The form's `model_details`: the model fine-tuned. */
export const SimplismartModelDetails = z
  .object({
    /** The base model's name (`"meta-llama/Llama-3.2-1B-Instruct"`). */
    base_model: z.string().min(1, 'must name a model such as "meta-llama/Llama-3.2-1B-Instruct"'),
    /** `public` for a model anyone can fetch, `private` for one of the organization's own. */
    ownership: z.enum(["public", "private"]),
    /** Where the model is fetched from, as Simplismart names it. */
    source_type: Text,
    /** The kind of model, as Simplismart names it. */
    model_type: Text,
    /** Load the base model quantized. Defaults to none. */
    quantization: z
      .object({
        /** Bits per weight: 4 or 8. */
        quant_bits: z.union([z.literal(4), z.literal(8)], "must be 4 or 8"),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

/** The form's `train_config`: how the model is trained. */
export const SimplismartTrainConfig = z
  .object({
    /** The kind of training, as Simplismart names it. */
    type: Text,
    /** The precision the model is loaded in. Defaults to Simplismart's. */
    torch_dtype: z.enum(["bfloat16", "float16", "float32"]).optional(),
    /** The task trained for, as Simplismart names it. */
    task_type: Text,
    /** The training method (such as LoRA or full fine-tuning), as Simplismart names it. */
    train_type: Text,
    /** The fine-tuning library used. Defaults to Simplismart's. */
    tuner_backend: Text.optional(),
    /** Training hyperparameters. Each left out takes Simplismart's default. */
    hyperparameters: z
      .object({
        /** Passes over the dataset. */
        num_epochs: PositiveInt.optional(),
        /** Training examples per batch on each GPU. */
        per_device_train_batch_size: PositiveInt.optional(),
        /** Evaluation examples per batch on each GPU. */
        per_device_eval_batch_size: PositiveInt.optional(),
        /** Recompute activations in the backward pass to save GPU memory. */
        gradient_checkpointing: z.boolean().optional(),
        /** Steps between checkpoints. */
        save_steps: PositiveInt.optional(),
        /** The most checkpoints kept; older ones are deleted. */
        save_total_limit: PositiveInt.optional(),
        /** Steps between evaluations. */
        eval_steps: PositiveInt.optional(),
        /** Steps between log lines. */
        logging_steps: PositiveInt.optional(),
        /** The optimizer's learning rate. */
        learning_rate: z.number().positive("must be greater than 0").optional(),
        /** Processes loading data; 0 loads it in the training process. */
        dataloader_num_workers: z
          .number()
          .int("must be a whole number")
          .nonnegative("must not be negative")
          .optional(),
      })
      .strict()
      .optional(),
    /** The LoRA adapters to train; null or absent for none. */
    adapter_config: z
      .object({
        /** The adapters' rank. */
        r: PositiveInt,
        /** The adapters' scaling factor. */
        alpha: PositiveInt,
        /** Dropout on the adapters, 0 to 1. */
        dropout: z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1").optional(),
        /** The modules adapters are added to, or `all-linear`. */
        targets: z.array(Text).min(1, "must name at least one module, or all-linear"),
      })
      .strict()
      .nullable()
      .optional(),
    /** How training is spread over GPUs; null or absent for one process. */
    distributed: z
      .object({
        /** `ddp`, `fsdp` or `deepspeed`. */
        type: z.enum(["ddp", "fsdp", "deepspeed"]),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

/** The form's `dataset_details`: where the dataset is. */
export const SimplismartDatasetDetails = z
  .object({
    /** The dataset's name. */
    dataset_name: Text,
    /** Where the dataset is, in the form `source_type` takes. */
    dataset_path: Text,
    /** A description shown with the dataset. Defaults to none. */
    dataset_description: z.string().optional(),
    /** The kind of dataset, as Simplismart names it. */
    dataset_type: Text,
    /** The dataset's file format, as Simplismart names it. */
    dataset_format: Text,
    /** Where the dataset is fetched from, as Simplismart names it. */
    source_type: Text,
    /** `public` or `private`, as for the model. */
    ownership: z.enum(["public", "private"]),
    /** The Simplismart secret holding credentials for a private dataset. Defaults to none. */
    secret_id: z.string().optional(),
    /** The region of the dataset's storage. Defaults to none. */
    region: z.string().optional(),
  })
  .strict();

/** The form's `infra_config`: the machines the job runs on. */
export const SimplismartInfraConfig = z
  .object({
    /** Simplismart's name of the GPU type (`"h100"`). */
    gpu_type: z.string().min(1, 'must name a GPU type such as "h100"'),
    /** GPUs per node. */
    gpu_count: PositiveInt,
    /** Where the machines come from, as Simplismart names it. */
    infra_type: Text,
    /** How many nodes. */
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
    /** The id of the Simplismart organization the job belongs to. */
    org: z.string().min(1, "must be the organization id the job belongs to"),
    /** The job's name; the `TrainingJob`'s `name` is written here when left out. */
    experiment_name: z.string().min(1, "must not be empty").optional(),
    /** How the dataset becomes training examples, as an object or its JSON text. */
    dataset_config: jsonOrObject(SimplismartDatasetConfig),
    /** The model fine-tuned, as an object or its JSON text. */
    model_details: jsonOrObject(SimplismartModelDetails),
    /** How the model is trained, as an object or its JSON text. */
    train_config: jsonOrObject(SimplismartTrainConfig),
    /** Where the dataset is, as an object or its JSON text. */
    dataset_details: jsonOrObject(SimplismartDatasetDetails),
    /** The machines, as an object or its JSON text. */
    infra_config: jsonOrObject(SimplismartInfraConfig),
  })
  .strict();
/** A `TrainingJob`'s `jobConfig` for `simplismart`, as a program writes it. */
export type SimplismartJobConfig = z.input<typeof SimplismartJobConfig>;

/** The multipart form of `POST /job/` exactly as sent: every field a string, the JSON ones valid JSON of their shape. */
export const SimplismartJobForm = z
  .object({
    /** The organization's id. */
    org: Text,
    /** The job's name, mark included. */
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
  /** Simplismart's id of the job. */
  request_id: z.string().min(1),
  /** One of {@link SIMPLISMART_STATUSES}, or a word Simplismart adds later. */
  status: z.string().optional(),
  /** Further information about the submission; not a failure reason. */
  message: z.string().nullable().optional(),
  /** The job's name, mark included. */
  experiment_name: z.string().optional(),
});
/** A Simplismart job as its answers show it. */
export type SimplismartJobObject = z.infer<typeof SimplismartJobObject>;
