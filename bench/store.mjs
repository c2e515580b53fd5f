// The job store on its own, in one run: writes with and without group commit, reads through the
// cache against the store itself, and what a reconciler pass reads with a full scan of unfinished
// jobs against the change cursor. PGlite always; Postgres too when DATABASE_URL is set (in a schema
// of its own, dropped afterwards). Run after `npm run build`:
//
//   node bench/store.mjs [--seconds 3] [--writers 16] [--pending 2000]
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test node bench/store.mjs
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import {
  CachedStore,
  openPgliteStore,
  openPostgresStore,
} from "../packages/server/dist/server/store/index.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 3);
const WRITERS = arg("writers", 16);
const PENDING = arg("pending", 2000);

const newJob = (accountId = "bench") => ({
  id: randomUUID(),
  accountId,
  backend: "local",
  name: "bench",
  request: { name: "bench", job_config: { command: ["true"] }, storage_mounts: [] },
  requestHash: "hash",
  idempotencyKey: null,
  createdAt: new Date(),
});

/** Calls `op` from `concurrency` loops for SECONDS; operations per second. */
async function rate(op, concurrency) {
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await op();
        done += 1;
      }
    }),
  );
  return done / SECONDS;
}

/** Mean milliseconds per call of `op`, called one after another for about SECONDS. */
async function perCall(op) {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < SECONDS * 1000) {
    await op();
    n += 1;
  }
  return (performance.now() - start) / n;
}

const rows = [];
const row = (store, name, unit, before, after) => rows.push({ store, name, unit, before, after });

async function measure(label, open) {
  // Writes: WRITERS concurrent submits (an insert, then a move to IN_PROGRESS), each commit on its own, then shared.
  const writes = {};
  for (const groupCommit of [false, true]) {
    const { store, done } = await open({ groupCommit });
    try {
      writes[groupCommit] = await rate(async () => {
        const { job } = await store.insertJob(newJob());
        await store.transition(job.id, { status: "IN_PROGRESS" });
      }, WRITERS);
    } finally {
      await done();
    }
  }
  row(label, `${WRITERS} concurrent submits + transitions`, "submits/s", writes.false, writes.true);

  const { store, done } = await open({ groupCommit: true });
  try {
    const cached = new CachedStore(store, store.changeFeed ? { feed: store.changeFeed } : {});
    while (store.changeFeed && !store.changeFeed.live()) await new Promise((r) => setTimeout(r, 20));
    const { job } = await cached.insertJob(newJob());
    const ids = [];
    for (let i = 0; i < 50; i++) ids.push((await cached.insertJob(newJob())).job.id);
    const readStore = await rate(() => store.getJob("bench", job.id), WRITERS);
    const readCache = await rate(() => cached.getJob("bench", job.id), WRITERS);
    row(label, "getJob", "reads/s", readStore, readCache);
    const listStore = await rate(() => store.listJobs("bench", { limit: 20 }), WRITERS);
    const listCache = await rate(() => cached.listJobs("bench", { limit: 20 }), WRITERS);
    row(label, "listJobs limit 20 (51 jobs)", "lists/s", listStore, listCache);

    // A reconciler pass: PENDING unsubmitted rows wait, 10 jobs changed since the last pass.
    const batch = [];
    for (let i = 0; i < PENDING; i++) batch.push(store.insertJob(newJob("pending")));
    await Promise.all(batch);
    const fullScan = await perCall(async () => {
      await store.listUnsubmitted(PENDING + 100);
      await store.listActive();
    });
    const cursor = await store.changeCursor();
    for (const id of ids.slice(0, 10)) await store.transition(id, { status: "IN_PROGRESS" });
    const changes = await perCall(() => store.changesSince(cursor));
    row(label, `pass over ${PENDING} PENDING, 10 changed`, "ms/pass", fullScan, changes);
    cached.reset();
  } finally {
    await done();
  }
}

console.log(
  `trainkit store bench: ${SECONDS} s per case, ${WRITERS} concurrent callers, node ${process.version}`,
);
const dirs = [];
await measure("pglite", async (options) => {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-store-bench-"));
  dirs.push(dir);
  const store = await openPgliteStore(dir, options);
  return { store, done: () => store.close() };
});
for (const dir of dirs) rmSync(dir, { recursive: true, force: true });

const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  let n = 0;
  const schemas = [];
  try {
    await measure("postgres", async (options) => {
      const schema = `trainkit_bench_${process.pid}_${n++}`;
      schemas.push(schema);
      const store = await openPostgresStore(databaseUrl, { schema, ...options });
      return { store, done: () => store.close() };
    });
  } finally {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
} else {
  console.log("(set DATABASE_URL to measure on Postgres as well)");
}

console.log(
  "store     case                                      unit          before       after   after/before",
);
for (const r of rows) {
  console.log(
    `${r.store.padEnd(9)} ${r.name.padEnd(41)} ${r.unit.padEnd(10)} ${r.before.toFixed(r.unit === "ms/pass" ? 2 : 0).padStart(10)} ${r.after.toFixed(r.unit === "ms/pass" ? 2 : 0).padStart(11)} ${(r.after / r.before).toFixed(3).padStart(14)}`,
  );
}
console.log(
  "before: writes each commit alone / reads from the store / a full scan of unfinished jobs;\nafter: group commit / reads from the cache / changesSince(cursor)",
);
