import { realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { BackendError } from "../types";

/** Host paths jobs may use, and the server's own paths no job may reach. */
export interface PathRules {
  /** Directories mounts and working directories must lie in, as configured. */
  allowedRoots: readonly string[];
  /** The server's data directory, store and key files: never inside, at or above a job's path. */
  protectedPaths: readonly string[];
}

/**
 * The path as the file system resolves it: `..` collapsed, then every symbolic link of the part
 * that exists followed; a part that does not exist yet is appended as written.
 */
export function resolveReal(path: string): string {
  const missing: string[] = [];
  let current = resolve(path);
  for (;;) {
    try {
      const real = realpathSync.native(current);
      return missing.length === 0 ? real : join(real, ...missing.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return resolve(path);
      missing.push(basename(current));
      current = parent;
    }
  }
}

const within = (path: string, root: string) =>
  path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

/**
 * Decodes a `local` mount URI into a host path: `file://` URIs are percent-decoded, so `%2e%2e` is
 * `..` and is resolved like it; a malformed escape is refused naming the field.
 */
export function decodeMountUri(sourceUri: string, field: string): string {
  if (!sourceUri.startsWith("file://")) return sourceUri;
  try {
    return decodeURIComponent(sourceUri.slice("file://".length));
  } catch {
    throw new BackendError(
      400,
      "invalid_mount",
      `${field}: ${JSON.stringify(sourceUri)} holds a malformed percent escape; write each % as %25`,
    );
  }
}

/**
 * Where `path` really lies, once checked to be inside an allowed root and clear of the server's own
 * paths, both before and after following links, so that neither `..`, encoded dots nor a link
 * planted by a job leads out. Throws `BackendError` 400 `code`, naming `field`, the path and the fix.
 */
export function confine(path: string, field: string, code: string, rules: PathRules): string {
  const lexical = resolve(path);
  const real = resolveReal(path);
  const roots = rules.allowedRoots.map(resolveReal);
  for (const candidate of new Set([lexical, real])) {
    if (!roots.some((root) => within(candidate, root))) {
      const how = candidate === resolve(path) && candidate === path ? "" : ` (it resolves to ${candidate})`;
      throw new BackendError(
        400,
        code,
        `${field}: ${path} is outside the directories local jobs may use${how}; name a path under ` +
          `${rules.allowedRoots.join(", ")}, or have the operator add its directory to TRAINKIT_LOCAL_ALLOWED_ROOTS`,
      );
    }
    for (const own of rules.protectedPaths.map((p) => [p, resolveReal(p)] as const)) {
      if (within(candidate, own[1]) || within(own[1], candidate) || within(candidate, own[0])) {
        throw new BackendError(
          400,
          code,
          `${field}: ${path} ${within(candidate, own[1]) ? "lies in" : "holds"} the server's own files (${own[0]}), ` +
            "which jobs can never reach; name a directory elsewhere",
        );
      }
    }
  }
  return real;
}
