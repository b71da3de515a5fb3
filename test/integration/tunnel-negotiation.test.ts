// gateway_hello and yamux on the agent's session socket (PROTOCOL.md §15.2–§15.5, checklist C87–C90): the
// ack only once the session exists, streams accepted right after it, the tunnel header and dial, and the
// rules that hold for binary frames and body_binary while yamux is active.

import test from 'ava';
import type { ServerResponse } from 'node:http';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import type { RecordedRequest } from '../helpers/fake-kube-api.js';
import { eventually } from '../helpers/eventually.js';
import { gatewaySession, openTunnel, readStream, tcpEcho, udpEcho } from '../helpers/yamux-gateway.js';
import { decodeHeader, FrameFlag, FrameType } from '../../src/tunnel/yamux/yamux-frame.js';

const ALIASES = { 'db.apps.svc.cluster.local': '127.0.0.1', 'dns.apps.svc.cluster.local': '127.0.0.1' };

async function connected(t: Parameters<typeof startHarness>[0], tunnelEnabled = true, tunnelMaxStreams?: number): Promise<Harness & { socket: FakeSocket }> {
  const config = tunnelMaxStreams === undefined ? { tunnelEnabled } : { tunnelEnabled, tunnelMaxStreams };
  const harness = await startHarness(t, { config, workerTuning: { hostAliases: ALIASES } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-yamux' });
  await socket.next('heartbeat');
  return { ...harness, socket };
}

const HELLO = { type: 'gateway_hello', payload: { use_yamux: true, yamux_config: { max_stream_window_size: 262144, keep_alive_interval_seconds: 30, connection_timeout_seconds: 30 } } };

test('C3 Phase 2: with the tunnel enabled the gateway socket query carries supports_yamux=true', async (t) => {
  const { plane } = await startHarness(t);
  const controller = await plane.nextSocket();
  await controller.acceptRegistration({ cluster_id: 'c-1', gateway_ws_url: plane.url.replace('http', 'ws') });
  const gateway = await plane.nextSocket();
  t.is(gateway.handshake.query.get('supports_yamux'), 'true');
});

test('C87: tunnel.enabled false advertises no supports_yamux and ignores gateway_hello; JSON traffic continues', async (t) => {
  const { plane, agent } = await startHarness(t, { config: { tunnelEnabled: false } });
  const controller = await plane.nextSocket();
  await controller.acceptRegistration({ cluster_id: 'c-1', gateway_ws_url: plane.url.replace('http', 'ws') });
  const gateway = await plane.nextSocket();
  t.false(gateway.handshake.query.has('supports_yamux'));
  await gateway.next('heartbeat');
  gateway.send(HELLO);
  gateway.send({ type: 'ping', request_id: 'after-hello', payload: {} });
  await gateway.next('pong', 15_000, (message) => message.request_id === 'after-hello');
  t.false(gateway.messages.all.some((message) => message.type === 'gateway_hello_ack'));
  t.false(agent.link.sessionConnection?.isYamuxActive ?? true);
});

test('C88: gateway_hello_ack comes only after the session exists, and a stream opened right after the ack is accepted', async (t) => {
  const { socket, agent } = await connected(t);
  const session = gatewaySession(socket);
  socket.send(HELLO);
  const ack = await socket.next('gateway_hello_ack');
  t.deepEqual(ack.payload, { use_yamux: true });
  t.true(agent.link.sessionConnection?.isYamuxActive);
  const echo = await tcpEcho(t);
  const stream = openTunnel(session, { protocol: 'tcp', servicePort: echo.port, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't1' }, Buffer.from('hi'));
  // the agent's first frame on the stream is its ACK
  const first = decodeHeader(await socket.nextBinary());
  t.is(first.streamId, stream.id);
  t.is(first.type, FrameType.windowUpdate);
  t.is(first.flags & FrameFlag.ack, FrameFlag.ack);
  const reply = readStream(stream);
  stream.end();
  t.deepEqual((await reply).data.toString(), 'hi');
  // a second gateway_hello on the same socket gets no second ack
  socket.send(HELLO);
  socket.send({ type: 'ping', request_id: 'p2', payload: {} });
  await socket.next('pong', 15_000, (message) => message.request_id === 'p2');
  t.is(socket.messages.all.filter((message) => message.type === 'gateway_hello_ack').length, 1);
});

test('C88: a window below 256 KiB cannot make a session: no ack, JSON only', async (t) => {
  const { socket, agent } = await connected(t);
  socket.send({ type: 'gateway_hello', payload: { use_yamux: true, yamux_config: { max_stream_window_size: 1024 } } });
  socket.send({ type: 'gateway_hello', payload: { use_yamux: false } });
  socket.send({ type: 'ping', request_id: 'p', payload: {} });
  await socket.next('pong');
  t.false(socket.messages.all.some((message) => message.type === 'gateway_hello_ack'));
  t.false(agent.link.sessionConnection?.isYamuxActive ?? true);
});

test('C89: a TCP header for db.apps dials db.apps.svc.cluster.local and relays both ways with half-close; a truncated header closes only that stream', async (t) => {
  const { socket, agent } = await connected(t);
  const session = gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const echo = await tcpEcho(t);
  const truncated = session.open();
  const truncatedEnd = readStream(truncated);
  truncated.write(Buffer.from([1, 1, 0x15])); // version, protocol, half a port
  truncated.end();
  const good = openTunnel(session, { protocol: 'tcp', servicePort: echo.port, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't1' });
  const reply = readStream(good);
  good.write(Buffer.from('SELECT 1;\n'));
  good.write(Buffer.alloc(300 * 1024, 7));
  good.end();
  t.is((await truncatedEnd).end, 'reset');
  const result = await reply;
  t.is(result.end, 'fin', 'target EOF after our FIN comes back as FIN');
  t.is(result.data.length, 10 + 300 * 1024);
  t.is(result.data.subarray(0, 10).toString(), 'SELECT 1;\n');
  t.is(echo.connections.length, 1);
  await eventually(() => agent.router.activeTunnelStreams === 0, 'streams finished');
  t.is(await agent.metrics.value('tunnelStreamErrors', { kind: 'header' }), 1);
  t.is(await agent.metrics.value('tunnelStreamsOpened', { protocol: 'tcp' }), 1);
  t.is(await agent.metrics.value('tunnelBytes', { direction: 'out', protocol: 'tcp' }), 10 + 300 * 1024);
});

test('C89: an unknown protocol or a dial failure resets only that stream', async (t) => {
  const { socket, agent } = await connected(t);
  const session = gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const unknown = session.open();
  const unknownEnd = readStream(unknown);
  unknown.write(Buffer.from([1, 9, 0, 80, 0, 0, 0, 0, 0, 0]));
  const refused = openTunnel(session, { protocol: 'tcp', servicePort: 1, serviceName: 'db', serviceNamespace: 'apps', tunnelId: '' });
  const refusedEnd = readStream(refused);
  t.is((await unknownEnd).end, 'reset');
  t.is((await refusedEnd).end, 'reset');
  t.false(session.isClosed);
  await eventually(() => agent.router.activeTunnelStreams === 0, 'streams finished');
  t.is(await agent.metrics.value('tunnelStreamErrors', { kind: 'dial' }), 1);
});

test('UDP: each stream chunk is one datagram and each datagram comes back unchanged', async (t) => {
  const { socket } = await connected(t);
  const session = gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const echo = await udpEcho(t);
  const stream = openTunnel(session, { protocol: 'udp', servicePort: echo.port, serviceName: 'dns', serviceNamespace: 'apps', tunnelId: 'u1' });
  const chunks: string[] = [];
  stream.onData = (chunk) => {
    chunks.push(chunk.toString());
    stream.consume(chunk.length);
  };
  stream.write(Buffer.from('one'));
  await eventually(() => chunks.length === 1, 'first datagram echoed');
  stream.write(Buffer.from('two'));
  await eventually(() => chunks.length === 2, 'second datagram echoed');
  t.deepEqual(chunks, ['one', 'two']);
});

test('C90: while yamux is active body_binary gets proxy_error and a large buffered response is JSON, never a binary frame', async (t) => {
  const { socket, kube } = await connected(t);
  gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  socket.send({ type: 'proxy_request', request_id: 'bb-1', payload: { method: 'PUT', path: '/api/v1/a', body_binary: true, body_size: 3 } });
  const error = await socket.next('proxy_error', 15_000, (message) => message.request_id === 'bb-1');
  t.deepEqual(error.payload, { error: 'invalid proxy_request: body_binary is not supported while yamux is active' });
  const html = Buffer.from(`<html>${'<p>hello tunnel</p>'.repeat(900)}</html>`);
  kube.handler = (_request: RecordedRequest, response: ServerResponse) => {
    response.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': String(html.length) });
    response.end(html);
  };
  const binariesBefore = socket.binaries.all.length;
  socket.send({ type: 'proxy_request', request_id: 'big', payload: { method: 'GET', path: '/api/v1/things' } });
  const response = await socket.next('proxy_response', 15_000, (message) => message.request_id === 'big');
  t.is(response.payload['encoding'], 'gzip');
  t.is(socket.binaries.all.length, binariesBefore, 'no binary frame: they would be yamux bytes');
});

test('§15.2: yamux dies with its socket; the next connection starts without it', async (t) => {
  const { socket, agent, plane, clock } = await connected(t);
  gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const before = agent.link.sessionConnection;
  t.true(before?.isYamuxActive);
  t.true(before?.yamux !== undefined && !before.yamux.isClosed);
  socket.close(1000);
  await eventually(() => clock.pendingDelays().includes(500), 'reconnect scheduled');
  t.true(before?.yamux?.isClosed);
  clock.advance(500);
  const next = await plane.nextSocket();
  await next.next('heartbeat');
  t.false(agent.link.sessionConnection?.isYamuxActive ?? true);
});

test('tunnel.max_streams: a stream beyond the limit is reset, the open one goes on', async (t) => {
  const { socket, agent } = await connected(t, true, 1);
  const session = gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const echo = await tcpEcho(t);
  const first = openTunnel(session, { protocol: 'tcp', servicePort: echo.port, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't1' });
  const firstReply = readStream(first);
  await eventually(() => agent.router.activeTunnelStreams === 1, 'first stream open');
  const second = openTunnel(session, { protocol: 'tcp', servicePort: echo.port, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't2' });
  t.is((await readStream(second)).end, 'reset');
  first.write(Buffer.from('still served'));
  first.end();
  t.is((await firstReply).data.toString(), 'still served');
  t.is(await agent.metrics.value('tunnelStreamErrors', { kind: 'refused' }), 1);
});

test('§7.7 drain: new streams are refused (go away) and open tunnel streams are reset before the socket closes', async (t) => {
  const { socket, agent } = await connected(t);
  const session = gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const echo = await tcpEcho(t);
  const open = openTunnel(session, { protocol: 'tcp', servicePort: echo.port, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't1' });
  const openEnd = readStream(open);
  await eventually(() => echo.connections.length === 1, 'target dialled');
  const stopped = agent.drainAndStop(60_000);
  t.is((await openEnd).end, 'reset');
  await stopped;
  t.throws(() => session.open(), { message: /not accepting|session closed/ });
  t.is(agent.router.activeTunnelStreams, 0);
});

test('UDP: a stream without a datagram either way for tunnel.udp_idle_timeout ends with FIN', async (t) => {
  const harness = await startHarness(t, { config: { tunnelUdpIdleTimeoutMs: 200 }, workerTuning: { hostAliases: ALIASES } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-yamux' });
  await socket.next('heartbeat');
  const session = gatewaySession(socket);
  socket.send(HELLO);
  await socket.next('gateway_hello_ack');
  const echo = await udpEcho(t);
  const stream = openTunnel(session, { protocol: 'udp', servicePort: echo.port, serviceName: 'dns', serviceNamespace: 'apps', tunnelId: 'u1' }, Buffer.from('once'));
  const result = await readStream(stream);
  t.is(result.data.toString(), 'once');
  t.is(result.end, 'fin');
  stream.end(); // the gateway closes its side too: the stream is gone on both
  await eventually(() => harness.agent.router.activeTunnelStreams === 0, 'stream finished');
});
