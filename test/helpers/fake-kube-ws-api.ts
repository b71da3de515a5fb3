// A Kubernetes API stand-in that accepts WebSocket upgrades (exec/attach/port-forward paths) on
// 127.0.0.1:0 over HTTPS with its own CA. It records every upgrade (path, query, headers, offered
// subprotocols), can refuse with a status, and hands each accepted socket to the test. Like the real
// API server it selects the first offered subprotocol it supports, `SPDY/3.1+portforward.k8s.io`
// included, which the `ws` server would refuse as a token: the header is written by hand.

import https from 'node:https';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';

export interface UpgradeRecord {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly offered: string[];
}

export interface FakeWsSession {
  readonly upgrade: UpgradeRecord;
  readonly socket: WebSocket;
  readonly protocol: string;
  readonly received: { data: Buffer; isBinary: boolean }[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

const SUPPORTED = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io', 'SPDY/3.1+portforward.k8s.io'];

export class FakeKubeWsApi {
  readonly upgrades: UpgradeRecord[] = [];
  readonly sessions: FakeWsSession[] = [];
  /** Statuses to answer the next upgrades with. */
  readonly refusals: number[] = [];
  /** Subprotocols this API server accepts, in preference order of the client's offer. */
  supported: readonly string[] = SUPPORTED;
  onSession: (session: FakeWsSession) => void = () => undefined;
  /** Delay before an upgrade is answered, to hold a session in its dialling state. */
  upgradeDelayMs = 0;
  /** Answers the next upgrades with a 403 whose body never ends (a dial that must still end when cancelled). */
  endlessRefusals = 0;
  /** Answers plain HTTP requests instead of the built-in lists, when set. */
  httpHandler: ((request: http.IncomingMessage, response: http.ServerResponse) => void) | undefined;
  readonly kubeconfigPath: string;
  /** `https://127.0.0.1:<port>` and the CA that signed its certificate, for tests that build a KubeTarget. */
  readonly server: string;
  readonly caPem: string;
  readonly #server: https.Server;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #chosen = new WeakMap<http.IncomingMessage, string>();

  private constructor(server: https.Server, kubeconfigPath: string, caPem: string) {
    this.#server = server;
    this.kubeconfigPath = kubeconfigPath;
    this.server = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.caPem = caPem;
    this.#wss.on('headers', (headers: string[], request: http.IncomingMessage) => {
      const chosen = this.#chosen.get(request);
      if (chosen !== undefined && chosen !== '') headers.push(`Sec-WebSocket-Protocol: ${chosen}`);
    });
    server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(request, socket, head));
  }

  static async start(): Promise<FakeKubeWsApi> {
    const tls = loopbackTlsFor('fake-kube-ws');
    let api: FakeKubeWsApi | undefined;
    const server = https.createServer({ key: tls.server.keyPem, cert: tls.server.certPem }, (request, response) => {
      request.resume();
      if (api?.httpHandler !== undefined) {
        api.httpHandler(request, response);
        return;
      }
      if (request.url === '/api/v1/big') {
        // a list large enough for a binary frame with gzip (§9.8)
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ kind: 'List', items: Array.from({ length: 1000 }, (_, i) => ({ name: `item-${i}` })) }));
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(request.url?.startsWith('/version') ? '{"major":"1","minor":"32","gitVersion":"v1.32.0-fake"}' : '{"kind":"List","items":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'fake-kube-ws-'));
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: f\n  cluster:\n    server: https://127.0.0.1:${port}\n    certificate-authority-data: ${Buffer.from(tls.caPem).toString('base64')}\nusers:\n- name: f\n  user:\n    token: agent-sa-token\ncontexts:\n- name: f\n  context: {cluster: f, user: f}\ncurrent-context: f\n`,
    );
    api = new FakeKubeWsApi(server, kubeconfigPath, tls.caPem);
    return api;
  }

  #onUpgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const offered = (request.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((value) => value.trim())
      .filter((value) => value !== '');
    const record: UpgradeRecord = { url: request.url ?? '', headers: { ...request.headers }, offered };
    this.upgrades.push(record);
    if (this.endlessRefusals > 0) {
      this.endlessRefusals--;
      socket.write('HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n');
      return;
    }
    const refusal = this.refusals.shift();
    if (refusal !== undefined) {
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'pods "x" is forbidden', code: refusal });
      socket.end(`HTTP/1.1 ${refusal} Refused\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const chosen = offered.find((protocol) => this.supported.includes(protocol)) ?? '';
    this.#chosen.set(request, chosen);
    delete request.headers['sec-websocket-protocol'];
    setTimeout(() => this.#accept(request, socket, head, record, chosen), this.upgradeDelayMs);
  }

  #accept(request: http.IncomingMessage, socket: Duplex, head: Buffer, record: UpgradeRecord, chosen: string): void {
    if (socket.destroyed) return;
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      const received: { data: Buffer; isBinary: boolean }[] = [];
      ws.on('message', (data: RawData, isBinary: boolean) => received.push({ data: data as Buffer, isBinary }));
      const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      const session: FakeWsSession = { upgrade: record, socket: ws, protocol: chosen, received, closed };
      this.sessions.push(session);
      this.onSession(session);
    });
  }

  /** Sockets accepted and still open. */
  get openSessions(): number {
    return [...this.#wss.clients].filter((client) => client.readyState === client.OPEN).length;
  }

  async close(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
