// Containment (PROTOCOL.md §9.4, C93): an actor thread that dies ends only the streams it owned, each with
// the one terminal reply it owes (a session its proxy_websocket_close, a started stream its
// proxy_response_abort); the other pool, the socket and the process go on.

import test from 'ava';
import type { ServerResponse } from 'node:http';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import { FakeKubeWsApi } from '../helpers/fake-kube-ws-api.js';

test('C93: a dead long-lane thread ends its session and its watch with one terminal reply each; short requests go on', async (t) => {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const held: ServerResponse[] = [];
  const shortHeld: ServerResponse[] = [];
  t.teardown(() => [...held, ...shortHeld].forEach((response) => response.destroy()));
  api.httpHandler = (request, response) => {
    if (request.url?.includes('watch=true')) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.write('{"type":"ADDED"}\n');
      held.push(response);
      return;
    }
    if (request.url?.includes('hold')) {
      shortHeld.push(response);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end('{"kind":"List","items":[]}');
  };
  const { agent, plane } = await startHarness(t, { config: { workers: 2, kubeconfig: api.kubeconfigPath }, expectFaults: true });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({
    type: 'ws_start',
    request_id: 's-1',
    payload: { stream_id: 's-1', path: '/api/v1/namespaces/d/pods/p/exec', query: 'command=sh', headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] } },
  });
  socket.send({ type: 'proxy_request', request_id: 'w', payload: { path: '/api/v1/pods', query: 'watch=true', supports_response_streaming: true } });
  socket.send({ type: 'proxy_request', request_id: 'short', payload: { path: '/api/v1/namespaces/hold' } });
  await eventually(() => api.sessions.length === 1, 'the session is up');
  await socket.next('proxy_response_chunk', 10_000, (m) => m.request_id === 'w');
  await eventually(() => shortHeld.length === 1, 'the short request reached the API');

  const [longThread] = agent.sessionHost.workerThreads;
  t.is(agent.sessionHost.workerThreads.length, 1);
  await longThread!.terminate();

  const abort = await socket.next('proxy_response_abort', 10_000, (m) => m.request_id === 'w');
  t.regex(abort.payload['error'] as string, /^actor failed: /);
  const close = await socket.next('proxy_websocket_close', 10_000, (m) => m.request_id === 's-1');
  t.deepEqual(close.payload, { stream_id: 's-1' });
  // the short lane's thread was not touched: its request completes
  shortHeld[0]!.writeHead(200, { 'Content-Type': 'application/json' });
  shortHeld[0]!.end('{}');
  t.is((await socket.next('proxy_response', 10_000, (m) => m.request_id === 'short')).payload['status'], 200);
  await eventually(() => agent.router.activeRequests === 0 && agent.router.activeSessions === 0, 'nothing left');
  const terminal = (id: string) =>
    socket.messages.all.filter((m) => m.request_id === id && ['proxy_error', 'proxy_response_end', 'proxy_response_abort', 'proxy_websocket_close'].includes(m.type));
  t.is(terminal('w').length, 1);
  t.is(terminal('s-1').length, 1);
  t.is(await agent.metrics.value('workerCrashes'), 2);
  // the pool replaced the thread: new sessions and watches work
  socket.send({ type: 'proxy_request', request_id: 'after', payload: { path: '/api/v1/pods', query: 'watch=true', supports_response_streaming: true } });
  await socket.next('proxy_response_header', 10_000, (m) => m.request_id === 'after');
  t.is(plane.openSockets, 1);
});
