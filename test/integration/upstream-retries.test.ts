// Resending after a stale keep-alive socket (PROTOCOL.md §9.4; checklist C98): a server that reads a request
// and then resets the connection on a reused socket gets a POST or PATCH once, never twice; idempotent
// methods are still resent on a fresh connection.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';

interface Stack extends Harness {
  readonly socket: FakeSocket;
  readonly port: number;
  /** `METHOD path` of every request the service read completely. */
  readonly seen: string[];
  /** The client port of each of them: equal ports mean a reused connection. */
  readonly clientPorts: number[];
}

/**
 * A service on loopback that answers GETs and resets the connection after reading a request whose path is
 * in `resets` (each entry once).
 */
async function stack(t: ExecutionContext, resets: string[]): Promise<Stack> {
  const seen: string[] = [];
  const clientPorts: number[] = [];
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      seen.push(`${request.method} ${request.url}`);
      clientPorts.push(request.socket.remotePort ?? 0);
      const index = resets.indexOf(request.url ?? '');
      if (index >= 0) {
        resets.splice(index, 1);
        request.socket.resetAndDestroy();
        return;
      }
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const harness = await startHarness(t, { workerTuning: { hostAliases: { 'web.apps.svc.cluster.local': '127.0.0.1' } } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket, port, seen, clientPorts };
}

function send(stack: Stack, id: string, method: string, path: string, body?: string): void {
  stack.socket.send({
    type: 'proxy_request',
    request_id: id,
    payload: { method, path, service_name: 'web', namespace: 'apps', service_port: stack.port, ...(body === undefined ? {} : { body }) },
  });
}

/** A GET leaves a kept-alive socket behind for the next request to reuse. */
async function warm(stack: Stack, id: string): Promise<void> {
  send(stack, id, 'GET', '/warm');
  expectOk(await stack.socket.next('proxy_response', 15_000, (m) => m.request_id === id));
}

function expectOk(response: { payload: Record<string, unknown> }): void {
  if (response.payload['status'] !== 200) throw new Error(`expected 200, got ${String(response.payload['status'])}`);
}

for (const method of ['POST', 'PATCH']) {
  test(`C98: a ${method} that the service reads and then resets on a reused socket reaches it once; the CP gets one proxy_error`, async (t) => {
    const s = await stack(t, ['/create']);
    await warm(s, 'warm');
    send(s, 'once', method, '/create', '{"kind":"ConfigMap"}');
    const replies = () => s.socket.messages.all.filter((m) => m.request_id === 'once');
    await eventually(() => replies().length > 0, 'a reply');
    await eventually(() => s.agent.router.activeRequests === 0, 'request finished');
    t.deepEqual(s.seen, ['GET /warm', `${method} /create`]);
    t.is(s.clientPorts[1], s.clientPorts[0], 'sent on the kept-alive connection');
    t.deepEqual(
      replies().map((m) => m.type),
      ['proxy_error'],
    );
    t.regex(replies()[0]!.payload['error'] as string, /^service request failed: /);
  });
}

test('C98: a PUT reset on a reused socket is resent on a fresh one (idempotent)', async (t) => {
  const s = await stack(t, ['/replace']);
  await warm(s, 'warm');
  send(s, 'put', 'PUT', '/replace', '{"kind":"ConfigMap"}');
  const response = await s.socket.next('proxy_response', 15_000, (m) => m.request_id === 'put');
  t.is(response.payload['status'], 200);
  t.deepEqual(s.seen, ['GET /warm', 'PUT /replace', 'PUT /replace']);
  t.is(s.clientPorts[1], s.clientPorts[0], 'first sent on the kept-alive connection');
  t.not(s.clientPorts[2], s.clientPorts[0], 'resent on a fresh one');
});
