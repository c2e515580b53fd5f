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

/** A whole number above 0. */
export const PositiveInt = z.number().int("must be a whole number").positive("must be greater than 0");
/** A whole number, 0 or more. */
export const NonNegativeInt = z.number().int("must be a whole number").nonnegative("must not be negative");

/** The message of a string or key holding U+0000, which Postgres cannot store in jsonb. */
export const NUL_MESSAGE = "must not contain NUL characters (\\u0000)";

/**
 * Reports every string, and every object key, under `value` that holds U+0000, at its own path:
 * JSON allows the character, but Postgres cannot store it in jsonb, so a request carrying one must
 * be refused as the caller's mistake instead of failing in the store.
 */
export function rejectNulCharacters(value: unknown, ctx: z.RefinementCtx, path: PropertyKey[] = []): void {
  if (typeof value === "string") {
    if (value.includes("\u0000")) ctx.addIssue({ code: "custom", message: NUL_MESSAGE, path });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      rejectNulCharacters(item, ctx, [...path, i]);
    });
    return;
  }
  if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes("\u0000"))
        ctx.addIssue({ code: "custom", message: NUL_MESSAGE, path: [...path, key] });
      rejectNulCharacters(item, ctx, [...path, key]);
    }
  }
}
