// The UDP tunnel target (workers/lib/udp-tunnel-target.ts) against loopback datagram sockets, with a
// recording peer in place of the router (PROTOCOL.md §15.5): a chunk is a datagram and a datagram a chunk,
// a datagram over the credit is dropped, the stream ends after its idle timeout, and lookup failures and a
// lookup that never answers are dial failures.

import test, { type ExecutionContext } from 'ava';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { LookupFunction } from 'node:net';
import { UdpTunnelTarget } from '../../workers/lib/udp-tunnel-target.js';
import type { TunnelOutbound } from '../../src/messages/tunnel-messages.js';
import { eventually } from '../helpers/eventually.js';

interface Recorder {
  readonly posted: TunnelOutbound[];
  readonly peer: { post(message: TunnelOutbound): void };
  readonly datagrams: () => string[];
}

function recorder(): Recorder {
  const posted: TunnelOutbound[] = [];
  return {
    posted,
    peer: { post: (message) => posted.push(message) },
    datagrams: () => posted.flatMap((message) => (message.type === 'data' ? [Buffer.from(message.data).toString()] : [])),
  };
}

interface Remote {
  readonly port: number;
  readonly socket: Socket;
  readonly received: { text: string; from: RemoteInfo }[];
}

/** A loopback datagram socket that records what it receives (it answers only when the test says so). */
async function remote(t: ExecutionContext): Promise<Remote> {
  const socket = createSocket('udp4');
  const received: { text: string; from: RemoteInfo }[] = [];
  socket.on('message', (message, from) => received.push({ text: message.toString(), from }));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, socket, received };
}

function target(
  peer: Recorder['peer'],
  port: number,
  options: { creditBytes?: number; idleTimeoutMs?: number; connectTimeoutMs?: number; lookup?: LookupFunction; host?: string } = {},
): UdpTunnelTarget {
  return new UdpTunnelTarget({
    host: options.host ?? '127.0.0.1',
    port,
    lookup: options.lookup,
    peer,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    creditBytes: options.creditBytes ?? 256 * 1024,
  });
}

const reply = (server: Remote, text: string): Promise<void> =>
  new Promise((resolve) => server.socket.send(text, server.received[0]!.from.port, '127.0.0.1', () => resolve()));

test('each chunk goes out as one datagram, early ones once connected; each datagram back is one chunk; the stream FIN ends it with FIN', async (t) => {
  const server = await remote(t);
  const { posted, peer, datagrams } = recorder();
  const udp = target(peer, server.port);
  const done = udp.run(new Uint8Array(Buffer.from('one')));
  udp.onInbound({ type: 'data', data: new Uint8Array(Buffer.from('two')) });
  await eventually(() => server.received.length === 2, 'both datagrams at the target');
  t.deepEqual(server.received.map((datagram) => datagram.text), ['one', 'two']);
  await reply(server, 'uno');
  await reply(server, 'dos');
  await eventually(() => datagrams().length === 2, 'both replies posted');
  t.deepEqual(datagrams(), ['uno', 'dos']);
  udp.onInbound({ type: 'end' });
  t.is(await done, undefined);
  t.is(posted[0]!.type, 'connected');
  t.is(posted.at(-1)!.type, 'end');
  t.is(posted.filter((message) => message.type === 'consumed').length, 2);
  t.is(udp.bytesToTarget, 6);
  t.is(udp.bytesFromTarget, 6);
});

test('a datagram larger than the credit left is dropped; credit granted lets the next one through', async (t) => {
  const server = await remote(t);
  const { peer, datagrams } = recorder();
  const udp = target(peer, server.port, { creditBytes: 4 });
  const done = udp.run(new Uint8Array(Buffer.from('hi')));
  await eventually(() => server.received.length === 1, 'the first datagram at the target');
  await reply(server, 'toolong');
  await reply(server, 'fits');
  await eventually(() => datagrams().length === 1, 'the datagram within the credit');
  t.deepEqual(datagrams(), ['fits']);
  t.is(udp.droppedDatagrams, 1);
  udp.onInbound({ type: 'credit', bytes: 8 });
  await reply(server, 'toolong');
  await eventually(() => datagrams().length === 2, 'the datagram after the grant');
  t.is(datagrams()[1], 'toolong');
  udp.onInbound({ type: 'cancel', reason: 'proxy_cancel' });
  t.is(await done, undefined);
});

test('no datagram either way for the idle timeout ends the stream with FIN', async (t) => {
  const server = await remote(t);
  const { posted, peer } = recorder();
  const udp = target(peer, server.port, { idleTimeoutMs: 50 });
  t.is(await udp.run(new Uint8Array(0)), undefined);
  t.deepEqual(posted.map((message) => message.type), ['connected', 'end']);
});

test('a host the lookup cannot resolve is a dial failure', async (t) => {
  const failing: LookupFunction = (_host, _options, callback) => callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '', 4);
  const { posted, peer } = recorder();
  const udp = target(peer, 53, { lookup: failing, host: 'missing.apps.svc.cluster.local' });
  t.is(await udp.run(new Uint8Array(Buffer.from('lost'))), 'dial');
  t.deepEqual(posted, [{ type: 'reset', kind: 'dial' }]);
});

test('a lookup that never answers is a dial failure at the connect timeout', async (t) => {
  const hanging: LookupFunction = () => undefined;
  const { posted, peer } = recorder();
  const udp = target(peer, 53, { lookup: hanging, connectTimeoutMs: 50 });
  t.is(await udp.run(new Uint8Array(0)), 'dial');
  t.deepEqual(posted, [{ type: 'reset', kind: 'dial' }]);
});

test('cancel ends the stream without a FIN', async (t) => {
  const server = await remote(t);
  const { posted, peer } = recorder();
  const udp = target(peer, server.port);
  const done = udp.run(new Uint8Array(0));
  await eventually(() => posted.length === 1, 'connected');
  udp.onInbound({ type: 'cancel', reason: 'connection_lost' });
  t.is(await done, undefined);
  t.deepEqual(posted.map((message) => message.type), ['connected']);
});
