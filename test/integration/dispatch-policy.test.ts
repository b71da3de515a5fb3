// AGENT_DISPATCH=auto with workers: small requests and byte relays (kubectl sessions) run inline on the
// main thread, lists and watches go to the pools, which start their threads only then; the session pool
// has its own size (AGENT_SESSION_WORKERS).

import type { ServerResponse } from 'node:http';
import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { startHarness } from '../helpers/agent-harness.js';
import { resolveAgentConfig } from '../../src/config/resolve-config.js';
import { testConfig, type TestConfigInput } from '../helpers/agent-config.js';
import { FakeKubeWsApi } from '../helpers/fake-kube-ws-api.js';

test('dispatch auto: a small get runs inline with no thread started; a list starts the pool and runs there', async (t) => {
  const { agent, plane, kube } = await startHarness(t, { config: { workers: 2, dispatch: 'auto' } });
  kube.handler = function kubeOnRequest(incoming, response) {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(incoming.url.includes('/configmaps/') ? '{"kind":"ConfigMap"}' : '{"kind":"PodList","items":[]}');
  };
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  t.is(agent.host.threads, 0, 'no worker thread at idle');
  t.is(agent.sessionHost.threads, 0, 'no session thread at idle');
  socket.send({ type: 'proxy_request', request_id: 'get-1', payload: { method: 'GET', path: '/api/v1/namespaces/a/configmaps/c' } });
  t.is((await socket.next('proxy_response', 15_000, (m) => m.request_id === 'get-1')).payload['status'], 200);
  t.is(agent.host.threads, 0, 'the small get ran inline');
  socket.send({ type: 'proxy_request', request_id: 'list-1', payload: { method: 'GET', path: '/api/v1/namespaces/a/pods' } });
  await socket.next('proxy_response', 15_000, (m) => m.request_id === 'list-1');
  t.is(agent.host.threads, 2, 'the list started the pool');
  t.is(agent.sessionHost.threads, 0);
});

test('dispatch auto: a small request running inline counts as an active short-lane actor in /metrics', async (t) => {
  const held: ServerResponse[] = [];
  const { agent, plane, kube } = await startHarness(t, { config: { workers: 2, dispatch: 'auto' } });
  kube.handler = function kubeOnRequest(_incoming, response) {
    held.push(response);
  };
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  socket.send({ type: 'proxy_request', request_id: 'held-1', payload: { method: 'GET', path: '/api/v1/namespaces/a/configmaps/c' } });
  await eventually(() => held.length === 1, 'the request reaches the Kubernetes API');
  const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
  t.true(metrics.split('\n').includes('pipeops_agent_pool_active_actors{pool="short"} 1'));
  t.is(agent.host.threads, 0, 'it runs inline');
  held[0]!.writeHead(200, { 'Content-Type': 'application/json' });
  held[0]!.end('{}');
  await socket.next('proxy_response', 15_000, (m) => m.request_id === 'held-1');
});

test('the session pool and its long-lane slots follow AGENT_SESSION_WORKERS and AGENT_SESSION_TASKS_PER_WORKER', (t) => {
  const base = { apiUrl: 'http://127.0.0.1:1', workers: 4, tasksPerWorker: 64 };
  const sessionPool = (input: TestConfigInput) => {
    const { agent } = resolveAgentConfig(testConfig(input));
    return { workers: agent.sessionWorkers, tasksPerWorker: agent.sessionTasksPerWorker };
  };
  t.deepEqual(sessionPool(base), { workers: 2, tasksPerWorker: 256 });
  t.deepEqual(sessionPool({ ...base, sessionWorkers: 1, sessionTasksPerWorker: 10_000 }), { workers: 1, tasksPerWorker: 10_000 });
  t.is(resolveAgentConfig(testConfig({ ...base, sessionWorkers: 2, sessionTasksPerWorker: 5_000 })).agent.lanes.long.slots, 10_000);
  t.is(resolveAgentConfig(testConfig({ ...base, workers: 0, sessionTasksPerWorker: 10_000 })).agent.lanes.long.slots, 10_000, 'inline: one lane of that many');
});

test('dispatch auto: a kubectl session relays on the main thread (no session thread starts); a watch starts the session pool', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const { agent, plane } = await startHarness(t, { config: { workers: 2, dispatch: 'auto', kubeconfig: api.kubeconfigPath } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  socket.send({
    type: 'proxy_websocket_start',
    request_id: 's-1',
    payload: { stream_id: 's-1', path: '/api/v1/namespaces/default/pods/web-0/exec', query: 'command=sh&stdin=true&stdout=true', headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] } },
  });
  await eventually(() => api.sessions.length === 1, 'the API server accepted the session');
  const session = api.sessions[0]!;
  socket.send({ type: 'proxy_websocket_data', request_id: 's-1', payload: { stream_id: 's-1', data: Buffer.from([0x02, 0x00, 0x6c]).toString('base64') } }); // [binary][stdin 'l'] (§12.1)
  await eventually(() => session.received.length === 1, 'stdin reached the API server');
  session.socket.send(Buffer.from([0x01, 0x6f]));
  const out = await socket.next('proxy_websocket_data', 15_000, (m) => m.payload['stream_id'] === 's-1');
  t.deepEqual([...Buffer.from(out.payload['data'] as string, 'base64')], [0x02, 0x01, 0x6f]);
  t.is(agent.inlineRelayHost?.activeActors, 1, 'the session runs on the main thread');
  t.is(agent.sessionHost.threads, 0, 'no session thread started');
  const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
  t.true(metrics.split('\n').includes('pipeops_agent_pool_active_actors{pool="long"} 1'), 'it counts as a long-lane actor');
  socket.send({ type: 'proxy_websocket_close', request_id: 's-1', payload: { stream_id: 's-1' } });
  await socket.next('proxy_websocket_close', 15_000, (m) => m.payload['stream_id'] === 's-1');
  await eventually(() => agent.inlineRelayHost?.activeActors === 0, 'the session actor ended');
  socket.send({ type: 'proxy_request', request_id: 'w-1', payload: { method: 'GET', path: '/api/v1/namespaces/default/pods', query: 'watch=true' } });
  await eventually(() => agent.sessionHost.threads > 0, 'the watch started the session pool');
  t.is(agent.inlineRelayHost?.activeActors, 0, 'the watch does not run inline');
  socket.send({ type: 'proxy_cancel', request_id: 'w-1', payload: {} });
});
