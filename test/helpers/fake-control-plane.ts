// A scripted control plane for wire tests: a real `ws` server on 127.0.0.1:0 that records handshakes and
// hands each accepted socket to the test, which reads the agent's messages and answers by hand. It shares
// no encoder with the agent: expected bytes are written in the tests.

import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket, type RawData } from 'ws';

export interface Handshake {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: http.IncomingHttpHeaders;
}

export type JsonMessage = { type: string; request_id?: string; payload: Record<string, unknown>; timestamp?: unknown } & Record<string, unknown>;

interface Waiter<T> {
  readonly match: (value: T) => boolean;
  readonly resolve: (value: T) => void;
}

/** A FIFO that tests await on: values are kept until a waiter takes them. */
class Inbox<T> {
  readonly all: T[] = [];
  #queue: T[] = [];
  #waiters: Waiter<T>[] = [];

  push(value: T): void {
    this.all.push(value);
    const index = this.#waiters.findIndex((waiter) => waiter.match(value));
    if (index >= 0) {
      const [waiter] = this.#waiters.splice(index, 1);
      waiter!.resolve(value);
      return;
    }
    this.#queue.push(value);
  }

  take(match: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const index = this.#queue.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#queue.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const entry: Waiter<T> = {
        match,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
      };
      this.#waiters.push(entry);
    });
  }

  /** Values not yet taken. */
  get pending(): readonly T[] {
    return this.#queue;
  }
}

export class FakeSocket {
  readonly handshake: Handshake;
  readonly socket: WebSocket;
  readonly messages = new Inbox<JsonMessage>();
  readonly binaries = new Inbox<Buffer>();
  readonly texts: string[] = [];
  pings = 0;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(socket: WebSocket, handshake: Handshake) {
    this.socket = socket;
    this.handshake = handshake;
    socket.on('message', (data: RawData, isBinary: boolean) => {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
      if (isBinary) {
        this.binaries.push(buffer);
        return;
      }
      const text = buffer.toString('utf8');
      this.texts.push(text);
      this.messages.push(JSON.parse(text) as JsonMessage);
    });
    socket.on('ping', () => this.pings++);
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  next(type: string, timeoutMs = 15_000, match: (message: JsonMessage) => boolean = () => true): Promise<JsonMessage> {
    return this.messages.take((message) => message.type === type && match(message), timeoutMs, `a "${type}" message`);
  }

  nextBinary(timeoutMs = 15_000): Promise<Buffer> {
    return this.binaries.take(() => true, timeoutMs, 'a binary frame');
  }

  send(message: string | Buffer | Record<string, unknown>, isBinary = false): void {
    const data = typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message);
    this.socket.send(data, { binary: isBinary });
  }

  /** Answers the register message with register_success; returns the register message. */
  async acceptRegistration(successPayload: Record<string, unknown> = { cluster_id: 'c-test', cluster_uuid: 'uuid-test' }): Promise<JsonMessage> {
    const register = await this.next('register');
    this.send({ type: 'register_success', request_id: register.request_id, payload: successPayload });
    return register;
  }

  close(code = 1000): void {
    this.socket.close(code);
  }

  /** Stops reading from the agent: its socket's buffers fill and TCP pushes back. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

export interface FakeControlPlaneOptions {
  readonly tls?: { readonly keyPem: string; readonly certPem: string };
  /** Maximum message size the server accepts from the agent. */
  readonly maxPayload?: number;
  /** Answers plain HTTP requests from the first one on (see `requestHandler`). */
  readonly requestHandler?: (request: http.IncomingMessage, response: http.ServerResponse) => void;
}

export class FakeControlPlane {
  readonly handshakes: Handshake[] = [];
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Inbox<FakeSocket>();
  /** Statuses to answer the next upgrades with, instead of accepting them. */
  readonly refusals: number[] = [];
  /** Answers plain HTTP requests (the side channels of PROTOCOL.md §17); 404 when unset. */
  requestHandler: ((request: http.IncomingMessage, response: http.ServerResponse) => void) | undefined;
  port = 0;

  private constructor(options: FakeControlPlaneOptions) {
    this.requestHandler = options.requestHandler;
    this.#server =
      options.tls === undefined ? http.createServer() : https.createServer({ key: options.tls.keyPem, cert: options.tls.certPem });
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: options.maxPayload ?? 256 * 1024 * 1024 });
    this.#server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
      if (this.requestHandler !== undefined) {
        this.requestHandler(request, response);
        return;
      }
      response.writeHead(404).end();
    });
    this.#server.on('upgrade', (request: http.IncomingMessage, socket, head) => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const handshake: Handshake = { path: url.pathname, query: url.searchParams, headers: request.headers };
      this.handshakes.push(handshake);
      const refusal = this.refusals.shift();
      if (refusal !== undefined) {
        socket.end(`HTTP/1.1 ${refusal} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.#wss.handleUpgrade(request, socket, head, (ws) => this.#sockets.push(new FakeSocket(ws, handshake)));
    });
  }

  static async start(options: FakeControlPlaneOptions = {}, port = 0): Promise<FakeControlPlane> {
    const plane = new FakeControlPlane(options);
    await new Promise<void>((resolve, reject) => {
      plane.#server.once('error', reject);
      plane.#server.listen(port, '127.0.0.1', () => resolve());
    });
    plane.port = (plane.#server.address() as AddressInfo).port;
    return plane;
  }

  get url(): string {
    return `${this.#server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  nextSocket(timeoutMs = 15_000): Promise<FakeSocket> {
    return this.#sockets.take(() => true, timeoutMs, 'an agent connection');
  }

  get accepted(): readonly FakeSocket[] {
    return this.#sockets.all;
  }

  /** Sockets currently open. */
  get openSockets(): number {
    return [...this.#wss.clients].filter((client) => client.readyState === WebSocket.OPEN).length;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
