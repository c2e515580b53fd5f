import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "..", "..");

/** The packages under node_modules/@pulumi that requiring `file` (through the tsx loader) loads. */
function pulumiPackagesLoadedBy(file: string): string[] {
  const script = `require(${JSON.stringify(resolve(ROOT, file))});
const loaded = Object.keys(require.cache).map((k) => /node_modules\\/@pulumi\\/([^/]+)\\//.exec(k)?.[1]).filter(Boolean);
process.stdout.write(JSON.stringify([...new Set(loaded)].sort()));`;
  const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return JSON.parse(out) as string[];
}

describe("what trainkit/aws loads", () => {
  it("loads @pulumi/aws, @pulumi/kubernetes (for what GpuCluster runs in the cluster) and @pulumi/pulumi, no other cloud's provider", () => {
    expect(pulumiPackagesLoadedBy("src/aws/index.ts")).toEqual(["aws", "kubernetes", "pulumi"]);
  });
});
