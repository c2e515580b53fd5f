import type { z } from "zod";
import type { ErrorDetail } from "./api";

/** Writes a property path the way a user reads it: `job_config.worker_pool_specs[0].replica_count`. */
export function formatPath(path: readonly PropertyKey[], prefix?: string): string {
  let out = prefix ?? "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out === "" ? "(root)" : out;
}

/**
 * Turns zod's issues into details a user can act on. `union` issues are flattened into the branch
 * that got furthest, and unrecognized keys become one detail per key.
 */
export function issuesToDetails(error: z.ZodError, prefix?: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        details.push({
          path: formatPath([...issue.path, key], prefix),
          message: "is not a known field; remove it or check its spelling",
        });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      // A map key that fails its own schema: the key's problems are nested inside the issue.
      const reasons = issue.issues.map((inner) => inner.message);
      details.push({
        path: formatPath(issue.path, prefix),
        message: reasons.length > 0 ? `has an invalid key: it ${reasons.join("; it ")}` : issue.message,
      });
      continue;
    }
    details.push({ path: formatPath(issue.path, prefix), message: issue.message });
  }
  return details;
}

/** One line per detail: `path: message`. */
export function describeDetails(details: readonly ErrorDetail[]): string {
  return details.map((d) => `${d.path}: ${d.message}`).join("; ");
}
