import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * An excerpt of a cloud's published specification, kept under `test/fixtures/published/` with its
 * source beside it (`SOURCE.md`), so tests check against what the cloud publishes, not memory.
 */
export function published<T>(path: string): T {
  return JSON.parse(readFileSync(join(__dirname, "../fixtures/published", path), "utf8")) as T;
}
