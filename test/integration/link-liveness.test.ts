// Liveness and reconnection (PROTOCOL.md §6, §7; checklist C21–C28, C31) and message handling (C33–C35).

import test from 'ava';
import net from 'node:net';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import { FakeControlPlane } from '../helpers/fake-control-plane.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { SimulatedClock } from '../helpers/simulated-clock.js';
import { testConfig } from '../helpers/agent-config.js';

test('C23: JSON ping gets a pong echoing the request_id with a timestamp payload', async (t) => {
  const { plane } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  socket.send({ type: 'ping', request_id: 'p-17', payload: {} });
  const pong = await socket.next('pong');
  t.deepEqual(Object.keys(pong).sort(), ['payload', 'request_id', 'timestamp', 'type']);
  t.is(pong.request_id, 'p-17');
  t.regex(String(pong.payload['timestamp']), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
});

test('C24 C25 C5: heartbeat at once, then every 30 s without any ack, with the §6.4 keys', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-7788' });
  const first = await socket.next('heartbeat');
  t.false('request_id' in first);
  t.deepEqual(first.payload, {
    cluster_id: 'c-7788',
    agent_id: 'agent-0a1b2c3d4e5f6071',
    status: 'healthy',
    tunnel_status: 'connected',
    metadata: {
      agent_version: (first.payload['metadata'] as Record<string, unknown>)['agent_version'],
      k8s_version: 'v1.32.0-fake',
      k8s_nodes: 3,
      k8s_pods: 41,
      cpu_usage: '0%',
      memory_usage: '0%',
      is_private: true,
      gateway_routes: 0,
    },
  });
  clock.advance(29_999);
  socket.send({ type: 'ping', request_id: 'p', payload: {} });
  await socket.next('pong');
  t.is(socket.messages.all.filter((m) => m.type === 'heartbeat').length, 1);
  clock.advance(1);
  await socket.next('heartbeat');
  clock.advance(30_000);
  await socket.next('heartbeat');
  t.is(socket.messages.all.filter((m) => m.type === 'heartbeat_ack').length, 0);
});

test('C21: a ping control frame every 10 s', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  t.is(socket.pings, 0);
  clock.advance(10_000);
  await eventually(() => socket.pings === 1, 'one ping after 10 s');
  clock.advance(20_000);
  await eventually(() => socket.pings === 3, 'three pings after 30 s');
  t.pass();
});

test('C22 C31: 60 s of silence closes the socket; the agent reconnects with one socket at a time', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  clock.advance(59_999);
  t.is(plane.openSockets, 1);
  clock.advance(1);
  await socket.closed;
  await eventually(() => plane.openSockets === 0, 'old socket gone');
  clock.advance(500);
  const next = await plane.nextSocket();
  t.is(plane.openSockets, 1);
  // on the controller with a known cluster id: no register, a heartbeat at once (§7.6)
  await next.next('heartbeat');
  t.is(next.messages.all.filter((m) => m.type === 'register').length, 0);
});

test('C26 C27: any close (1000 included) reconnects after 0.5 s, 1 s, 2 s … while dials fail', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  plane.refusals.push(503, 503);
  socket.close(1000);
  await socket.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'first wait 0.5 s');
  clock.advance(500);
  await eventually(() => plane.handshakes.length === 2 && clock.pendingDelays().includes(1000), 'second wait 1 s');
  clock.advance(1000);
  await eventually(() => plane.handshakes.length === 3 && clock.pendingDelays().includes(2000), 'third wait 2 s');
  clock.advance(2000);
  const back = await plane.nextSocket();
  await back.next('heartbeat');
  t.is(plane.handshakes.length, 4);
});

test('C28: the first dial is retried until the control plane appears', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address() as net.AddressInfo;
      probe.close(() => resolve(address.port));
    });
  });
  const kube = await FakeKubeApi.start();
  t.teardown(() => kube.close());
  const clock = new SimulatedClock();
  const agent = await Agent.start({
    config: testConfig({ apiUrl: `http://127.0.0.1:${port}`, kubeconfig: kube.kubeconfigPath }),
    logger: silentLogger(),
    clock,
    random: () => 0,
  });
  t.teardown(() => agent.stop());
  await eventually(() => clock.pendingDelays().includes(500), 'first retry scheduled');
  clock.advance(500);
  await eventually(() => clock.pendingDelays().includes(1000), 'second retry scheduled');
  const plane = await FakeControlPlane.start({}, port);
  t.teardown(() => plane.close());
  clock.advance(1000);
  const socket = await plane.nextSocket();
  await socket.next('register');
  t.pass();
});

test('C33 C34 C35 C87: one protocol_fallback per unknown type per socket; known no-reply types stay silent', async (t) => {
  // tunnel.enabled false is the Phase-1 agent: gateway_hello gets no reply
  const { plane, agent } = await startHarness(t, { config: { tunnelEnabled: false } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  await socket.next('heartbeat');
  socket.send({ type: 'heartbeat_ack', payload: {} });
  socket.send({ type: 'pong', payload: {} });
  socket.send({ type: 'register_in_progress', payload: {} });
  socket.send({ type: 'gateway_hello', payload: { use_yamux: true } });
  socket.send({ type: 'mystery', request_id: 'm-\r\n1', payload: {} });
  const fallback = await socket.next('protocol_fallback');
  t.false('request_id' in fallback);
  t.deepEqual(fallback.payload, {
    agent_version: 'pipeops-k8-agent',
    unknown_type: 'mystery',
    supported_types: [
      'register_success',
      'register_in_progress',
      'heartbeat_ack',
      'pong',
      'ping',
      'proxy_request',
      'proxy_request_chunk',
      'proxy_request_stream_end',
      'proxy_cancel',
      'proxy_stream_data',
      'proxy_websocket_start',
      'proxy_websocket_data',
      'proxy_websocket_close',
      'ws_start',
      'ws_data',
      'ws_close',
      'error',
    ],
    fallback_mode: 'legacy_proxy',
    protocol_version: '1.0',
    timestamp: fallback.payload['timestamp'],
    original_request_id: 'm-1',
  });
  socket.send({ type: 'mystery', payload: {} });
  socket.send({ type: 'other_thing', payload: {} });
  const second = await socket.next('protocol_fallback');
  t.is(second.payload['unknown_type'], 'other_thing');
  t.false('original_request_id' in second.payload);
  socket.send({ type: 'ping', request_id: 'end', payload: {} });
  await socket.next('pong');
  t.is(socket.messages.all.filter((m) => m.type === 'protocol_fallback').length, 2);
  t.is(socket.messages.pending.length, 0, 'no reply to heartbeat_ack, pong, register_in_progress or gateway_hello');
  t.is(await agent.metrics.value('unknownMessageType', { type: 'mystery' }), 2);
});

test('§8.3: protocol_fallback state is bounded: at most 256 distinct types are answered per socket, later ones only counted', async (t) => {
  const { plane, agent, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  for (let i = 0; i < 300; i++) socket.send({ type: `mystery_${i}`, payload: {} });
  socket.send({ type: 'mystery_0', payload: {} });
  socket.send({ type: 'ping', request_id: 'end', payload: {} });
  await socket.next('pong');
  const answered = socket.messages.all.filter((m) => m.type === 'protocol_fallback').map((m) => m.payload['unknown_type']);
  t.is(answered.length, 256);
  t.deepEqual(answered, Array.from({ length: 256 }, (_, i) => `mystery_${i}`));
  // every message is counted, also past the bound (the metric folds rare labels into "other")
  let counted = await agent.metrics.value('unknownMessageType', { type: 'other' });
  for (let i = 0; i < 300; i++) counted += await agent.metrics.value('unknownMessageType', { type: `mystery_${i}` });
  t.is(counted, 301);
  // the bound is per socket: a new socket answers again
  socket.close(1000);
  await socket.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);
  const next = await plane.nextSocket();
  await next.next('heartbeat');
  next.send({ type: 'mystery_299', payload: {} });
  t.is((await next.next('protocol_fallback')).payload['unknown_type'], 'mystery_299');
});

test('C91: tcp_tunnel_start is answered with tcp_tunnel_close and no protocol_fallback', async (t) => {
  const { plane } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  socket.send({ type: 'tcp_tunnel_start', request_id: 'tcp-1', payload: { tunnel_id: 't', gateway_port: 1 } });
  const close = await socket.next('tcp_tunnel_close');
  t.is(close.request_id, 'tcp-1');
  t.deepEqual(close.payload, { reason: 'connection_failed', error: 'tcp tunnels not supported' });
  socket.send({ type: 'tcp_tunnel_data', request_id: 'tcp-1', payload: { data: 'aGk=' } });
  socket.send({ type: 'ping', request_id: 'end', payload: {} });
  await socket.next('pong');
  t.is(socket.messages.all.filter((m) => m.type === 'protocol_fallback').length, 0);
});

test('C10: a message above the inbound cap closes the socket with 1009 and the agent reconnects', async (t) => {
  const { plane, clock } = await startHarness(t, { config: { inboundCapBytes: 4096 } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({ type: 'proxy_request', request_id: 'big', payload: { body: 'x'.repeat(10_000) } });
  const closed = await socket.closed;
  t.is(closed.code, 1009);
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);
  const next = await plane.nextSocket();
  await next.next('heartbeat');
});
