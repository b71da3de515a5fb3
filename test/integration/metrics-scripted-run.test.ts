// /metrics after a scripted run: the exact counter values and histogram counts the run must produce, with
// inline actors and with a pool; and a worker killed mid-request.

import test from 'ava';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
}

/** The value of one sample line, e.g. `name{a="b"}`; 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

for (const workers of [0, 2]) {
  test(`exact counters after legacy, binary+gzip and streamed requests and one reconnect (workers=${workers})`, async (t) => {
    const { agent, plane, kube, clock } = await startHarness(t, { config: { workers } });
    const json = Buffer.from(JSON.stringify({ items: Array.from({ length: 1000 }, (_, i) => ({ name: `pod-${i}` })) }));
    const noise = randomBytes(12_000);
    kube.handler = (request, response) => {
      if (request.url.startsWith('/api/v1/small')) {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end('{"kind":"Status"}');
      } else if (request.url.startsWith('/api/v1/big')) {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(json);
      } else if (request.url.startsWith('/api/v1/noise')) {
        response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        response.end(noise);
      } else {
        response.writeHead(200, { 'Content-Type': 'text/plain' });
        response.end('line\n');
      }
    };
    let socket = await plane.nextSocket();
    await socket.acceptRegistration({ cluster_id: 'c-1' });
    await socket.next('heartbeat');
    socket.send({ type: 'proxy_request', request_id: 'a', payload: { path: '/api/v1/small' } });
    await socket.next('proxy_response');
    socket.send({ type: 'proxy_request', request_id: 'b', payload: { path: '/api/v1/big' } });
    await socket.nextBinary();
    socket.send({ type: 'proxy_request', request_id: 'c', payload: { path: '/api/v1/noise' } });
    await socket.nextBinary();
    socket.send({ type: 'proxy_request', request_id: 'd', payload: { method: 'PUT', path: '/api/v1/small', body_binary: true } });
    socket.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from('d'), Buffer.from('{"x":1}')]), true);
    await socket.next('proxy_response', 15_000, (m) => m.request_id === 'd');
    socket.send({ type: 'proxy_request', request_id: 'e', payload: { path: '/api/v1/log', supports_response_streaming: true } });
    await socket.next('proxy_response_end');
    await eventually(() => agent.router.activeRequests === 0, 'all actors done');
    socket.close(1000);
    await socket.closed;
    await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
    clock.advance(500);
    socket = await plane.nextSocket();
    await socket.next('heartbeat');

    const text = await scrape(agent.httpPort);
    t.is(sample(text, 'pipeops_agent_relay_requests_total{outcome="ok",mode="json"}'), 2);
    t.is(sample(text, 'pipeops_agent_relay_requests_total{outcome="ok",mode="binary"}'), 2);
    t.is(sample(text, 'pipeops_agent_relay_requests_total{outcome="ok",mode="streaming"}'), 1);
    t.is(sample(text, 'pipeops_agent_actor_tasks_total{kind="http-relay",outcome="ok"}'), 5);
    t.is(sample(text, 'pipeops_agent_relay_request_duration_seconds_count{mode="binary"}'), 2);
    t.is(sample(text, 'agent_binary_protocol_requests_total{direction="request"}'), 1);
    t.is(sample(text, 'agent_binary_protocol_requests_total{direction="response"}'), 2);
    t.is(sample(text, 'pipeops_agent_compression_decisions_total{outcome="compressed",reason="none"}'), 1);
    t.is(sample(text, 'pipeops_agent_compression_decisions_total{outcome="skipped",reason="too_small"}'), 2);
    t.is(sample(text, 'pipeops_agent_compression_decisions_total{outcome="skipped",reason="content_type"}'), 1);
    t.is(sample(text, 'agent_compression_ratio_count'), 1);
    t.true(sample(text, 'agent_bandwidth_saved_bytes') > json.length / 2);
    t.is(sample(text, 'pipeops_agent_kube_api_bytes_total{direction="sent"}'), 7);
    t.is(sample(text, 'pipeops_agent_kube_api_bytes_total{direction="received"}'), 17 + json.length + noise.length + 17 + 5);
    t.is(sample(text, 'pipeops_agent_websocket_reconnections_total'), 1);
    t.is(sample(text, 'pipeops_agent_heartbeat_success_total'), 2);
    t.is(sample(text, 'pipeops_agent_registrations_total{outcome="success"}'), 1);
    t.is(sample(text, 'pipeops_agent_connection_state'), 2);
    t.is(sample(text, 'pipeops_agent_connection_state_changes_total{state="reconnecting"}'), 1);
    t.true(sample(text, 'pipeops_agent_control_plane_bytes_total{direction="out"}') > json.length / 10);
    t.is(sample(text, 'pipeops_agent_pool_threads{pool="short"}'), workers);
    t.is(sample(text, 'pipeops_agent_stream_outstanding_bytes'), 0);
  });
}

test('a worker killed mid-request: the crash is counted, the request gets proxy_error, earlier metrics survive', async (t) => {
  const { agent, plane, kube } = await startHarness(t, { config: { workers: 1 }, expectFaults: true });
  let hung = false;
  kube.handler = (request, response) => {
    if (request.url.startsWith('/api/v1/hang')) {
      hung = true;
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end('ok');
  };
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  for (const id of ['one', 'two', 'three']) {
    socket.send({ type: 'proxy_request', request_id: id, payload: { path: '/api/v1/x' } });
    await socket.next('proxy_response', 15_000, (m) => m.request_id === id);
  }
  await eventually(() => agent.router.activeRequests === 0, 'first requests done');
  socket.send({ type: 'proxy_request', request_id: 'victim', payload: { path: '/api/v1/hang' } });
  await eventually(() => hung, 'request reached the API server');
  const [worker] = agent.host.workerThreads;
  t.truthy(worker);
  await worker!.terminate();
  const error = await socket.next('proxy_error', 10_000, (m) => m.request_id === 'victim');
  t.regex(error.payload['error'] as string, /^actor failed: /);
  const text = await scrape(agent.httpPort);
  t.is(sample(text, 'pipeops_agent_worker_crashes_total'), 1);
  t.is(sample(text, 'pipeops_agent_metric_deltas_lost_total'), 1);
  t.is(sample(text, 'pipeops_agent_actor_errors_total{code="AGENT_ERR_ACTOR_FAILED"}'), 1);
  t.is(sample(text, 'pipeops_agent_actor_tasks_total{kind="http-relay",outcome="ok"}'), 3);
  t.is(sample(text, 'pipeops_agent_relay_requests_total{outcome="ok",mode="json"}'), 3);
  // the pool replaces the thread and keeps serving
  socket.send({ type: 'proxy_request', request_id: 'after', payload: { path: '/api/v1/x' } });
  await socket.next('proxy_response', 10_000, (m) => m.request_id === 'after');
});
