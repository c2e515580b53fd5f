// What a GCP-only user installs and type-checks: trainkit as packed now (the library alone) against
// trainkit as it was packed before the Train API became its own package (the same library declaring
// the service's dependencies too), and against @pulumi/gcp with no trainkit at all.
// Installs go through npm with --prefer-offline, so a warm npm cache makes them mostly local; each is
// run once to warm the cache, then timed. Run after `npm run build`: node bench/package.mjs
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const version = (name) => lock.packages[`node_modules/${name}`].version;
const pulumiDeps = [`@pulumi/pulumi@${version("@pulumi/pulumi")}`, `@pulumi/gcp@${version("@pulumi/gcp")}`];
const work = mkdtempSync(join(tmpdir(), "trainkit-bench-package-"));

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

// The library's tarball as `npm pack` makes it now, and the same tarball with the service's
// dependencies added back to its package.json: what a user installed before the split.
const packed = run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", work], root).trim();
const before = join(work, "before");
mkdirSync(before);
run("tar", ["-xzf", join(work, packed), "-C", before, "--strip-components=1"], work);
const manifest = JSON.parse(readFileSync(join(before, "package.json"), "utf8"));
const serverManifest = JSON.parse(readFileSync(join(root, "packages/server/package.json"), "utf8"));
manifest.dependencies = { ...serverManifest.dependencies, ...manifest.dependencies };
writeFileSync(join(before, "package.json"), JSON.stringify(manifest, null, 2));
const beforeOut = join(work, "before-tarball");
mkdirSync(beforeOut);
// Both tarballs are named trainkit-<version>.tgz, so the older shape is packed into its own folder.
const beforeTarball = join(
  beforeOut,
  run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", beforeOut], before).trim(),
);

const variants = {
  "@pulumi/gcp alone": [],
  "trainkit now": [join(work, packed)],
  "trainkit before": [beforeTarball],
};

function install(name, extra) {
  const dir = join(work, name.replace(/[^a-z]+/g, "-"));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "user", private: true }));
  const args = [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    ...pulumiDeps,
    ...extra,
  ];
  const start = process.hrtime.bigint();
  run("npm", args, dir);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const bytes = Number(run("du", ["-sb", "node_modules"], dir).split("\t")[0]);
  return { dir, seconds, bytes };
}

console.log("install of @pulumi/pulumi + @pulumi/gcp + trainkit into an empty project (warm npm cache)");
const installed = {};
for (const [name, extra] of Object.entries(variants)) install(name, extra); // warm the cache
for (const [name, extra] of Object.entries(variants)) {
  installed[name] = install(name, extra);
  const { seconds, bytes } = installed[name];
  console.log(
    `  ${name.padEnd(18)} ${(bytes / 1e6).toFixed(1).padStart(7)} MB  ${seconds.toFixed(1).padStart(5)} s`,
  );
}
const now = installed["trainkit now"];
const old = installed["trainkit before"];
const base = installed["@pulumi/gcp alone"];
console.log(
  `  trainkit's own share: now ${((now.bytes - base.bytes) / 1e6).toFixed(1)} MB, before ${((old.bytes - base.bytes) / 1e6).toFixed(1)} MB; install time now/before ${(now.seconds / old.seconds).toFixed(2)}`,
);

// Type-checking a program under the tsconfig `pulumi new typescript` writes (no skipLibCheck).
const tsconfig = {
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2020",
    module: "commonjs",
    moduleResolution: "node",
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
    noEmit: true,
  },
  files: ["index.ts"],
};
const programs = {
  "@pulumi/gcp alone": `import * as gcp from "@pulumi/gcp";\nexport const bucket = new gcp.storage.Bucket("data", { location: "US" }).url;\n`,
  "trainkit/gcp": `import * as pulumi from "@pulumi/pulumi";\nimport { TrainingPlatform } from "trainkit/gcp";\nexport const bucket = new TrainingPlatform("ml", { api: { image: "img", apiKeys: pulumi.secret({ k: ["a"] }) } }).dataBucket.name;\n`,
};
const tsc = join(root, "node_modules/typescript/bin/tsc");
console.log("\ntype check of a one-line program (tsc --extendedDiagnostics, Pulumi's template tsconfig)");
const checked = {};
for (const [name, program] of Object.entries(programs)) {
  const dir = join(now.dir, name.replace(/[^a-z]+/g, "-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "index.ts"), program);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
  symlinkModules(dir);
  let out;
  try {
    out = run(process.execPath, [tsc, "-p", ".", "--extendedDiagnostics"], dir);
  } catch (err) {
    console.log(`  ${name}: type errors\n${err.stdout}`);
    process.exitCode = 1;
    continue;
  }
  const memory = Number(/Memory used:\s+(\d+)K/.exec(out)[1]) / 1024;
  const seconds = Number(/Total time:\s+([\d.]+)s/.exec(out)[1]);
  checked[name] = { memory, seconds };
  console.log(
    `  ${name.padEnd(18)} ${seconds.toFixed(1).padStart(6)} s  ${memory.toFixed(0).padStart(6)} MB`,
  );
}
if (checked["trainkit/gcp"] && checked["@pulumi/gcp alone"]) {
  const t = checked["trainkit/gcp"];
  const b = checked["@pulumi/gcp alone"];
  console.log(
    `  trainkit/gcp / @pulumi/gcp alone: time ${(t.seconds / b.seconds).toFixed(2)}, memory ${(t.memory / b.memory).toFixed(2)}`,
  );
}

function symlinkModules(dir) {
  run("ln", ["-s", join(now.dir, "node_modules"), join(dir, "node_modules")], dir);
}

rmSync(work, { recursive: true, force: true });
