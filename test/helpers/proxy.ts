import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * What the proxy does to one request instead of passing it through. With `forward`, the request
 * reaches the API first, so the API acts on it and only the answer is lost or replaced: the case
 * an Idempotency-Key exists for.
 */
export type Fault =
  | { kind: "status"; status: number; retryAfter?: string; forward?: boolean }
  | { kind: "drop"; forward?: boolean }
  | { kind: "delay"; ms: number };

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  readonly at: number;
  readonly fault: Fault["kind"] | undefined;
}

type Matcher = (method: string, path: string) => boolean;

/** A loopback HTTP proxy in front of one upstream that injects faults into chosen requests and records every request. */
export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  private readonly plans: { match: Matcher; faults: Fault[] }[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly upstream: URL,
    readonly url: string,
  ) {
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  static async start(upstream: string): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined;
    const server = createServer((req, res) => {
      proxy?.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new FaultProxy(server, new URL(upstream), `http://127.0.0.1:${port}`);
    return proxy;
  }

  /** The next requests that `match` meets `faults`, one each, in order; later ones pass through. */
  inject(match: Matcher, faults: Fault[]): void {
    this.plans.push({ match, faults: [...faults] });
  }

  /** Forgets faults not yet injected. */
  clearFaults(): void {
    this.plans.length = 0;
  }

  /** Requests seen so far that `match`. */
  count(match: Matcher): number {
    return this.seen.filter((r) => match(r.method, r.path)).length;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private nextFault(method: string, path: string): Fault | undefined {
    for (const plan of this.plans) {
      if (plan.faults.length > 0 && plan.match(method, path)) return plan.faults.shift();
    }
    return undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const fault = this.nextFault(method, path);
    const key = req.headers["idempotency-key"];
    this.seen.push({
      method,
      path,
      idempotencyKey: Array.isArray(key) ? key[0] : key,
      at: Date.now(),
      fault: fault?.kind,
    });

    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (fault?.kind === "status" && !fault.forward) return this.answerWith(res, fault);
      if (fault?.kind === "drop" && !fault.forward) return void req.socket.destroy();
      this.forward(req, body, (status, headers, upstreamBody) => {
        if (fault?.kind === "status") return this.answerWith(res, fault);
        if (fault?.kind === "drop") return void req.socket.destroy();
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(status, headers);
          res.end(upstreamBody);
        };
        if (fault?.kind === "delay") setTimeout(send, fault.ms);
        else send();
      });
    });
  }

  private answerWith(res: ServerResponse, fault: Extract<Fault, { kind: "status" }>): void {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
    res.writeHead(fault.status, headers);
    res.end(
      JSON.stringify({
        error: { code: "injected", message: `fault injected by the test proxy (${fault.status})` },
      }),
    );
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
    done: (status: number, headers: Record<string, string | string[] | undefined>, body: Buffer) => void,
  ): void {
    const headers = { ...req.headers, host: this.upstream.host };
    const upstream = httpRequest(
      {
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        path: req.url,
        method: req.method,
        headers,
      },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on("data", (c: Buffer) => parts.push(c));
        answer.on("end", () => done(answer.statusCode ?? 502, answer.headers, Buffer.concat(parts)));
      },
    );
    upstream.on("error", () => req.socket.destroy());
    upstream.end(body);
  }
}
