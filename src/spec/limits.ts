import { z } from "zod";

// Builders for the limits the clouds publish for their native training-job requests. Each message
// says what the limit is, whose limit it is and what to do, so a 400 or a `pulumi preview` failure
// is fixed without reading the cloud's documentation.

/** The largest value of a Kubernetes or protobuf `int32` field. */
export const INT32_MAX = 2_147_483_647;

/** The message of a string longer than `max` characters; `owner` names the cloud field whose limit it is. */
export function tooLong(max: number, owner: string) {
  return {
    /** Builds the message from the failing value. */
    error: (issue: { input?: unknown }) =>
      `must be at most ${max} characters (${owner}); got ${String(issue.input ?? "").length}, so shorten it`,
  };
}

/** A string of at most `max` characters. */
export function maxChars(max: number, owner: string) {
  return z.string().max(max, tooLong(max, owner));
}

/** A string of at most `max` Unicode code points, for limits counted in code points rather than UTF-16 units. */
export function maxCodePoints(max: number, owner: string) {
  return z.string().superRefine((value, ctx) => {
    const length = [...value].length;
    if (length > max) {
      ctx.addIssue({
        code: "custom",
        message: `must be at most ${max} characters (${owner}); got ${length}, so shorten it`,
      });
    }
  });
}

/** A list of at most `max` items. */
export function maxItems<T extends z.ZodType>(item: T, max: number, owner: string) {
  return z.array(item).max(max, {
    error: (issue) =>
      `must hold at most ${max} items (${owner}); got ${Array.isArray(issue.input) ? issue.input.length : "more"}, so remove some`,
  });
}

/** A map of at most `max` entries, with its key and value schemas. */
export function maxEntries<K extends z.ZodType<string, string>, V extends z.ZodType>(
  key: K,
  value: V,
  max: number,
  owner: string,
) {
  return z.record(key, value).superRefine((map, ctx) => {
    const count = Object.keys(map).length;
    if (count > max) {
      ctx.addIssue({
        code: "custom",
        message: `must hold at most ${max} entries (${owner}); got ${count}, so remove some`,
      });
    }
  });
}

/** A whole number from `min` to `max`. */
export function intBetween(min: number, max: number, owner: string) {
  return z
    .number()
    .int("must be a whole number")
    .min(min, { error: (issue) => `must be at least ${min} (${owner}); got ${String(issue.input)}` })
    .max(max, { error: (issue) => `must be at most ${max} (${owner}); got ${String(issue.input)}` });
}

/** The environment variables the Train API sets itself, one per storage mount. */
export const STORAGE_MOUNT_ENV = /^STORAGE_MOUNT_\d+_PATH$/;

/** The sentence for a user variable that takes a name the Train API sets. */
export const RESERVED_ENV_MESSAGE =
  "is reserved: the Train API sets STORAGE_MOUNT_<i>_PATH to where storage_mounts[i] is mounted, before your own variables so that they can use $(STORAGE_MOUNT_<i>_PATH); rename your variable";
