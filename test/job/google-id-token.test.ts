import { generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isCloudRunUrl } from "../../src/job/clients/google-id-token";
import { TrainApiClient } from "../../src/job/clients/trainapi";

// A stand-in for a compute metadata server (reached through GCE_METADATA_HOST, which google-auth-library's
// metadata client honours) that issues RS256 ID tokens for the audience asked, and a stand-in for a Cloud
// Run service that lets a request through only with a token it can verify for its own URL. Both are fakes:
// they show what trainkit sends and that google-auth-library fetches the token; not Cloud Run's behaviour.

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

let signingKey: KeyObject;
let publicKey: KeyObject;
let metadata: Server;
let api: Server;
let apiUrl: string;
const audiences: string[] = [];
const seen: { authorization?: string; verdict: string }[] = [];

function verdict(req: IncomingMessage): string {
  const header = req.headers.authorization;
  if (!header?.startsWith("Bearer ")) return "no bearer token";
  const [h, p, s] = header.slice(7).split(".");
  if (!h || !p || !s) return "not a JWT";
  if (!verify("RSA-SHA256", Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, "base64url")))
    return "bad signature";
  const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as { aud?: string };
  return claims.aud === apiUrl ? "ok" : `audience ${claims.aud}`;
}

beforeAll(async () => {
  ({ privateKey: signingKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 }));
  metadata = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://metadata");
    res.setHeader("Metadata-Flavor", "Google");
    if (req.headers["metadata-flavor"] !== "Google") return res.writeHead(403).end();
    if (url.pathname.endsWith("/service-accounts/default/identity")) {
      const aud = url.searchParams.get("audience") ?? "";
      audiences.push(aud);
      const now = Math.floor(Date.now() / 1000);
      const head = b64({ alg: "RS256", typ: "JWT", kid: "stand-in" });
      const body = b64({ iss: "https://accounts.google.com", aud, sub: "1", iat: now, exp: now + 3600 });
      const signature = sign("RSA-SHA256", Buffer.from(`${head}.${body}`), signingKey).toString("base64url");
      return res.writeHead(200, { "content-type": "text/plain" }).end(`${head}.${body}.${signature}`);
    }
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  process.env.GCE_METADATA_HOST = await listen(metadata);
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  api = createServer((req, res) => {
    const v = verdict(req);
    seen.push({ authorization: req.headers.authorization, verdict: v });
    if (v !== "ok") return res.writeHead(403, { "content-type": "text/plain" }).end("Forbidden");
    res
      .writeHead(404, { "content-type": "application/json" })
      .end(JSON.stringify({ error: { code: "not_found", message: "no job" } }));
  });
  apiUrl = `http://${await listen(api)}`;
});

afterAll(async () => {
  delete process.env.GCE_METADATA_HOST;
  await Promise.all([new Promise((r) => metadata.close(r)), new Promise((r) => api.close(r))]);
});

describe("Google ID tokens for a Train API behind Cloud Run IAM", () => {
  it("sends a Google ID token for the API's URL, fetched through google-auth-library", async () => {
    const client = new TrainApiClient({
      url: apiUrl,
      apiKey: "k".repeat(20),
      accountId: "acct",
      googleIdToken: true,
    });
    expect(await client.get("0b6c1c52-3d63-4a1e-9d2c-2f4d5e6a7b8c")).toBeUndefined();
    expect(seen.at(-1)?.verdict).toBe("ok");
    expect(audiences).toContain(apiUrl);
  });

  it("sends no Authorization header unless asked, which the IAM stand-in refuses", async () => {
    const client = new TrainApiClient(
      { url: apiUrl, apiKey: "k".repeat(20), accountId: "acct" },
      { attempts: 1 },
    );
    await expect(client.get("0b6c1c52-3d63-4a1e-9d2c-2f4d5e6a7b8c")).rejects.toThrow("answered 403");
    expect(seen.at(-1)).toEqual({ authorization: undefined, verdict: "no bearer token" });
  });

  it("turns Google auth on by default for Cloud Run URLs only", () => {
    expect(isCloudRunUrl("https://ml-api-abc123-uc.a.run.app")).toBe(true);
    expect(isCloudRunUrl("http://127.0.0.1:8080")).toBe(false);
    expect(isCloudRunUrl("https://api.example.com")).toBe(false);
  });
});
