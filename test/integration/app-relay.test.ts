// Application WebSocket relays (PROTOCOL.md §14; checklist C81–C86): a WebSocket proxy_request with service
// routing dials the in-cluster service (here a loopback ws server reached through a host alias).

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import type { WorkerTuning } from '../../src/config/agent-config.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import { StreamFrameKind, encodeWsDataFrame, readStreamFrameHeader, streamFrameId } from '../../src/protocol/stream-frame.js';

interface Stack extends Harness {
  readonly socket: FakeSocket;
  readonly port: number;
  readonly backends: WebSocket[];
  /** Pings each backend received, counted from its connection on. */
  readonly pings: number[];
  readonly upgrades: http.IncomingMessage[];
}

interface StackOptions {
  readonly capacity?: number;
  readonly tuning?: Partial<WorkerTuning>;
  readonly workers?: number;
  /** The backend answers pings (as `ws` does by default). */
  readonly isPongAnswered?: boolean;
}

async function connected(t: ExecutionContext, options: StackOptions = {}): Promise<Stack> {
  const server = http.createServer();
  const wss = new WebSocketServer({
    server,
    perMessageDeflate: false,
    handleProtocols: (protocols) => [...protocols][0] ?? false,
    autoPong: options.isPongAnswered ?? true,
  });
  const backends: WebSocket[] = [];
  const pings: number[] = [];
  const upgrades: http.IncomingMessage[] = [];
  wss.on('connection', (ws, request) => {
    const index = backends.push(ws) - 1;
    pings[index] = 0;
    ws.on('ping', () => pings[index]!++);
    upgrades.push(request);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const client of wss.clients) client.terminate();
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const harness = await startHarness(t, {
    config: { workers: options.workers ?? 0 },
    workerTuning: { hostAliases: { 'web.apps.svc.cluster.local': '127.0.0.1' }, relayChannelCapacity: options.capacity ?? 100, ...options.tuning },
  });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket, port, backends, pings, upgrades };
}

function relayRequest(stack: Stack, id: string, extra: Record<string, unknown> = {}): void {
  stack.socket.send({
    type: 'proxy_request',
    request_id: id,
    payload: {
      method: 'GET',
      path: '/chat',
      query: 'room=1',
      is_websocket: true,
      service_name: 'web',
      namespace: 'apps',
      service_port: stack.port,
      headers: { Host: 'chat.example.com', Cookie: 'a=1', 'Sec-WebSocket-Protocol': 'chat.v1', 'Sec-WebSocket-Key': 'x', Authorization: 'Bearer user' },
      ...extra,
    },
  });
}

test('C81 C83 C84 C86: 101 with backend headers, frames both ways with ids, CP close closes the backend silently', async (t) => {
  const stack = await connected(t);
  relayRequest(stack, 'r-9');
  const response = await stack.socket.next('proxy_response');
  t.is(response.payload['status'], 101);
  const headers = response.payload['headers'] as Record<string, string[]>;
  t.deepEqual(headers['Upgrade'], ['websocket']);
  t.deepEqual(headers['Connection'], ['Upgrade']);
  t.deepEqual(headers['Sec-Websocket-Protocol'], ['chat.v1']);
  t.truthy(headers['Sec-Websocket-Accept']);
  const upgrade = stack.upgrades[0]!;
  t.is(upgrade.url, '/chat?room=1');
  t.is(upgrade.headers.host, 'chat.example.com');
  t.is(upgrade.headers.cookie, 'a=1');
  t.is(upgrade.headers.authorization, 'Bearer user');
  const backend = stack.backends[0]!;
  const received: string[] = [];
  backend.on('message', (data: Buffer) => received.push(data.toString()));
  stack.socket.send({ type: 'proxy_websocket_data', request_id: 'r-9', payload: { request_id: 'r-9', data: Buffer.from('\x01one').toString('base64') } });
  stack.socket.send({ type: 'ws_data', request_id: 'r-9', payload: { stream_id: 'r-9', data: Buffer.from('two').toString('base64'), message_type: 1 } });
  stack.socket.send({ type: 'proxy_stream_data', request_id: 'r-9', payload: { data: Buffer.from('\x01three').toString('base64') } });
  await eventually(() => received.length === 3, 'three frames at the backend');
  t.deepEqual(received, ['one', 'two', 'three']);
  backend.send('hi');
  const data = await stack.socket.next('proxy_websocket_data');
  t.is(data.request_id, 'r-9');
  t.deepEqual(data.payload, { request_id: 'r-9', stream_id: 'r-9', data: Buffer.from('\x01hi').toString('base64'), message_type: 1 });
  const closed = new Promise<number>((resolve) => backend.on('close', (code) => resolve(code)));
  stack.socket.send({ type: 'ws_close', request_id: 'r-9', payload: { request_id: 'r-9' } });
  t.is(await closed, 1000);
  await eventually(() => stack.agent.router.activeRequests === 0, 'relay ended');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 0);
});

test('with binary stream frames (docs/protocol.md extension) relay data goes as frames both ways; the close stays JSON', async (t) => {
  const stack = await connected(t, { workers: 2 });
  stack.socket.send({ type: 'stream_frames_hello', payload: { versions: [1] } });
  await stack.socket.next('stream_frames_ack');
  relayRequest(stack, 'r-5');
  t.is((await stack.socket.next('proxy_response')).payload['status'], 101);
  const backend = stack.backends[0]!;
  const received: { data: string; isBinary: boolean }[] = [];
  backend.on('message', (data: Buffer, isBinary: boolean) => received.push({ data: data.toString(), isBinary }));
  stack.socket.send(Buffer.from(encodeWsDataFrame(streamFrameId('r-5')!, 1, Buffer.from('one'))), true);
  stack.socket.send(Buffer.from(encodeWsDataFrame(streamFrameId('r-5')!, 2, Buffer.from('two'))), true);
  await eventually(() => received.length === 2, 'two frames at the backend');
  t.deepEqual(received, [{ data: 'one', isBinary: false }, { data: 'two', isBinary: true }]);
  backend.send('hi');
  const frame = await stack.socket.nextBinary();
  const header = readStreamFrameHeader(frame)!;
  t.deepEqual({ kind: header.kind, streamId: header.streamId }, { kind: StreamFrameKind.wsData, streamId: 'r-5' });
  t.deepEqual(frame.subarray(header.payloadOffset), Buffer.from('\x01hi'));
  backend.close(1000);
  const close = await stack.socket.next('proxy_websocket_close');
  t.deepEqual(close.payload, { stream_id: 'r-5', request_id: 'r-5' });
  await eventually(() => stack.agent.router.activeRequests === 0, 'relay ended');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_data').length, 0);
});

test('C86: a backend close is reported with exactly one proxy_websocket_close {stream_id, request_id}', async (t) => {
  const stack = await connected(t);
  relayRequest(stack, 'r-2', { supports_response_streaming: true });
  const header = await stack.socket.next('proxy_response_header');
  t.is(header.payload['status'], 101);
  await stack.socket.next('proxy_response_end');
  stack.backends[0]!.close(1000);
  const close = await stack.socket.next('proxy_websocket_close');
  t.is(close.request_id, 'r-2');
  t.deepEqual(close.payload, { stream_id: 'r-2', request_id: 'r-2' });
  await eventually(() => stack.agent.router.activeRequests === 0, 'relay ended');
});

test('C82: a failed backend dial is proxy_error (buffered) or header + abort (streaming); no service info fails', async (t) => {
  const stack = await connected(t);
  relayRequest(stack, 'down', { service_port: 1 });
  const error = await stack.socket.next('proxy_error');
  t.regex(error.payload['error'] as string, /^failed to connect to service WebSocket: /);
  relayRequest(stack, 'down-s', { service_port: 1, supports_response_streaming: true });
  const header = await stack.socket.next('proxy_response_header');
  t.is(header.payload['status'], 502);
  const abort = await stack.socket.next('proxy_response_abort');
  t.regex(abort.payload['error'] as string, /^failed to connect to service WebSocket: /);
  stack.socket.send({ type: 'proxy_request', request_id: 'nowhere', payload: { path: '/chat', is_websocket: true } });
  const missing = await stack.socket.next('proxy_error', 15_000, (m) => m.request_id === 'nowhere');
  t.deepEqual(missing.payload, { error: 'missing service routing information for WebSocket' });
});

test.serial('C85: a full relay queue drops the frame and sends backpressure {request_id, reason: channel_full}', async (t) => {
  const stack = await connected(t, { capacity: 2 });
  relayRequest(stack, 'bp', { timeout: 60_000 });
  await stack.socket.next('proxy_response');
  const backend = stack.backends[0]!;
  // the backend stops reading: the agent's socket to it fills and frames queue up
  (backend as unknown as { _socket: { pause(): void } })._socket.pause();
  const big = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < 40; i++) {
    stack.socket.send({ type: 'ws_data', request_id: 'bp', payload: { request_id: 'bp', data: Buffer.concat([Buffer.from([2]), big]).toString('base64') } });
  }
  const backpressure = await stack.socket.next('backpressure', 30_000);
  t.is(backpressure.request_id, 'bp');
  t.deepEqual(backpressure.payload, { request_id: 'bp', reason: 'channel_full' });
});

test.serial('§12.4: while the control plane does not read, the relay stops reading the backend; nothing is lost', async (t) => {
  // a fast keepalive: the paused relay cannot read its backend's pongs and must not be ended for that
  const stack = await connected(t, { workers: 1, tuning: { relayPingIntervalMs: 50, relayPongTimeoutMs: 1_000 } });
  relayRequest(stack, 'flow', { timeout: 600_000 });
  await stack.socket.next('proxy_response');
  const backend = stack.backends[0]!;
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  const total = 48 * 1024 * 1024;
  let received = 0;
  stack.socket.socket.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    const message = JSON.parse(data.toString('utf8')) as { type: string; payload: { data?: string } };
    if (message.type === 'proxy_websocket_data') received += Buffer.from(message.payload.data!, 'base64').length - 1;
  });
  stack.socket.pause();
  let sent = 0;
  const pump = (): void => {
    while (sent < total && backend.bufferedAmount < 1024 * 1024) {
      backend.send(chunk);
      sent += chunk.length;
    }
    if (sent < total) setTimeout(pump, 20);
  };
  pump();
  // the agent's reads stop: the backend's own send buffer backs up instead of the agent's memory
  await eventually(() => backend.bufferedAmount >= 1024 * 1024, 'the backend is pushed back', 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  t.true(sent < total, `the backend could not send everything (${sent} of ${total})`);
  t.true(stack.agent.router.outstandingStreamBytes <= 512 * 1024, `outstanding ${stack.agent.router.outstandingStreamBytes}`);
  stack.socket.resume();
  await eventually(() => received === total, 'every byte arrives once the control plane reads again', 120_000);
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 0);
});

test('§14.5: a backend that stops answering pings is ended with one proxy_websocket_close {stream_id, request_id}', async (t) => {
  const stack = await connected(t, { tuning: { relayPingIntervalMs: 50, relayPongTimeoutMs: 300 }, isPongAnswered: false });
  relayRequest(stack, 'silent');
  await stack.socket.next('proxy_response');
  const close = await stack.socket.next('proxy_websocket_close', 15_000);
  t.is(close.request_id, 'silent');
  t.deepEqual(close.payload, { stream_id: 'silent', request_id: 'silent' });
  t.true(stack.pings[0]! > 0, 'the backend was pinged');
  await eventually(() => stack.agent.router.activeRequests === 0, 'relay ended');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 1);
});

test('§14.5: a backend that answers pings keeps its relay past the pong timeout', async (t) => {
  const stack = await connected(t, { tuning: { relayPingIntervalMs: 50, relayPongTimeoutMs: 1_500 } });
  relayRequest(stack, 'alive');
  await stack.socket.next('proxy_response');
  const backend = stack.backends[0]!;
  // 60 pings span twice the pong timeout
  await eventually(() => stack.pings[0]! >= 60, 'the backend was pinged repeatedly', 30_000);
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 0);
  const received: string[] = [];
  backend.on('message', (data: Buffer) => received.push(data.toString()));
  stack.socket.send({ type: 'ws_data', request_id: 'alive', payload: { request_id: 'alive', data: Buffer.from('\x01still here').toString('base64') } });
  await eventually(() => received.length === 1, 'the relay still relays');
  t.deepEqual(received, ['still here']);
});

test('C93 §13.6: an oversized CP ping is dropped and counted, a long close reason is cut; the relay and the agent go on', async (t) => {
  const stack = await connected(t);
  relayRequest(stack, 'ctl');
  await stack.socket.next('proxy_response');
  const backend = stack.backends[0]!;
  const received: string[] = [];
  const pings: Buffer[] = [];
  backend.on('message', (data: Buffer) => received.push(data.toString()));
  backend.on('ping', (data: Buffer) => pings.push(data));
  const framed = (type: number, payload: Buffer): string => Buffer.concat([Buffer.from([type]), payload]).toString('base64');
  stack.socket.send({ type: 'ws_data', request_id: 'ctl', payload: { request_id: 'ctl', data: framed(9, Buffer.alloc(200, 0x70)) } });
  stack.socket.send({ type: 'ws_data', request_id: 'ctl', payload: { request_id: 'ctl', data: framed(9, Buffer.from('ok')) } });
  stack.socket.send({ type: 'ws_data', request_id: 'ctl', payload: { request_id: 'ctl', data: framed(1, Buffer.from('after')) } });
  await eventually(() => received.length === 1 && pings.length === 1, 'the relay goes on');
  t.deepEqual(pings, [Buffer.from('ok')]);
  t.deepEqual(received, ['after']);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => backend.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  stack.socket.send({ type: 'ws_data', request_id: 'ctl', payload: { request_id: 'ctl', data: framed(8, Buffer.concat([Buffer.from([0x0f, 0xa1]), Buffer.alloc(300, 0x72)])) } });
  t.deepEqual(await closed, { code: 4001, reason: 'r'.repeat(123) });
  const close = await stack.socket.next('proxy_websocket_close');
  t.deepEqual(close.payload, { stream_id: 'ctl', request_id: 'ctl' });
  await eventually(() => stack.agent.router.activeRequests === 0, 'relay ended');
  t.is(await stack.agent.metrics.value('wsDataUnknownStream'), 1);
});
