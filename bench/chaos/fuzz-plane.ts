// A bare control plane for the fuzz run: accepts the agent on the controller path, completes the
// registration handshake (register → register_success, or a resumed session's heartbeat), and then
// lets the fuzzer write anything on the session socket. Counts what the agent sends back and keeps
// the replies to the probe requests that check the agent still relays.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { decodeResponseFrame } from '../../src/protocol/binary-frame.js';
import { CONTROLLER_PATH } from '../../src/protocol/constants.js';

export interface ProbeReply {
  readonly type: string;
  readonly status: number | undefined;
}

const PROBE_PREFIX = 'probe-';

function rawBytes(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export class FuzzPlane {
  readonly url: string;
  /** Sockets that became sessions (one per agent connection). */
  sessions = 0;
  readonly repliesByType = new Map<string, number>();
  readonly closeCodes = new Map<number, number>();
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #probes = new Map<string, (reply: ProbeReply) => void>();
  #session: WebSocket | undefined;
  #waiters: (() => void)[] = [];
  #probeCounter = 0;

  private constructor(server: Server, wss: WebSocketServer) {
    this.#server = server;
    this.#wss = wss;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(): Promise<FuzzPlane> {
    const server = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    // no payload limit of its own beyond the agent's: the agent's cap is what is under test
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 512 * 1024 * 1024 });
    const plane = new FuzzPlane(server, wss);
    server.on('upgrade', (req, socket, head) => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== CONTROLLER_PATH) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => plane.#accept(ws));
    });
    return plane;
  }

  /** The session socket, once the agent has registered (or resumed) on it and while it is open. */
  get session(): WebSocket | undefined {
    return this.#session !== undefined && this.#session.readyState === this.#session.OPEN ? this.#session : undefined;
  }

  /** Resolves with the open session socket, waiting for the agent to (re)connect if needed. */
  async waitForSession(timeoutMs: number): Promise<WebSocket> {
    const deadline = Date.now() + timeoutMs;
    while (this.session === undefined) {
      if (Date.now() > deadline) throw new Error(`no agent session within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.session!;
  }

  /** Sends a plain proxy_request on the session and resolves with the agent's terminal reply. */
  async probe(path: string, authorization: string, timeoutMs: number): Promise<ProbeReply> {
    const socket = await this.waitForSession(timeoutMs);
    const id = `${PROBE_PREFIX}${++this.#probeCounter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#probes.delete(id);
        reject(new Error(`no reply to ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#probes.set(id, (reply) => {
        clearTimeout(timer);
        this.#probes.delete(id);
        resolve(reply);
      });
      socket.send(JSON.stringify({ type: 'proxy_request', request_id: id, payload: { method: 'GET', path, headers: { Authorization: [authorization] }, timeout: timeoutMs } }));
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#wss.clients) socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    ws.on('error', () => undefined);
    ws.on('close', (code: number) => this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1));
    ws.on('message', (data: RawData, isBinary: boolean) => this.#receive(ws, rawBytes(data), isBinary));
  }

  #becomeSession(ws: WebSocket): void {
    if (this.#session === ws) return;
    this.#session = ws;
    this.sessions++;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #count(type: string): void {
    this.repliesByType.set(type, (this.repliesByType.get(type) ?? 0) + 1);
  }

  #receive(ws: WebSocket, bytes: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.#count('binary response frame');
      const frame = decodeResponseFrame(bytes);
      if (frame !== undefined) this.#probes.get(frame.requestId)?.({ type: 'binary response frame', status: frame.status });
      return;
    }
    let message: { type?: unknown; request_id?: unknown; payload?: Record<string, unknown> };
    try {
      message = JSON.parse(bytes.toString('utf8')) as typeof message;
    } catch {
      this.#count('unparsable');
      return;
    }
    const type = typeof message.type === 'string' ? message.type : 'untyped';
    this.#count(type);
    if (type === 'register') {
      ws.send(JSON.stringify({ type: 'register_success', request_id: message.request_id, payload: { cluster_id: 'c-fuzz', cluster_uuid: 'c-fuzz', name: 'fuzz', status: 'active', workspace_id: 1 } }));
      this.#becomeSession(ws);
      return;
    }
    // a reconnect with a known cluster id resumes without register (§7.6): its heartbeat opens the session
    if (type === 'heartbeat') {
      this.#becomeSession(ws);
      return;
    }
    const requestId = typeof message.request_id === 'string' ? message.request_id : '';
    const resolve = this.#probes.get(requestId);
    if (resolve === undefined) return;
    const status = message.payload?.['status'];
    if (type === 'proxy_response' || type === 'proxy_error' || type === 'proxy_response_header' || type === 'proxy_response_abort') {
      resolve({ type, status: typeof status === 'number' ? status : undefined });
    }
  }
}
