import { Pool } from "pg";
import { migrate, SqlStore } from "./sql";

export interface PostgresStoreOptions {
  /** A schema to keep the tables in (created when missing); the connection's default otherwise. */
  schema?: string;
  /** Connections in the pool. Defaults to 10. */
  maxConnections?: number;
  /**
   * The longest wait for a connection (a new one, or a free one from the pool) and for one query's
   * answer; a query past it is also cancelled by the server (statement_timeout). Defaults to 10000.
   */
  timeoutMs?: number;
}

/** `PostgresStoreOptions.timeoutMs` when unset. */
export const DEFAULT_POSTGRES_TIMEOUT_MS = 10_000;

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The store on a Postgres server, for deployments with several replicas or real durability needs. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<SqlStore> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`Postgres schema name must match ${SCHEMA_NAME}; got ${JSON.stringify(schema)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_POSTGRES_TIMEOUT_MS;
  const pool = new Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
    // Every wait on the database is bounded: a connection that went silent (a dropped route, a
    // failed-over primary) fails its query after timeoutMs and leaves the pool, instead of holding
    // the request or the reconciler pass that waits on it forever.
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    lock_timeout: timeoutMs,
    // TCP keepalive finds a silently dropped idle connection before a query has to.
    keepAlive: true,
    keepAliveInitialDelayMillis: Math.min(timeoutMs, 10_000),
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that
  // would crash the server instead of failing the next query.
  pool.on("error", () => {});
  const client = await pool.connect().catch(async (err: Error) => {
    await pool.end();
    throw err;
  });
  try {
    if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await migrate(client);
  } finally {
    client.release();
  }
  // Ending the pool waits for each connection's goodbye, which a silent server never sends.
  const end = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pool.end().then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        () => {
          clearTimeout(timer);
          resolve();
        },
      );
    });
  return new SqlStore("postgres", pool, end);
}
