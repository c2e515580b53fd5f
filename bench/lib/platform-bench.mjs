// The driver the cloud platform benchmarks (bench/gcp.mjs, bench/aws.mjs, bench/azure.mjs) share: each
// names its cloud, its mocks, how trainkit builds a platform and how the same resources are written by
// hand; this file times both, samples their memory, times the imports and prints the figures.
// Every measurement runs in a fresh child process so that one variant's heap and module cache do not
// colour the other's; variants alternate so that machine noise falls on both alike.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function installMocks(pulumi, newResource, config) {
  await pulumi.runtime.setMocks({ newResource, call: ({ inputs }) => inputs }, "bench", "bench", false);
  if (config) pulumi.runtime.setAllConfig(config);
}

async function construct(bench, variant, count) {
  const pulumi = require("@pulumi/pulumi");
  const provider = bench.provider(require);
  const { TrainingPlatform } = require(`trainkit/${bench.cloud}`);
  await installMocks(pulumi, bench.newResource, bench.config);
  const settings = require("@pulumi/pulumi/runtime/settings");
  // One warm-up of each variant loads the lazily loaded provider modules both use before timing.
  bench.handWritten(provider, pulumi, "warm");
  new TrainingPlatform("warm", bench.platformArgs("warm"));
  await settings.waitForRPCs();
  global.gc?.();
  const registeredBefore = pulumi.runtime.getMonitor().resources.size;
  const before = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    if (variant === "trainkit") new TrainingPlatform(`p${i}`, bench.platformArgs(i));
    else bench.handWritten(provider, pulumi, i);
  }
  await settings.waitForRPCs();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  global.gc?.();
  // Retained heap is what the constructed program holds once garbage is gone; peak RSS is the most the
  // process ever held, including Node, Pulumi and the provider package themselves, which both variants
  // share.
  const retainedMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const resources = (pulumi.runtime.getMonitor().resources.size - registeredBefore) / count;
  process.stdout.write(JSON.stringify({ ms, retainedMb, peakRssMb, resources }));
}

// `targets` (comma-separated) are loaded together and timed; `over` is loaded first and not counted.
function importTime(targets, over) {
  for (const module of over ? over.split(",") : []) require(module);
  const start = process.hrtime.bigint();
  for (const target of targets.split(",")) require(target);
  process.stdout.write(JSON.stringify({ ms: Number(process.hrtime.bigint() - start) / 1e6 }));
}

// Without its own `imports`, a cloud is timed against its one provider package, @pulumi/<cloud>.
function packageImports(cloud) {
  const ours = `trainkit/${cloud}`;
  const theirs = `@pulumi/${cloud}`;
  return {
    targets: { [theirs]: theirs, [ours]: ours },
    over: theirs,
    print(m) {
      console.log(`  require("${ours}")          ${m[ours].toFixed(1).padStart(8)} ms`);
      console.log(`  require("${theirs}")           ${m[theirs].toFixed(1).padStart(8)} ms`);
      console.log(`  ratio ${ours} / ${theirs}: ${(m[ours] / m[theirs]).toFixed(2)}`);
      console.log(`  ${ours} on top of a loaded ${theirs}: ${m.extra.toFixed(1)} ms`);
    },
  };
}

async function main(bench, self, count, runs) {
  if (!existsSync(fileURLToPath(new URL(`../../dist/${bench.cloud}/index.js`, import.meta.url)))) {
    throw new Error(`dist/${bench.cloud}/index.js is missing: run npm run build first`);
  }
  const child = (...args) =>
    JSON.parse(execFileSync(process.execPath, ["--expose-gc", self, ...args], { encoding: "utf8" }));
  const perPlatform = { trainkit: [], hand: [] };
  for (let r = 0; r < runs; r++) {
    for (const variant of r % 2 === 0 ? ["hand", "trainkit"] : ["trainkit", "hand"]) {
      perPlatform[variant].push(child("--construct", variant, String(count)));
    }
  }
  const spec = bench.imports ?? packageImports(bench.cloud);
  const imports = { extra: [] };
  for (const key of Object.keys(spec.targets)) imports[key] = [];
  for (let r = 0; r < runs * 2; r++) {
    const order = Object.keys(spec.targets);
    if (r % 2 === 1) order.reverse();
    for (const key of order) imports[key].push(child("--import", spec.targets[key]).ms);
    imports.extra.push(child("--import", `trainkit/${bench.cloud}`, spec.over).ms);
  }
  const stat = (v, key) => median(perPlatform[v].map((x) => x[key]));
  const n = (v) => perPlatform[v][0].resources;
  console.log(
    `Constructing ${count} platforms under the mock runtime (median of ${runs} runs, one process each):`,
  );
  for (const [label, v] of [
    ["TrainingPlatform via trainkit", "trainkit"],
    ["same resources by hand", "hand"],
  ]) {
    console.log(
      `  ${label.padEnd(30)} ${stat(v, "ms").toFixed(0).padStart(6)} ms  ${stat(v, "retainedMb").toFixed(1).padStart(6)} MB retained  ${stat(v, "peakRssMb").toFixed(0).padStart(5)} MB peak RSS  (${n(v)} registrations per platform)`,
    );
  }
  const ratio = (key) => (stat("trainkit", key) / stat("hand", key)).toFixed(2);
  console.log(`  time ratio trainkit/hand:            ${ratio("ms")}`);
  console.log(
    `  time per registration, trainkit/hand: ${(stat("trainkit", "ms") / n("trainkit") / (stat("hand", "ms") / n("hand"))).toFixed(2)}`,
  );
  console.log(`  retained heap ratio trainkit/hand:   ${ratio("retainedMb")}`);
  console.log(`  peak RSS ratio trainkit/hand:        ${ratio("peakRssMb")}`);
  console.log(`Import time, fresh process each (median of ${runs * 2}):`);
  spec.print(Object.fromEntries(Object.entries(imports).map(([key, xs]) => [key, median(xs)])));
}

/**
 * Runs one cloud's benchmark: `node bench/<cloud>.mjs [platforms-per-run] [runs]`, or, in the child
 * processes it starts, one construction or one import measurement.
 * - `url`: the calling benchmark's import.meta.url, which the child processes run again.
 * - `bench.cloud`: "gcp", "aws" or "azure" (trainkit/<cloud>, dist/<cloud>/index.js).
 * - `bench.provider(require)`: the provider package handed to `handWritten`.
 * - `bench.newResource`: the mock's newResource, giving the computed values the cloud returns.
 * - `bench.config`: Pulumi config the mocks set, if any.
 * - `bench.platformArgs(i)`: the TrainingPlatform arguments for platform `i` ("warm" for the warm-up).
 * - `bench.handWritten(provider, pulumi, i)`: the same resources without trainkit.
 * - `bench.imports`: `{targets: {key: modules}, over, print(medians)}`, what to time on import; by
 *   default trainkit/<cloud> against @pulumi/<cloud>.
 */
export async function runPlatformBench(url, bench) {
  const [, , mode, ...rest] = process.argv;
  if (mode === "--construct") await construct(bench, rest[0], Number(rest[1]));
  else if (mode === "--import") importTime(rest[0], rest[1]);
  else await main(bench, fileURLToPath(url), Number(mode ?? 40), Number(rest[0] ?? 5));
}
