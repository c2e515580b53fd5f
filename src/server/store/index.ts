import { join } from "node:path";
import { openPgliteStore } from "./pglite";
import { openPostgresStore } from "./postgres";
import type { Store } from "./types";

export { openPgliteStore } from "./pglite";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres";
export { MIGRATIONS, SqlStore } from "./sql";
export type * from "./types";

/** Postgres when a URL is given, otherwise PGlite in `<dataDir>/db`. */
export function openStore(options: { dataDir: string; databaseUrl?: string }): Promise<Store> {
  return options.databaseUrl
    ? openPostgresStore(options.databaseUrl)
    : openPgliteStore(join(options.dataDir, "db"));
}
