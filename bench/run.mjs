// Runs every benchmark in this folder one after another (`npm run bench`), or only those named:
// `npm run bench -- server job`. Each prints its own figures; nothing here is a pass/fail check.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".mjs") && f !== "run.mjs")
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.mjs$/, "")));

let failed = 0;
for (const file of benches) {
  console.log(`\n== ${file} ==`);
  const run = spawnSync(process.execPath, [join(here, file)], { stdio: "inherit" });
  if (run.status !== 0) failed += 1;
}
process.exit(failed === 0 ? 0 : 1);
