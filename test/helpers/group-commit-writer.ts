// A writer process for the group-commit crash test: many concurrent writers insert jobs and move
// each to IN_PROGRESS through one store, printing a line per write only once the store
// acknowledged it. The test kills this process with SIGKILL mid-stream and checks the store for
// every acknowledged write.
//
//   node --import tsx group-commit-writer.ts pglite <data dir>
//   node --import tsx group-commit-writer.ts postgres <url> <schema>
import { randomUUID } from "node:crypto";
import { openPgliteStore, openPostgresStore, type SqlStore } from "../../src/server/store";

const WRITERS = 32;

async function main(): Promise<void> {
  const [engine, target, schema] = process.argv.slice(2);
  if (!target || (engine !== "pglite" && engine !== "postgres")) {
    throw new Error("usage: group-commit-writer.ts pglite <data dir> | postgres <url> <schema>");
  }
  const store: SqlStore =
    engine === "pglite"
      ? await openPgliteStore(target)
      : await openPostgresStore(target, schema ? { schema } : {});
  process.stdout.write("ready\n");
  const writer = async (): Promise<void> => {
    for (;;) {
      const id = randomUUID();
      await store.insertJob({
        id,
        accountId: "acct-crash",
        backend: "local",
        name: "crash",
        request: { name: "crash", job_config: { command: ["true"] }, storage_mounts: [] },
        requestHash: "hash",
        idempotencyKey: null,
        createdAt: new Date(),
      });
      process.stdout.write(`inserted ${id}\n`);
      const moved = await store.transition(id, { status: "IN_PROGRESS" });
      if (moved) process.stdout.write(`moved ${id} ${moved.version}\n`);
      const { writes, commits } = store.writeStats();
      process.stdout.write(`stats ${writes} ${commits}\n`);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
