// A loopback TCP proxy between the agent and the sandbox API that resets a random share of connections
// (RST via socket.resetAndDestroy()) at a random point of their life: after a random number of bytes
// from the API server, so a reset lands before the first response, mid-body of a watch or log follow,
// or mid-session of an exec; a chosen connection that ends first is reset at its end. TLS passes through.

import net from 'node:net';

export interface FaultProxyOptions {
  /** The API server's port on 127.0.0.1. */
  readonly targetPort: number;
  /** Share of connections to reset, 0..1 (0.01 = 1 %). */
  readonly resetRatio: number;
  /** Seeded source of randomness in [0, 1). */
  readonly random: () => number;
}

export interface FaultProxyStats {
  readonly connections: number;
  readonly resets: number;
  /** Connections open right now (both halves), for the leak check. */
  readonly open: number;
}

/**
 * A reset fires once this many response bytes have passed (TLS handshake included); the offset is drawn
 * skewed towards the start (square of a uniform), so short exec sessions are hit too, not only long reads.
 */
const MAX_RESET_OFFSET_BYTES = 64 * 1024;

export class FaultProxy {
  readonly port: number;
  readonly #server: net.Server;
  readonly #options: FaultProxyOptions;
  readonly #sockets = new Set<net.Socket>();
  #connections = 0;
  #resets = 0;
  #open = 0;

  private constructor(server: net.Server, port: number, options: FaultProxyOptions) {
    this.#server = server;
    this.port = port;
    this.#options = options;
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const proxy = new FaultProxy(server, (server.address() as net.AddressInfo).port, options);
    server.on('connection', (client) => proxy.#accept(client));
    return proxy;
  }

  get stats(): FaultProxyStats {
    return { connections: this.#connections, resets: this.#resets, open: this.#open };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(client: net.Socket): void {
    this.#connections++;
    this.#open++;
    const upstream = net.connect(this.#options.targetPort, '127.0.0.1');
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    let isClosed = false;
    const finish = (): void => {
      if (isClosed) return;
      isClosed = true;
      this.#open--;
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('error', finish).on('close', finish);
    upstream.on('error', finish).on('close', finish);
    client.pipe(upstream);
    if (this.#options.random() >= this.#options.resetRatio) {
      upstream.pipe(client);
      return;
    }
    let budget = Math.floor(this.#options.random() ** 2 * MAX_RESET_OFFSET_BYTES);
    upstream.on('data', (chunk: Buffer) => {
      if (isClosed) return;
      if (chunk.length <= budget) {
        budget -= chunk.length;
        if (!client.write(chunk)) upstream.pause();
        return;
      }
      client.write(chunk.subarray(0, budget));
      this.#resets++;
      client.resetAndDestroy();
      finish();
    });
    client.on('drain', () => upstream.resume());
    // a connection that ends before its reset offset is reset instead of closed cleanly (a keep-alive
    // socket that dies idle), so every chosen connection is reset once
    upstream.once('end', () => {
      if (isClosed) return;
      this.#resets++;
      client.resetAndDestroy();
      finish();
    });
  }
}
