// The session pool's entry (workers/ws-session.ts) runs `http-relay` tasks too: a WebSocket-upgrade
// proxy_request becomes a kubectl session (§13.8) or an application relay (§14) on the shared relay core,
// and a proxy_request that is no upgrade is served as plain HTTP. Driven here as the inline host does.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { WebSocketServer, type WebSocket } from 'ws';
import wsSession, { ActorContext } from '../../workers/ws-session.js';
import type { WorkerConfig, WorkerTuning } from '../../src/config/agent-config.js';
import { testWorkerConfig } from '../helpers/worker-config.js';
import type { ActorInbound, ActorOutbound, HttpRelayTask } from '../../src/messages/actor-messages.js';
import { createActorHost } from '../../src/pool/actor-host.js';
import { FakeKubeWsApi } from '../helpers/fake-kube-ws-api.js';
import { eventually } from '../helpers/eventually.js';

interface Sent {
  readonly type: string;
  readonly request_id?: string;
  readonly payload: Record<string, unknown>;
}

interface Run {
  readonly sent: Sent[];
  readonly done: Promise<Extract<ActorOutbound, { type: 'done' }>>;
  readonly finished: Promise<void>;
  post(message: ActorInbound): void;
}

function workerConfig(api: FakeKubeWsApi | undefined, tuning: Partial<WorkerTuning> = {}): WorkerConfig {
  return testWorkerConfig(api, tuning);
}

function context(t: ExecutionContext, api: FakeKubeWsApi | undefined, tuning: Partial<WorkerTuning> = {}): ActorContext {
  const created = new ActorContext(workerConfig(api, tuning));
  t.teardown(() => created.close());
  return created;
}

type Runner = (task: HttpRelayTask) => Promise<void>;

const inline = (actorContext: ActorContext): Runner => (task) => wsSession(task, actorContext);

/** Runs one proxy_request through the ws-session entry, recording what it sends and granting credit back. */
function runProxyRequest(runner: Runner, id: string, payload: Record<string, unknown>): Run {
  const channel = new MessageChannel();
  const router: MessagePort = channel.port1;
  const sent: Sent[] = [];
  let resolveDone!: (done: Extract<ActorOutbound, { type: 'done' }>) => void;
  const done = new Promise<Extract<ActorOutbound, { type: 'done' }>>((resolve) => (resolveDone = resolve));
  router.on('message', (message: ActorOutbound) => {
    if (message.type === 'done') {
      resolveDone(message);
      router.close(); // the last message of an actor
      return;
    }
    sent.push(JSON.parse(Buffer.from(message.data).toString('utf8')) as Sent);
    if (message.needsCredit) router.postMessage({ type: 'credit', bytes: message.data.byteLength } satisfies ActorInbound);
  });
  const frame = new Uint8Array(Buffer.from(JSON.stringify({ type: 'proxy_request', request_id: id, payload })));
  const finished = runner({ kind: 'http-relay', requestId: id, frame, port: channel.port2 });
  return { sent, done, finished, post: (message) => router.postMessage(message) };
}

const envelope = (type: string, id: string, payload: Record<string, unknown>): Uint8Array =>
  new Uint8Array(Buffer.from(JSON.stringify({ type, request_id: id, payload })));

test('a WebSocket-upgrade proxy_request for a service runs as an application relay in the session entry', async (t) => {
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
  const actorContext = context(t, undefined, { hostAliases: { 'web.apps.svc.cluster.local': '127.0.0.1' } });
  const run = runProxyRequest(inline(actorContext), 'app-1', {
    path: '/chat',
    is_websocket: true,
    service_name: 'web',
    namespace: 'apps',
    service_port: (server.address() as AddressInfo).port,
  });
  await eventually(() => run.sent.some((m) => m.type === 'proxy_response'), 'the 101 answer');
  t.is(run.sent.find((m) => m.type === 'proxy_response')!.payload['status'], 101);
  const backend = backends[0]!;
  const received: string[] = [];
  backend.on('message', (data: Buffer) => received.push(data.toString()));
  const data = envelope('ws_data', 'app-1', { request_id: 'app-1', data: Buffer.from('\x01ping').toString('base64') });
  run.post({ type: 'frame', data, isBinary: false });
  await eventually(() => received.length === 1, 'the frame reached the backend');
  t.deepEqual(received, ['ping']);
  backend.send('pong');
  await eventually(() => run.sent.some((m) => m.type === 'proxy_websocket_data'), 'the backend message reached the router');
  t.deepEqual(run.sent.find((m) => m.type === 'proxy_websocket_data')!.payload, {
    request_id: 'app-1',
    stream_id: 'app-1',
    data: Buffer.from('\x01pong').toString('base64'),
    message_type: 1,
  });
  backend.close(1000);
  await run.finished;
  const done = await run.done;
  t.is(done.kind, 'http-relay');
  t.deepEqual(done.session, { framesIn: 1, framesOut: 1, dropped: 0 });
  t.deepEqual(
    run.sent.filter((m) => m.type === 'proxy_websocket_close').map((m) => m.payload),
    [{ stream_id: 'app-1', request_id: 'app-1' }],
  );
});

test('a WebSocket-upgrade proxy_request for /api/… runs as a kubectl session in the session entry', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const run = runProxyRequest(inline(context(t, api)), 'kube-1', {
    path: '/api/v1/namespaces/default/pods/web-0/exec',
    query: 'command=sh&stdin=true',
    headers: { Upgrade: ['websocket'], Authorization: ['Bearer cp'], 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] },
  });
  // data sent right after the request is queued until the dial completes (§13.3)
  run.post({ type: 'frame', data: envelope('ws_data', 'kube-1', { stream_id: 'kube-1', data: Buffer.from([2, 0, 0x41]).toString('base64') }), isBinary: false });
  run.post({ type: 'frame', data: envelope('ws_data', 'kube-1', { stream_id: 'kube-1', data: 'not base64!' }), isBinary: false });
  await eventually(() => api.sessions.length === 1, 'the API server accepted the session');
  const session = api.sessions[0]!;
  t.is(session.upgrade.headers.authorization, 'Bearer cp');
  t.is(run.sent[0]!.type, 'proxy_response');
  t.deepEqual(run.sent[0]!.payload, { status: 200, headers: null });
  await eventually(() => session.received.length === 1, 'stdin reached the API server');
  t.deepEqual(session.received[0], { data: Buffer.from([0, 0x41]), isBinary: true });
  session.socket.send(Buffer.from([1, 0x42]));
  await eventually(() => run.sent.some((m) => m.type === 'proxy_websocket_data'), 'stdout reached the router');
  run.post({ type: 'frame', data: envelope('ws_close', 'kube-1', { stream_id: 'kube-1' }), isBinary: false });
  await run.finished;
  const done = await run.done;
  t.is(done.kind, 'http-relay');
  t.deepEqual(done.session, { framesIn: 1, framesOut: 1, dropped: 1 });
  t.deepEqual(
    run.sent.filter((m) => m.type === 'proxy_websocket_close').map((m) => m.payload),
    [{ stream_id: 'kube-1' }],
  );
});

test('a proxy_request that is no WebSocket upgrade is served as plain HTTP by the session entry', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const run = runProxyRequest(inline(context(t, api)), 'plain-1', { path: '/version', headers: { Connection: ['Upgrade'] } });
  await run.finished;
  const done = await run.done;
  t.is(done.kind, 'http-relay');
  t.is(done.outcome, 'ok');
  t.is(done.session, undefined);
  t.is(run.sent.length, 1);
  t.is(run.sent[0]!.type, 'proxy_response');
  t.is(run.sent[0]!.payload['status'], 200);
  t.regex(Buffer.from(String(run.sent[0]!.payload['body']), 'base64').toString('utf8'), /v1\.32\.0-fake/);
});

test('the session pool (a worker thread) runs a WebSocket-upgrade proxy_request and a plain one', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const host = await createActorHost({ workers: 1, tasksPerWorker: 4, maxQueue: 8, workerConfig: workerConfig(api) }, 'ws-session');
  t.teardown(() => host.close());
  const runner: Runner = (task) => host.run(task);
  const session = runProxyRequest(runner, 'pool-1', {
    path: '/api/v1/namespaces/default/pods/web-0/attach',
    headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] },
    supports_response_streaming: true,
  });
  await eventually(() => api.sessions.length === 1, 'the API server accepted the session');
  t.is(session.sent[0]!.type, 'proxy_response_end');
  session.post({ type: 'frame', data: envelope('ws_data', 'pool-1', { stream_id: 'pool-1', data: Buffer.from('typed').toString('base64'), message_type: 1 }), isBinary: false });
  await eventually(() => api.sessions[0]!.received.length === 1, 'the frame reached the API server');
  t.deepEqual(api.sessions[0]!.received[0], { data: Buffer.from('typed'), isBinary: false });
  const plain = runProxyRequest(runner, 'pool-2', { path: '/version' });
  await plain.finished;
  t.is((await plain.done).outcome, 'ok');
  t.is(plain.sent[0]!.type, 'proxy_response');
  api.sessions[0]!.socket.close(1000);
  await session.finished;
  t.deepEqual((await session.done).session, { framesIn: 1, framesOut: 0, dropped: 0 });
  t.deepEqual(session.sent.map((m) => m.type), ['proxy_response_end', 'proxy_websocket_close']);
});
