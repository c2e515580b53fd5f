import { z } from "zod";
import { JobName } from "../common";
import { BasetenJobConfig } from "./baseten";
import { CustomTrainingJobConfig } from "./customtraining";
import { SimplismartJobConfig } from "./simplismart";
import { TensorOneJobConfig, tensorOneFormOf } from "./tensorone";

export * from "./baseten";
export * from "./customtraining";
export * from "./simplismart";
export * from "./tensorone";

/**
 * Other vendors' training APIs a `TrainingJob` can be sent to instead of the Train API. Each has its
 * own job body, taken as `jobConfig` in the vendor's own field names.
 */
export const VENDORS = ["baseten", "tensorone", "customtraining", "simplismart"] as const;
/** One of {@link VENDORS}. */
export type Vendor = (typeof VENDORS)[number];

/** Whether `value` names a vendor rather than a Train API backend. */
export function isVendor(value: unknown): value is Vendor {
  return VENDORS.includes(value as Vendor);
}

/** The `jobConfig` schema of each vendor. */
export const VENDOR_JOB_CONFIGS = {
  /** Baseten training jobs. */
  baseten: BasetenJobConfig,
  /** TensorOne training jobs, in either form. */
  tensorone: TensorOneJobConfig,
  /** Custom training runs on a model registry. */
  customtraining: CustomTrainingJobConfig,
  /** Simplismart training-suite jobs. */
  simplismart: SimplismartJobConfig,
} as const satisfies Record<Vendor, z.ZodType>;

/** `T` with its `name` optional, for each member of a union. */
type NameOptional<T> = T extends unknown ? Omit<T, "name"> & { name?: string } : never;

/**
 * A vendor's `jobConfig` as a program writes it. TensorOne's body requires `name`, but the
 * TrainingJob's `name` is written there when it is left out, so the program may leave it out.
 */
export type VendorJobConfigFor<V extends Vendor> = V extends "tensorone"
  ? NameOptional<z.input<typeof TensorOneJobConfig>>
  : z.input<(typeof VENDOR_JOB_CONFIGS)[V]>;

/**
 * The schema to validate `jobConfig` with. For TensorOne, whose documentation shows two forms of the
 * body, it is the form `jobConfig` is written in, so errors speak of that form only.
 */
export function vendorJobConfigSchema(vendor: Vendor, jobConfig: unknown): z.ZodType {
  return vendor === "tensorone" ? tensorOneFormOf(jobConfig) : VENDOR_JOB_CONFIGS[vendor];
}

/**
 * Where each vendor's body names the job. A `TrainingJob`'s `name` is written there when
 * `jobConfig` leaves it out, and must agree with it when `jobConfig` sets it; the job is submitted
 * with the submission's mark appended to it.
 */
export const VENDOR_NAME_PATH = {
  /** `training_job.name`. */
  baseten: ["training_job", "name"],
  /** `name`. */
  tensorone: ["name"],
  /** `run_label`. */
  customtraining: ["run_label"],
  /** `experiment_name`. */
  simplismart: ["experiment_name"],
} as const satisfies Record<Vendor, readonly string[]>;

/**
 * Characters trainkit appends to a job's name on the vendor: `-` and 8 hex digits that mark one
 * submission, so that a create whose answer was lost finds the job it made and no other.
 */
export const MARK_LENGTH = 9;

const TENSORONE_NAME_MAX = 100;

/**
 * A `TrainingJob`'s `name` for each vendor, by the rules of the vendor's own name field, less the
 * mark. TensorOne's name and the custom training run's label are human-readable (TensorOne's holds
 * 1 to 100 characters, the mark included); Baseten's and Simplismart's documents set no rule, and
 * their names are kept to the identifier form their examples use and the Train API requires.
 */
export const VENDOR_NAMES = {
  /** Letters, digits, `.`, `_` and `-`, as the Train API's names. */
  baseten: JobName,
  /** 1 to 91 characters. */
  tensorone: z
    .string()
    .min(1, "must not be empty")
    .max(
      TENSORONE_NAME_MAX - MARK_LENGTH,
      `must be at most ${TENSORONE_NAME_MAX - MARK_LENGTH} characters: TensorOne takes names of up to ` +
        `${TENSORONE_NAME_MAX}, and ${MARK_LENGTH} go to the mark that tells this submission's job from others`,
    ),
  /** Any non-empty text. */
  customtraining: z.string().min(1, "must not be empty"),
  /** Letters, digits, `.`, `_` and `-`, as the Train API's names. */
  simplismart: JobName,
} as const satisfies Record<Vendor, z.ZodType<string>>;
