import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/provider-host";

// The two packages this repository makes, as `npm pack` makes them: the library a Pulumi project
// installs, and the Train API service (packages/server). The service's tarball is unpacked into a
// scratch directory with its dependencies linked from this repository's node_modules (no registry),
// and its `trainkit-server` command is started as a user would start it.

const SERVER_ONLY = [
  "@aws-sdk/client-cloudwatch-logs",
  "@aws-sdk/client-sagemaker",
  "@azure/arm-machinelearning",
  "@azure/identity",
  "@electric-sql/pglite",
  "@kubernetes/client-node",
  "commander",
  "fastify",
  "pg",
  "yaml",
];

function packed(dir: string): { manifest: Record<string, unknown>; files: string[] } {
  const out = execFileSync("npm", ["pack", "--ignore-scripts", "--dry-run", "--json"], {
    cwd: dir,
    encoding: "utf8",
  });
  const [info] = JSON.parse(out) as { files: { path: string }[] }[];
  return {
    manifest: JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")),
    files: info!.files.map((f) => f.path),
  };
}

describe("the library package", () => {
  const { manifest, files } = packed(REPO_ROOT);

  it("depends on none of the Train API's dependencies", () => {
    const deps = Object.keys(manifest.dependencies as Record<string, string>);
    expect(deps.filter((d) => SERVER_ONLY.includes(d))).toEqual([]);
    // The policy pack's SDK ships with the library so `--policy-pack node_modules/trainkit/policy` runs.
    expect(deps.sort()).toEqual(["@pulumi/policy", "google-auth-library", "zod"]);
  });

  it("ships no server code", () => {
    expect(files.filter((f) => f.startsWith("dist/server/"))).toEqual([]);
    expect(files).toContain("dist/gcp/index.js");
    expect(files).toContain("LICENSE");
  });
});

describe("the trainkit-server package", () => {
  const serverDir = path.join(REPO_ROOT, "packages/server");
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    if (!existsSync(path.join(serverDir, "dist/server/main.js"))) {
      throw new Error("packages/server is not built; run `npm run build` (npm test does it first)");
    }
    dir = mkdtempSync(path.join(tmpdir(), "trainkit-server-user-"));
    const tarball = execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir], {
      cwd: serverDir,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .pop()!;
    const installed = path.join(dir, "node_modules/trainkit-server");
    mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", path.join(dir, tarball), "-C", installed, "--strip-components=1"]);
    for (const entry of readdirSync(path.join(REPO_ROOT, "node_modules"))) {
      if (entry.startsWith(".") || entry.startsWith("trainkit")) continue;
      symlinkSync(path.join(REPO_ROOT, "node_modules", entry), path.join(dir, "node_modules", entry));
    }
  });

  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("declares the dependencies its code loads, and the trainkit-server and trainkit commands", () => {
    const manifest = JSON.parse(
      readFileSync(path.join(dir, "node_modules/trainkit-server/package.json"), "utf8"),
    );
    for (const dep of SERVER_ONLY) expect(Object.keys(manifest.dependencies)).toContain(dep);
    expect(manifest.bin).toEqual({
      trainkit: "bin/trainkit.js",
      "trainkit-server": "bin/trainkit-server.js",
    });
  });

  it("runs from its tarball with the quickstart it ships, outside this repository", async () => {
    const main = path.join(dir, "node_modules/trainkit-server/bin/trainkit-server.js");
    child = spawn(process.execPath, [main], {
      cwd: dir,
      env: { PATH: process.env.PATH, TRAINKIT_DATA_DIR: path.join(dir, "data"), PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stderr!.on("data", (chunk) => {
      output += chunk;
    });
    const url = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on("data", (chunk) => {
        output += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match && output.includes("metrics")) resolve(match[1]!);
      });
      child!.on("exit", (code) => reject(new Error(`trainkit-server exited with ${code}: ${output}`)));
    });
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    // The printed quickstart points into the installed package, not into this repository.
    const workingDir = /"working_dir":"([^"]+)"/.exec(output)![1]!;
    expect(workingDir).toBe(path.join(dir, "node_modules/trainkit-server/examples/quickstart"));
    expect(existsSync(path.join(workingDir, "train.py"))).toBe(true);
  });
});
