import net from "node:net";

/**
 * A loopback TCP proxy in front of one server (Postgres here) that can go silent the way a lost
 * route or a dead network path does: while silent, connections stay open but no byte passes in
 * either direction and nothing is closed, so only the client's own timeouts notice. Connections
 * that were silenced stay dead after `restore`, as they would on a real network; new ones work.
 */
export class SilentTcpProxy {
  private silent = false;
  private readonly dead = new Set<net.Socket>();
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<SilentTcpProxy> {
    let proxy: SilentTcpProxy | undefined;
    const server = net.createServer((client) => proxy!.accept(client, targetHost, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new SilentTcpProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** From now on, every connection, open or new, passes nothing and is never closed. */
  silence(): void {
    this.silent = true;
    for (const socket of this.sockets) this.dead.add(socket);
  }

  /** New connections pass traffic again; the silenced ones stay dead. */
  restore(): void {
    this.silent = false;
  }

  /** Closes every connection with a TCP reset. */
  resetAll(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket, host: string, port: number): void {
    this.track(client);
    if (this.silent) {
      // Accepted but never answered: a client waiting for the server's greeting waits forever.
      this.dead.add(client);
      client.on("data", () => {});
      return;
    }
    const upstream = net.connect(port, host);
    this.track(upstream);
    const forward = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk) => {
        if (this.dead.has(from) || this.dead.has(to)) return;
        to.write(chunk);
      });
      from.on("close", () => {
        if (!this.dead.has(to)) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      this.sockets.delete(socket);
      this.dead.delete(socket);
    });
  }
}
