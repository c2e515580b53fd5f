import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LONE_SURROGATE_MESSAGE } from "../../src/spec/common";
import { authHeaders, startTrainApi, type TrainApi } from "../helpers/train-api";
import { VALID_REQUESTS } from "../helpers/train-api-requests";

// The real Train API on loopback, spoken to over raw TCP where a test needs to send a request
// slowly, as a slow or hostile client would.

let api: TrainApi;

beforeAll(async () => {
  api = await startTrainApi({
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TRAINKIT_BACKENDS: "local",
      TRAINKIT_HEADERS_TIMEOUT_MS: "1000",
      TRAINKIT_REQUEST_TIMEOUT_MS: "4000",
    },
  });
});

afterAll(async () => {
  await api?.close();
});

/**
 * Opens a connection, writes `head` and then nothing more, and resolves with everything the server
 * sent once it closed the connection.
 */
function sendAndWaitForClose(head: string): Promise<string> {
  const { port } = new URL(api.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), "127.0.0.1");
    let received = "";
    socket.on("data", (b) => {
      received += b.toString();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
    socket.write(head);
  });
}

const slowPost = (headers: Record<string, string>) =>
  [
    `POST /v1/local/jobs HTTP/1.1`,
    `Host: 127.0.0.1`,
    `Content-Type: application/json`,
    `Content-Length: 100000`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    '{"name": "slo',
  ].join("\r\n");

describe("request bounds", () => {
  it("answers an unauthenticated request 401 before its body arrives, and closes the connection", async () => {
    const answer = await sendAndWaitForClose(slowPost({}));
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain("connection: close");
    expect(answer).toContain("x-api-key header is missing");
  });

  it("ends an authenticated request whose body does not arrive in time with 408 and closes the connection", async () => {
    const answer = await sendAndWaitForClose(slowPost(authHeaders(api)));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("ends a request whose headers do not arrive in time with 408 and closes the connection", async () => {
    const answer = await sendAndWaitForClose("GET /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ");
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("accepts text with well-formed surrogate pairs", async () => {
    const res = await fetch(`${api.url}/v1/local/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body: JSON.stringify({
        ...VALID_REQUESTS.local,
        job_config: { ...VALID_REQUESTS.local.job_config, env: { GREETING: "hi 🚀" } },
      }),
    });
    expect(res.status).toBe(201);
  });

  it("refuses a lone surrogate in a mount path, naming the field and the fix", async () => {
    const body = JSON.stringify({
      ...VALID_REQUESTS.local,
      storage_mounts: [{ source_uri: "file:///tmp", mount_path: "/data\udc00", read_only: true }],
    });
    const res = await fetch(`${api.url}/v1/local/jobs`, {
      method: "POST",
      headers: { ...authHeaders(api), "content-type": "application/json" },
      body,
    });
    const error = (
      (await res.json()) as { error: { message: string; details: { path: string; message: string }[] } }
    ).error;
    expect(res.status).toBe(400);
    expect(error.details).toContainEqual({
      path: "storage_mounts[0].mount_path",
      message: LONE_SURROGATE_MESSAGE,
    });
  });
});

describe("health endpoints", () => {
  it("answers liveness without reading the store", async () => {
    for (const path of ["/healthz", "/livez"]) {
      const res = await fetch(`${api.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: "ok" });
    }
  });

  it("reports readiness with the store reachable and the age of the reconciler's last pass", async () => {
    const res = await fetch(`${api.url}/readyz`);
    const body = (await res.json()) as {
      status: string;
      store: { kind: string; reachable: boolean };
      reconciler: { last_pass_at: string | null; last_pass_age_ms: number | null };
    };
    expect(res.status).toBe(200);
    expect(body.status).toBe("ready");
    expect(body.store).toEqual({ kind: "pglite", reachable: true });
    expect(Date.parse(body.reconciler.last_pass_at ?? "")).not.toBeNaN();
    expect(body.reconciler.last_pass_age_ms).toBeGreaterThanOrEqual(0);
  });
});
