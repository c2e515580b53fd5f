import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { FakeVertex } from "./fake-vertex";
import { FaultProxy } from "./proxy";
import { newApiKey, startTrainApi, TEST_ACCOUNT_ID, type TrainApi } from "./train-api";

export interface VertexReplicas {
  /** The Vertex AI stand-in both replicas submit to. */
  vertex: FakeVertex;
  /** The first replica: it reaches the stand-in through `proxyOfA`. */
  a: TrainApi;
  /** The second replica: it reaches the stand-in directly. */
  b: TrainApi;
  /** The first replica's way to the stand-in, where a test makes the cloud answer that replica alone. */
  proxyOfA: FaultProxy;
  headers: Record<string, string>;
  /** When the stand-in received each CustomJob creation, in order. */
  creations(): number[];
  close(): Promise<void>;
}

/**
 * Two real Train API servers on one Postgres schema of their own (the way replicas are deployed),
 * each with the vertex-ai backend built by its factory and pointed at one Vertex AI stand-in, paced
 * at `perMinute`.
 */
export async function startVertexReplicas(options: {
  databaseUrl: string;
  perMinute: number;
  reconcileIntervalMs: number;
}): Promise<VertexReplicas> {
  const schema = `trainkit_test_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: options.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const vertex = await FakeVertex.start();
  const proxyOfA = await FaultProxy.start(vertex.url);
  // The Google client reads its key file from the process environment, as in production.
  process.env.GOOGLE_APPLICATION_CREDENTIALS = vertex.keyFile;
  const url = new URL(options.databaseUrl);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const key = newApiKey();
  const settings = (endpoint: string) => ({
    databaseUrl: url.toString(),
    apiKeys: { [key]: [TEST_ACCOUNT_ID] },
    reconcileIntervalMs: options.reconcileIntervalMs,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TRAINKIT_VERTEX_PROJECT: "test-project",
      TRAINKIT_VERTEX_REGION: "us-central1",
      TRAINKIT_VERTEX_ENDPOINT: endpoint,
      TRAINKIT_VERTEX_LOGGING_ENDPOINT: vertex.url,
      TRAINKIT_VERTEX_SUBMIT_PER_MINUTE: String(options.perMinute),
    },
  });
  const a = await startTrainApi(settings(proxyOfA.url));
  const b = await startTrainApi(settings(vertex.url));
  return {
    vertex,
    a,
    b,
    proxyOfA,
    headers: { "x-api-key": key, "x-selected-account-id": TEST_ACCOUNT_ID },
    creations: () => vertex.cloud.received("POST", /\/customJobs$/).map((r) => r.receivedAt),
    close: async () => {
      await a.close();
      await b.close();
      await proxyOfA.close();
      await vertex.close();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/**
 * The most creations found in a window of `creations` (times in ms, in order) beyond what a pace of
 * `perMinute` with a bucket of `burst` allows over that window: 0 or less when the pace was kept.
 */
export function mostOverPace(creations: readonly number[], perMinute: number, burst: number): number {
  let most = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < creations.length; i += 1) {
    for (let j = i; j < creations.length; j += 1) {
      const allowed = burst + ((creations[j]! - creations[i]!) * perMinute) / 60_000;
      most = Math.max(most, j - i + 1 - allowed);
    }
  }
  return most;
}
