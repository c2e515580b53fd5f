import { join } from "node:path";
import { openPgliteStore } from "./pglite";
import { openPostgresStore } from "./postgres";
import type { Store } from "./types";

export { openPgliteStore } from "./pglite";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres";
export { MIGRATIONS, SqlStore, unavailability } from "./sql";
export type * from "./types";
export { StoreUnavailableError } from "./types";

/** Postgres when a URL is given, otherwise PGlite in `<dataDir>/db`. */
export function openStore(options: {
  dataDir: string;
  databaseUrl?: string;
  /** Postgres connect, pool-acquire and query timeout; see `PostgresStoreOptions.timeoutMs`. */
  timeoutMs?: number;
}): Promise<Store> {
  return options.databaseUrl
    ? openPostgresStore(options.databaseUrl, {
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      })
    : openPgliteStore(join(options.dataDir, "db"));
}
