import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parse as parseYaml } from "yaml";
import { BACKENDS, type Backend, CREATE_JOB_REQUESTS, describeDetails, issuesToDetails } from "../spec";
import { UsageError } from "./config";

/** A create request read from a file, in the Train API's own words. */
export interface RequestFromFile {
  readonly name: string;
  readonly jobConfig: Record<string, unknown>;
  readonly storageMounts: { source_uri: string; mount_path: string; read_only?: boolean }[];
}

export function parseBackend(value: string): Backend {
  if ((BACKENDS as readonly string[]).includes(value)) return value as Backend;
  throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}; got ${JSON.stringify(value)}`);
}

/**
 * Reads a `POST /v1/{backend}/jobs` body from a JSON or YAML file and checks it with the schema the
 * Train API uses, so a mistake is named before anything is sent. For the `local` backend, relative
 * paths (`working_dir`, mount sources) are taken from the file's directory, as a user who writes
 * `data` next to the file means.
 */
export function readRequestFile(file: string, backend: Backend, cwd: string): RequestFromFile {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === "ENOENT"
        ? `${file} does not exist; pass the path of a JSON or YAML job request`
        : `${file} cannot be read (${code ?? (err as Error).message}); check its path and permissions`,
    );
  }
  let body: unknown;
  try {
    body = parseYaml(text);
  } catch (err) {
    throw new UsageError(
      `${file} is not valid JSON or YAML: ${(err as Error).message.split("\n")[0]}; fix the file and submit again`,
    );
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new UsageError(
      `${file} must hold one job request: an object with name, job_config and storage_mounts`,
    );
  }
  const request = backend === "local" ? withLocalPaths(body as Record<string, unknown>, dirname(path)) : body;
  const parsed = CREATE_JOB_REQUESTS[backend].safeParse(request);
  if (!parsed.success) {
    throw new UsageError(
      `${file} is not a valid ${backend} job request: ${describeDetails(issuesToDetails(parsed.error))}`,
    );
  }
  const valid = request as Record<string, unknown>;
  return {
    name: String(valid.name),
    jobConfig: valid.job_config as Record<string, unknown>,
    storageMounts: (valid.storage_mounts as RequestFromFile["storageMounts"] | undefined) ?? [],
  };
}

function withLocalPaths(body: Record<string, unknown>, dir: string): Record<string, unknown> {
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(dir, p));
  const out = { ...body };
  const config = body.job_config;
  if (config && typeof config === "object" && !Array.isArray(config)) {
    const workingDir = (config as Record<string, unknown>).working_dir;
    if (typeof workingDir === "string") out.job_config = { ...config, working_dir: absolute(workingDir) };
  }
  if (Array.isArray(body.storage_mounts)) {
    out.storage_mounts = body.storage_mounts.map((mount: unknown) => {
      if (!mount || typeof mount !== "object") return mount;
      const source = (mount as Record<string, unknown>).source_uri;
      // Only plain paths and relative file: URIs; anything with another scheme is left for the schema to judge.
      if (
        typeof source !== "string" ||
        (/^[a-z][a-z0-9+.-]*:/i.test(source) && !source.startsWith("file:"))
      ) {
        return mount;
      }
      const path = source.replace(/^file:(\/\/)?/, "");
      return { ...mount, source_uri: pathToFileURL(absolute(path)).href };
    });
  }
  return out;
}
