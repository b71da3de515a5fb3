// The WebSocket-upgrade entry (workers/lib/websocket-upgrade.ts) driven directly with a RouterPort and
// loopback servers: a Kubernetes API path without service info is a kubectl session answered 200 at once
// (§13.8), anything else an application relay answered 101 after its dial (§14); invalid requests throw a
// RelayFailure before anything is sent, and a failed application dial is answered per §14.3.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import { WebSocketServer, type WebSocket } from 'ws';
import { isKubeSessionRequest, runWebSocketUpgrade } from '../../workers/lib/websocket-upgrade.js';
import { RouterPort } from '../../workers/lib/router-port.js';
import { ActorContext } from '../../workers/lib/actor-context.js';
import { RelayFailure } from '../../workers/lib/upstream-exchange.js';
import { detectClusterDomain } from '../../workers/lib/service-target.js';
import type { ProxyRequest } from '../../workers/lib/proxy-request.js';
import { testWorkerConfig } from '../helpers/worker-config.js';
import { isActorOutbound, type ActorInbound } from '../../src/messages/actor-messages.js';
import { ErrorCode } from '../../src/errors.js';
import { FakeKubeWsApi } from '../helpers/fake-kube-ws-api.js';
import { eventually } from '../helpers/eventually.js';
import { proxyRequestOf } from '../helpers/proxy-request.js';

const WEB_HOST = `web.apps.svc.${detectClusterDomain()}`;

interface Sent {
  readonly type: string;
  readonly payload: Record<string, unknown>;
}

/** A RouterPort whose router end records each envelope sent and grants its credit back. */
function routerPort(t: ExecutionContext, requestId: string): { port: RouterPort; sent: Sent[] } {
  const { port1, port2 } = new MessageChannel();
  const sent: Sent[] = [];
  port1.on('message', (message: unknown) => {
    if (!isActorOutbound(message) || message.type !== 'send') return;
    sent.push(JSON.parse(Buffer.from(message.data).toString('utf8')) as Sent);
    if (message.needsCredit) port1.postMessage({ type: 'credit', bytes: message.data.byteLength } satisfies ActorInbound);
  });
  const port = new RouterPort(port2, requestId);
  t.teardown(() => {
    port.close();
    port1.close();
  });
  return { port, sent };
}

function context(t: ExecutionContext, api?: FakeKubeWsApi): ActorContext {
  const created = new ActorContext(testWorkerConfig(api, { hostAliases: { [WEB_HOST]: '127.0.0.1' } }));

  t.teardown(() => created.close());
  return created;
}

function upgrade(overrides: Partial<ProxyRequest> = {}): ProxyRequest {
  return proxyRequestOf({ path: '/chat', isWebSocket: true, ...overrides });
}

async function freePort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  const port = (listener.address() as AddressInfo).port;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

async function webSocketBackend(t: ExecutionContext): Promise<{ port: number; backends: WebSocket[] }> {
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
  return { port: (server.address() as AddressInfo).port, backends };
}

const service = (port: number, name = 'web'): ProxyRequest['service'] => ({ name, namespace: 'apps', port, isHttps: false });

test('§13.8: only a Kubernetes API path without service info is a kubectl session', (t) => {
  t.true(isKubeSessionRequest(upgrade({ path: '/api/v1/namespaces/default/pods/p/exec' })));
  t.true(isKubeSessionRequest(upgrade({ path: '/apis/apps/v1/watch' })));
  t.false(isKubeSessionRequest(upgrade({ path: '/api/v1/x', service: service(80) })));
  t.false(isKubeSessionRequest(upgrade({ path: '/apiary' })));
  t.false(isKubeSessionRequest(upgrade({ path: '/chat' })));
});

test('§13.8: a kubectl session answers 200 at once, then relays until the API server closes', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const { port, sent } = routerPort(t, 'kube-1');
  const run = runWebSocketUpgrade(
    'kube-1',
    upgrade({ path: '/api/v1/namespaces/default/pods/web-0/exec', query: 'command=sh', headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] } }),
    port,
    context(t, api),
    Date.now(),
  );
  await eventually(() => api.sessions.length === 1, 'the API server accepted the session');
  t.like(sent[0], { type: 'proxy_response', payload: { status: 200, headers: null } });
  api.sessions[0]!.socket.send(Buffer.from([1, 0x42]));
  await eventually(() => sent.some((message) => message.type === 'proxy_websocket_data'), 'stdout at the router');
  api.sessions[0]!.socket.close(1000);
  const result = await run;
  t.is(result.stats.framesOut, 1);
  await eventually(() => sent.length === 3, 'the close at the router');
  t.deepEqual(sent.map((message) => message.type), ['proxy_response', 'proxy_websocket_data', 'proxy_websocket_close']);
});

test('§13.8: with response streaming the session completes its HTTP side with proxy_response_end', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const { port, sent } = routerPort(t, 'kube-2');
  const run = runWebSocketUpgrade('kube-2', upgrade({ path: '/api/v1/namespaces/default/pods/web-0/attach', headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] }, supportsResponseStreaming: true }), port, context(t, api), Date.now());
  await eventually(() => api.sessions.length === 1, 'the API server accepted the session');
  api.sessions[0]!.socket.close(1000);
  await run;
  await eventually(() => sent.length >= 2, 'the close at the router');
  t.deepEqual(sent.map((message) => message.type), ['proxy_response_end', 'proxy_websocket_close'], JSON.stringify(sent));
});

test('§13.2: an invalid session path, or no Kubernetes access, throws before anything is sent', async (t) => {
  const { port, sent } = routerPort(t, 'bad-1');
  const invalid = await t.throwsAsync(runWebSocketUpgrade('bad-1', upgrade({ path: '/api/v1/../../etc/exec' }), port, context(t), Date.now()), { instanceOf: RelayFailure });
  t.is(invalid!.outcome, 'invalid');
  t.is(invalid!.message, 'invalid path: must be a Kubernetes API path');
  const unavailable = await t.throwsAsync(runWebSocketUpgrade('bad-1', upgrade({ path: '/api/v1/namespaces/default/pods/p/exec' }), port, context(t), Date.now()), {
    instanceOf: RelayFailure,
  });
  t.is(unavailable!.code, ErrorCode.kubeUnavailable);
  t.is(unavailable!.message, 'kubernetes client not initialized');
  t.deepEqual(sent, []);
});

test('§14: an upgrade without service info, or with an invalid service, throws before anything is sent', async (t) => {
  const { port, sent } = routerPort(t, 'bad-2');
  const missing = await t.throwsAsync(runWebSocketUpgrade('bad-2', upgrade({ path: '/chat' }), port, context(t), Date.now()), { instanceOf: RelayFailure });
  t.is(missing!.outcome, 'upstream_error');
  t.is(missing!.message, 'missing service routing information for WebSocket');
  const invalid = await t.throwsAsync(runWebSocketUpgrade('bad-2', upgrade({ service: service(80, 'Not_A_Name') }), port, context(t), Date.now()), {
    instanceOf: RelayFailure,
  });
  t.is(invalid!.outcome, 'invalid');
  t.is(invalid!.message, 'invalid service name: Not_A_Name');
  t.deepEqual(sent, []);
});

test('§14: an application relay answers 101 after its dial and relays until the backend closes', async (t) => {
  const backend = await webSocketBackend(t);
  const { port, sent } = routerPort(t, 'app-1');
  const run = runWebSocketUpgrade('app-1', upgrade({ service: service(backend.port) }), port, context(t), Date.now());
  await eventually(() => backend.backends.length === 1 && sent.length > 0, 'the backend dialled and the 101 sent');
  t.is(sent[0]!.type, 'proxy_response');
  t.is(sent[0]!.payload['status'], 101);
  backend.backends[0]!.send('hello');
  await eventually(() => sent.some((message) => message.type === 'proxy_websocket_data'), 'the backend message at the router');
  backend.backends[0]!.close(1000);
  const result = await run;
  t.is(result.stats.framesOut, 1);
  await eventually(() => sent.at(-1)!.type === 'proxy_websocket_close', 'the close at the router');
  t.deepEqual(sent.map((message) => message.type), ['proxy_response', 'proxy_websocket_data', 'proxy_websocket_close']);
});

test('§14.3: a refused application dial is answered with proxy_error, or header and abort when streaming', async (t) => {
  const closed = await freePort();
  const plain = routerPort(t, 'app-2');
  const result = await runWebSocketUpgrade('app-2', upgrade({ service: service(closed) }), plain.port, context(t), Date.now());
  t.is(result.outcome, 'upstream_error');
  await eventually(() => plain.sent.length === 1, 'the answer at the router');
  t.deepEqual(plain.sent.map((message) => message.type), ['proxy_error']);
  t.regex(String(plain.sent[0]!.payload['error']), /^failed to connect to service WebSocket: .*ECONNREFUSED/);
  const streaming = routerPort(t, 'app-3');
  const streamed = await runWebSocketUpgrade('app-3', upgrade({ service: service(closed), supportsResponseStreaming: true }), streaming.port, context(t), Date.now());
  t.is(streamed.outcome, 'upstream_error');
  await eventually(() => streaming.sent.length === 2, 'the answer at the router');
  t.deepEqual(streaming.sent.map((message) => message.type), ['proxy_response_header', 'proxy_response_abort']);
  t.is(typeof streaming.sent[0]!.payload['status'], 'number');
  t.is(streaming.sent[1]!.payload['error'], plain.sent[0]!.payload['error']);
});
