import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";

const SRC = resolve(__dirname, "../../src");
/** What the local backend needs at run time: the schemas, the backend interface and the backend itself. */
const SOURCE_DIRS = ["spec", "server/backends/local"];
const SOURCE_FILES = ["server/backends/types.ts"];

/**
 * Compiles the local backend's sources to CommonJS in a temporary directory, so that a separate Node
 * process can play the server (one the test can SIGKILL) without depending on an earlier build.
 * Returns the directory; its layout mirrors `src/`, and `NODE_PATH` must point at node_modules.
 */
export function compileLocalBackend(): string {
  const out = mkdtempSync(join(tmpdir(), "trainkit-local-build-"));
  const files = [
    ...SOURCE_DIRS.flatMap((dir) =>
      readdirSync(join(SRC, dir))
        .filter((name) => name.endsWith(".ts"))
        .map((name) => join(dir, name)),
    ),
    ...SOURCE_FILES,
  ];
  for (const file of files) {
    const { outputText } = ts.transpileModule(readFileSync(join(SRC, file), "utf8"), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: file,
    });
    const target = join(out, file.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
  }
  return out;
}

export const NODE_MODULES = resolve(__dirname, "../../node_modules");
