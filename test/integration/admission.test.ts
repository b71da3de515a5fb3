// Admission (PROTOCOL.md §9.4, C96): long-lived streams run in a lane of their own, so they cannot keep
// short requests from starting; a request waiting for a slot is answered at its deadline, counted from its
// arrival; a full queue is refused; a waiting request can be cancelled. Inline mode has the same limits.

import test, { type ExecutionContext } from 'ava';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import type { TestConfigInput } from '../helpers/agent-config.js';

interface Session extends Harness {
  readonly socket: FakeSocket;
  /** Responses the fake API holds open: requests whose path contains `hold`, and watches. */
  readonly held: ServerResponse[];
}

async function connected(t: ExecutionContext, config: Partial<TestConfigInput>): Promise<Session> {
  const harness = await startHarness(t, { config });
  const held: ServerResponse[] = [];
  harness.kube.handler = (request, response) => {
    if (request.url.includes('hold') || request.url.includes('watch=true')) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.flushHeaders();
      held.push(response);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end('{"kind":"Status"}');
  };
  t.teardown(() => {
    for (const response of held) response.end();
  });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket, held };
}

function repliesTo(socket: FakeSocket, id: string): string[] {
  return socket.messages.all.filter((m) => m.request_id === id).map((m) => m.type);
}

for (const workers of [0, 1]) {
  test(`C96: with every slot of its lane taken by watches, a short request with timeout 1000 is answered (workers=${workers})`, async (t) => {
    // One actor per worker thread: the long lane has 4 slots (4x), the short lane 1.
    const session = await connected(t, { workers, tasksPerWorker: 1, maxQueue: 8 });
    const { socket } = session;
    for (let i = 0; i < 6; i++) {
      socket.send({
        type: 'proxy_request',
        request_id: `watch-${i}`,
        payload: { method: 'GET', path: '/api/v1/pods', query: 'watch=true', supports_response_streaming: true, timeout: '1h' },
      });
    }
    await eventually(() => session.held.length === 4, 'the long lane runs four watches');
    t.is(session.agent.router.laneLoad('long').waiting, 2, 'the other two wait for a long slot');
    socket.send({ type: 'proxy_request', request_id: 'short', payload: { method: 'GET', path: '/api/v1/namespaces', timeout: 1000 } });
    const reply = await socket.next('proxy_response', 30_000, (m) => m.request_id === 'short');
    t.is(reply.payload['status'], 200);
    // A watch ending gives its slot to a waiting one.
    session.held.shift()!.end();
    await eventually(() => session.held.length === 4 && session.agent.router.laneLoad('long').waiting === 1, 'a waiting watch started');
  });
}

test('§9.4: a request still waiting for a slot at its deadline gets "context deadline exceeded" and never reaches the API', async (t) => {
  const session = await connected(t, { workers: 0, tasksPerWorker: 1, maxQueue: 8 });
  const { socket } = session;
  socket.send({ type: 'proxy_request', request_id: 'slow', payload: { method: 'GET', path: '/api/v1/namespaces/hold' } });
  await eventually(() => session.held.length === 1, 'the only short slot is taken');
  socket.send({ type: 'proxy_request', request_id: 'late', payload: { method: 'GET', path: '/api/v1/namespaces/late', timeout: '300ms' } });
  const error = await socket.next('proxy_error', 10_000, (m) => m.request_id === 'late');
  t.is(error.payload['error'], 'context deadline exceeded');
  session.held[0]!.end('{}');
  await socket.next('proxy_response', 10_000, (m) => m.request_id === 'slow');
  await eventually(() => session.agent.router.activeRequests === 0, 'nothing in flight');
  t.false(session.kube.proxied().some((request) => request.url.includes('late')));
  t.deepEqual(repliesTo(socket, 'late'), ['proxy_error']);
  t.is(await session.agent.metrics.value('admissionRefused', { reason: 'deadline' }), 1);
  t.is(await session.agent.metrics.value('streamErrors', { code: 'AGENT_ERR_UPSTREAM_TIMEOUT' }), 1);
});

test('§9.4: a full admission queue refuses with "too many concurrent requests"; a waiting request can be cancelled silently', async (t) => {
  const session = await connected(t, { workers: 0, tasksPerWorker: 1, maxQueue: 1 });
  const { socket } = session;
  socket.send({ type: 'proxy_request', request_id: 'running', payload: { path: '/api/v1/namespaces/hold' } });
  await eventually(() => session.held.length === 1, 'running');
  socket.send({ type: 'proxy_request', request_id: 'waiting', payload: { path: '/api/v1/namespaces/w' } });
  socket.send({ type: 'proxy_request', request_id: 'refused', payload: { path: '/api/v1/namespaces/r' } });
  const refused = await socket.next('proxy_error', 10_000, (m) => m.request_id === 'refused');
  t.is(refused.payload['error'], 'too many concurrent requests');
  t.is(await session.agent.metrics.value('streamErrors', { code: 'AGENT_ERR_POOL_SATURATED' }), 1);
  socket.send({ type: 'proxy_cancel', request_id: 'waiting', payload: {} });
  await eventually(() => session.agent.router.laneLoad('short').waiting === 0, 'the cancelled request left the queue');
  session.held[0]!.end('{}');
  await socket.next('proxy_response', 10_000, (m) => m.request_id === 'running');
  socket.send({ type: 'proxy_request', request_id: 'after', payload: { path: '/api/v1/namespaces/a' } });
  await socket.next('proxy_response', 10_000, (m) => m.request_id === 'after');
  t.deepEqual(repliesTo(socket, 'waiting'), [], 'a cancelled waiting request is answered with nothing (§9.12)');
  t.false(session.kube.proxied().some((request) => request.url.endsWith('/w')));
});

test('C99: while the control plane stops reading and the socket is above the high-water mark, no new actor starts; it starts once the socket drains', async (t) => {
  const session = await connected(t, { workers: 0, tasksPerWorker: 4, maxQueue: 8 });
  const { socket, kube, agent } = session;
  const big = Buffer.alloc(24 * 1024 * 1024, 7);
  kube.handler = (request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    response.end(request.url.includes('big') ? big : 'small');
  };
  socket.pause();
  socket.send({ type: 'proxy_request', request_id: 'big', payload: { path: '/api/v1/big' } });
  await eventually(() => (agent.link.sessionConnection?.bufferedAmount ?? 0) > 4 * 1024 * 1024, 'the socket is above the high-water mark');
  socket.send({ type: 'proxy_request', request_id: 'after', payload: { path: '/api/v1/after' } });
  await eventually(() => agent.router.laneLoad('short').waiting === 1, 'the new request waits');
  t.false(kube.proxied().some((request) => request.url === '/api/v1/after'), 'nothing new reads the upstream while the socket is full');
  socket.resume();
  await socket.nextBinary(30_000);
  await socket.next('proxy_response', 30_000, (m) => m.request_id === 'after');
  t.true(kube.proxied().some((request) => request.url === '/api/v1/after'));
});
