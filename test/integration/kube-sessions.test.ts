// kubectl WebSocket sessions through the agent (PROTOCOL.md §12, §13; checklist C67–C80), against an
// API server stand-in that accepts real WebSocket upgrades. Frames are built and read by hand.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import { FakeKubeWsApi, type FakeWsSession } from '../helpers/fake-kube-ws-api.js';

interface Stack extends Harness {
  readonly api: FakeKubeWsApi;
  readonly socket: FakeSocket;
}

async function connected(t: ExecutionContext, workers = 0): Promise<Stack> {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const harness = await startHarness(t, { config: { workers, kubeconfig: api.kubeconfigPath } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, api, socket };
}

const EXEC_PATH = '/api/v1/namespaces/default/pods/web-0/exec';
const frame = (type: number, payload: Buffer | string): string => Buffer.concat([Buffer.from([type]), Buffer.from(payload)]).toString('base64');
const unframe = (data: unknown): { type: number; payload: Buffer } => {
  const bytes = Buffer.from(data as string, 'base64');
  return { type: bytes[0]!, payload: bytes.subarray(1) };
};

function start(socket: FakeSocket, streamId: string, extra: Record<string, unknown> = {}, type = 'proxy_websocket_start'): void {
  socket.send({
    type,
    request_id: streamId,
    payload: { stream_id: streamId, method: 'GET', path: EXEC_PATH, query: 'command=sh&stdin=true&stdout=true', headers: { Authorization: ['Bearer cp-token'], 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] }, ...extra },
  });
}

async function nextSession(api: FakeKubeWsApi, index: number): Promise<FakeWsSession> {
  await eventually(() => api.sessions.length > index, 'the API server accepted the session');
  return api.sessions[index]!;
}

async function settled(t: ExecutionContext, stack: Stack): Promise<void> {
  await eventually(() => stack.agent.router.activeSessions === 0 && stack.agent.sessionHost.activeActors === 0, 'no session left');
  await eventually(() => stack.api.openSessions === 0, 'no API socket left');
  t.is(stack.agent.router.activeRequests, 0);
}

for (const workers of [0, 2]) {
  test(`C67 C70 C71 C73 C74: transparent relay in order, the CP's subprotocol and Authorization (workers=${workers})`, async (t) => {
    const stack = await connected(t, workers);
    stack.api.upgradeDelayMs = 150; // data sent right after the start waits for the dial
    start(stack.socket, 's-7', { headers: { authorization: ['Bearer cp-token'], 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io, v4.channel.k8s.io', ' v5.channel.k8s.io '] } });
    const stdin = [Buffer.from([0x00, 0x6c, 0x73, 0x0a]), Buffer.from([0x00, 0x70, 0x77, 0x64, 0x0a]), Buffer.from([0xff, 0x00])];
    stdin.forEach((bytes, index) =>
      stack.socket.send({ type: index % 2 === 0 ? 'ws_data' : 'proxy_websocket_data', request_id: 's-7', payload: { stream_id: 's-7', data: frame(2, bytes) } }),
    );
    const session = await nextSession(stack.api, 0);
    t.is(session.upgrade.url, `${EXEC_PATH}?command=sh&stdin=true&stdout=true`);
    t.deepEqual(session.upgrade.offered, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    t.is(session.upgrade.headers.authorization, 'Bearer cp-token');
    t.is(session.protocol, 'v5.channel.k8s.io');
    await eventually(() => session.received.length === 3, 'stdin frames reached the API server');
    t.deepEqual(session.received.map((r) => r.data), stdin);
    t.true(session.received.every((r) => r.isBinary));
    session.socket.send(Buffer.from([0x01, ...Buffer.from('out\n')]));
    session.socket.send('a text frame');
    const first = await stack.socket.next('proxy_websocket_data');
    t.is(first.request_id, 's-7');
    t.deepEqual(first.payload, { stream_id: 's-7', data: frame(2, Buffer.from([0x01, ...Buffer.from('out\n')])) });
    const second = await stack.socket.next('proxy_websocket_data');
    t.deepEqual(unframe(second.payload['data']), { type: 1, payload: Buffer.from('a text frame') });
    session.socket.close(1000);
    const closed = await stack.socket.next('proxy_websocket_close');
    t.deepEqual(closed.payload, { stream_id: 's-7' });
    await settled(t, stack);
    t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 1);
  });
}

test('C71 C72: with no CP subprotocol the defaults are offered; without a CP Authorization the agent uses its own token', async (t) => {
  const stack = await connected(t);
  stack.socket.send({ type: 'ws_start', request_id: 'e1', payload: { stream_id: 'e1', path: EXEC_PATH, query: 'command=ls' } });
  const exec = await nextSession(stack.api, 0);
  t.deepEqual(exec.upgrade.offered, ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
  t.is(exec.upgrade.headers.authorization, 'Bearer agent-sa-token');
  stack.socket.send({ type: 'ws_start', request_id: 'pf', payload: { stream_id: 'pf', path: '/api/v1/namespaces/default/pods/web-0/portforward', headers: { AUTHORIZATION: 'Bearer cp' } } });
  const forward = await nextSession(stack.api, 1);
  t.deepEqual(forward.upgrade.offered, ['SPDY/3.1+portforward.k8s.io', 'portforward.k8s.io']);
  t.is(forward.protocol, 'SPDY/3.1+portforward.k8s.io', 'the non-token subprotocol is dialled and accepted');
  t.is(forward.upgrade.headers.authorization, 'Bearer cp');
  forward.socket.send(Buffer.from([0x80, 0x03, 0x00, 0x01]));
  const data = await stack.socket.next('proxy_websocket_data', 15_000, (m) => m.request_id === 'pf');
  t.deepEqual(unframe(data.payload['data']), { type: 2, payload: Buffer.from([0x80, 0x03, 0x00, 0x01]) });
  stack.socket.send({ type: 'ws_close', request_id: 'e1', payload: { stream_id: 'e1' } });
  stack.socket.send({ type: 'proxy_websocket_close', request_id: 'pf', payload: { stream_id: 'pf' } });
  await settled(t, stack);
});

test('C75: terminal translation only when the CP named no subprotocol and a channel protocol was chosen', async (t) => {
  const stack = await connected(t);
  stack.socket.send({ type: 'ws_start', request_id: 'tty', payload: { stream_id: 'tty', path: EXEC_PATH, query: 'command=sh&tty=true' } });
  const session = await nextSession(stack.api, 0);
  stack.socket.send({ type: 'ws_data', request_id: 'tty', payload: { stream_id: 'tty', data: frame(1, 'ls -la\n') } });
  const resize = Buffer.from([0x04, ...Buffer.from('{"Width":120,"Height":40}')]);
  stack.socket.send({ type: 'ws_data', request_id: 'tty', payload: { stream_id: 'tty', data: frame(2, resize) } });
  await eventually(() => session.received.length === 2, 'two frames upstream');
  t.deepEqual(session.received[0], { data: Buffer.from([0x00, ...Buffer.from('ls -la\n')]), isBinary: true });
  t.deepEqual(session.received[1], { data: resize, isBinary: true });
  session.socket.send(Buffer.from([0x01, ...Buffer.from('total 0\n')]));
  session.socket.send(Buffer.from([0x05, 0x09]));
  const out = await stack.socket.next('proxy_websocket_data');
  t.deepEqual(unframe(out.payload['data']), { type: 1, payload: Buffer.from('total 0\n') });
  const other = await stack.socket.next('proxy_websocket_data');
  t.deepEqual(unframe(other.payload['data']), { type: 2, payload: Buffer.from([0x05, 0x09]) });
  stack.socket.send({ type: 'ws_close', request_id: 'tty', payload: { stream_id: 'tty' } });
  t.is((await session.closed).code, 1000);
  await stack.socket.next('proxy_websocket_close');
  await settled(t, stack);
});

test('C76: a dial the API server refuses with 403 gives proxy_error with the status, then one close', async (t) => {
  const stack = await connected(t);
  stack.api.refusals.push(403);
  start(stack.socket, 'denied');
  const error = await stack.socket.next('proxy_error');
  t.is(error.request_id, 'denied');
  t.deepEqual(error.payload, { request_id: 'denied', error: 'failed to connect to K8s API: pods "x" is forbidden (status: 403)' });
  const close = await stack.socket.next('proxy_websocket_close');
  t.deepEqual(close.payload, { stream_id: 'denied' });
  await settled(t, stack);
  t.is(stack.socket.messages.all.filter((m) => m.request_id === 'denied').length, 2);
});

test('C68 C69: missing stream_id and invalid paths get proxy_error and nothing else', async (t) => {
  const stack = await connected(t);
  stack.socket.send({ type: 'proxy_websocket_start', request_id: 'env-1', payload: { path: EXEC_PATH } });
  const missing = await stack.socket.next('proxy_error');
  t.is(missing.request_id, 'env-1');
  t.deepEqual(missing.payload, { request_id: 'env-1', error: 'missing stream_id' });
  // a stream_id that is empty, null, a number or an object is missing too: one proxy_error each, nothing else
  for (const [index, streamId] of (['', null, 42, { id: 'x' }] as unknown[]).entries()) {
    stack.socket.send({ type: 'ws_start', request_id: `m${index}`, payload: { stream_id: streamId, path: EXEC_PATH } });
    const error = await stack.socket.next('proxy_error', 15_000, (m) => m.request_id === `m${index}`);
    t.deepEqual(error.payload, { request_id: `m${index}`, error: 'missing stream_id' }, String(streamId));
  }
  stack.socket.send({ type: 'ws_start', payload: { path: EXEC_PATH } });
  const anonymous = await stack.socket.next('proxy_error', 15_000, (m) => m.request_id === undefined);
  t.deepEqual(anonymous.payload, { request_id: '', error: 'missing stream_id' });
  const bad = ['/apiX/v1', '/api/v1/../secrets', '/api/v1/pods%2Fx', '/api/v1/pods\r\n', '/metrics', '//api//v1/../x'];
  for (const [index, path] of bad.entries()) {
    stack.socket.send({ type: 'ws_start', request_id: `b${index}`, payload: { stream_id: `b${index}`, path } });
    const error = await stack.socket.next('proxy_error', 15_000, (m) => m.request_id === `b${index}`);
    t.deepEqual(error.payload, { request_id: `b${index}`, error: 'invalid path: must be a Kubernetes API path' }, path);
  }
  stack.socket.send({ type: 'ping', request_id: 'end', payload: {} });
  await stack.socket.next('pong');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 0);
  t.deepEqual(
    stack.socket.messages.all.map((m) => m.type).filter((type) => type !== 'register' && type !== 'heartbeat'),
    [...Array.from({ length: 6 + bad.length }, () => 'proxy_error'), 'pong'],
    'nothing but the proxy_errors and the pong',
  );
  t.is(stack.api.upgrades.length, 0);
  t.is(stack.agent.router.activeSessions, 0);
});

test('C78: more than 100 frames before the dial completes overflow with an error and a close', async (t) => {
  const stack = await connected(t);
  stack.api.upgradeDelayMs = 2_000;
  start(stack.socket, 'flood');
  for (let i = 0; i < 101; i++) stack.socket.send({ type: 'ws_data', request_id: 'flood', payload: { stream_id: 'flood', data: frame(2, Buffer.from([0, i])) } });
  const error = await stack.socket.next('proxy_error');
  t.deepEqual(error.payload, { request_id: 'flood', error: 'stream input queue overflow' });
  await stack.socket.next('proxy_websocket_close');
  await settled(t, stack);
});

test('C79: a duplicate start closes the old session without a message; the new one works', async (t) => {
  const stack = await connected(t);
  start(stack.socket, 'dup');
  const old = await nextSession(stack.api, 0);
  start(stack.socket, 'dup');
  t.is((await old.closed).code, 1000);
  const fresh = await nextSession(stack.api, 1);
  stack.socket.send({ type: 'ws_data', request_id: 'dup', payload: { stream_id: 'dup', data: frame(2, Buffer.from([0, 0x41])) } });
  await eventually(() => fresh.received.length === 1, 'data reaches the new session');
  t.is(old.received.length, 0);
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 0);
  fresh.socket.close();
  await stack.socket.next('proxy_websocket_close');
  await settled(t, stack);
});

test('C77: data for an unknown stream is counted, a close for one is ignored, a second close is not echoed', async (t) => {
  const stack = await connected(t);
  stack.socket.send({ type: 'ws_data', request_id: 'ghost', payload: { stream_id: 'ghost', data: frame(2, 'x') } });
  stack.socket.send({ type: 'ws_close', request_id: 'ghost', payload: { stream_id: 'ghost' } });
  start(stack.socket, 'once');
  await nextSession(stack.api, 0);
  stack.socket.send({ type: 'ws_close', request_id: 'once', payload: { stream_id: 'once' } });
  stack.socket.send({ type: 'ws_close', request_id: 'once', payload: { stream_id: 'once' } });
  await stack.socket.next('proxy_websocket_close');
  await settled(t, stack);
  stack.socket.send({ type: 'ping', request_id: 'end', payload: {} });
  await stack.socket.next('pong');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 1);
  t.is(await stack.agent.metrics.value('wsDataUnknownStream'), 1);
});

test('C80: a WebSocket proxy_request for /api/… becomes a session keyed by the request id', async (t) => {
  const stack = await connected(t);
  stack.socket.send({
    type: 'proxy_request',
    request_id: 'req-ws',
    payload: { method: 'GET', path: EXEC_PATH, query: 'command=date', headers: { Upgrade: 'websocket', Authorization: 'Bearer cp', 'Sec-WebSocket-Protocol': 'v4.channel.k8s.io' } },
  });
  const response = await stack.socket.next('proxy_response');
  t.deepEqual(response.payload, { status: 200, headers: null });
  const session = await nextSession(stack.api, 0);
  t.deepEqual(session.upgrade.offered, ['v4.channel.k8s.io']);
  t.is(session.upgrade.headers.authorization, 'Bearer cp');
  stack.socket.send({ type: 'proxy_websocket_data', request_id: 'req-ws', payload: { stream_id: 'req-ws', data: frame(2, Buffer.from([0, 0x31])) } });
  await eventually(() => session.received.length === 1, 'data reached the API server');
  session.socket.send(Buffer.from([0x01, 0x32]));
  const data = await stack.socket.next('proxy_websocket_data');
  t.is(data.request_id, 'req-ws');
  session.socket.close();
  await stack.socket.next('proxy_websocket_close');
  await eventually(() => stack.agent.router.activeRequests === 0, 'relay finished');
});

test('socket loss ends every session without a close message and closes the API sockets', async (t) => {
  const stack = await connected(t);
  start(stack.socket, 'a');
  start(stack.socket, 'b');
  const [first, second] = [await nextSession(stack.api, 0), await nextSession(stack.api, 1)];
  stack.socket.close(1001);
  t.is((await first.closed).code, 1000);
  t.is((await second.closed).code, 1000);
  await settled(t, stack);
});

test('/metrics after a scripted run with a legacy request, a binary+gzip request, an exec session and a reconnect', async (t) => {
  const stack = await connected(t);
  stack.socket.send({ type: 'proxy_request', request_id: 'small', payload: { path: '/api/v1/namespaces' } });
  await stack.socket.next('proxy_response');
  stack.socket.send({ type: 'proxy_request', request_id: 'big', payload: { path: '/api/v1/big' } });
  await stack.socket.nextBinary();
  start(stack.socket, 'exec-1');
  const session = await nextSession(stack.api, 0);
  stack.socket.send({ type: 'ws_data', request_id: 'exec-1', payload: { stream_id: 'exec-1', data: frame(2, Buffer.from([0, 0x68, 0x69])) } });
  await eventually(() => session.received.length === 1, 'stdin reached the API server');
  session.socket.send(Buffer.from([0x01, 0x68, 0x69]));
  session.socket.send(Buffer.from([0x03, ...Buffer.from('{"metadata":{},"status":"Success"}')]));
  await stack.socket.next('proxy_websocket_data');
  await stack.socket.next('proxy_websocket_data');
  session.socket.close(1000);
  await stack.socket.next('proxy_websocket_close');
  await settled(t, stack);
  stack.socket.close(1000);
  await stack.socket.closed;
  await eventually(() => stack.clock.pendingDelays().includes(500), 'reconnect scheduled');
  stack.clock.advance(500);
  const again = await stack.plane.nextSocket();
  await again.next('heartbeat');
  const text = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: stack.agent.httpPort, path: '/metrics' }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  const sample = (series: string): number => {
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
  t.is(sample('pipeops_agent_relay_requests_total{outcome="ok",mode="json"}'), 1);
  t.is(sample('pipeops_agent_relay_requests_total{outcome="ok",mode="binary"}'), 1);
  t.is(sample('agent_binary_protocol_requests_total{direction="response"}'), 1);
  t.is(sample('agent_compression_ratio_count'), 1);
  t.is(sample('pipeops_agent_websocket_sessions_total'), 1);
  t.is(sample('pipeops_agent_websocket_sessions_ended_total{outcome="ok"}'), 1);
  t.is(sample('pipeops_agent_websocket_session_duration_seconds_count'), 1);
  t.is(sample('pipeops_agent_websocket_session_frames_total{direction="to_cluster"}'), 1);
  t.is(sample('pipeops_agent_websocket_session_frames_total{direction="to_control_plane"}'), 2);
  t.is(sample('pipeops_agent_websocket_session_bytes_total{direction="to_cluster"}'), 3);
  t.is(sample('pipeops_agent_websocket_sessions_active'), 0);
  t.is(sample('pipeops_agent_actor_tasks_total{kind="ws-session",outcome="ok"}'), 1);
  t.is(sample('pipeops_agent_actor_tasks_total{kind="http-relay",outcome="ok"}'), 2);
  t.is(sample('pipeops_agent_websocket_reconnections_total'), 1);
  t.is(sample('pipeops_agent_heartbeat_success_total'), 2);
  t.is(sample('pipeops_agent_connection_state'), 2);
});

test('session flow control: while the control plane does not read, the agent stops reading the API server; nothing is lost', async (t) => {
  const stack = await connected(t, 1);
  start(stack.socket, 'flood');
  const session = await nextSession(stack.api, 0);
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
    while (sent < total && session.socket.bufferedAmount < 1024 * 1024) {
      session.socket.send(chunk);
      sent += chunk.length;
    }
    if (sent < total) setTimeout(pump, 20);
  };
  pump();
  // the agent's reads stop: the API server's own send buffer backs up instead of the agent's memory
  await eventually(() => session.socket.bufferedAmount >= 1024 * 1024, 'the API server is pushed back', 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const stalledAt = sent;
  t.true(stalledAt < total, `the API server could not send everything (${stalledAt} of ${total})`);
  t.true(stack.agent.router.outstandingStreamBytes <= 512 * 1024, `outstanding ${stack.agent.router.outstandingStreamBytes}`);
  // another session is unaffected by the stalled one's credit
  start(stack.socket, 'other');
  await nextSession(stack.api, 1);
  stack.socket.resume();
  await eventually(() => received === total, 'every byte arrives once the control plane reads again', 120_000);
  t.pass();
});

for (const workers of [0, 2]) {
  test(`C93 §13.6: oversized CP control frames are dropped or cut; the other sessions go on relaying (workers=${workers})`, async (t) => {
    const stack = await connected(t, workers);
    const ids = ['k1', 'k2', 'k3'];
    const sessions: FakeWsSession[] = [];
    for (const [index, id] of ids.entries()) {
      start(stack.socket, id);
      sessions.push(await nextSession(stack.api, index));
    }
    const pings: Buffer[] = [];
    sessions[0]!.socket.on('ping', (data: Buffer) => pings.push(data));
    // a 200-byte ping cannot be a WebSocket control frame: dropped and counted, the session lives on
    stack.socket.send({ type: 'ws_data', request_id: 'k1', payload: { stream_id: 'k1', data: frame(9, Buffer.alloc(200, 0x70)) } });
    stack.socket.send({ type: 'ws_data', request_id: 'k1', payload: { stream_id: 'k1', data: frame(9, Buffer.from('small')) } });
    for (const id of ids) stack.socket.send({ type: 'ws_data', request_id: id, payload: { stream_id: id, data: frame(2, Buffer.from([0, 0x41])) } });
    await eventually(() => sessions.every((session) => session.received.length === 1), 'every session still relays');
    await eventually(() => pings.length === 1, 'the small ping reached the API server');
    t.deepEqual(pings, [Buffer.from('small')]);
    // a close with a 200-byte reason keeps its code, its reason cut to 123 bytes; a 1-byte close is 1000
    const longClose = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.alloc(200, 0x72)]);
    stack.socket.send({ type: 'ws_data', request_id: 'k2', payload: { stream_id: 'k2', data: frame(8, longClose) } });
    stack.socket.send({ type: 'ws_data', request_id: 'k3', payload: { stream_id: 'k3', data: frame(8, Buffer.from([0x03])) } });
    t.deepEqual(await sessions[1]!.closed, { code: 4000, reason: 'r'.repeat(123) });
    t.deepEqual(await sessions[2]!.closed, { code: 1000, reason: '' });
    await eventually(() => stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length === 2, 'k2 and k3 reported closed');
    stack.socket.send({ type: 'ws_data', request_id: 'k1', payload: { stream_id: 'k1', data: frame(2, Buffer.from([0, 0x42])) } });
    await eventually(() => sessions[0]!.received.length === 2, 'k1 relays after the others closed');
    stack.socket.send({ type: 'ws_close', request_id: 'k1', payload: { stream_id: 'k1' } });
    await stack.socket.next('proxy_websocket_close', 15_000, (m) => m.request_id === 'k1');
    await settled(t, stack);
    t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_close').length, 3);
    t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_error').length, 0);
    t.is(await stack.agent.metrics.value('wsDataUnknownStream'), 1);
    t.is(await stack.agent.metrics.value('workerCrashes'), 0);
  });
}

for (const via of ['proxy_websocket_start', 'proxy_request']) {
  test(`C74 §12.1: unframed data plus message_type in transparent mode; what cannot be used is counted (via ${via})`, async (t) => {
    const stack = await connected(t);
    if (via === 'proxy_request') {
      stack.socket.send({
        type: 'proxy_request',
        request_id: 'u',
        payload: { method: 'GET', path: EXEC_PATH, query: 'command=sh&stdin=true', headers: { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' } },
      });
    } else {
      start(stack.socket, 'u');
    }
    const session = await nextSession(stack.api, 0);
    t.is(session.protocol, 'v5.channel.k8s.io');
    const send = (data: string, messageType?: unknown): void =>
      stack.socket.send({ type: 'ws_data', request_id: 'u', payload: { stream_id: 'u', data, ...(messageType === undefined ? {} : { message_type: messageType }) } });
    send(Buffer.from('hi').toString('base64'), 1); // unframed text
    send('!!!not base64', 2); // undecodable: dropped
    send(Buffer.from([0x00, 0x41]).toString('base64')); // unframed without message_type: dropped
    send(Buffer.from([0x00, 0x42]).toString('base64'), 7); // invalid message_type: dropped
    send(Buffer.from([0x00, 0x43]).toString('base64'), 2); // unframed binary, stdin channel byte kept
    send(frame(1, 'x'), 2); // a valid leading type byte is read as framed
    await eventually(() => session.received.length === 3, 'three frames reached the API server');
    t.deepEqual(session.received, [
      { data: Buffer.from('hi'), isBinary: false },
      { data: Buffer.from([0x00, 0x43]), isBinary: true },
      { data: Buffer.from('x'), isBinary: false },
    ]);
    stack.socket.send({ type: 'ws_close', request_id: 'u', payload: { stream_id: 'u' } });
    await stack.socket.next('proxy_websocket_close');
    await settled(t, stack);
    t.is(await stack.agent.metrics.value('wsDataUnknownStream'), 3);
  });
}
