// Invalid gateway URLs (PROTOCOL.md §5.4, checklist C94): one in register_success is logged without its
// query string, not persisted, and the controller socket stays the session socket; one in stored state is
// never dialled, the agent registers instead. Nothing about such a URL ends or stalls the agent.

import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { startHarness } from '../helpers/agent-harness.js';

function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

for (const invalid of ['gw.example.net/ws?key=s3cr3t-query', '::::', 'ftp://gw.example.net/ws', 'wss://']) {
  test(`C94: register_success with gateway_ws_url ${JSON.stringify(invalid)} keeps the controller as session socket`, async (t) => {
    const { logger, lines } = capturingLogger();
    const stateStore = new MemoryStateStore();
    const { agent, plane, clock } = await startHarness(t, { logger, stateStore });
    const socket = await plane.nextSocket();
    await socket.acceptRegistration({ cluster_id: 'c-94', gateway_ws_url: invalid });
    const heartbeat = await socket.next('heartbeat');
    t.is(heartbeat.payload['cluster_id'], 'c-94');
    clock.advance(30_000);
    await socket.next('heartbeat');
    socket.send({ type: 'ping', request_id: 'p-94', payload: {} });
    await socket.next('pong');
    t.is(plane.handshakes.length, 1, 'no gateway dial');
    t.is(plane.openSockets, 1);
    t.is(agent.link.state.gatewayUrl, undefined);
    t.like(await stateStore.load(), { clusterId: 'c-94', gatewayUrl: undefined });
    const warning = lines.find((line) => line.includes('ignoring an invalid gateway URL'));
    t.truthy(warning, 'the invalid URL is logged');
    t.false(lines.some((line) => line.includes('s3cr3t-query')), 'never with its query string');
  });
}

test('C94 §5.7: a stored invalid gateway URL is never dialled; the agent registers with its stored cluster id', async (t) => {
  const stateStore = new MemoryStateStore();
  await stateStore.save({ clusterId: 'c-stored', clusterUuid: undefined, gatewayUrl: 'gw.example.net/ws?key=s3cr3t-query' });
  const { logger, lines } = capturingLogger();
  const { plane } = await startHarness(t, { logger, stateStore });
  const socket = await plane.nextSocket();
  t.is(socket.handshake.path, '/api/v1/clusters/agent/ws');
  const register = await socket.next('register');
  t.is(register.payload['cluster_id'], 'c-stored');
  socket.send({ type: 'register_success', request_id: register.request_id, payload: { cluster_id: 'c-stored' } });
  await socket.next('heartbeat');
  t.is(plane.handshakes.length, 1);
  t.false(lines.some((line) => line.includes('s3cr3t-query')));
  t.is((await stateStore.load()).gatewayUrl, undefined);
});
