import type { z } from "zod";
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
export type Vendor = (typeof VENDORS)[number];

export function isVendor(value: unknown): value is Vendor {
  return VENDORS.includes(value as Vendor);
}

export const VENDOR_JOB_CONFIGS = {
  baseten: BasetenJobConfig,
  tensorone: TensorOneJobConfig,
  customtraining: CustomTrainingJobConfig,
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
 * The schema to validate `jobConfig` with. For TensorOne, whose seed documents two forms of the
 * body, it is the form `jobConfig` is written in, so errors speak of that form only.
 */
export function vendorJobConfigSchema(vendor: Vendor, jobConfig: unknown): z.ZodType {
  return vendor === "tensorone" ? tensorOneFormOf(jobConfig) : VENDOR_JOB_CONFIGS[vendor];
}

/**
 * Where each vendor's body names the job. A `TrainingJob`'s `name` is written there when
 * `jobConfig` leaves it out, and must agree with it when `jobConfig` sets it.
 */
export const VENDOR_NAME_PATH = {
  baseten: ["training_job", "name"],
  tensorone: ["name"],
  customtraining: ["run_label"],
  simplismart: ["experiment_name"],
} as const satisfies Record<Vendor, readonly string[]>;
