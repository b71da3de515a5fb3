// The agent's local HTTP server (/health, /ready, /version, /metrics) against a fake control plane, with a
// simulated clock: readiness follows the link and the heartbeat, and /metrics reports the scripted run.

import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import test from 'ava';
import { LinkStatus } from '../../src/link/control-plane-link.js';
import { BUILD_INFO } from '../../src/version.js';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

const HEARTBEAT_INTERVAL_MS = 30_000;
const TOKEN = 'agent-token-secret';

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

async function request(port: number, path: string, method = 'GET'): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function jsonOf(answer: Answer): unknown {
  return JSON.parse(answer.text) as unknown;
}

test('/health answers 200 {"status":"ok"} before the agent has even registered', async (t) => {
  const { agent } = await startHarness(t);
  t.true(agent.httpPort > 0);
  const health = await request(agent.httpPort, '/health');
  t.is(health.status, 200);
  t.is(health.headers.get('content-type'), 'application/json; charset=utf-8');
  t.is(health.headers.get('cache-control'), 'no-store');
  t.deepEqual(jsonOf(health), { status: 'ok' });
});

test('/ready: 503 before registration, 200 after register_success and a heartbeat, 503 as soon as the socket drops, 200 after the reconnect', async (t) => {
  const { agent, plane, clock } = await startHarness(t, { config: { heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS } });
  const socket = await plane.nextSocket();
  const register = await socket.next('register');
  const before = await request(agent.httpPort, '/ready');
  t.is(before.status, 503);
  t.deepEqual(jsonOf(before), { status: 'not ready', mode: 'strict', link: 'connecting', reason: 'not connected' });

  socket.send({ type: 'register_success', request_id: register.request_id, payload: { cluster_id: 'c-1' } });
  await socket.next('heartbeat');
  const registered = await request(agent.httpPort, '/ready');
  t.is(registered.status, 200);
  t.deepEqual(jsonOf(registered), { status: 'ready', mode: 'strict', link: 'connected', last_heartbeat_age_seconds: 0 });

  // The next heartbeats keep it ready through several intervals.
  clock.advance(HEARTBEAT_INTERVAL_MS);
  await socket.next('heartbeat');
  t.is((await request(agent.httpPort, '/ready')).status, 200);

  // The control plane drops the socket; the first redial is refused, so the agent stays away a while.
  plane.refusals.push(503);
  const droppedAtMs = clock.now();
  socket.close(1000);
  await socket.closed;
  await eventually(async () => (await request(agent.httpPort, '/ready')).status === 503, '/ready turns 503');
  t.true(clock.now() - droppedAtMs < HEARTBEAT_INTERVAL_MS, 'within one heartbeat interval of the drop');
  t.deepEqual(jsonOf(await request(agent.httpPort, '/ready')), {
    status: 'not ready',
    mode: 'strict',
    link: 'reconnecting',
    reason: 'not connected',
    last_heartbeat_age_seconds: 0,
  });
  await eventually(() => clock.pendingDelays().includes(500), 'first redial scheduled');
  clock.advance(500);
  await eventually(() => plane.handshakes.length === 2 && clock.pendingDelays().includes(1000), 'refused redial, next in 1 s');
  t.is((await request(agent.httpPort, '/ready')).status, 503);

  clock.advance(1000);
  const back = await plane.nextSocket();
  await back.next('heartbeat');
  const reconnected = await request(agent.httpPort, '/ready');
  t.is(reconnected.status, 200);
  t.deepEqual(jsonOf(reconnected), { status: 'ready', mode: 'strict', link: 'connected', last_heartbeat_age_seconds: 0 });
});

test('/ready in lenient mode: 200 while connecting, connected and reconnecting, with the link status in the body', async (t) => {
  const { agent, plane } = await startHarness(t, { config: { readyLenient: true } });
  const socket = await plane.nextSocket();
  const connecting = await request(agent.httpPort, '/ready');
  t.is(connecting.status, 200);
  t.deepEqual(jsonOf(connecting), { status: 'ready', mode: 'lenient', link: 'connecting' });

  await socket.acceptRegistration();
  await socket.next('heartbeat');
  const connected = await request(agent.httpPort, '/ready');
  t.is(connected.status, 200);
  t.like(jsonOf(connected), { status: 'ready', mode: 'lenient', link: 'connected' });

  socket.close(1000);
  await eventually(() => agent.link.status === LinkStatus.reconnecting, 'the agent sees the drop');
  const reconnecting = await request(agent.httpPort, '/ready');
  t.is(reconnecting.status, 200);
  t.like(jsonOf(reconnecting), { status: 'ready', mode: 'lenient', link: 'reconnecting' });
});

test('/version reports the package version, the build stamp and the Node version', async (t) => {
  const { agent } = await startHarness(t);
  const answer = await request(agent.httpPort, '/version');
  t.is(answer.status, 200);
  const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.deepEqual(jsonOf(answer), {
    version: packageJson.version,
    commit: BUILD_INFO.commit,
    build_date: BUILD_INFO.buildDate,
    node_version: process.version,
  });
  t.regex(BUILD_INFO.commit, /^(unknown|[\w.-]+)$/);
  t.regex(BUILD_INFO.buildDate, /^(unknown|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}))$/);
});

test('/metrics shows the connected state and exactly the heartbeats the scripted run wrote', async (t) => {
  const { agent, plane, clock } = await startHarness(t, { config: { heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  for (let i = 0; i < 2; i++) {
    clock.advance(HEARTBEAT_INTERVAL_MS);
    await socket.next('heartbeat');
  }
  const scrape = await request(agent.httpPort, '/metrics');
  t.is(scrape.status, 200);
  t.is(scrape.headers.get('content-type'), agent.metrics.registry.contentType);
  const lines = scrape.text.split('\n');
  t.true(lines.includes('pipeops_agent_connection_state 2'));
  t.true(lines.includes('pipeops_agent_heartbeat_success_total 3'));
  t.true(lines.includes('pipeops_agent_heartbeat_failures_total 0'));
  t.true(lines.includes('pipeops_agent_registrations_total{outcome="success"} 1'));
  for (const pool of ['short', 'long']) {
    t.true(lines.includes(`pipeops_agent_pool_threads{pool="${pool}"} 0`), 'actors run inline');
    t.true(lines.includes(`pipeops_agent_pool_queue_size{pool="${pool}"} 0`));
    t.true(lines.includes(`pipeops_agent_pool_active_actors{pool="${pool}"} 0`));
  }

  // One more heartbeat, then a drop: the reconnected session starts with a heartbeat of its own.
  clock.advance(HEARTBEAT_INTERVAL_MS);
  await socket.next('heartbeat');
  socket.close(1000);
  await eventually(() => clock.pendingDelays().includes(500), 'redial scheduled');
  clock.advance(500);
  const back = await plane.nextSocket();
  await back.next('heartbeat');
  const after = (await request(agent.httpPort, '/metrics')).text.split('\n');
  t.true(after.includes('pipeops_agent_heartbeat_success_total 5'));
  t.true(after.includes('pipeops_agent_websocket_reconnections_total 1'));
  t.true(after.includes('pipeops_agent_connection_state 2'));
  t.true(after.includes('pipeops_agent_connection_state_changes_total{state="reconnecting"} 1'));
});

test('/metrics reads the pool gauges at scrape time (2 worker threads, one actor in flight)', async (t) => {
  const held: ServerResponse[] = [];
  const { agent, plane, kube } = await startHarness(t, { config: { workers: 2 } });
  kube.handler = function kubeOnRequest(incoming, response) {
    if (incoming.url.startsWith('/api/v1/namespaces/default/pods/slow')) {
      held.push(response);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end('{}');
  };
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  socket.send({ type: 'proxy_request', request_id: 'slow-1', payload: { method: 'GET', path: '/api/v1/namespaces/default/pods/slow' } });
  await eventually(() => held.length === 1, 'the request reaches the Kubernetes API');
  const during = (await request(agent.httpPort, '/metrics')).text.split('\n');
  t.true(during.includes('pipeops_agent_pool_threads{pool="short"} 2'));
  t.true(during.includes('pipeops_agent_pool_threads{pool="long"} 1'), 'the long lane has half the threads, rounded up');
  t.true(during.includes('pipeops_agent_pool_active_actors{pool="short"} 1'));
  t.true(during.includes('pipeops_agent_pool_active_actors{pool="long"} 0'));
  t.true(during.includes('pipeops_agent_pool_queue_size{pool="short"} 0'));

  const response = held[0];
  response?.writeHead(200, { 'Content-Type': 'application/json' });
  response?.end('{}');
  await socket.next('proxy_response');
  await eventually(() => agent.host.activeActors === 0, 'the actor finishes');
  t.true((await request(agent.httpPort, '/metrics')).text.split('\n').includes('pipeops_agent_pool_active_actors{pool="short"} 0'));
});

test('unknown paths get 404, other methods 405 with Allow: GET, and no answer carries the token', async (t) => {
  const { agent, plane } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  const port = agent.httpPort;
  for (const path of ['/', '/nope', '/health/', '/metrics/extra']) {
    const answer = await request(port, path);
    t.is(answer.status, 404, path);
    t.deepEqual(jsonOf(answer), { error: 'not found' });
  }
  for (const method of ['POST', 'PUT', 'DELETE', 'HEAD']) {
    const answer = await request(port, '/health', method);
    t.is(answer.status, 405, method);
    t.is(answer.headers.get('allow'), 'GET');
  }
  t.is((await request(port, '/ready?verbose=1')).status, 200, 'a query string does not change the route');
  const answers = await Promise.all(['/health', '/ready', '/version', '/metrics'].map((path) => request(port, path)));
  for (const answer of answers) t.false(answer.text.includes(TOKEN));
});
