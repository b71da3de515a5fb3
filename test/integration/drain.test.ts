// Shutdown drains (PROTOCOL.md §7.7, C95): at the first signal /ready turns 503 and new work is refused
// with "agent shutting down", while work in flight finishes; at the drain limit whatever is left ends with
// the one terminal reply it owes; then the socket closes with 1000 and the agent does not reconnect.

import test, { type ExecutionContext } from 'ava';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import { FakeKubeWsApi } from '../helpers/fake-kube-ws-api.js';

interface Session extends Harness {
  readonly socket: FakeSocket;
}

async function connected(t: ExecutionContext, workers: number, kubeconfig?: string): Promise<Session> {
  const harness = await startHarness(t, { config: { workers, ...(kubeconfig === undefined ? {} : { kubeconfig }) } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket };
}

async function readyStatus(session: Session): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${session.agent.httpPort}/ready`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

for (const workers of [0, 2]) {
  test(`C95: after the signal new requests get "agent shutting down", one whose upstream answers 3 s later still gets its response, then close 1000 (workers=${workers})`, async (t) => {
    const session = await connected(t, workers);
    const { socket, agent } = session;
    session.kube.handler = (request, response) => {
      setTimeout(() => {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ kind: 'Slow', url: request.url }));
      }, request.url.includes('slow') ? 3000 : 0);
    };
    t.is((await readyStatus(session)).status, 200);
    socket.send({ type: 'proxy_request', request_id: 'slow', payload: { path: '/api/v1/slow' } });
    await eventually(() => session.kube.proxied().length === 1, 'the slow request reached the API');
    const stopped = agent.drainAndStop(20_000);
    const ready = await readyStatus(session);
    t.is(ready.status, 503);
    t.is(ready.body['reason'], 'shutting down');
    socket.send({ type: 'proxy_request', request_id: 'new', payload: { path: '/api/v1/new' } });
    socket.send({ type: 'ws_start', request_id: 's-new', payload: { stream_id: 's-new', path: '/api/v1/namespaces/d/pods/p/exec' } });
    t.is((await socket.next('proxy_error', 10_000, (m) => m.request_id === 'new')).payload['error'], 'agent shutting down');
    t.deepEqual((await socket.next('proxy_error', 10_000, (m) => m.request_id === 's-new')).payload, { request_id: 's-new', error: 'agent shutting down' });
    // heartbeats and pings go on during the drain: the session is alive
    socket.send({ type: 'ping', request_id: 'p', payload: {} });
    await socket.next('pong', 10_000, (m) => m.request_id === 'p');
    const response = await socket.next('proxy_response', 10_000, (m) => m.request_id === 'slow');
    t.is(response.payload['status'], 200);
    t.is(JSON.parse(Buffer.from(response.payload['body'] as string, 'base64').toString()).url, '/api/v1/slow');
    await stopped;
    t.is((await socket.closed).code, 1000);
    t.false(session.kube.proxied().some((request) => request.url === '/api/v1/new'));
    t.is(socket.messages.all.filter((m) => m.request_id === 'slow').length, 1);
    // no reconnect after the drain
    session.clock.advance(120_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.is(session.plane.openSockets, 0);
  });
}

test('§7.7 step 3: at the drain limit a buffered request gets proxy_error, a started stream proxy_response_abort, a session one proxy_websocket_close', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const session = await connected(t, 0, api.kubeconfigPath);
  const { socket, agent } = session;
  socket.send({
    type: 'ws_start',
    request_id: 's-1',
    payload: { stream_id: 's-1', path: '/api/v1/namespaces/d/pods/p/exec', query: 'command=sh&stdin=true', headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] } },
  });
  await eventually(() => api.sessions.length === 1, 'the session is dialled');
  const stopped = agent.drainAndStop(300);
  await stopped;
  const closes = socket.messages.all.filter((m) => m.type === 'proxy_websocket_close' && m.request_id === 's-1');
  t.deepEqual(closes.map((m) => m.payload), [{ stream_id: 's-1' }]);
  t.is((await api.sessions[0]!.closed).code, 1000);
  t.is((await socket.closed).code, 1000);
});

test('§7.7 step 3: a hung buffered request and a watch whose header was sent end with their terminal replies at the limit', async (t) => {
  const session = await connected(t, 2);
  const { socket, agent } = session;
  const held: ServerResponse[] = [];
  t.teardown(() => held.forEach((response) => response.destroy()));
  session.kube.handler = (request, response) => {
    held.push(response);
    if (request.url.includes('watch')) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED"}\n');
    }
  };
  socket.send({ type: 'proxy_request', request_id: 'hung', payload: { path: '/api/v1/hung' } });
  socket.send({ type: 'proxy_request', request_id: 'w', payload: { path: '/api/v1/pods', query: 'watch=true', supports_response_streaming: true } });
  await socket.next('proxy_response_chunk', 10_000, (m) => m.request_id === 'w');
  await eventually(() => held.length === 2, 'both reached the API');
  await agent.drainAndStop(300);
  const replies = (id: string) => socket.messages.all.filter((m) => m.request_id === id).map((m) => [m.type, m.payload['error']]);
  t.deepEqual(replies('hung'), [['proxy_error', 'agent shutting down']]);
  t.deepEqual(replies('w').at(-1), ['proxy_response_abort', 'agent shutting down']);
  t.is(replies('w').filter(([type]) => type === 'proxy_response_abort' || type === 'proxy_response_end').length, 1);
});

test('§7.7 step 4: a second signal ends the drain at once; a socket lost during the drain ends it without reconnecting', async (t) => {
  const session = await connected(t, 0);
  const { socket, agent } = session;
  session.kube.handler = () => undefined; // never answers
  socket.send({ type: 'proxy_request', request_id: 'hung', payload: { path: '/api/v1/hung' } });
  await eventually(() => session.kube.proxied().length === 1, 'in flight');
  const stopped = agent.drainAndStop(60_000);
  socket.close(1001);
  await stopped;
  t.false(socket.messages.all.some((m) => m.request_id === 'hung'), 'nothing can be sent once the socket is gone');
  session.clock.advance(120_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(session.plane.openSockets, 0);

  const second = await connected(t, 0);
  second.kube.handler = () => undefined;
  second.socket.send({ type: 'proxy_request', request_id: 'hung-2', payload: { path: '/api/v1/hung' } });
  await eventually(() => second.kube.proxied().length === 1, 'in flight');
  const drained = second.agent.drainAndStop(60_000);
  second.agent.endDrainNow();
  await drained;
  t.deepEqual(
    second.socket.messages.all.filter((m) => m.request_id === 'hung-2').map((m) => m.payload['error']),
    ['agent shutting down'],
  );
});

test('§7.7: a dial whose refusal never ends its body ends with its session, on a CP close and at the drain limit', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  api.endlessRefusals = 2;
  const session = await connected(t, 0, api.kubeconfigPath);
  const { socket, agent } = session;
  const start = (id: string): void =>
    socket.send({ type: 'ws_start', request_id: id, payload: { stream_id: id, path: '/api/v1/namespaces/d/pods/p/exec', query: 'command=sh' } });
  start('s-1');
  await eventually(() => api.upgrades.length === 1, 'the first dial is answered with a body that never ends');
  socket.send({ type: 'ws_close', request_id: 's-1', payload: { stream_id: 's-1' } });
  await socket.next('proxy_websocket_close', 10_000, (m) => m.request_id === 's-1');
  // well inside the 30 s handshake limit: the cancelled dial did not keep its actor
  await eventually(() => agent.sessionHost.activeActors === 0, 'the actor of the cancelled dial ended', 10_000);

  start('s-2');
  await eventually(() => api.upgrades.length === 2, 'the second dial hangs the same way');
  await agent.drainAndStop(300);
  t.deepEqual(socket.messages.all.filter((m) => m.request_id === 's-2' && m.type === 'proxy_websocket_close').map((m) => m.payload), [{ stream_id: 's-2' }]);
  await eventually(() => agent.sessionHost.activeActors === 0, 'the actor of the dial ended by the drain limit', 10_000);
});
