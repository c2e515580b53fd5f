import { createHash } from "node:crypto";
import { cpSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openPgliteStore } from "../../src/server/store";

const SCHEMA_SOURCE = resolve(__dirname, "../../src/server/store/sql.ts");

/**
 * An embedded store that was created and migrated once for the whole test run, keyed by the
 * schema's source so an edited migration makes a new one. Creating a PGlite database runs initdb,
 * which takes seconds; copying a finished one takes a fraction of that. Tests that exercise
 * creation and migration themselves (the store tests) open fresh directories instead.
 */
async function template(): Promise<string> {
  const key = createHash("sha256").update(readFileSync(SCHEMA_SOURCE)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `trainkit-store-template-${key}`);
  if (existsSync(dir)) return dir;
  const staging = `${dir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  const store = await openPgliteStore(join(staging, "db"));
  await store.close();
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another test process finished its copy first; both are the same database.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(dir)) throw err;
  }
  return dir;
}

/** Puts a migrated, empty embedded store where a server on `dataDir` will open it (`<dataDir>/db`). */
export async function seedEmbeddedStore(dataDir: string): Promise<void> {
  cpSync(join(await template(), "db"), join(dataDir, "db"), { recursive: true });
}
