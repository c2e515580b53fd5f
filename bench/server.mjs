// Requests per second through the full Train API (auth, zod validation, store, reconciler) against a
// bare Fastify route on the same machine, in one run: first on the embedded store (PGlite), then on
// Postgres when DATABASE_URL is set (in its own schema, dropped afterwards). Run after `npm run build`:
//
//   node bench/server.mjs [--seconds 5] [--connections 16]
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test node bench/server.mjs
//
// Submits go to the local backend while its only slot is held by a long job, so every submitted
// job is recorded PENDING and waits for room: the figure is the API's own cost (validation,
// idempotent insert, capacity check), not process start-up.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import Fastify from "fastify";
import { startServer } from "../packages/server/dist/server/index.js";
import { withBenchSchema } from "./lib/postgres-schema.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const SECONDS = arg("seconds", 5);
const CONNECTIONS = arg("connections", 16);

const KEY = "tk_bench_key_0123456789abcdef";
const auth = { "x-api-key": KEY, "x-selected-account-id": "bench" };
const jobBody = JSON.stringify({
  name: "bench",
  job_config: { command: ["sh", "-c", "exit 0"], env: { EPOCHS: "3" } },
  storage_mounts: [{ source_uri: "file:///tmp", mount_path: "/mnt/data", read_only: true }],
});

function load(url, options) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration: SECONDS, ...options }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

function summary(result) {
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0)
    throw new Error(
      `${bad} of ${result.requests.total} requests failed (${JSON.stringify(result.statusCodeStats)})`,
    );
  return { rps: result.requests.average, p99: result.latency.p99 };
}

async function measure(label, databaseUrl) {
  const dataDir = mkdtempSync(join(tmpdir(), "trainkit-bench-"));
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    apiKeys: { [KEY]: ["bench"] },
    env: { PATH: process.env.PATH, TRAINKIT_LOCAL_MAX_CONCURRENT: "1" },
  });
  const bare = Fastify();
  bare.get("/bare/:id", async (req) => ({ id: req.params.id, status: "PENDING" }));
  bare.get("/bare", async () => ({ jobs: [{ id: "x", status: "PENDING" }], next_cursor: null }));
  bare.post("/bare", async (req, reply) => reply.code(201).send({ id: "x", name: req.body.name }));
  const bareUrl = await bare.listen({ host: "127.0.0.1", port: 0 });

  try {
    const post = (path, body) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body,
      });
    const blocker = await (
      await post(
        "/v1/local/jobs",
        JSON.stringify({ name: "blocker", job_config: { command: ["sleep", "600"] } }),
      )
    ).json();
    const target = await (await post("/v1/local/jobs", jobBody)).json();

    // Untimed warm-up: PGlite's WebAssembly and V8's JIT reach full speed only after a few thousand calls.
    await load(`${server.url}/v1/jobs/${target.id}`, { headers: auth, duration: 2 });
    await load(`${bareUrl}/bare/${target.id}`, { duration: 1 });

    const rows = [];
    const read = summary(await load(`${server.url}/v1/jobs/${target.id}`, { headers: auth }));
    const bareRead = summary(await load(`${bareUrl}/bare/${target.id}`, {}));
    rows.push(["status read  GET /v1/jobs/{id}", read, bareRead]);
    const list = summary(await load(`${server.url}/v1/jobs?limit=20`, { headers: auth }));
    const bareList = summary(await load(`${bareUrl}/bare`, {}));
    rows.push(["list         GET /v1/jobs?limit=20", list, bareList]);
    const submit = summary(
      await load(`${server.url}/v1/local/jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: jobBody,
      }),
    );
    const bareSubmit = summary(
      await load(`${bareUrl}/bare`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: jobBody,
      }),
    );
    rows.push(["submit       POST /v1/local/jobs", submit, bareSubmit]);

    console.log(
      `\nstore ${server.store.kind} (${label}): ${SECONDS} s per case, ${CONNECTIONS} connections, node ${process.version}`,
    );
    console.log("case                               full req/s  p99 ms   bare req/s  p99 ms   full/bare");
    for (const [name, full, base] of rows) {
      console.log(
        `${name.padEnd(34)} ${full.rps.toFixed(0).padStart(10)} ${String(full.p99).padStart(7)} ${base.rps.toFixed(0).padStart(12)} ${String(base.p99).padStart(7)} ${(full.rps / base.rps).toFixed(3).padStart(11)}`,
      );
    }
    await post(`/v1/jobs/${blocker.id}/cancel`);
  } finally {
    await bare.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log("trainkit server bench: the full Train API against a bare Fastify route, same machine");
await measure("embedded");
const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  await withBenchSchema(databaseUrl, (url) => measure(new URL(url).host, url));
} else {
  console.log("\n(set DATABASE_URL to measure on Postgres as well)");
}
