// Bad input gets the protocol's answer, the agent stays connected, and nothing is left behind
// (PROTOCOL.md §4.2, §9.3, §9.12, §9.13; checklist C8, C9, C32, C41, C55, C56, C58, C59, C63).

import test, { type ExecutionContext } from 'ava';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';

interface Session extends Harness {
  readonly socket: FakeSocket;
}

async function connected(t: ExecutionContext, workers = 0): Promise<Session> {
  const harness = await startHarness(t, { config: { workers } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket };
}

/** The agent still answers, holds no request, actor or stray timer, and is on one socket. */
async function assertClean(t: ExecutionContext, session: Session): Promise<void> {
  session.socket.send({ type: 'ping', request_id: 'still-alive', payload: {} });
  await session.socket.next('pong', 15_000, (m) => m.request_id === 'still-alive');
  await eventually(() => session.agent.router.activeRequests === 0 && session.agent.host.activeActors === 0, 'no request in flight');
  // ping + silence + heartbeat: the link's own timers, nothing else
  t.is(session.clock.pendingTimers, 3);
  t.is(session.plane.openSockets, 1);
}

async function counter(session: Session, key: Parameters<Session['agent']['metrics']['value']>[0]): Promise<number> {
  return session.agent.metrics.value(key);
}

test('C8: non-JSON text, JSON without a type, and non-objects are dropped and counted without reply', async (t) => {
  const session = await connected(t);
  session.socket.send('this is not json');
  session.socket.send('{"payload":{}}');
  session.socket.send('[1,2,3]');
  session.socket.send('{"type":42}');
  await assertClean(t, session);
  t.is(await counter(session, 'inboundMalformed'), 4);
  t.deepEqual(
    session.socket.messages.all.map((m) => m.type).filter((type) => type !== 'register' && type !== 'heartbeat'),
    ['pong'],
  );
});

test('§9.3: a proxy_request without request_id is dropped and counted', async (t) => {
  const session = await connected(t);
  session.socket.send({ type: 'proxy_request', payload: { method: 'GET', path: '/api' } });
  await assertClean(t, session);
  t.is(await counter(session, 'inboundMalformed'), 1);
  t.is(session.kube.proxied().length, 0);
});

test('C41: non-object payload, bad base64 and conflicting body flags get "invalid proxy_request: …"', async (t) => {
  const session = await connected(t);
  session.socket.send({ type: 'proxy_request', request_id: 'np', payload: 'GET /api' });
  session.socket.send({ type: 'proxy_request', request_id: 'b64', payload: { path: '/api', body: 'not*base64!', body_encoding: 'base64' } });
  session.socket.send({ type: 'proxy_request', request_id: 'both', payload: { path: '/api', body_binary: true, use_streaming: true } });
  const errors = new Map<string, string>();
  for (let i = 0; i < 3; i++) {
    const error = await session.socket.next('proxy_error');
    errors.set(error.request_id!, error.payload['error'] as string);
  }
  t.is(errors.get('np'), 'invalid proxy_request: payload must be a JSON object');
  t.is(errors.get('b64'), 'invalid proxy_request: body is not valid base64');
  t.is(errors.get('both'), 'invalid proxy_request: body_binary cannot be combined with a streamed body');
  await assertClean(t, session);
  t.is(session.kube.proxied().length, 0);
  t.is(session.socket.messages.all.filter((m) => m.type === 'proxy_response').length, 0);
});

test('C9 C63: JSON in a binary frame is processed; unmatched body frames and garbage binary frames are dropped and counted', async (t) => {
  const session = await connected(t);
  session.socket.send(Buffer.from('  {"type":"ping","request_id":"bin"}'), true);
  await session.socket.next('pong', 15_000, (m) => m.request_id === 'bin');
  session.socket.send(Buffer.from([0x00, 0x02, 0x72, 0x31, 0x68, 0x69]), true); // id r1, body hi: nobody waits for it
  session.socket.send(Buffer.from([0x00, 0x09, 0x01]), true); // id longer than the frame
  await assertClean(t, session);
  t.is(await counter(session, 'binaryBodyUnmatched'), 1);
  t.is(await counter(session, 'binaryFrameMalformed'), 1);
});

for (const workers of [0, 2]) {
  test(`C45 C55: Kubernetes API unreachable gets one proxy_error and no proxy_response (workers=${workers})`, async (t) => {
    const session = await connected(t, workers);
    await session.kube.close(); // the API server goes away
    session.socket.send({ type: 'proxy_request', request_id: 'down', payload: { path: '/api/v1/namespaces' } });
    const error = await session.socket.next('proxy_error');
    t.is(error.request_id, 'down');
    t.regex(error.payload['error'] as string, /^kubernetes API request failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    await assertClean(t, session);
    t.is(session.socket.messages.all.filter((m) => m.type === 'proxy_response').length, 0);
  });
}

test('C56: an expired deadline and a timeout report "context deadline exceeded" and close the upstream call', async (t) => {
  const session = await connected(t);
  let upstreamClosed = 0;
  session.kube.handler = (request, response) => {
    response.on('close', () => upstreamClosed++); // never answers
    void request;
  };
  session.socket.send({ type: 'proxy_request', request_id: 'past', payload: { path: '/api', deadline: '2001-01-01T00:00:00Z' } });
  session.socket.send({ type: 'proxy_request', request_id: 'slow', payload: { path: '/api/v1/slow', timeout: 300 } });
  const errors = new Map<string, string>();
  for (let i = 0; i < 2; i++) {
    const error = await session.socket.next('proxy_error');
    errors.set(error.request_id!, error.payload['error'] as string);
  }
  t.is(errors.get('past'), 'context deadline exceeded');
  t.is(errors.get('slow'), 'context deadline exceeded');
  await eventually(() => upstreamClosed === 1, 'the hung upstream request was closed');
  await assertClean(t, session);
});

test('C58 C59: proxy_cancel aborts the upstream call and a buffered request sends nothing more; unknown ids are ignored', async (t) => {
  const session = await connected(t);
  let upstreamClosed = 0;
  let arrived = 0;
  session.kube.handler = (_request, response) => {
    arrived++;
    response.on('close', () => upstreamClosed++);
  };
  session.socket.send({ type: 'proxy_request', request_id: 'c-1', payload: { path: '/api/v1/hang' } });
  await eventually(() => arrived === 1, 'request reached the API server');
  session.socket.send({ type: 'proxy_cancel', request_id: 'c-1', payload: {} });
  session.socket.send({ type: 'proxy_cancel', request_id: 'nobody', payload: {} });
  await eventually(() => upstreamClosed === 1, 'upstream connection closed by the cancel');
  await assertClean(t, session);
  t.is(session.socket.messages.all.filter((m) => m.request_id === 'c-1').length, 0);
  t.is(await counter(session, 'lateMessage'), 1);
});

test('§9.3: a second proxy_request with an in-flight id gets "duplicate request_id" and the first completes', async (t) => {
  const session = await connected(t);
  let release: (() => void) | undefined;
  session.kube.handler = (_request, response) => {
    release = () => {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end('first');
    };
  };
  session.socket.send({ type: 'proxy_request', request_id: 'dup', payload: { path: '/api/v1/x' } });
  await eventually(() => release !== undefined, 'first request upstream');
  session.socket.send({ type: 'proxy_request', request_id: 'dup', payload: { path: '/api/v1/y' } });
  const error = await session.socket.next('proxy_error');
  t.is(error.payload['error'], 'duplicate request_id');
  release!();
  const response = await session.socket.next('proxy_response');
  t.is(Buffer.from(response.payload['body'] as string, 'base64').toString(), 'first');
  await assertClean(t, session);
});

for (const workers of [0, 2]) {
  test(`C32: the control plane closing mid-request cancels it; nothing of it is sent on the new socket (workers=${workers})`, async (t) => {
    const session = await connected(t, workers);
    let release: (() => void) | undefined;
    let upstreamClosed = 0;
    session.kube.handler = (_request, response) => {
      response.on('close', () => upstreamClosed++);
      release = () => {
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end('late');
      };
    };
    session.socket.send({ type: 'proxy_request', request_id: 'mid', payload: { path: '/api/v1/slow' } });
    await eventually(() => release !== undefined, 'request upstream');
    session.socket.close(1001);
    await session.socket.closed;
    await eventually(() => upstreamClosed === 1, 'upstream call aborted with the socket');
    await eventually(() => session.clock.pendingDelays().includes(500), 'reconnect scheduled');
    session.clock.advance(500);
    const next = await session.plane.nextSocket();
    await next.next('heartbeat');
    release!();
    next.send({ type: 'ping', request_id: 'after', payload: {} });
    await next.next('pong');
    await eventually(() => session.agent.router.activeRequests === 0 && session.agent.host.activeActors === 0, 'actor finished');
    t.is(next.messages.all.filter((m) => m.request_id === 'mid').length, 0);
    t.is(session.socket.messages.all.filter((m) => m.request_id === 'mid').length, 0);
  });
}
