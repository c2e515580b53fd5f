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
export const LONE_SURROGATE_MESSAGE =
  "must not contain a lone UTF-16 surrogate (\\ud800-\\udfff without its pair); send valid Unicode text";

/** A surrogate code unit without its pair: in a `u` regex, a well-formed pair is one code point and does not match. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function unstorable(text: string): string | undefined {
  if (text.includes("\u0000")) return NUL_MESSAGE;
  if (LONE_SURROGATE.test(text)) return LONE_SURROGATE_MESSAGE;
  return undefined;
}

/**
 * Reports every string, and every object key, under `value` that holds U+0000 or a lone UTF-16
 * surrogate, at its own path: JSON allows both (`"\\u0000"`, `"\\ud800"`), but Postgres cannot store
 * them in jsonb, so a request carrying one must be refused as the caller's mistake instead of
 * failing in the store.
 */
export function rejectNulCharacters(value: unknown, ctx: z.RefinementCtx, path: PropertyKey[] = []): void {
  if (typeof value === "string") {
    const message = unstorable(value);
    if (message) ctx.addIssue({ code: "custom", message, path });
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
      const message = unstorable(key);
      if (message) ctx.addIssue({ code: "custom", message, path: [...path, key] });
      rejectNulCharacters(item, ctx, [...path, key]);
    }
  }
}
