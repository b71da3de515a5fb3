// The TCP tunnel target (workers/lib/tcp-tunnel-target.ts) against loopback servers, with a recording peer
// in place of the router (PROTOCOL.md §15.5): early bytes wait for the connection, half-close both ways,
// reads stop at zero credit, and dial, timeout, reset and cancel each end it the way the router expects.

import test, { type ExecutionContext } from 'ava';
import { createServer, type AddressInfo, type LookupFunction, type Socket } from 'node:net';
import { TcpTunnelTarget } from '../../workers/lib/tcp-tunnel-target.js';
import type { TunnelOutbound } from '../../src/messages/tunnel-messages.js';
import { eventually } from '../helpers/eventually.js';

interface Recorder {
  readonly posted: TunnelOutbound[];
  readonly peer: { post(message: TunnelOutbound): void };
  /** The target's bytes posted as data, concatenated. */
  text(): string;
}

function recorder(): Recorder {
  const posted: TunnelOutbound[] = [];
  return {
    posted,
    peer: { post: (message) => posted.push(message) },
    text: () => Buffer.concat(posted.flatMap((message) => (message.type === 'data' ? [Buffer.from(message.data)] : []))).toString(),
  };
}

interface Target {
  readonly port: number;
  readonly connections: Socket[];
  /** Everything each connection received, and whether it saw EOF. */
  readonly received: { text: string; isEnded: boolean }[];
}

/** A loopback server that records what it receives and lets the test drive each connection. */
async function server(t: ExecutionContext, onConnection: (socket: Socket) => void = () => undefined): Promise<Target> {
  const connections: Socket[] = [];
  const received: { text: string; isEnded: boolean }[] = [];
  const listener = createServer({ allowHalfOpen: true }, (socket) => {
    const record = { text: '', isEnded: false };
    connections.push(socket);
    received.push(record);
    socket.on('data', (chunk: Buffer) => (record.text += chunk.toString()));
    socket.on('end', () => (record.isEnded = true));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        listener.close(() => resolve());
      }),
  );
  return { port: (listener.address() as AddressInfo).port, connections, received };
}

function target(peer: Recorder['peer'], port: number, options: { creditBytes?: number; connectTimeoutMs?: number; lookup?: LookupFunction } = {}): TcpTunnelTarget {
  return new TcpTunnelTarget({
    host: '127.0.0.1',
    port,
    lookup: options.lookup,
    peer,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    creditBytes: options.creditBytes ?? 256 * 1024,
  });
}

const types = (posted: readonly TunnelOutbound[]): string[] => posted.map((message) => message.type);

test('bytes sent before the connection are written once connected; both half-closes pass through; a clean end settles undefined', async (t) => {
  const remote = await server(t, (socket) => socket.write('welcome'));
  const { posted, peer, text } = recorder();
  const tcp = target(peer, remote.port);
  const done = tcp.run(new Uint8Array(Buffer.from('first ')));
  tcp.onInbound({ type: 'data', data: new Uint8Array(Buffer.from('second')) });
  tcp.onInbound({ type: 'end' });
  await eventually(() => remote.received[0]?.isEnded === true, 'the stream FIN reached the target as EOF');
  t.is(remote.received[0]!.text, 'first second');
  await eventually(() => text() === 'welcome', 'the target bytes posted');
  remote.connections[0]!.end();
  t.is(await done, undefined);
  t.deepEqual(types(posted).filter((type) => type !== 'consumed'), ['connected', 'data', 'end']);
  const consumed = posted.flatMap((message) => (message.type === 'consumed' ? [message.bytes] : []));
  t.is(consumed.reduce((sum, bytes) => sum + bytes, 0), 12, 'every stream byte reported consumed once written');
  t.is(tcp.bytesToTarget, 12);
  t.is(tcp.bytesFromTarget, 7);
});

test('reads stop at zero credit and resume when credit is granted', async (t) => {
  const remote = await server(t);
  const { peer, text } = recorder();
  const tcp = target(peer, remote.port, { creditBytes: 4 });
  const done = tcp.run(new Uint8Array(0));
  await eventually(() => remote.connections.length === 1, 'connected');
  remote.connections[0]!.write('abcd');
  await eventually(() => text() === 'abcd', 'the first four bytes');
  await new Promise<void>((resolve) => remote.connections[0]!.write('efgh', () => resolve()));
  // The bytes sit in the kernel while the socket is paused: give them every chance to arrive anyway.
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(text(), 'abcd', 'nothing read past the credit');
  tcp.onInbound({ type: 'credit', bytes: 4 });
  await eventually(() => text() === 'abcdefgh', 'the rest after the grant');
  tcp.onInbound({ type: 'cancel', reason: 'proxy_cancel' });
  t.is(await done, undefined);
});

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  const port = (listener.address() as AddressInfo).port;
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

test('a refused connection posts a dial reset and settles with dial', async (t) => {
  const { posted, peer } = recorder();
  const tcp = target(peer, await freePort());
  t.is(await tcp.run(new Uint8Array(Buffer.from('lost'))), 'dial');
  t.deepEqual(posted, [{ type: 'reset', kind: 'dial' }]);
  t.is(tcp.bytesToTarget, 0);
});

test('a connection not made within the connect timeout is a dial failure', async (t) => {
  // A lookup that never answers holds the dial before any packet leaves.
  const hanging: LookupFunction = () => undefined;
  const { posted, peer } = recorder();
  const tcp = target(peer, 9, { connectTimeoutMs: 50, lookup: hanging });
  t.is(await tcp.run(new Uint8Array(0)), 'dial');
  t.deepEqual(posted, [{ type: 'reset', kind: 'dial' }]);
});

test('a target that resets the connection after it was made is a target failure', async (t) => {
  const remote = await server(t);
  const { posted, peer } = recorder();
  const tcp = target(peer, remote.port);
  const done = tcp.run(new Uint8Array(0));
  await eventually(() => remote.connections.length === 1 && posted.length > 0, 'connected');
  remote.connections[0]!.resetAndDestroy();
  t.is(await done, 'target');
  t.deepEqual(types(posted), ['connected', 'reset']);
  t.like(posted[1], { type: 'reset', kind: 'target' });
});

test('cancel closes the target connection and settles without an error or a FIN', async (t) => {
  const remote = await server(t);
  const { posted, peer } = recorder();
  const tcp = target(peer, remote.port);
  const done = tcp.run(new Uint8Array(0));
  await eventually(() => remote.connections.length === 1 && posted.length > 0, 'connected');
  tcp.onInbound({ type: 'cancel', reason: 'connection_lost' });
  t.is(await done, undefined);
  await eventually(() => remote.received[0]!.isEnded, 'the target saw the connection go');
  t.deepEqual(types(posted), ['connected']);
});

test('a FIN that arrives before the connection is made ends the socket once connected', async (t) => {
  const remote = await server(t);
  const { peer } = recorder();
  const tcp = target(peer, remote.port);
  const done = tcp.run(new Uint8Array(Buffer.from('only')));
  tcp.onInbound({ type: 'end' });
  await eventually(() => remote.received[0]?.isEnded === true, 'EOF at the target');
  t.is(remote.received[0]!.text, 'only');
  remote.connections[0]!.end();
  t.is(await done, undefined);
});
