import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type {
  Backend,
  BackendJob,
  BackendLogger,
  PollResult,
  SubmitResult,
} from "../../src/server/backends/types";
import { Reconciler } from "../../src/server/reconciler";
import { openPostgresStore, type SqlStore } from "../../src/server/store";
import { CLAIM_OWNER_GONE } from "../../src/server/store/sql";
import { registryOf } from "../helpers/backend-job";
import { published } from "../helpers/published";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// Real Postgres (selected by DATABASE_URL, in a schema of its own) and a real replica process that
// dies with SIGKILL while it holds a submit claim. The embedded store's case is in crash.test.ts.
const HOLDER = resolve(__dirname, "../helpers/claim-holder.ts");
const databaseUrl = process.env.DATABASE_URL;
/** Far longer than the test: only the claiming replica's death can free the claim in time. */
const LEASE_MS = 10 * 60_000;

const quiet: BackendLogger = { info() {}, warn() {}, error() {} };

/** A backend paced by the server that records each submission it receives. */
class CountingBackend implements Backend<"azure-ml"> {
  readonly name = "azure-ml" as const;
  readonly submitted: string[] = [];
  async submit(job: BackendJob<"azure-ml">): Promise<SubmitResult> {
    this.submitted.push(job.id);
    return { cloudJobIdentifier: { job_name: `native-${job.id}` }, status: "PENDING" };
  }
  async poll(): Promise<PollResult> {
    return { status: "IN_PROGRESS" };
  }
  async cancel(): Promise<void> {}
}

describe("whether a claim's replica is gone", () => {
  it("reads only the pg_stat_activity columns Postgres shows to every role", () => {
    const activity = published<{ columnsByIndex: Record<string, string> }>("postgres/pg-stat-activity.json");
    const readable = new Set(Object.values(activity.columnsByIndex));
    const select = /FROM pg_stat_activity\s+WHERE ([\s\S]*?)\)\)/.exec(CLAIM_OWNER_GONE)?.[1] ?? "";
    const columns = [...select.matchAll(/\b([a-z_]+)\s+IN\b/g)].map((m) => m[1]);
    expect(columns).toEqual(["application_name"]);
    for (const column of columns) expect(readable).toContain(column);
  });
});

if (databaseUrl) {
  describe("a submit claim on Postgres", () => {
    const schema = `trainkit_test_${randomBytes(6).toString("hex")}`;
    const stores: SqlStore[] = [];
    const children: ChildProcess[] = [];

    afterAll(async () => {
      for (const child of children) child.kill("SIGKILL");
      await Promise.all(stores.map((s) => s.close()));
      const admin = new Client({ connectionString: databaseUrl });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    });

    /** Starts a replica that claims `jobId`; resolves once it said whether it got the claim. */
    const holdClaim = async (jobId: string): Promise<ChildProcess> => {
      const child = spawn(process.execPath, ["--import", "tsx", HOLDER, databaseUrl, schema, jobId], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      const [line] = await createInterface({ input: child.stdout! })
        [Symbol.asyncIterator]()
        .next()
        .then((r) => [r.value as string | undefined]);
      expect(line).toBe("claimed");
      return child;
    };

    const insert = async (store: SqlStore, name: string) =>
      (
        await store.insertJob({
          id: randomUUID(),
          accountId: "acct-claims",
          backend: "azure-ml",
          name,
          request: VALID_REQUESTS["azure-ml"] as never,
          requestHash: name,
          idempotencyKey: null,
          createdAt: new Date(),
        })
      ).job;

    it("is kept from other replicas while its replica lives, and taken over at once when it dies", async () => {
      const store = await openPostgresStore(databaseUrl, { schema });
      stores.push(store);
      const job = await insert(store, "claimed");
      const holder = await holdClaim(job.id);
      expect(await store.claimSubmit(job.id, LEASE_MS)).toBeNull();

      const exited = new Promise((r) => holder.once("exit", r));
      holder.kill("SIGKILL");
      await exited;
      // The server ends the dead replica's sessions as their sockets close; until then the claim holds.
      let taken = await store.claimSubmit(job.id, LEASE_MS);
      for (let i = 0; !taken && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        taken = await store.claimSubmit(job.id, LEASE_MS);
      }
      expect(taken?.id).toBe(job.id);
      expect(taken?.submitAttempts).toBe(2);
      // Now held by a live replica (this one), so a third one cannot take it.
      const other = await openPostgresStore(databaseUrl, { schema });
      stores.push(other);
      expect(await other.claimSubmit(job.id, LEASE_MS)).toBeNull();
    });

    it("is taken over by a paced server without spending a slot, which the dead replica spent", async () => {
      const store = await openPostgresStore(databaseUrl, { schema });
      stores.push(store);
      const claimed = await insert(store, "claimed-then-orphaned");
      const holder = await holdClaim(claimed.id);
      const waiting = await insert(store, "next-in-line");
      const exited = new Promise((r) => holder.once("exit", r));
      holder.kill("SIGKILL");
      await exited;

      // One submission a minute: the shared bucket holds one slot, for the job that waits. The
      // orphaned job took its slot on the dead replica, so it goes out beside it, not a minute later.
      const backend = new CountingBackend();
      const reconciler = new Reconciler(store, registryOf(backend), {
        intervalMs: 50,
        log: quiet,
        submitsPerMinute: { "azure-ml": 1 },
      });
      reconciler.start();
      const deadline = Date.now() + 15_000;
      while (backend.submitted.length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      await reconciler.stop();
      expect([...backend.submitted].sort()).toEqual([claimed.id, waiting.id].sort());
    });
  });
}
