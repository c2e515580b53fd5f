import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { CreateJobRequest } from "./spec";

// The quickstart job of examples/quickstart, needed by `npm start` (the curl it prints), the root Pulumi
// program and the tests alike. It loads nothing but Node's built-ins, so a Pulumi program can import it
// (`trainkit/quickstart`) without loading the server.

/**
 * The quickstart example, shipped with each package one level up from its dist/ (and from src/). The
 * Train API built inside this repository (packages/server/dist/) finds the repository's copy instead.
 */
export const QUICKSTART_DIR =
  [resolve(__dirname, "../examples/quickstart"), resolve(__dirname, "../../../examples/quickstart")].find(
    (dir) => existsSync(dir),
  ) ?? resolve(__dirname, "../examples/quickstart");

export interface QuickstartOptions {
  /** Where the job writes model.json and metrics.json. Defaults to `output/` in the example's directory. */
  outputDir?: string;
  /** The example's directory. Defaults to the copy shipped with the package. */
  exampleDir?: string;
}

/**
 * The body of `POST /v1/local/jobs` that runs the quickstart: `job.json` with its relative paths
 * (the working directory and the mount sources) resolved against the example's directory.
 */
export function quickstartJobRequest(options: QuickstartOptions = {}): CreateJobRequest<"local"> {
  const dir = options.exampleDir ?? QUICKSTART_DIR;
  const request = JSON.parse(readFileSync(join(dir, "job.json"), "utf8")) as CreateJobRequest<"local">;
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(dir, path));
  const mounts = (request.storage_mounts ?? []).map((mount, i) => {
    const path = i === 1 && options.outputDir !== undefined ? options.outputDir : mount.source_uri;
    return { ...mount, source_uri: pathToFileURL(absolute(path.replace(/^file:\/\//, ""))).href };
  });
  return {
    ...request,
    job_config: { ...request.job_config, working_dir: absolute(request.job_config.working_dir ?? ".") },
    storage_mounts: mounts,
  };
}
