import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One request a fake cloud endpoint received. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: unknown;
  /** When the whole request had arrived (`Date.now()`). */
  receivedAt: number;
}

/** What a fake answers: a status, headers and a body (objects are sent as JSON, strings and bytes as they are). */
export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /**
   * For a streamed answer (a watch): called with the response once the status and headers are
   * sent, instead of sending `body`; it writes and ends the response when it chooses.
   */
  stream?: (res: http.ServerResponse) => void;
}

/**
 * A fault injected into the next matching requests: answer with `respond` instead of handling the
 * request; handle it (so its effect happens) and then drop the connection without an answer, which
 * is how a client sees a response lost on the way back; handle it and answer `respondAfterHandling`
 * instead of the real answer (a cloud that commits and then reports an error or a malformed body);
 * never answer at all (`hang`); or reset the connection without handling the request (`reset`).
 */
export type Fault =
  | { respond: FakeResponse }
  | { dropAfterHandling: true }
  | { respondAfterHandling: FakeResponse }
  | { hang: true }
  | { reset: true };

type Handler = (req: RecordedRequest) => FakeResponse | Promise<FakeResponse>;

/**
 * A loopback HTTP(S) server standing in for a cloud endpoint: it records every request, hands it to
 * the cloud's handler, and can be told to fail the next requests in a chosen way.
 */
export class FakeCloud {
  readonly requests: RecordedRequest[] = [];
  private readonly faults: { match: (r: RecordedRequest) => boolean; fault: Fault; times: number }[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(handler: Handler, tls?: { key: string; cert: string }): Promise<FakeCloud> {
    let fake: FakeCloud | undefined;
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void fake!.handle(req, Buffer.concat(chunks).toString("utf8"), res, handler);
      });
    };
    const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    fake = new FakeCloud(server, `${tls ? "https" : "http"}://127.0.0.1:${port}`);
    return fake;
  }

  /** Makes the next `times` requests that `match` fail with `fault` (`Infinity` for a cloud that stays broken). */
  failNext(match: (r: RecordedRequest) => boolean, fault: Fault, times = 1): void {
    this.faults.push({ match, fault, times });
  }

  /** Drops every fault not yet used up: the cloud recovers. */
  heal(): void {
    this.faults.length = 0;
  }

  /** Requests whose method and path match. */
  received(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, body: string, res: http.ServerResponse, handler: Handler) {
    const url = new URL(req.url ?? "/", "http://fake");
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      body,
      json,
      receivedAt: Date.now(),
    };
    this.requests.push(recorded);
    const slot = this.faults.find((f) => f.times > 0 && f.match(recorded));
    if (slot) slot.times -= 1;
    if (slot && "respond" in slot.fault) return send(res, slot.fault.respond);
    if (slot && "hang" in slot.fault) return;
    if (slot && "reset" in slot.fault) {
      req.socket.resetAndDestroy();
      return;
    }
    let answer: FakeResponse;
    try {
      answer = await handler(recorded);
    } catch (err) {
      answer = { status: 500, body: { error: String(err) } };
    }
    if (slot && "respondAfterHandling" in slot.fault) return send(res, slot.fault.respondAfterHandling);
    if (slot) {
      req.socket.destroy();
      return;
    }
    send(res, answer);
  }
}

function send(res: http.ServerResponse, answer: FakeResponse): void {
  if (answer.stream) {
    res.writeHead(answer.status, answer.headers ?? {});
    res.flushHeaders();
    answer.stream(res);
    return;
  }
  // Bytes (a ranged read of a blob) are sent as they are, like text.
  const isText = typeof answer.body === "string" || Buffer.isBuffer(answer.body);
  const payload =
    answer.body === undefined ? "" : isText ? (answer.body as string | Buffer) : JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...(answer.body !== undefined && !isText ? { "content-type": "application/json" } : {}),
    ...answer.headers,
  });
  res.end(payload);
}

/** A self-signed certificate for 127.0.0.1, made with the openssl command line for this test run. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "trainkit-tls-"));
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    return {
      key: readFileSync(join(dir, "key.pem"), "utf8"),
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
