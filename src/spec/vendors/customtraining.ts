import { z } from "zod";
import { EnvMap } from "../common";

// Custom training runs on a model registry: `POST /api/v1/models/{model_id}/custom/train`.
// The documentation gives no host, only the base path, so the API's URL is always the user's to give.

/** The Python versions a custom training run can use. */
export const CUSTOM_TRAINING_RUNTIMES = ["python3.10", "python3.11", "python3.12"] as const;

/** The body of `POST /api/v1/models/{model_id}/custom/train`, with the documented limits. */
export const CustomTrainingRequest = z
  .object({
    /** The uploaded script asset the run executes, by file name (`"train.py"`). */
    entry_point: z
      .string()
      .min(1, 'must name the uploaded script asset to run, such as "train.py"')
      .regex(/^[^/\\]+$/, 'must be a file name such as "train.py", not a path'),
    /** The Python version the script runs on, one of {@link CUSTOM_TRAINING_RUNTIMES}. */
    runtime: z.enum(CUSTOM_TRAINING_RUNTIMES),
    /** Environment variables for the script. Defaults to none. */
    environment_vars: EnvMap.optional(),
    /** What the run gets. Defaults to the API's. */
    compute: z
      .object({
        /** CPU cores, 1 to 32. */
        cpu_cores: z
          .number()
          .int("must be a whole number")
          .min(1, "must be 1 to 32")
          .max(32, "must be 1 to 32")
          .optional(),
        /** Memory in GB, 1 to 128. */
        memory_gb: z
          .number()
          .int("must be a whole number")
          .min(1, "must be 1 to 128")
          .max(128, "must be 1 to 128")
          .optional(),
        /** Whether the run gets a GPU. */
        gpu: z.boolean().optional(),
      })
      .strict()
      .optional(),
    /** A human-readable label for the run; the `TrainingJob`'s `name` is written here when left out. */
    run_label: z.string().min(1, "must not be empty").optional(),
    /** Seconds, 1 to 86400, after which the run is stopped as `timed_out`. Defaults to the API's. */
    timeout_seconds: z
      .number()
      .int("must be a whole number")
      .min(1, "must be 1 to 86400")
      .max(86_400, "must be 1 to 86400")
      .optional(),
  })
  .strict();

/** A `TrainingJob`'s `jobConfig`: the request body plus the path parameter `model_id`. */
export const CustomTrainingJobConfig = CustomTrainingRequest.extend({
  /** The custom model the run trains, the path parameter of the create (`"mdl-7f3a19bc"`). */
  model_id: z.string().min(1, 'must name the custom model to train, such as "mdl-7f3a19bc"'),
}).strict();
/** A `TrainingJob`'s `jobConfig` for `customtraining`, as validated. */
export type CustomTrainingJobConfig = z.infer<typeof CustomTrainingJobConfig>;

/**
 * Run statuses. The documentation shows `queued`; the rest are inferred the way a run with an automatic
 * timeout reports itself: `running`, then `completed`, `failed`, `canceled`, or `timed_out` when
 * `timeout_seconds` ran out.
 */
export const CUSTOM_TRAINING_STATUSES = [
  "queued",
  "running",
  "completed",
  "failed",
  "canceled",
  "timed_out",
] as const;

/** The `CustomTrainingRun` object create returns and, by design, get and list return too. */
export const CustomTrainingRun = z.object({
  /** The API's id of the run. */
  run_id: z.string().min(1),
  /** The model the run trains. */
  model_id: z.string().optional(),
  /** One of {@link CUSTOM_TRAINING_STATUSES}, or a word the API adds later. */
  status: z.string(),
  /** The run's label, mark included; null or absent where the answer leaves it out. */
  run_label: z.string().nullable().optional(),
  /** When the run was created. */
  created_at: z.string().optional(),
  /** When the run last changed. */
  updated_at: z.string().optional(),
  /** Why the run failed; null while it has not. */
  error_message: z.string().nullable().optional(),
});
/** A custom training run as the API's answers show it. */
export type CustomTrainingRun = z.infer<typeof CustomTrainingRun>;
