import { z } from "zod";
import { EnvMap } from "../common";

// Custom training runs on a model registry: `POST /api/v1/models/{model_id}/custom/train`.
// The documentation gives no host, only the base path, so the API's URL is always the user's to give.

export const CUSTOM_TRAINING_RUNTIMES = ["python3.10", "python3.11", "python3.12"] as const;

/** The body of `POST /api/v1/models/{model_id}/custom/train`, with the documented limits. */
export const CustomTrainingRequest = z
  .object({
    entry_point: z
      .string()
      .min(1, 'must name the uploaded script asset to run, such as "train.py"')
      .regex(/^[^/\\]+$/, 'must be a file name such as "train.py", not a path'),
    runtime: z.enum(CUSTOM_TRAINING_RUNTIMES),
    environment_vars: EnvMap.optional(),
    compute: z
      .object({
        cpu_cores: z
          .number()
          .int("must be a whole number")
          .min(1, "must be 1 to 32")
          .max(32, "must be 1 to 32")
          .optional(),
        memory_gb: z
          .number()
          .int("must be a whole number")
          .min(1, "must be 1 to 128")
          .max(128, "must be 1 to 128")
          .optional(),
        gpu: z.boolean().optional(),
      })
      .strict()
      .optional(),
    run_label: z.string().min(1, "must not be empty").optional(),
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
  model_id: z.string().min(1, 'must name the custom model to train, such as "mdl-7f3a19bc"'),
}).strict();
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
  run_id: z.string().min(1),
  model_id: z.string().optional(),
  status: z.string(),
  run_label: z.string().nullable().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  error_message: z.string().nullable().optional(),
});
export type CustomTrainingRun = z.infer<typeof CustomTrainingRun>;
