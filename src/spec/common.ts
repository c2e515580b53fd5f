import { z } from "zod";

/** A name a job can carry on every backend: letters, digits, `.`, `_` and `-`, starting with a letter or digit. */
export const JobName = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "must start with a letter or digit and hold only letters, digits, '.', '_' and '-'",
  );

/** An environment variable name as POSIX shells accept it. */
export const EnvName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)");

/** A map of environment variables. */
export const EnvMap = z.record(EnvName, z.string());

/** An absolute POSIX path inside the container. */
export const AbsolutePath = z
  .string()
  .regex(/^\/[^\0]*$/, "must be an absolute path starting with '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..' segments");

/** A container image reference (`registry/repo:tag` or `@sha256:` digest). */
export const ImageRef = z
  .string()
  .min(1, "must not be empty")
  .regex(/^[^\s]+$/, "must not contain whitespace");

export const PositiveInt = z.number().int("must be a whole number").positive("must be greater than 0");
export const NonNegativeInt = z.number().int("must be a whole number").nonnegative("must not be negative");
