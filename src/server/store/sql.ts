import type { JobAttempt } from "../../spec";
import type { ChangeFeed } from "./cached";
import { GroupCommit, type Transact } from "./group-commit";
import {
  type JobRecord,
  type ListJobsOptions,
  type NewJob,
  type RestartChange,
  type StatusChange,
  type Store,
  StoreUnavailableError,
  type SubmitPaceAnswer,
  type SubmittedChange,
} from "./types";

/** The one query call both engines offer (`PGlite#query` and `pg.Pool#query` share it). */
export interface SqlClient {
  query<R>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * Numbered migrations, applied in order and recorded in `schema_migrations`. A released migration
 * is never edited: a change is a new entry.
 */
/** The notification channel on which every change to a job is announced (see migration 3). */
export const CHANGE_CHANNEL = "trainkit_jobs";

export const MIGRATIONS: readonly { version: number; statements: readonly string[] }[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE jobs (
        id uuid PRIMARY KEY,
        account_id text NOT NULL,
        backend text NOT NULL,
        name text NOT NULL,
        status text NOT NULL,
        request jsonb NOT NULL,
        request_hash text NOT NULL,
        cloud_job_identifier jsonb,
        backend_state jsonb,
        result jsonb,
        idempotency_key text,
        cancel_requested_at timestamptz,
        submit_attempts integer NOT NULL DEFAULT 0,
        submit_claimed_at timestamptz,
        submitted_at timestamptz,
        last_error text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT jobs_status_known CHECK
          (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELED', 'EXPIRED'))
      )`,
      `CREATE UNIQUE INDEX jobs_account_idempotency_key ON jobs (account_id, idempotency_key)
        WHERE idempotency_key IS NOT NULL`,
      "CREATE INDEX jobs_account_page ON jobs (account_id, created_at DESC, id DESC)",
      "CREATE INDEX jobs_active ON jobs (created_at, id) WHERE status IN ('PENDING', 'IN_PROGRESS')",
    ],
  },
  {
    version: 2,
    // When the first submit attempt of a job started, so a submit that keeps failing ends in a bounded time.
    statements: ["ALTER TABLE jobs ADD COLUMN submit_started_at timestamptz"],
  },
  {
    version: 3,
    // Every change to a job is numbered and announced, whoever makes it: `version` counts the row's
    // changes (caches keep the highest they saw), `change_xid` is the writing transaction (readers
    // ask for what changed since a position instead of scanning), and a notification names the job
    // to the other replicas. Triggers keep all three, so no statement can forget them.
    statements: [
      "ALTER TABLE jobs ADD COLUMN version bigint NOT NULL DEFAULT 1",
      "ALTER TABLE jobs ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id()",
      "CREATE INDEX jobs_changes ON jobs (change_xid)",
      `CREATE FUNCTION trainkit_jobs_touch() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         NEW.version := OLD.version + 1;
         NEW.change_xid := pg_current_xact_id();
         RETURN NEW;
       END $$`,
      "CREATE TRIGGER jobs_touch BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION trainkit_jobs_touch()",
      // The payload: schema, job id, version, account, and the writer's application_name, so a
      // replica skips its own writes (it cached them already) and the jobs of other schemas.
      `CREATE FUNCTION trainkit_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF coalesce(current_setting('trainkit.notify_changes', true), '') <> 'off' THEN
           PERFORM pg_notify('${CHANGE_CHANNEL}', concat_ws(' ', TG_TABLE_SCHEMA, NEW.id, NEW.version,
                                                     NEW.account_id, current_setting('application_name')));
         END IF;
         RETURN NULL;
       END $$`,
      "CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION trainkit_jobs_notify()",
    ],
  },
  {
    version: 4,
    // Restarts under a job's retry policy: the attempt now running (0 = the first submission), the
    // attempts that ended, and when the next one may be submitted (its back-off).
    statements: [
      "ALTER TABLE jobs ADD COLUMN attempt integer NOT NULL DEFAULT 0",
      "ALTER TABLE jobs ADD COLUMN attempts jsonb NOT NULL DEFAULT '[]'::jsonb",
      "ALTER TABLE jobs ADD COLUMN restart_at timestamptz",
    ],
  },
  {
    version: 5,
    // Each paced backend's submission pace, shared by every server on the database (see
    // `takeSubmitSlot`): the token bucket `SubmitPacer` keeps in memory, as a row. `share` is the pace
    // in force as a fraction of the configured one (1 until the cloud throttles, down to 0.1), so
    // the row holds no rate of its own and every server applies the share to the pace it is
    // configured with. `tokens` are the slots free at `refilled_at`; `recovered_at` is when the pace
    // was last lowered or last given back a step (null while it was never lowered).
    //
    // One function does the arithmetic on the row it has locked, reading the database's clock after
    // the lock is granted: two servers asking at once are served one after the other, each from the
    // row the other left, so no slot is handed out twice, and no server's own clock counts. Its
    // `action` is 'take' (a slot, when one is free), 'slow_down' (after a throttling answer) or
    // 'read' (only the pace in force).
    statements: [
      `CREATE TABLE submit_pace (
        backend text PRIMARY KEY,
        tokens double precision NOT NULL,
        share double precision NOT NULL,
        refilled_at timestamptz NOT NULL,
        recovered_at timestamptz
      )`,
      `CREATE FUNCTION trainkit_pace_submission(pace_backend text, configured double precision, action text)
       RETURNS TABLE (taken boolean, pace_per_minute double precision) LANGUAGE plpgsql AS $$
       DECLARE
         pace submit_pace%ROWTYPE;
         asked_at timestamptz;
         rate double precision;
       BEGIN
         SELECT * INTO pace FROM submit_pace WHERE backend = pace_backend FOR UPDATE;
         IF NOT FOUND THEN
           -- A new bucket starts full, as a server's own pacer does.
           INSERT INTO submit_pace (backend, tokens, share, refilled_at)
             VALUES (pace_backend, greatest(1, configured / 60), 1, clock_timestamp())
             ON CONFLICT (backend) DO NOTHING;
           SELECT * INTO pace FROM submit_pace WHERE backend = pace_backend FOR UPDATE;
         END IF;
         asked_at := clock_timestamp();
         -- Each whole quiet minute since the last slowdown or step gives back a quarter of what was taken.
         IF pace.share < 1 AND asked_at - pace.recovered_at >= interval '1 minute' THEN
           pace.share := least(1, pace.share + (1 - pace.share) / 4
                                   * floor(extract(epoch FROM asked_at - pace.recovered_at)::double precision / 60));
           pace.recovered_at := asked_at;
         END IF;
         rate := configured * pace.share;
         -- The bucket holds one second's worth, and at least one slot.
         pace.tokens := least(greatest(1, rate / 60),
                              pace.tokens + greatest(0, extract(epoch FROM asked_at - pace.refilled_at)::double precision) * rate / 60);
         pace.refilled_at := asked_at;
         taken := false;
         IF action = 'take' AND pace.tokens >= 1 - 1e-9 THEN
           pace.tokens := pace.tokens - 1;
           taken := true;
         ELSIF action = 'slow_down' THEN
           pace.share := greatest(pace.share / 2, 0.1);
           pace.tokens := least(pace.tokens, 0);
           pace.recovered_at := asked_at;
         END IF;
         UPDATE submit_pace
           SET tokens = pace.tokens, share = pace.share, refilled_at = pace.refilled_at, recovered_at = pace.recovered_at
           WHERE backend = pace_backend;
         pace_per_minute := configured * pace.share;
         RETURN NEXT;
       END $$`,
    ],
  },
  {
    version: 6,
    // Who holds a submit claim: the claiming connection's application_name, which on Postgres names
    // the replica (see `SqlStoreOptions.claimsByReplica`).
    statements: ["ALTER TABLE jobs ADD COLUMN submit_claimed_by text"],
  },
];

const ACTIVE = `status IN ('PENDING', 'IN_PROGRESS')`;
/**
 * Jobs a submitter may take: those nobody asked to cancel, and those whose cancel arrived while a
 * submit was in flight. If that submitter died, the job must be submitted again (every backend finds
 * its own earlier native job) so the cancel reaches whatever it may have started.
 */
const CLAIMABLE = "(cancel_requested_at IS NULL OR submit_claimed_at IS NOT NULL)";
/** New jobs waiting for their first submission, which keep their order (see `isQueued`). */
const QUEUED = "status = 'PENDING' AND submitted_at IS NULL AND cancel_requested_at IS NULL";
/** A restart waits out its back-off before it is submitted. */
const DUE = "(restart_at IS NULL OR restart_at <= now())";

// An arbitrary constant: every trainkit server takes this lock while migrating, so replicas that
// start together against one Postgres apply each migration once.
const MIGRATION_LOCK = 7_261_004;

export async function migrate(db: SqlClient): Promise<void> {
  await db.query("BEGIN");
  try {
    await db.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await db.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const { rows } = await db.query<{ version: number }>("SELECT version FROM schema_migrations");
    const applied = new Set(rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      for (const statement of m.statements) await db.query(statement);
      await db.query("INSERT INTO schema_migrations (version) VALUES ($1)", [m.version]);
    }
    await db.query("COMMIT");
  } catch (err) {
    await db.query("ROLLBACK");
    throw err;
  }
}

interface JobRow {
  id: string;
  account_id: string;
  backend: string;
  name: string;
  status: string;
  request: unknown;
  request_hash: string;
  cloud_job_identifier: Record<string, string> | null;
  backend_state: Record<string, unknown> | null;
  result: JobRecord["result"];
  idempotency_key: string | null;
  cancel_requested_at: Date | string | null;
  submit_attempts: number;
  submit_claimed_at: Date | string | null;
  submit_started_at: Date | string | null;
  submitted_at: Date | string | null;
  last_error: string | null;
  attempt?: number;
  attempts?: JobAttempt[];
  restart_at?: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
  version: number | string | bigint;
}

const toDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
const toDateOrNull = (v: Date | string | null): Date | null => (v === null ? null : toDate(v));

function fromRow(row: JobRow): JobRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    backend: row.backend as JobRecord["backend"],
    name: row.name,
    status: row.status as JobRecord["status"],
    request: row.request as JobRecord["request"],
    requestHash: row.request_hash,
    cloudJobIdentifier: row.cloud_job_identifier,
    backendState: row.backend_state,
    result: row.result,
    idempotencyKey: row.idempotency_key,
    cancelRequestedAt: toDateOrNull(row.cancel_requested_at),
    submitAttempts: row.submit_attempts,
    submitClaimedAt: toDateOrNull(row.submit_claimed_at),
    submitStartedAt: toDateOrNull(row.submit_started_at ?? null),
    submittedAt: toDateOrNull(row.submitted_at),
    lastError: row.last_error,
    attempt: row.attempt ?? 0,
    attempts: row.attempts ?? [],
    restartAt: toDateOrNull(row.restart_at ?? null),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    version: Number(row.version),
  };
}

/**
 * SQLSTATE classes that mean the database could not be reached or is going away, rather than that a
 * statement was wrong: connection exceptions (08), operator intervention (57: shutdown, a statement
 * cancelled by statement_timeout) and too many connections (53300).
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57...|53300)$/;

/**
 * The error as a `StoreUnavailableError` when it says the database was not reached: a client-side
 * timeout, a refused or reset connection (these carry no SQLSTATE), or a SQLSTATE of the classes
 * above. Undefined for a real SQL error, which stays a bug to surface as it is.
 */
export function unavailability(err: unknown): StoreUnavailableError | undefined {
  if (err instanceof StoreUnavailableError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const sqlstate = typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlstate && !UNAVAILABLE_SQLSTATE.test(sqlstate)) return undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (!sqlstate && !(typeof code === "string") && !/timeout|terminated|connect|closed|ended/i.test(message)) {
    return undefined;
  }
  return new StoreUnavailableError(`${code ? `${code}: ` : ""}${message}`, { cause: err });
}

const CHANGE_CURSOR = /^c1\.([0-9]{1,20})$/;

const encodeChangeCursor = (xid: string): string => {
  if (!/^[0-9]{1,20}$/.test(xid))
    throw new Error(`the store returned ${JSON.stringify(xid)} as a transaction id`);
  return `c1.${xid}`;
};

function decodeChangeCursor(cursor: string): string {
  const match = CHANGE_CURSOR.exec(cursor);
  if (!match) {
    throw new Error(
      `change cursor ${JSON.stringify(cursor)} is not one this store issued; pass the cursor from changeCursor() or the previous changesSince() unchanged`,
    );
  }
  return match[1]!;
}

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/** The columns of a new job, as arrays (one element per job) for one multi-row insert. */
const INSERT_JOBS = `INSERT INTO jobs (id, account_id, backend, name, status, request, request_hash, idempotency_key,
                                       created_at, updated_at)
  SELECT id, account_id, backend, name, 'PENDING', request, request_hash, idempotency_key, created_at, created_at
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::timestamptz[])
    AS n(id, account_id, backend, name, request, request_hash, idempotency_key, created_at)
  ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id`;

/**
 * Inserts new jobs with one statement; each answer is the inserted job, or null when the account
 * already had a job under its idempotency key (also one inserted earlier in the same statement).
 * Only the ids come back: every other column of a new row is known here, and sending the request
 * back and parsing it again cost more than the insert itself on the embedded store.
 */
async function insertJobs(db: SqlClient, jobs: NewJob[]): Promise<(JobRecord | null)[]> {
  const requests = jobs.map((j) => json(j.request));
  const { rows } = await db.query<{ id: string }>(INSERT_JOBS, [
    jobs.map((j) => j.id),
    jobs.map((j) => j.accountId),
    jobs.map((j) => j.backend),
    jobs.map((j) => j.name),
    requests,
    jobs.map((j) => j.requestHash),
    jobs.map((j) => j.idempotencyKey),
    jobs.map((j) => j.createdAt.toISOString()),
  ]);
  const inserted = new Set(rows.map((r) => r.id));
  return jobs.map((j, i) => (inserted.has(j.id) ? insertedRecord(j, requests[i]!) : null));
}

/** A job as its insert wrote it: the columns' defaults, and the request as jsonb keeps it (no undefined keys). */
function insertedRecord(job: NewJob, request: string): JobRecord {
  const createdAt = new Date(job.createdAt.getTime());
  return {
    id: job.id,
    accountId: job.accountId,
    backend: job.backend,
    name: job.name,
    status: "PENDING",
    request: JSON.parse(request) as JobRecord["request"],
    requestHash: job.requestHash,
    cloudJobIdentifier: null,
    backendState: null,
    result: null,
    idempotencyKey: job.idempotencyKey,
    cancelRequestedAt: null,
    submitAttempts: 0,
    submitClaimedAt: null,
    submitStartedAt: null,
    submittedAt: null,
    lastError: null,
    attempt: 0,
    attempts: [],
    restartAt: null,
    createdAt,
    updatedAt: new Date(createdAt.getTime()),
    version: 1,
  };
}

export interface SqlStoreOptions {
  /**
   * Runs work in one transaction; with it, concurrent writes share commits (see `GroupCommit`).
   * Without it every write commits on its own.
   */
  transact?: Transact;
  /** Batches committing at once; see `GroupCommitOptions.maxInFlight`. */
  maxBatchesInFlight?: number;
  /** Other writers' changes, for a cache in front of this store; none when this process is the only writer. */
  changeFeed?: ChangeFeed;
  /**
   * Whether every connection of a replica carries that replica's name as its application_name
   * (Postgres): then a submit claim whose replica has no session left on the server (the process
   * died, and the database closed its connections) is taken over at once instead of after its lease.
   */
  claimsByReplica?: boolean;
}

/**
 * A claim held by a replica with no session left: neither its pool's connections nor its change
 * feed's (`<replica>-changes`) show in pg_stat_activity. Every role reads every session's
 * application_name there, whatever role the replicas connect as.
 */
export const CLAIM_OWNER_GONE = `(submit_claimed_by IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_stat_activity
     WHERE application_name IN (jobs.submit_claimed_by, jobs.submit_claimed_by || '-changes')))`;

/** The store over any SQL client: both engines run exactly these statements. */
export class SqlStore implements Store {
  private readonly writes: GroupCommit | undefined;
  readonly changeFeed: ChangeFeed | undefined;
  private readonly claimOwnerGone: string;

  constructor(
    readonly kind: Store["kind"],
    private readonly db: SqlClient,
    private readonly onClose: () => Promise<void>,
    options: SqlStoreOptions = {},
  ) {
    this.changeFeed = options.changeFeed;
    this.claimOwnerGone = options.claimsByReplica ? `OR ${CLAIM_OWNER_GONE}` : "";
    this.writes = options.transact
      ? new GroupCommit(db, options.transact, (err) => unavailability(err) !== undefined, {
          ...(options.maxBatchesInFlight !== undefined ? { maxInFlight: options.maxBatchesInFlight } : {}),
        })
      : undefined;
  }

  /** Writes committed through group commit so far, and the commits they took. */
  writeStats(): { writes: number; commits: number } {
    return { ...(this.writes?.stats ?? { writes: 0, commits: 0 }) };
  }

  /** A write statement returning at most one job, sharing a commit with concurrent writes. */
  private async write(text: string, params: unknown[]): Promise<JobRecord | null> {
    if (!this.writes) return this.one(text, params);
    try {
      const { rows } = await this.writes.write((db) => db.query<JobRow>(text, params));
      return rows[0] ? fromRow(rows[0]) : null;
    } catch (err) {
      throw unavailability(err) ?? err;
    }
  }

  /** Every statement goes through here, so a lost database reads as `StoreUnavailableError`. */
  private async query<R>(text: string, params: unknown[]): Promise<{ rows: R[] }> {
    try {
      return await this.db.query<R>(text, params);
    } catch (err) {
      throw unavailability(err) ?? err;
    }
  }

  private async one(text: string, params: unknown[]): Promise<JobRecord | null> {
    const { rows } = await this.query<JobRow>(text, params);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  private async many(text: string, params: unknown[]): Promise<JobRecord[]> {
    const { rows } = await this.query<JobRow>(text, params);
    return rows.map(fromRow);
  }

  async ping(): Promise<void> {
    await this.query("SELECT 1", []);
  }

  async insertJob(job: NewJob): Promise<{ job: JobRecord; created: boolean }> {
    // One statement, so the idempotency key and the job are recorded together; a concurrent
    // duplicate loses on the unique index and reads the winner below.
    let inserted: JobRecord | null;
    try {
      inserted = this.writes
        ? await this.writes.writeMerged(insertJobs, job)
        : ((await insertJobs(this.db, [job]))[0] ?? null);
    } catch (err) {
      throw unavailability(err) ?? err;
    }
    if (inserted) return { job: inserted, created: true };
    const existing = await this.one("SELECT * FROM jobs WHERE account_id = $1 AND idempotency_key = $2", [
      job.accountId,
      job.idempotencyKey,
    ]);
    if (!existing) throw new Error(`job ${job.id} was neither inserted nor found under its idempotency key`);
    return { job: existing, created: false };
  }

  getJob(accountId: string, id: string): Promise<JobRecord | null> {
    return this.one("SELECT * FROM jobs WHERE id = $1 AND account_id = $2", [id, accountId]);
  }

  getJobById(id: string): Promise<JobRecord | null> {
    return this.one("SELECT * FROM jobs WHERE id = $1", [id]);
  }

  listJobs(accountId: string, options: ListJobsOptions): Promise<JobRecord[]> {
    const params: unknown[] = [accountId, options.status ?? null, options.limit];
    let page = "";
    if (options.after) {
      params.push(options.after.createdAt.toISOString(), options.after.id);
      page = "AND (created_at, id) < ($4::timestamptz, $5::uuid)";
    }
    return this.many(
      `SELECT * FROM jobs
       WHERE account_id = $1 AND ($2::text IS NULL OR status = $2) ${page}
       ORDER BY created_at DESC, id DESC
       LIMIT $3`,
      params,
    );
  }

  claimSubmit(id: string, leaseMs: number): Promise<JobRecord | null> {
    return this.write(
      `UPDATE jobs SET submit_claimed_at = now(), submit_claimed_by = current_setting('application_name'),
                       submit_attempts = submit_attempts + 1,
                       submit_started_at = coalesce(submit_started_at, now()), updated_at = now()
       WHERE id = $1 AND ${ACTIVE} AND submitted_at IS NULL AND ${CLAIMABLE} AND ${DUE}
         AND (submit_claimed_at IS NULL OR submit_claimed_at < now() - make_interval(secs => $2::double precision / 1000)
              ${this.claimOwnerGone})
       RETURNING *`,
      [id, leaseMs],
    );
  }

  recordSubmitted(id: string, change: SubmittedChange): Promise<JobRecord | null> {
    return this.write(
      `UPDATE jobs SET cloud_job_identifier = $2::jsonb, backend_state = $3::jsonb,
                       status = CASE WHEN attempt > 0 AND $4 = 'PENDING' THEN status ELSE $4 END,
                       submitted_at = now(), submit_claimed_at = NULL, last_error = NULL, updated_at = now()
       WHERE id = $1 AND ${ACTIVE}
       RETURNING *`,
      [id, json(change.cloudJobIdentifier), json(change.backendState), change.status],
    );
  }

  releaseClaim(id: string, error: string, options: { throttled?: boolean } = {}): Promise<JobRecord | null> {
    // A cancel that arrived while the submit was in flight could not be carried out then; with the
    // submit given up, nothing runs, so the job ends here instead of waiting for a submit it refuses.
    // A throttled attempt is given back: it neither counts toward the attempts nor starts the clock.
    return this.write(
      `UPDATE jobs SET submit_claimed_at = NULL, last_error = $2,
                       submit_attempts = CASE WHEN $3::boolean THEN greatest(submit_attempts - 1, 0) ELSE submit_attempts END,
                       submit_started_at = CASE WHEN $3::boolean AND submit_attempts <= 1 THEN NULL ELSE submit_started_at END,
                       status = CASE WHEN cancel_requested_at IS NOT NULL THEN 'CANCELED' ELSE status END,
                       updated_at = now()
       WHERE id = $1 AND submitted_at IS NULL AND ${ACTIVE}
       RETURNING *`,
      [id, error, options.throttled === true],
    );
  }

  transition(id: string, change: StatusChange): Promise<JobRecord | null> {
    return this.write(
      `UPDATE jobs SET status = $2,
                       result = CASE WHEN $3::boolean THEN $4::jsonb ELSE result END,
                       backend_state = CASE WHEN $5::boolean THEN $6::jsonb ELSE backend_state END,
                       attempts = CASE WHEN $7::jsonb IS NULL THEN attempts ELSE attempts || $7::jsonb END,
                       updated_at = now()
       WHERE id = $1 AND ${ACTIVE}
       RETURNING *`,
      [
        id,
        change.status,
        change.result !== undefined,
        json(change.result),
        change.backendState !== undefined,
        json(change.backendState),
        change.endedAttempt ? json([change.endedAttempt]) : null,
      ],
    );
  }

  cancelUnsubmitted(id: string): Promise<JobRecord | null> {
    return this.write(
      `UPDATE jobs SET status = 'CANCELED', cancel_requested_at = now(), updated_at = now()
       WHERE id = $1 AND ${ACTIVE} AND submitted_at IS NULL AND submit_claimed_at IS NULL
       RETURNING *`,
      [id],
    );
  }

  requestCancel(id: string): Promise<JobRecord | null> {
    return this.write(
      `UPDATE jobs SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
       WHERE id = $1 AND ${ACTIVE}
       RETURNING *`,
      [id],
    );
  }

  async hasOlderUnsubmitted(job: JobRecord): Promise<boolean> {
    const { rows } = await this.query<{ found: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM jobs
         WHERE backend = $1 AND ${QUEUED} AND (created_at, id) < ($2::timestamptz, $3::uuid)
       ) AS found`,
      [job.backend, job.createdAt.toISOString(), job.id],
    );
    return rows[0]?.found === true;
  }

  listQueued(): Promise<JobRecord[]> {
    return this.many(`SELECT * FROM jobs WHERE ${QUEUED} ORDER BY created_at, id`, []);
  }

  listUnsubmitted(limit: number, exceptBackends: readonly string[] = []): Promise<JobRecord[]> {
    return this.many(
      `SELECT * FROM jobs
       WHERE ${ACTIVE} AND submitted_at IS NULL AND ${CLAIMABLE} AND ${DUE}
         AND NOT (backend = ANY($2::text[]))
       ORDER BY created_at, id
       LIMIT $1`,
      [limit, exceptBackends],
    );
  }

  listActive(backends?: readonly string[]): Promise<JobRecord[]> {
    if (backends === undefined) {
      return this.many(
        `SELECT * FROM jobs WHERE ${ACTIVE} AND submitted_at IS NOT NULL ORDER BY created_at, id`,
        [],
      );
    }
    return this.many(
      `SELECT * FROM jobs WHERE ${ACTIVE} AND submitted_at IS NOT NULL AND backend = ANY($1::text[])
       ORDER BY created_at, id`,
      [backends],
    );
  }

  noteWaiting(id: string, reason: string): Promise<JobRecord | null> {
    return this.write(
      `UPDATE jobs SET last_error = $2
       WHERE id = $1 AND submitted_at IS NULL AND submit_claimed_at IS NULL AND ${ACTIVE}
       RETURNING *`,
      [id, reason],
    );
  }

  async changeCursor(): Promise<string> {
    const { rows } = await this.query<{ horizon: string }>(
      "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon",
      [],
    );
    return encodeChangeCursor(String(rows[0]?.horizon));
  }

  async changesSince(cursor: string): Promise<{ jobs: JobRecord[]; cursor: string }> {
    // Every transaction below the snapshot's xmin has ended, so its rows are visible here: the next
    // call starts at that xmin and finds whatever was still in flight now. One statement, one snapshot.
    const { rows } = await this.query<JobRow & { horizon: string }>(
      `SELECT jobs.*, h.horizon
       FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon) h
       LEFT JOIN jobs ON jobs.change_xid >= $1::xid8
       ORDER BY jobs.change_xid, jobs.id`,
      [decodeChangeCursor(cursor)],
    );
    return {
      jobs: rows.filter((r) => r.id !== null).map(fromRow),
      cursor: encodeChangeCursor(String(rows[0]?.horizon)),
    };
  }

  beginRestart(id: string, change: RestartChange): Promise<JobRecord | null> {
    // One statement, conditional on the attempt that ended still being the current one and on no
    // cancel having arrived: two servers that both saw the end start one restart between them. The
    // attempt ended either as a submitted native job or as a submission the cloud refused, which
    // the server refusing it still holds the claim of.
    return this.write(
      `UPDATE jobs SET attempt = attempt + 1, attempts = attempts || $3::jsonb, status = 'IN_PROGRESS',
                       cloud_job_identifier = NULL, backend_state = NULL, submitted_at = NULL,
                       submit_claimed_at = NULL, submit_attempts = 0, submit_started_at = NULL,
                       last_error = NULL, restart_at = $4::timestamptz, updated_at = now()
       WHERE id = $1 AND attempt = $2 AND ${ACTIVE} AND cancel_requested_at IS NULL
         AND (submitted_at IS NOT NULL OR submit_claimed_at IS NOT NULL)
       RETURNING *`,
      [id, change.endedAttemptNumber, json([change.endedAttempt]), change.restartAt.toISOString()],
    );
  }

  takeSubmitSlot(backend: string, perMinute: number): Promise<SubmitPaceAnswer> {
    return this.pace(backend, perMinute, "take");
  }

  async slowSubmitPace(backend: string, perMinute: number): Promise<number> {
    return (await this.pace(backend, perMinute, "slow_down")).perMinute;
  }

  async readSubmitPace(backend: string, perMinute: number): Promise<number> {
    return (await this.pace(backend, perMinute, "read")).perMinute;
  }

  /** One statement, in a transaction of its own: the row stays locked only while the function runs. */
  private async pace(
    backend: string,
    perMinute: number,
    action: "take" | "slow_down" | "read",
  ): Promise<SubmitPaceAnswer> {
    const { rows } = await this.query<{ taken: boolean; pace_per_minute: number }>(
      "SELECT taken, pace_per_minute FROM trainkit_pace_submission($1, $2, $3)",
      [backend, perMinute, action],
    );
    const row = rows[0];
    if (!row) throw new Error(`the store answered nothing for the ${backend} backend's submission pace`);
    return { taken: row.taken, perMinute: Number(row.pace_per_minute) };
  }

  /** The migration versions recorded as applied, in order. */
  async appliedMigrations(): Promise<number[]> {
    const { rows } = await this.query<{ version: number }>(
      "SELECT version FROM schema_migrations ORDER BY version",
      [],
    );
    return rows.map((r) => r.version);
  }

  close(): Promise<void> {
    return this.onClose();
  }
}
