import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "./provider-host";

export interface UserProject {
  /** The project directory: where the engine would run the program and the provider host. */
  readonly dir: string;
  remove(): void;
}

/**
 * A user's Pulumi project outside this repository with trainkit installed from the tarball
 * `npm pack` makes. The tarball is unpacked into node_modules/trainkit as npm would; its
 * dependencies are linked from this repository's node_modules so that no registry is needed and
 * installing takes a moment. Call `ensureBuilt()` first: the tarball packs dist/.
 */
export function installedFromTarball(): UserProject {
  const dir = mkdtempSync(path.join(tmpdir(), "trainkit-user-"));
  const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .pop()!;
  const modules = path.join(dir, "node_modules");
  mkdirSync(modules);
  for (const entry of readdirSync(path.join(REPO_ROOT, "node_modules"))) {
    if (entry.startsWith(".") || entry === "trainkit") continue;
    symlinkSync(path.join(REPO_ROOT, "node_modules", entry), path.join(modules, entry));
  }
  const target = path.join(modules, "trainkit");
  mkdirSync(target);
  execFileSync("tar", ["-xzf", path.join(dir, tarball), "-C", target, "--strip-components=1"]);
  writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify(
      { name: "user-project", private: true, dependencies: { trainkit: `file:${tarball}` } },
      null,
      2,
    ),
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
