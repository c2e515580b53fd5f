import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The modules the supervisor is made of: it imports nothing else but Node built-ins. */
const SUPERVISOR_MODULES = ["supervisor", "files", "proc"] as const;

/**
 * The path of the supervisor script to run with `node`. The built package ships it beside this file
 * as JavaScript. Run from the TypeScript sources (tests, type-checked examples), it is compiled once
 * into `cacheDir`, under a name derived from its sources so that an edited supervisor is never
 * mistaken for an older copy.
 */
export async function supervisorScript(cacheDir: string): Promise<string> {
  const built = join(__dirname, "supervisor.js");
  if (existsSync(built)) return built;
  const sources = SUPERVISOR_MODULES.map((name) => {
    const path = join(__dirname, `${name}.ts`);
    if (!existsSync(path)) {
      throw new Error(`the local backend's supervisor is missing: neither ${built} nor ${path} exists`);
    }
    return { name, text: readFileSync(path, "utf8") };
  });
  const hash = createHash("sha256");
  for (const source of sources) hash.update(source.name).update("\0").update(source.text).update("\0");
  const dir = join(cacheDir, `supervisor-${hash.digest("hex").slice(0, 16)}`);
  const entry = join(dir, "supervisor.js");
  if (existsSync(entry)) return entry;

  const ts = await import("typescript");
  const staging = `${dir}.${process.pid}.tmp`;
  mkdirSync(staging, { recursive: true });
  for (const source of sources) {
    const out = ts.transpileModule(source.text, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: `${source.name}.ts`,
    });
    writeFileSync(join(staging, `${source.name}.js`), out.outputText);
  }
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another process compiled the same sources first; its copy is identical.
    if (!existsSync(entry)) throw err;
  }
  return entry;
}
