import { lstatSync, mkdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BackendError } from "../types";
import { resolveReal } from "./confine";

/** Filesystems the kernel provides: files written there are not job data, and creating paths in them misbehaves. */
const KERNEL_ROOTS = ["/proc", "/sys", "/dev"] as const;

type Inspected =
  | { kind: "dir" | "other" }
  | { kind: "missing" }
  | { kind: "dangling"; target: string }
  | { kind: "unreachable"; code: string };

/**
 * Makes sure a mount's directory exists, creating a missing writable one level by level; returns
 * the levels it created.
 *
 * Node 20's recursive `mkdirSync` spins forever on some paths (under `/proc`, for one), which would
 * freeze the whole server; creating each missing level with a plain `mkdir` fails at once instead.
 */
export function prepareMountDirectory(path: string, readOnly: boolean, field: string): string[] {
  refuseKernelPath(resolve(path), path, field);
  const first = inspect(path);
  if (first.kind === "other") {
    throw invalid(field, `${path} exists but is not a directory; name a directory`);
  }
  if (readOnly && first.kind !== "dir") {
    throw invalid(field, `${path} does not exist; a read-only mount must name an existing directory`);
  }
  const missing: string[] = [];
  let current = path;
  for (let seen = first; seen.kind !== "dir"; seen = inspect(current)) {
    if (seen.kind === "other") {
      throw invalid(
        field,
        `cannot create ${path}: ${current} exists but is not a directory; name a directory`,
      );
    }
    if (seen.kind === "dangling") {
      throw invalid(
        field,
        `cannot create ${path}: ${current} is a symbolic link to ${seen.target}, which does not exist; ` +
          `create ${seen.target} or name another directory`,
      );
    }
    if (seen.kind === "unreachable") {
      throw invalid(
        field,
        `cannot use ${path}: checking ${current} failed with ${seen.code}; name a directory the server can reach`,
      );
    }
    missing.push(current);
    const parent = dirname(current);
    // Only a path that never reaches an existing root could get here; there is nothing left to walk.
    if (parent === current) break;
    current = parent;
  }
  // Where the existing part really lies decides: a symbolic link may lead into a kernel filesystem.
  refuseKernelPath(realpathOrSelf(current), path, field);
  const created: string[] = [];
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level);
      created.push(level);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code === "EEXIST" && inspect(level).kind === "dir") continue;
      throw invalid(
        field,
        `cannot create ${path}: creating ${level} failed with ${code}; ` +
          "create the directory yourself or name one the server can write to",
      );
    }
  }
  return created;
}

/** Refuses a path under `/proc`, `/sys` or `/dev`, as written or once its links are followed. */
export function refuseKernelPaths(path: string, field: string): void {
  refuseKernelPath(resolve(path), path, field);
  refuseKernelPath(resolveReal(path), path, field);
}

function refuseKernelPath(candidate: string, path: string, field: string): void {
  const root = KERNEL_ROOTS.find((r) => candidate === r || candidate.startsWith(`${r}/`));
  if (root !== undefined) {
    throw invalid(
      field,
      `${path} is under ${root}, which the kernel provides and which cannot hold job files; name a directory elsewhere`,
    );
  }
}

function inspect(path: string): Inspected {
  try {
    return { kind: statSync(path).isDirectory() ? "dir" : "other" };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: some level above is a file, which the walk upwards reaches and reports.
    if (code !== "ENOENT" && code !== "ENOTDIR") return { kind: "unreachable", code: code ?? String(err) };
  }
  try {
    if (lstatSync(path).isSymbolicLink()) {
      return { kind: "dangling", target: resolve(dirname(path), readlinkSync(path)) };
    }
  } catch {
    // Nothing at all is there: the plain missing case.
  }
  return { kind: "missing" };
}

function realpathOrSelf(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    return resolve(path);
  }
}

function invalid(field: string, sentence: string): BackendError {
  return new BackendError(400, "invalid_mount", `${field}: ${sentence}`);
}
