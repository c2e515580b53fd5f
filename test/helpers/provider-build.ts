import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "./provider-host";

// The provider host loads the provider by package name, which resolves to the built `dist/`, as it
// would for a user. Tests started with plain `vitest` (not `npm test`, whose pretest builds) would
// otherwise run yesterday's provider; this rebuilds when a source it loads is newer than its output.

const SOURCES = ["src/job", "src/spec", "src/policy"];
const OUTPUTS = [
  "dist/job/provider.js",
  "dist/job/clients/trainapi.js",
  "dist/spec/index.js",
  "dist/policy/index.js",
];

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function isFresh(): boolean {
  const source = Math.max(...SOURCES.map((d) => newest(path.join(REPO_ROOT, d))));
  return OUTPUTS.every((f) => {
    const full = path.join(REPO_ROOT, f);
    return existsSync(full) && statSync(full).mtimeMs >= source;
  });
}

/** Builds the package (under a lock shared by concurrent test files) unless dist/ is newer than the provider's sources. */
export function ensureBuilt(): void {
  if (isFresh()) return;
  try {
    execFileSync(
      "flock",
      [
        "/tmp/trainkit-build.lock",
        process.execPath,
        "node_modules/typescript/bin/tsc",
        "-p",
        "tsconfig.build.json",
      ],
      { cwd: REPO_ROOT, stdio: "pipe" },
    );
  } catch {
    // Type errors elsewhere in the tree do not stop tsc from emitting; freshness is what matters.
  }
  if (!isFresh())
    throw new Error(
      "dist/ is older than src/job, src/spec or src/policy after building; run `npm run build`",
    );
}

const CLI_SOURCES = ["src/cli", "src/job", "src/spec", "src/server"];
const CLI_OUTPUT = "packages/server/dist/cli/main.js";

/** Builds the trainkit-server package (its `trainkit` bin included) unless it is newer than its sources. */
export function ensureCliBuilt(): void {
  const fresh = () => {
    const source = Math.max(...CLI_SOURCES.map((d) => newest(path.join(REPO_ROOT, d))));
    const full = path.join(REPO_ROOT, CLI_OUTPUT);
    return existsSync(full) && statSync(full).mtimeMs >= source;
  };
  if (fresh()) return;
  try {
    execFileSync(
      "flock",
      [
        "/tmp/trainkit-build.lock",
        process.execPath,
        "node_modules/typescript/bin/tsc",
        "-p",
        "packages/server/tsconfig.json",
      ],
      { cwd: REPO_ROOT, stdio: "pipe" },
    );
  } catch {
    // As above: freshness is what matters.
  }
  if (!fresh())
    throw new Error(`${CLI_OUTPUT} is older than its sources after building; run \`npm run build\``);
}
