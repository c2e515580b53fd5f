import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { migrate, SqlStore } from "./sql";

const LOCK_FILE = "trainkit.lock";
/** Lock files this process holds, to tell its own live lock from one an earlier process with the same pid left. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite is one process's database: a second server on the same directory would corrupt it. The
 * lock names its owner's pid, so a lock left by a killed server is taken over on the next start
 * (also in a restarted container, where the new server often has the dead one's pid).
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, LOCK_FILE);
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: "wx" });
      held.add(file);
      return () => {
        held.delete(file);
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number(readFileSync(file, "utf8").trim());
    const ownStale = owner === process.pid && !held.has(file);
    if (Number.isInteger(owner) && owner > 0 && !ownStale && alive(owner)) {
      throw new Error(
        `the embedded store in ${dataDir} is in use by process ${owner}; stop that server, or give this one another TRAINKIT_DATA_DIR`,
      );
    }
    rmSync(file, { force: true });
  }
}

/**
 * The embedded store: Postgres compiled to WebAssembly, writing straight to files under `dataDir`.
 *
 * Durability: PGlite mounts the data directory with Node's file system, so every WAL write at
 * commit is a `write(2)` into the kernel before the query resolves; a killed server process
 * (SIGKILL included) loses nothing it acknowledged. PGlite runs with `fsync=off`, so only a power
 * loss or kernel crash can lose recent commits: deployments that need that use Postgres.
 * `relaxedDurability` stays off, which keeps the write inside the query rather than after it.
 */
export async function openPgliteStore(
  dataDir: string,
  options: {
    /** Whether concurrent writes share commits (see `GroupCommit`). Defaults to true. */
    groupCommit?: boolean;
  } = {},
): Promise<SqlStore> {
  mkdirSync(dataDir, { recursive: true });
  const unlock = lockDataDir(dataDir);
  try {
    const db = await PGlite.create({ dataDir, relaxedDurability: false });
    await db.query("SET synchronous_commit = on");
    // One process owns this database, so nobody listens for its changes.
    await db.query("SET trainkit.notify_changes = off");
    await migrate(db);
    // A claim lives only while a submit is in flight, and this process has just become the only
    // writer: any claim left is a killed server's. Expired now instead of when its lease runs out,
    // the job is submitted at the next pass; the backend finds what the dead server may already
    // have started under the job's name, so nothing starts twice.
    await db.query(
      "UPDATE jobs SET submit_claimed_at = 'epoch' WHERE submit_claimed_at IS NOT NULL AND submitted_at IS NULL",
    );
    return new SqlStore(
      "pglite",
      db,
      async () => {
        await db.close();
        unlock();
      },
      // PGlite runs one statement at a time: a batch holds it for its whole transaction.
      options.groupCommit === false
        ? {}
        : { transact: (work) => db.transaction((tx) => work(tx)), maxBatchesInFlight: 1 },
    );
  } catch (err) {
    unlock();
    throw err;
  }
}
