// Failures of one HTTP relay stay inside it (PROTOCOL.md §9.4 "Containment", §9.12, §9.14; checklist C93):
// a request that fails before its body arrives leaves no timer and no unobserved promise behind, and gets
// exactly one terminal reply, ever. Mostly inline actors (workers: 0), so a stray rejection would be this
// process's; the pool case checks that the worker thread survives.

import test, { type ExecutionContext } from 'ava';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket, JsonMessage } from '../helpers/fake-control-plane.js';

const BODY_WAIT_MS = 200;

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

interface Session extends Harness {
  readonly socket: FakeSocket;
}

async function connected(t: ExecutionContext, options: HarnessOptions = {}): Promise<Session> {
  const harness = await startHarness(t, { ...options, config: { workers: 0, ...options.config }, workerTuning: { binaryBodyTimeoutMs: BODY_WAIT_MS } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket };
}

function messagesFor(socket: FakeSocket, id: string): JsonMessage[] {
  return socket.messages.all.filter((message) => message.request_id === id);
}

/**
 * Waits past the binary-body timer of a request that already failed: the actor armed its timer before it
 * replied, with a shorter delay than ours, so on this thread it has fired (or never existed) when ours does.
 */
async function outliveBodyWait(session: Session, id: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, BODY_WAIT_MS * 3));
  session.socket.send({ type: 'ping', request_id: `after-${id}`, payload: {} });
  await session.socket.next('pong', 15_000, (m) => m.request_id === `after-${id}`);
  await eventually(() => session.agent.router.activeRequests === 0 && session.agent.host.activeActors === 0, 'no request in flight');
}

const earlyFailures: [string, HarnessOptions, Record<string, unknown>, string][] = [
  ['a deadline already past', {}, { deadline: '2001-01-01T00:00:00Z' }, 'context deadline exceeded'],
  ['invalid service fields', {}, { service_name: 'Bad_Name', namespace: 'apps', service_port: 80 }, 'invalid service name: Bad_Name'],
  ['no Kubernetes access', { config: { kubeconfig: '/nonexistent/kubeconfig' } }, {}, 'kubernetes client not initialized'],
];

for (const [what, options, fields, text] of earlyFailures) {
  test.serial(`C93: a body_binary request failing before its body (${what}) gets one proxy_error and nothing else, ever`, async (t) => {
    const session = await connected(t, options);
    const before = unhandled.length;
    session.socket.send({ type: 'proxy_request', request_id: 'early', payload: { method: 'POST', path: '/api/v1/things', body_binary: true, ...fields } });
    const error = await session.socket.next('proxy_error', 15_000, (m) => m.request_id === 'early');
    t.deepEqual(error.payload, { error: text });
    await outliveBodyWait(session, 'early');
    t.deepEqual(unhandled.slice(before), [], 'no rejection left unobserved');
    t.deepEqual(
      messagesFor(session.socket, 'early').map((message) => message.type),
      ['proxy_error'],
    );
    t.is(session.kube.proxied().length, 0);
  });
}

test.serial('C93: in a pool, a body_binary request failing before its body leaves its worker thread running', async (t) => {
  const session = await connected(t, { config: { workers: 1 } });
  const threads = [...session.agent.host.workerThreads];
  t.true(threads.length > 0);
  let exits = 0;
  for (const thread of threads) thread.on('exit', () => exits++);
  session.socket.send({
    type: 'proxy_request',
    request_id: 'early',
    payload: { method: 'POST', path: '/api/v1/things', body_binary: true, deadline: '2001-01-01T00:00:00Z' },
  });
  const error = await session.socket.next('proxy_error', 15_000, (m) => m.request_id === 'early');
  t.deepEqual(error.payload, { error: 'context deadline exceeded' });
  await outliveBodyWait(session, 'early');
  session.socket.send({ type: 'proxy_request', request_id: 'next', payload: { method: 'GET', path: '/api/v1/things' } });
  t.is((await session.socket.next('proxy_response', 15_000, (m) => m.request_id === 'next')).payload['status'], 200);
  t.is(exits, 0, 'no worker thread ended');
  t.deepEqual(
    messagesFor(session.socket, 'early').map((message) => message.type),
    ['proxy_error'],
  );
});

test('item 8: an actor failure crosses the thread as {code, message}; stream_errors_total counts it by code (workers=1)', async (t) => {
  const { agent, plane } = await startHarness(t, { config: { workers: 1 } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({ type: 'proxy_request', request_id: 'bad-svc', payload: { path: '/x', service_name: 'Bad_Name', namespace: 'ns', service_port: 80 } });
  const error = await socket.next('proxy_error', 30_000, (m) => m.request_id === 'bad-svc');
  t.regex(error.payload['error'] as string, /^invalid service name: /);
  await eventually(async () => (await agent.metrics.value('streamErrors', { code: 'AGENT_ERR_REQUEST_INVALID' })) === 1, 'counted by code');
});
