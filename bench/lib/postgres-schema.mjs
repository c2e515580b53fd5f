// A schema of its own for a bench run on Postgres, so the bench never reads or leaves rows next to
// anyone else's.
import { randomUUID } from "node:crypto";
import pg from "pg";

/**
 * Creates a fresh schema on `databaseUrl`, calls `work` with a URL whose connections use it, and
 * drops the schema with everything in it afterwards, whether `work` succeeded or not.
 */
export async function withBenchSchema(databaseUrl, work) {
  const schema = `trainkit_bench_${randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  try {
    const url = new URL(databaseUrl);
    url.searchParams.set("options", `-c search_path=${schema}`);
    return await work(url.toString());
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}
