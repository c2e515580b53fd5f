import { join } from "node:path";
import { CachedStore } from "./cached";
import { openPgliteStore } from "./pglite";
import { openPostgresStore } from "./postgres";
import type { Store } from "./types";

export { CachedStore, type CachedStoreOptions, type ChangeFeed } from "./cached";
export { GroupCommit } from "./group-commit";
export { openPgliteStore } from "./pglite";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres";
export { MIGRATIONS, SqlStore, unavailability } from "./sql";
export type * from "./types";
export { StoreUnavailableError } from "./types";

/**
 * Postgres when a URL is given, otherwise PGlite in `<dataDir>/db`; either behind a cache that
 * serves job reads and lists from memory (see `CachedStore`).
 */
export async function openStore(options: {
  dataDir: string;
  databaseUrl?: string;
  /** Postgres connect, pool-acquire and query timeout; see `PostgresStoreOptions.timeoutMs`. */
  timeoutMs?: number;
}): Promise<Store> {
  const store = options.databaseUrl
    ? await openPostgresStore(options.databaseUrl, {
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      })
    : await openPgliteStore(join(options.dataDir, "db"));
  return new CachedStore(store, store.changeFeed ? { feed: store.changeFeed } : {});
}
