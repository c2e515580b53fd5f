import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../helpers/provider-build";
import { ProviderHost, secret } from "../helpers/provider-host";
import { apiJob, nodeJob, up } from "../helpers/provider-jobs";
import { startTrainApi, type TrainApi } from "../helpers/train-api";

// A TrainingJob created through the real dynamic provider host against a Train API behind a
// stand-in for Cloud Run IAM: a loopback proxy that lets a request through only with a Google-style
// ID token for its own URL. The token is minted by google-auth-library in the provider host from a
// service-account key generated here: it signs a JWT-bearer assertion with the key and trades it at
// Google's token endpoint, which the host reaches through HTTPS_PROXY at a stand-in (a TLS server
// with a certificate for oauth2.googleapis.com, trusted through NODE_EXTRA_CA_CERTS) that checks
// the assertion and issues the ID token. Stand-ins show what trainkit and google-auth-library send,
// not how Google behaves.

const TOKEN_HOST = "oauth2.googleapis.com";
const CLIENT_EMAIL = "trainkit-deployer@acme-ml.iam.gserviceaccount.com";
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function listen(server: Server | net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

function jwtClaims(token: string, key: KeyObject): Record<string, unknown> | string {
  const [h, p, s] = token.split(".");
  if (!h || !p || !s) return "not a JWT";
  if (!verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url")))
    return "bad signature";
  return JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as Record<string, unknown>;
}

let dir: string;
let api: TrainApi;
let host: ProviderHost;
let iamUrl: string;
const closers: (() => void)[] = [];
const assertions: Record<string, unknown>[] = [];
const verdicts: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "trainkit-idtoken-"));
  const serviceAccount = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const google = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyFile = join(dir, "service-account.json");
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: "service_account",
      project_id: "acme-ml",
      private_key_id: "deployer-key-1",
      private_key: serviceAccount.privateKey.export({ type: "pkcs8", format: "pem" }),
      client_email: CLIENT_EMAIL,
      client_id: "100000000000000000002",
      token_uri: `https://${TOKEN_HOST}/token`,
    }),
  );

  // Google's token endpoint stand-in: a JWT-bearer assertion signed by the service account's key,
  // with a target_audience, buys an ID token for that audience.
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(dir, "tls.key"),
      "-out",
      join(dir, "tls.crt"),
      "-days",
      "1",
      "-subj",
      `/CN=${TOKEN_HOST}`,
      "-addext",
      `subjectAltName=DNS:${TOKEN_HOST}`,
    ],
    { stdio: "ignore" },
  );
  const tokens = createHttpsServer(
    { key: readFileSync(join(dir, "tls.key")), cert: readFileSync(join(dir, "tls.crt")) },
    (req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        const form = new URLSearchParams(body);
        const claims = jwtClaims(form.get("assertion") ?? "", serviceAccount.publicKey);
        if (
          req.url !== "/token" ||
          form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
          typeof claims === "string" ||
          claims.iss !== CLIENT_EMAIL ||
          typeof claims.target_audience !== "string"
        ) {
          res.writeHead(400, { "content-type": "application/json" });
          return res.end(JSON.stringify({ error: "invalid_grant" }));
        }
        assertions.push(claims);
        const now = Math.floor(Date.now() / 1000);
        const head = b64({ alg: "RS256", typ: "JWT", kid: "google-stand-in" });
        const payload = b64({
          iss: "https://accounts.google.com",
          aud: claims.target_audience,
          email: CLIENT_EMAIL,
          sub: "100000000000000000002",
          iat: now,
          exp: now + 3600,
        });
        const signature = sign("RSA-SHA256", Buffer.from(`${head}.${payload}`), google.privateKey).toString(
          "base64url",
        );
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id_token: `${head}.${payload}.${signature}` }));
      });
    },
  );
  const tokensPort = await listen(tokens);
  closers.push(() => tokens.close());

  // The HTTPS proxy the host is given: it tunnels only to Google's token endpoint, which is the stand-in.
  const proxy = createHttpServer();
  proxy.on("connect", (req, client: net.Socket) => {
    if (req.url !== `${TOKEN_HOST}:443`) {
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    const upstream = net.connect(tokensPort, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  const proxyPort = await listen(proxy);
  closers.push(() => proxy.close());

  // Cloud Run IAM stand-in in front of the real Train API: a verified ID token for its own URL, or 403.
  api = await startTrainApi();
  const upstream = new URL(api.url);
  const iam = createHttpServer((req, res) => {
    const header = req.headers.authorization ?? "";
    const claims = header.startsWith("Bearer ")
      ? jwtClaims(header.slice(7), google.publicKey)
      : "no bearer token";
    const verdict =
      typeof claims === "string" ? claims : claims.aud === iamUrl ? "ok" : `audience ${String(claims.aud)}`;
    verdicts.push(verdict);
    if (verdict !== "ok") {
      res.writeHead(403, { "content-type": "text/plain" });
      return res.end("Forbidden: Your client does not have permission to get URL from this server.");
    }
    const forward = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(forward);
  });
  iamUrl = `http://127.0.0.1:${await listen(iam)}`;
  closers.push(() => iam.close());

  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TRAINKIT_")));
  delete env.GCE_METADATA_HOST;
  host = await ProviderHost.start({
    config: {
      "trainkit:apiUrl": iamUrl,
      "trainkit:apiKey": secret(api.apiKey),
      "trainkit:accountId": api.accountId,
    },
    env: {
      ...env,
      GOOGLE_APPLICATION_CREDENTIALS: keyFile,
      HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`,
      NO_PROXY: "127.0.0.1,localhost",
      NODE_EXTRA_CA_CERTS: join(dir, "tls.crt"),
    },
  });
});

afterAll(async () => {
  await host?.close();
  await api?.close();
  for (const close of closers) close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("a TrainingJob behind Cloud Run IAM, through the provider host", () => {
  it("is created with an ID token for the API's URL that google-auth-library minted from the service-account key", async () => {
    const { state } = await up(host, nodeJob("behind-iam", "0", { googleIdToken: true }));
    expect(state.outputs).toMatchObject({ jobId: state.id, backend: "local", name: "behind-iam" });
    expect((await apiJob(api, state.id)).name).toBe("behind-iam");
    // Every request the provider sent carried a token the IAM stand-in accepted.
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((v) => v === "ok")).toBe(true);
    // The token was bought with the key: an assertion from the service account for the API's URL.
    expect(assertions.at(-1)).toMatchObject({ iss: CLIENT_EMAIL, target_audience: iamUrl });
  });

  it("is refused by IAM, saying so, when the provider is told not to send an ID token", async () => {
    const before = verdicts.length;
    await expect(up(host, nodeJob("no-token", "0", { googleIdToken: false }))).rejects.toThrow(/403/);
    expect(verdicts.slice(before)).toContain("no bearer token");
  });
});
