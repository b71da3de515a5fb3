// The yamux session against itself, client and server, over a transport that splits and coalesces bytes
// at random (WebSocket message boundaries mean nothing), plus hand-built frames for the error paths.

import test from 'ava';
import { SimulatedClock } from '../../helpers/simulated-clock.js';
import { YamuxSession, YamuxRole, type YamuxSessionOptions } from '../../../src/tunnel/yamux/yamux-session.js';
import { FrameFlag, FrameType, GoAwayCode, INITIAL_STREAM_WINDOW_BYTES, decodeHeader, encodeHeader } from '../../../src/tunnel/yamux/yamux-frame.js';
import type { YamuxStream } from '../../../src/tunnel/yamux/yamux-stream.js';

/** Deterministic pseudo-random split points. */
function splitter(seed: number): (bytes: Uint8Array) => Uint8Array[] {
  let state = seed;
  const next = (): number => (state = (state * 1_103_515_245 + 12_345) >>> 0) % 97;
  return (bytes) => {
    const pieces: Uint8Array[] = [];
    let offset = 0;
    while (offset < bytes.length) {
      const size = Math.min(bytes.length - offset, 1 + next() * 31);
      pieces.push(bytes.subarray(offset, offset + size));
      offset += size;
    }
    return pieces;
  };
}

interface Pair {
  readonly client: YamuxSession;
  readonly server: YamuxSession;
  readonly accepted: YamuxStream[];
  readonly clock: SimulatedClock;
  /** Delivers everything in flight, both ways, until quiet. */
  pump(): void;
  readonly wire: { toServer: Uint8Array[]; toClient: Uint8Array[] };
}

function pair(options: Partial<YamuxSessionOptions> = {}, seed = 7): Pair {
  const clock = new SimulatedClock();
  const wire = { toServer: [] as Uint8Array[], toClient: [] as Uint8Array[] };
  const split = splitter(seed);
  const accepted: YamuxStream[] = [];
  const client = new YamuxSession({
    role: YamuxRole.client,
    clock,
    keepAliveIntervalMs: 0,
    transport: { write: (bytes, onWritten) => { wire.toServer.push(...split(bytes)); onWritten?.(); } },
    onStream: (stream) => {
      accepted.push(stream);
      client.accept(stream);
    },
    ...options,
  });
  const server = new YamuxSession({
    role: YamuxRole.server,
    clock,
    keepAliveIntervalMs: 0,
    transport: { write: (bytes, onWritten) => { wire.toClient.push(...split(bytes)); onWritten?.(); } },
    ...options,
  });
  const pump = (): void => {
    while (wire.toServer.length > 0 || wire.toClient.length > 0) {
      for (const piece of wire.toServer.splice(0)) server.receive(piece);
      for (const piece of wire.toClient.splice(0)) client.receive(piece);
    }
  };
  return { client, server, accepted, clock, pump, wire };
}

function collect(stream: YamuxStream, shouldConsume = true): { chunks: Buffer[]; ended: boolean; closed: string | undefined } {
  const state = { chunks: [] as Buffer[], ended: false, closed: undefined as string | undefined };
  stream.onData = (chunk) => {
    state.chunks.push(Buffer.from(chunk));
    if (shouldConsume) stream.consume(chunk.length);
  };
  stream.onEnd = () => (state.ended = true);
  stream.onClose = (end) => (state.closed = end);
  return state;
}

test('a server-opened stream is accepted by the client with an even id and carries bytes both ways', (t) => {
  const { client, server, accepted, pump } = pair();
  const opened = server.open();
  t.is(opened.id % 2, 0);
  const fromClient = collect(opened);
  pump();
  t.is(accepted.length, 1);
  const clientSide = accepted[0]!;
  t.is(clientSide.id, opened.id);
  const fromServer = collect(clientSide);
  opened.write(Buffer.from(' world'));
  clientSide.write(Buffer.from('pong'));
  pump();
  t.is(Buffer.concat(fromServer.chunks).toString(), ' world');
  t.is(Buffer.concat(fromClient.chunks).toString(), 'pong');
  t.is(client.streamCount, 1);
});

test('half-close: FIN one way still lets the other way send, and both FINs close the stream on both sides', (t) => {
  const { server, accepted, pump } = pair();
  const opened = server.open();
  const atServer = collect(opened);
  pump();
  const clientSide = accepted[0]!;
  const atClient = collect(clientSide);
  opened.write(Buffer.from('request'));
  opened.end();
  pump();
  t.true(atClient.ended);
  t.is(atClient.closed, undefined);
  clientSide.write(Buffer.from('reply'));
  clientSide.end();
  pump();
  t.is(Buffer.concat(atServer.chunks).toString(), 'reply');
  t.true(atServer.ended);
  t.is(atServer.closed, 'closed');
  t.is(atClient.closed, 'closed');
  t.is(server.streamCount, 0);
});

test('the send window stops a writer at 256 KiB until the reader consumes; consumption reopens it', (t) => {
  const { server, accepted, pump } = pair();
  const opened = server.open();
  pump();
  const clientSide = accepted[0]!;
  const atClient = collect(clientSide, false);
  let isSent = false;
  opened.write(Buffer.alloc(INITIAL_STREAM_WINDOW_BYTES + 1000, 1), () => (isSent = true));
  pump();
  const received = atClient.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  t.is(received, INITIAL_STREAM_WINDOW_BYTES);
  t.is(opened.sendWindow, 0);
  t.false(isSent);
  clientSide.consume(received);
  pump();
  t.is(atClient.chunks.reduce((sum, chunk) => sum + chunk.length, 0), INITIAL_STREAM_WINDOW_BYTES + 1000);
  t.true(isSent);
});

test('a larger max window lets the peer send up to it before any consumption (window growth)', (t) => {
  const max = 1024 * 1024;
  const { server, accepted, pump } = pair({ maxStreamWindowBytes: max });
  const opened = server.open();
  pump();
  const atClient = collect(accepted[0]!, false);
  pump();
  opened.write(Buffer.alloc(2 * max, 2));
  pump();
  t.is(atClient.chunks.reduce((sum, chunk) => sum + chunk.length, 0), max);
});

test('a peer exceeding the receive window is a protocol error: go away and the session closes', (t) => {
  const sent: Uint8Array[] = [];
  let closedWith: string | undefined;
  const client = new YamuxSession({
    role: YamuxRole.client,
    clock: new SimulatedClock(),
    keepAliveIntervalMs: 0,
    transport: { write: (bytes) => sent.push(bytes) },
    onStream: (stream) => client.accept(stream),
    onClose: (error) => (closedWith = error?.kind),
  });
  client.receive(encodeHeader(FrameType.windowUpdate, FrameFlag.syn, 2, 0));
  const data = Buffer.alloc(INITIAL_STREAM_WINDOW_BYTES + 1);
  client.receive(Buffer.concat([encodeHeader(FrameType.data, 0, 2, data.length)]));
  t.is(closedWith, 'protocol_error');
  const last = decodeHeader(sent.at(-1)!);
  t.is(last.type, FrameType.goAway);
  t.is(last.length, GoAwayCode.protocolError);
});

test('SYNs beyond the accept backlog get RST; accepted ones leave the backlog', (t) => {
  const sent: Uint8Array[] = [];
  const client = new YamuxSession({
    role: YamuxRole.client,
    clock: new SimulatedClock(),
    keepAliveIntervalMs: 0,
    acceptBacklog: 2,
    transport: { write: (bytes) => sent.push(bytes) },
  });
  for (const id of [2, 4, 6]) client.receive(encodeHeader(FrameType.windowUpdate, FrameFlag.syn, id, 0));
  const resets = sent.map((bytes) => decodeHeader(bytes)).filter((header) => (header.flags & FrameFlag.rst) !== 0);
  t.deepEqual(resets.map((header) => header.streamId), [6]);
  t.is(client.streamCount, 2);
});

test('ping is answered with the same opaque value; keepalive without an answer ends the session', async (t) => {
  const { client, server, pump } = pair();
  const rtt = server.ping();
  pump();
  t.is(await rtt, 0);
  const clock = new SimulatedClock();
  let closedWith: string | undefined;
  const lonely = new YamuxSession({
    role: YamuxRole.client,
    clock,
    keepAliveIntervalMs: 1_000,
    writeTimeoutMs: 500,
    transport: { write: (_bytes, onWritten) => onWritten?.() },
    onClose: (error) => (closedWith = error?.kind),
  });
  clock.advance(1_000);
  t.is(closedWith, undefined);
  clock.advance(500);
  t.is(closedWith, 'keepalive_timeout');
  t.true(lonely.isClosed);
  t.false(client.isClosed);
});

test('go away (normal) refuses new streams opened by the peer with RST and stops local opens after the peer goes away', (t) => {
  const { client, server, accepted, pump } = pair();
  client.goAway();
  pump();
  t.throws(() => server.open(), { message: /not accepting/ });
  t.is(accepted.length, 0);
});

test('RST on one stream leaves the others alone', (t) => {
  const { server, accepted, pump } = pair();
  const first = server.open();
  const second = server.open();
  const atFirst = collect(first);
  const atSecond = collect(second);
  pump();
  accepted[0]!.reset();
  accepted[1]!.write(Buffer.from('still here'));
  pump();
  t.is(atFirst.closed, 'reset');
  t.is(atSecond.closed, undefined);
  t.is(Buffer.concat(atSecond.chunks).toString(), 'still here');
});

test('a window below 256 KiB is refused at construction', (t) => {
  t.throws(() => new YamuxSession({ role: YamuxRole.client, clock: new SimulatedClock(), transport: { write: () => undefined }, maxStreamWindowBytes: 1024 }), {
    message: 'maxStreamWindowBytes must be an integer of at least 262144 (got 1024)',
  });
});

test('an accepted stream sends nothing before accept(): consumption before it only counts, the ACK comes with accept', (t) => {
  const sent: Uint8Array[] = [];
  let pending: YamuxStream | undefined;
  const client = new YamuxSession({
    role: YamuxRole.client,
    clock: new SimulatedClock(),
    keepAliveIntervalMs: 0,
    transport: { write: (bytes) => sent.push(bytes) },
    onStream: (stream) => {
      pending = stream;
      stream.onData = (chunk) => stream.consume(chunk.length);
    },
  });
  client.receive(encodeHeader(FrameType.windowUpdate, FrameFlag.syn, 2, 0));
  client.receive(Buffer.concat([encodeHeader(FrameType.data, 0, 2, 200 * 1024), Buffer.alloc(200 * 1024)]));
  t.is(sent.length, 0, 'no frame before accept');
  client.accept(pending!);
  const headers = sent.map((bytes) => decodeHeader(bytes));
  t.is(headers.length, 1);
  t.is(headers[0]!.flags, FrameFlag.ack);
  t.is(headers[0]!.length, 200 * 1024, 'the window consumed before accept is granted back with the ACK');
});
