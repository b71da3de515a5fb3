// Registration, gateway switch and the handshake rules (PROTOCOL.md §3, §5; checklist C1–C5, C12–C20).

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

test('C1 C2 C12 C13: controller handshake and the register message', async (t) => {
  const { plane } = await startHarness(t);
  const socket = await plane.nextSocket();
  const handshake = socket.handshake;
  t.is(handshake.path, '/api/v1/clusters/agent/ws');
  t.is([...handshake.query.keys()].length, 0);
  t.is(handshake.headers.authorization, 'Bearer agent-token-secret');
  t.is(handshake.headers['sec-websocket-protocol'], undefined);
  t.is(handshake.headers['sec-websocket-extensions'], undefined);
  const register = await socket.next('register');
  t.regex(register.request_id!, /^req_\d+_agent-0a1b2c3d4e5f6071$/);
  t.regex(String(register.timestamp), RFC3339);
  const payload = register.payload;
  t.deepEqual(Object.keys(payload).sort(), [
    'agent_id',
    'agent_version',
    'cloud_provider',
    'features',
    'hostname',
    'k8s_service_token',
    'k8s_version',
    'labels',
    'metadata',
    'name',
    'region',
    'server_ip',
    'server_specs',
    'tunnel_port_config',
  ]);
  t.is(payload['agent_id'], 'agent-0a1b2c3d4e5f6071');
  t.is(payload['name'], 'test-cluster');
  t.is(payload['k8s_service_token'], 'agent-own-token');
  t.deepEqual(payload['features'], {
    supports_streaming: true,
    supports_binary_protocol: true,
    supports_compression: true,
    supports_websocket_proxy: true,
    supports_gateway: true,
    supports_response_streaming: true,
  });
  const metadata = payload['metadata'] as Record<string, string>;
  t.is(metadata['agent_mode'], 'vm-agent');
  t.is(metadata['registration_mode'], 'fresh');
  t.regex(metadata['registration_timestamp']!, RFC3339);
  t.deepEqual(payload['tunnel_port_config'], { kubernetes_api: 6443, kubelet: 10250, agent_http: 8080 });
  const labels = payload['labels'] as Record<string, string>;
  t.truthy(labels['hostname']);
  t.is(labels['agent.pipeops.io/version'], payload['agent_version'] as string);
});

test('C14 C18: a foreign register_success is ignored; one without cluster_id fails and is retried on a fresh socket', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  const register = await socket.next('register');
  socket.send({ type: 'register_success', request_id: 'someone-else', payload: { cluster_id: 'c-x' } });
  socket.send({ type: 'ping', request_id: 'p-1', payload: {} });
  await socket.next('pong');
  t.is(socket.messages.pending.filter((m) => m.type === 'heartbeat').length, 0, 'not registered by a foreign reply');
  socket.send({ type: 'register_success', request_id: register.request_id, payload: { cluster_uuid: 'u' } });
  const closed = await socket.closed;
  t.is(closed.code, 1000);
  t.deepEqual(clock.pendingDelays().filter((d) => d >= 400), [500]);
  clock.advance(500);
  const retry = await plane.nextSocket();
  const again = await retry.next('register');
  t.not(again.request_id, undefined);
});

test('C15 C16: registration times out after 30 s, each register_in_progress adds 30 s up to 120 s', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.next('register');
  clock.advance(29_999);
  t.is(plane.openSockets, 1);
  for (let i = 0; i < 5; i++) {
    socket.send({ type: 'register_in_progress', payload: {} });
    socket.send({ type: 'ping', request_id: `p${i}`, payload: {} });
    await socket.next('pong');
  }
  // deadline: 30 s + 5 × 30 s capped at 120 s after register
  clock.advance(120_000 - 29_999 - 1);
  t.is(plane.openSockets, 1);
  clock.advance(1);
  await socket.closed;
  clock.advance(500);
  const retry = await plane.nextSocket();
  await retry.next('register');
  t.pass();
});

test('C17: an error while registering fails it at once', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.next('register');
  socket.send({ type: 'error', payload: { error: 'quota exceeded' } });
  await socket.closed;
  clock.advance(500);
  await (await plane.nextSocket()).next('register');
  t.pass();
});

test('C19 C3 C4 C2 C30: gateway switch closes the controller with 1000 and dials the gateway with the sorted query', async (t) => {
  // tunnel.enabled false: the Phase-1 query, without supports_yamux (the Phase-2 query is tested in tunnel-negotiation.test.ts)
  const { plane, clock } = await startHarness(t, { config: { tunnelEnabled: false } });
  const controller = await plane.nextSocket();
  await controller.acceptRegistration({
    cluster_id: 'c-7788',
    cluster_uuid: '6b1f0c2e',
    gateway_ws_url: `${plane.url.replace('http', 'ws')}?zeta=9&cluster_uuid=old&alpha=1`,
  });
  t.is((await controller.closed).code, 1000);
  const gateway = await plane.nextSocket();
  t.is(gateway.handshake.path, '/ws');
  t.is(gateway.handshake.headers.authorization, 'Bearer agent-token-secret');
  const rawQuery = plane.handshakes.at(-1)!.query.toString();
  t.is(
    rawQuery,
    'agent_version=' +
      gateway.handshake.query.get('agent_version') +
      '&alpha=1&cluster_uuid=6b1f0c2e&supports_binary=true&supports_response_streaming=true&supports_streaming=true&supports_websocket=true&zeta=9',
  );
  t.false(gateway.handshake.query.has('supports_yamux'));
  await gateway.next('heartbeat');
  // the gateway drops the socket: the agent comes back to the gateway without registering
  gateway.close(1000);
  await gateway.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  clock.advance(500);
  const again = await plane.nextSocket();
  t.is(again.handshake.path, '/ws');
  const heartbeat = await again.next('heartbeat');
  t.is(heartbeat.payload['cluster_id'], 'c-7788');
  t.is(again.messages.all.filter((m) => m.type === 'register').length, 0);
});

test('C4: cluster_uuid falls back to cluster_id when register_success has none', async (t) => {
  const { plane } = await startHarness(t);
  const controller = await plane.nextSocket();
  await controller.acceptRegistration({ cluster_id: 'c-1', gateway_ws_url: `${plane.url}/gw` });
  const gateway = await plane.nextSocket();
  t.is(gateway.handshake.path, '/gw');
  t.is(gateway.handshake.query.get('cluster_uuid'), 'c-1');
});

test('C20: "cluster not found" makes the agent register afresh without cluster_id', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-old' });
  await socket.next('heartbeat');
  socket.send({ type: 'error', payload: { error: 'Cluster Not Found for agent' } });
  await socket.closed;
  clock.advance(500);
  const fresh = await plane.nextSocket();
  const register = await fresh.next('register');
  t.false('cluster_id' in register.payload);
  t.is((register.payload['metadata'] as Record<string, string>)['registration_mode'], 'fresh');
});

test('C29: 401 from the gateway leads to a fresh controller socket and register with the stored cluster_id', async (t) => {
  const { plane, clock } = await startHarness(t);
  const controller = await plane.nextSocket();
  await controller.acceptRegistration({ cluster_id: 'c-55', gateway_ws_url: `${plane.url}/ws` });
  const gateway = await plane.nextSocket();
  await gateway.next('heartbeat');
  plane.refusals.push(401);
  gateway.close(1001);
  await gateway.closed;
  clock.advance(500); // reconnect to the gateway: refused with 401
  await eventually(() => plane.handshakes.length === 3 && clock.pendingDelays().some((d) => d >= 1000), 'refused dial and next backoff');
  t.is(plane.handshakes.at(-1)!.path, '/ws');
  clock.advance(1000);
  const fresh = await plane.nextSocket();
  t.is(fresh.handshake.path, '/api/v1/clusters/agent/ws');
  const register = await fresh.next('register');
  t.is(register.payload['cluster_id'], 'c-55');
  t.is((register.payload['metadata'] as Record<string, string>)['registration_mode'], 'resume');
});

test('§5.6 §7.1: registrations rejected on an accepted socket back off 0.5, 1, 2, 4 s; a session resets the delay', async (t) => {
  const { plane, clock } = await startHarness(t);
  const rejections: ((socket: Awaited<ReturnType<typeof plane.nextSocket>>) => Promise<void>)[] = [
    async (socket) => {
      await socket.next('register');
      socket.send({ type: 'error', payload: { error: 'quota exceeded' } });
    },
    async (socket) => {
      const register = await socket.next('register');
      socket.send({ type: 'register_success', request_id: register.request_id, payload: { cluster_uuid: 'no-id' } });
    },
    async (socket) => {
      await socket.next('register');
      clock.advance(30_000); // registration timed out
    },
    async (socket) => {
      await socket.next('register');
      socket.send({ type: 'error', payload: { error: 'try later' } });
    },
  ];
  const waits: number[] = [];
  for (const reject of rejections) {
    const socket = await plane.nextSocket();
    await reject(socket);
    await socket.closed;
    await eventually(() => clock.pendingDelays().some((delay) => delay >= 500), 'reconnect scheduled');
    const wait = clock.pendingDelays().find((delay) => delay >= 500)!;
    waits.push(wait);
    clock.advance(wait);
  }
  t.deepEqual(waits, [500, 1000, 2000, 4000]);
  const accepted = await plane.nextSocket();
  await accepted.acceptRegistration({ cluster_id: 'c-1' });
  await accepted.next('heartbeat');
  accepted.close(1000);
  await accepted.closed;
  await eventually(() => clock.pendingDelays().includes(500), 'backoff reset by the session');
  t.pass();
});
