import { randomBytes } from "node:crypto";
import net from "node:net";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../../src/spec";
import { HealthProber } from "../helpers/health-prober";
import { SilentTcpProxy } from "../helpers/tcp-proxy";
import {
  authHeaders,
  type SpawnedTrainApi,
  spawnTrainApi,
  startTrainApi,
  type TrainApi,
  waitForJob,
} from "../helpers/train-api";

// The real Train API on a real Postgres reached through a TCP proxy that can go silent, as a
// dropped route or a dead primary does: no reset, no answer. Local jobs (real processes) run
// alongside. Figures are printed, not asserted.

const DB_TIMEOUT_MS = 1000;

describe("the TCP proxy that stands in for a lost network path", () => {
  it("passes bytes both ways, then passes none and closes nothing while silent", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const proxy = await SilentTcpProxy.start("127.0.0.1", (echo.address() as net.AddressInfo).port);
    const socket = net.connect(proxy.port, "127.0.0.1");
    const received: string[] = [];
    socket.on("data", (b) => received.push(b.toString()));
    socket.write("one");
    while (received.join("") !== "one") await new Promise((r) => setTimeout(r, 10));
    proxy.silence();
    socket.write("two");
    await new Promise((r) => setTimeout(r, 300));
    expect(received.join("")).toBe("one");
    expect(socket.destroyed).toBe(false);
    socket.destroy();
    await proxy.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });
});

// CI sets DATABASE_URL where a Postgres server runs (as for the store's tests); each run keeps its
// tables in a schema of its own so parallel runs never see each other's jobs.
const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  const target = new URL(databaseUrl);
  const schema = `trainkit_fault_${randomBytes(6).toString("hex")}`;
  let proxy: SilentTcpProxy;
  const figures: Record<string, number> = {};

  /** The database URL through the proxy, with the run's schema first on the search path. */
  const proxiedUrl = () => {
    const url = new URL(databaseUrl);
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    url.searchParams.set("options", `-c search_path=${schema}`);
    return url.toString();
  };

  beforeAll(async () => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.end();
    proxy = await SilentTcpProxy.start(target.hostname, Number(target.port || 5432));
  });

  afterAll(async () => {
    await proxy?.close();
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
    console.log(`Postgres fault figures (ms): ${JSON.stringify(figures)}`);
  });

  const settings = {
    TRAINKIT_BACKENDS: "local",
    TRAINKIT_DB_TIMEOUT_MS: String(DB_TIMEOUT_MS),
    TRAINKIT_READY_MAX_PASS_AGE_MS: "3000",
  };

  async function submitLocal(api: { url: string; apiKey: string; accountId: string }, command: string[]) {
    const res = await fetch(`${api.url}/v1/local/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({ name: "alongside", job_config: { command }, storage_mounts: [] }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as Job;
  }

  async function until(done: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!(await done()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return done();
  }

  describe("a Train API whose Postgres goes silent", () => {
    let api: TrainApi;
    let prober: HealthProber;

    beforeAll(async () => {
      api = await startTrainApi({
        databaseUrl: proxiedUrl(),
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...settings },
      });
      prober = HealthProber.start(api.url);
    });

    afterAll(async () => {
      await prober?.stop();
      await api?.close();
      if (prober) {
        figures.slowestHealthzMs = prober.slowest("/healthz");
        figures.slowestReadyzMs = prober.slowest("/readyz");
      }
    });

    it("answers 503 naming the store, turns unready and stays live; after the network returns it is ready again and its local jobs finished", async () => {
      expect(await until(() => prober.answers("/readyz").some((a) => a.status === 200))).toBe(true);
      const running = await submitLocal(api, ["sleep", "2"]);

      const silencedAt = Date.now();
      proxy.silence();
      const list = await fetch(`${api.url}/v1/jobs`, { headers: authHeaders(api) });
      expect(list.status).toBe(503);
      const error = ((await list.json()) as { error: { code: string; message: string } }).error;
      expect(error.code).toBe("store_unavailable");
      expect(error.message).toContain("cannot reach its job store");

      expect(await until(() => prober.answers("/readyz", silencedAt).some((a) => a.status === 503))).toBe(
        true,
      );
      const unready = prober.answers("/readyz", silencedAt).find((a) => a.status === 503)!;
      figures.silenceToUnreadyMs = unready.at + unready.ms - silencedAt;
      expect((unready.body as { reasons: string[] }).reasons.join(" ")).toContain(
        "job store (postgres) is unreachable",
      );
      expect(prober.answers("/healthz", silencedAt).every((a) => a.status === 200)).toBe(true);

      // Long enough for the reconciler's last pass to go stale as well.
      await new Promise((r) => setTimeout(r, 3500));
      const restoredAt = Date.now();
      proxy.restore();
      expect(
        await until(
          async () => (await fetch(`${api.url}/v1/jobs`, { headers: authHeaders(api) })).status === 200,
        ),
      ).toBe(true);
      figures.restoreToFirstAnswerMs = Date.now() - restoredAt;
      expect(
        await until(() => prober.answers("/readyz", Date.now() - 150).some((a) => a.status === 200)),
      ).toBe(true);
      figures.restoreToReadyMs = Date.now() - restoredAt;
      figures.silentLossToRecoveryMs = Date.now() - silencedAt;

      expect((await waitForJob<Job>(api, running.id, (j) => j.status === "COMPLETED", 60_000)).status).toBe(
        "COMPLETED",
      );
      const after = await submitLocal(api, ["sh", "-c", "exit 0"]);
      expect((await waitForJob<Job>(api, after.id, (j) => j.status === "COMPLETED", 60_000)).status).toBe(
        "COMPLETED",
      );
    });
  });

  describe("npm start with its Postgres silent", () => {
    let server: SpawnedTrainApi;

    beforeAll(async () => {
      proxy.restore();
      server = await spawnTrainApi({
        env: { DATABASE_URL: proxiedUrl(), TRAINKIT_SHUTDOWN_TIMEOUT_MS: "5000", ...settings },
        startTimeoutMs: 60_000,
      });
    });

    afterAll(async () => {
      await server?.kill("SIGKILL");
      proxy.restore();
    });

    it("logs the outage without TRAINKIT_LOG and finishes SIGTERM with a request still waiting on the store", async () => {
      proxy.silence();
      const waiting = fetch(`${server.url}/v1/jobs`, { headers: authHeaders(server) }).then(
        (r) => r.status,
        () => 0,
      );
      expect(await waiting).toBe(503);
      expect(await until(() => server.output().includes("job store unavailable"))).toBe(true);

      const pending = fetch(`${server.url}/v1/jobs`, { headers: authHeaders(server) }).catch(() => undefined);
      const stoppingAt = Date.now();
      await server.stop();
      figures.sigtermWithSilentStoreMs = Date.now() - stoppingAt;
      await pending;
      expect(server.child.exitCode ?? server.child.signalCode).not.toBeNull();
      expect(server.output()).toContain("SIGTERM: closing");
    });
  });
}
