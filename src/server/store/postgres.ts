import { Pool } from "pg";
import { migrate, SqlStore } from "./sql";

export interface PostgresStoreOptions {
  /** A schema to keep the tables in (created when missing); the connection's default otherwise. */
  schema?: string;
  /** Connections in the pool. Defaults to 10. */
  maxConnections?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The store on a Postgres server, for deployments with several replicas or real durability needs. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<SqlStore> {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new Error(`Postgres schema name must match ${SCHEMA_NAME}; got ${JSON.stringify(schema)}`);
  }
  const pool = new Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
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
  return new SqlStore("postgres", pool, () => pool.end());
}
