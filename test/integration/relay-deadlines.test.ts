// Deadlines beyond the timer range (PROTOCOL.md §9.2, §9.4; checklist C97): `timeout:"8760h"` on a watch,
// a far `deadline`, and a year-long application relay never end early. A timer armed with such a delay
// would fire after 1 ms, long before the first event of the watch below.

import test from 'ava';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';

async function roundTrip(socket: FakeSocket, id: string): Promise<void> {
  socket.send({ type: 'ping', request_id: id, payload: {} });
  await socket.next('pong', 15_000, (m) => m.request_id === id);
}

const longDeadlines: [string, Record<string, unknown>][] = [
  ['timeout "8760h"', { timeout: '8760h' }],
  ['timeout 10^11 ms', { timeout: 1e11 }],
  ['deadline in 2100', { deadline: '2100-01-01T00:00:00Z' }],
];

for (const [what, fields] of longDeadlines) {
  test(`C97: a watch with ${what} streams until the API server ends it`, async (t) => {
    const { plane, kube } = await startHarness(t);
    const socket = await plane.nextSocket();
    await socket.acceptRegistration({ cluster_id: 'c-1' });
    await socket.next('heartbeat');
    let watch: ServerResponse | undefined;
    kube.handler = (_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED"}\n');
      watch = response;
    };
    socket.send({
      type: 'proxy_request',
      request_id: 'w-1',
      payload: { method: 'GET', path: '/api/v1/pods', query: 'watch=1', supports_response_streaming: true, ...fields },
    });
    t.is((await socket.next('proxy_response_header')).payload['status'], 200);
    await socket.next('proxy_response_chunk');
    await roundTrip(socket, 'between');
    watch!.end('{"type":"MODIFIED"}\n');
    const second = await socket.next('proxy_response_chunk');
    t.is(Buffer.from(second.payload['data'] as string, 'base64').toString(), '{"type":"MODIFIED"}\n');
    await socket.next('proxy_response_end');
    t.deepEqual(
      socket.messages.all.filter((m) => m.request_id === 'w-1').map((m) => m.type),
      ['proxy_response_header', 'proxy_response_chunk', 'proxy_response_chunk', 'proxy_response_end'],
    );
  });
}

test('C97: an application relay with timeout "8760h" stays open', async (t) => {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const backends: WebSocket[] = [];
  wss.on('connection', (ws) => backends.push(ws));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const { plane, agent } = await startHarness(t, { workerTuning: { hostAliases: { 'web.apps.svc.cluster.local': '127.0.0.1' } } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({
    type: 'proxy_request',
    request_id: 'ws-1',
    payload: { method: 'GET', path: '/chat', is_websocket: true, service_name: 'web', namespace: 'apps', service_port: port, timeout: '8760h' },
  });
  t.is((await socket.next('proxy_response')).payload['status'], 101);
  await eventually(() => backends.length === 1, 'backend connected');
  await roundTrip(socket, 'between');
  backends[0]!.send('still here');
  const data = await socket.next('proxy_websocket_data');
  t.is(Buffer.from(data.payload['data'] as string, 'base64').subarray(1).toString(), 'still here');
  t.is(socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 0);
  t.is(agent.router.activeRequests, 1);
});
