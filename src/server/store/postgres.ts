import { randomBytes } from "node:crypto";
import { Client, type ClientConfig, Pool } from "pg";
import type { ChangeFeed, ChangeHandlers } from "./cached";
import type { Transact } from "./group-commit";
import { CHANGE_CHANNEL, migrate, SqlStore, unavailability } from "./sql";

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
  /**
   * How often the connection that listens for other replicas' changes proves it is alive. Cached
   * reads are served only within two of these of its last answer. Defaults to 1000.
   */
  heartbeatMs?: number;
  /** Whether concurrent writes share commits (see `GroupCommit`). Defaults to true. */
  groupCommit?: boolean;
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
  const maxConnections = options.maxConnections ?? 10;
  // Names this replica's writes in their change notifications, so it skips its own.
  const replica = `trainkit-${randomBytes(6).toString("hex")}`;
  const connection: ClientConfig = {
    connectionString: url,
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
  };
  const pool = new Pool({
    ...connection,
    application_name: replica,
    max: maxConnections,
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
  const transact: Transact = async (work) => {
    const client = await pool.connect();
    let lost: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      // A connection that failed is dropped (its transaction ends with it); another one is rolled back.
      if (unavailability(err)) lost = err as Error;
      else await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release(lost);
    }
  };
  const feed = new PostgresChangeFeed(connection, replica, options.heartbeatMs ?? 1000);
  return new SqlStore(
    "postgres",
    pool,
    async () => {
      await feed.close();
      await end();
    },
    {
      ...(options.groupCommit === false ? {} : { transact }),
      // Half the pool commits batches; the rest stays free for reads.
      maxBatchesInFlight: Math.max(1, Math.floor(maxConnections / 2)),
      changeFeed: feed,
      // The pool's connections carry the replica's name, and the feed's `<replica>-changes`.
      claimsByReplica: true,
    },
  );
}

/**
 * Other replicas' changes, as the database announces them (see migration 3), on a connection of
 * its own. A heartbeat on that connection bounds how long a silent network can hide a change: past
 * two heartbeats without an answer the feed is not live, and a lost connection resets the cache
 * (changes may have been missed) before the feed is live again.
 */
class PostgresChangeFeed implements ChangeFeed {
  private client: Client | undefined;
  private handlers: ChangeHandlers | undefined;
  private schema = "";
  private healthyUntil = 0;
  private beating = false;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  readonly connectionName: string;

  constructor(
    private readonly connection: ClientConfig,
    private readonly replica: string,
    private readonly heartbeatMs: number,
  ) {
    this.connectionName = `${replica}-changes`;
  }

  start(handlers: ChangeHandlers): void {
    this.handlers = handlers;
    void this.connect();
  }

  live(): boolean {
    return this.client !== undefined && Date.now() < this.healthyUntil;
  }

  async sync(): Promise<void> {
    const client = this.client;
    if (!client) throw new Error("the change feed is not connected");
    // Notifications travel ahead of the answer on the same connection. A silent connection is
    // given up on after two heartbeats, as `live` does, so a read waits no longer than that.
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query("SELECT 1"),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("the change feed did not answer")), 2 * this.heartbeatMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async connect(): Promise<void> {
    this.retry = undefined;
    if (this.closed) return;
    const client = new Client({ ...this.connection, application_name: this.connectionName });
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    client.on("notification", (message) => this.deliver(message.payload ?? ""));
    try {
      await client.connect();
      const { rows } = await client.query<{ schema: string }>("SELECT current_schema() AS schema");
      this.schema = rows[0]?.schema ?? "";
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch {
      void client.end().catch(() => {});
      this.reconnectLater();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    // Whatever was cached before may have missed changes made while nobody listened.
    this.handlers?.reset();
    this.client = client;
    this.healthyUntil = Date.now() + 2 * this.heartbeatMs;
    this.timer = setInterval(() => void this.beat(client), this.heartbeatMs);
    this.timer.unref();
  }

  private async beat(client: Client): Promise<void> {
    if (this.beating) return;
    this.beating = true;
    try {
      await client.query("SELECT 1");
      // Notifications travel ahead of the answer on the same connection: all sent before it arrived.
      if (client === this.client) this.healthyUntil = Date.now() + 2 * this.heartbeatMs;
    } catch {
      this.lost(client);
    } finally {
      this.beating = false;
    }
  }

  private deliver(payload: string): void {
    const [schema, id, version, accountId, writer] = payload.split(" ");
    if (schema !== this.schema || writer === this.replica || !id || !accountId) return;
    this.handlers?.change(id, Number(version), accountId);
  }

  private lost(client: Client): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.healthyUntil = 0;
    clearInterval(this.timer);
    this.handlers?.reset();
    void client.end().catch(() => {});
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => void this.connect(), this.heartbeatMs);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
