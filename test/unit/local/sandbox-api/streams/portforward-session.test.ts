// The port-forward connection with a scripted SPDY client standing in for kubectl: SYN_REPLY before
// any data, stream refusal, PING echo, pairing by requestid, the relay with half-closes both ways, the
// kubelet's error-stream messages, the stream creation timeout, and release of everything on close.

import { createServer, type Server, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { decodeHeaderBlock, encodeHeaderBlock } from '../../../../../src/local/sandbox-api/streams/portforward/header-block.js';
import { HeaderDeflater, HeaderInflater } from '../../../../../src/local/sandbox-api/streams/portforward/header-zlib.js';
import { PortForwardConnection, type LiveCounters } from '../../../../../src/local/sandbox-api/streams/portforward/port-forward-connection.js';
import { PodPortMap, podSandboxNames } from '../../../../../src/local/sandbox-api/streams/portforward/pod-ports.js';
import { FrameParser, RstStatus, encodeFrame, type SpdyFrame } from '../../../../../src/local/sandbox-api/streams/portforward/spdy-framer.js';
import { eventually } from '../../../../helpers/eventually.js';

const POD = { namespace: 'default', name: 'web' } as const;

/** kubectl's half of the connection: compresses its SYN_STREAM headers, reads what the server sends. */
class ScriptedClient {
  readonly frames: SpdyFrame[] = [];
  readonly replyHeaders: Array<Map<string, string[]>> = [];
  readonly counters: LiveCounters = { connections: 0, pendingPairs: 0, timers: 0, relays: 0, sockets: 0 };
  readonly connection: PortForwardConnection;
  transportClosed = false;
  readonly #deflater = new HeaderDeflater();
  readonly #inflater = new HeaderInflater();
  readonly #parser = new FrameParser();
  #decoding: Promise<void> = Promise.resolve();

  constructor(ports: PodPortMap, streamCreationTimeoutMs = 30_000) {
    const client = this;
    this.connection = new PortForwardConnection(
      {
        send(bytes, flushed) {
          client.#read(bytes);
          setImmediate(flushed);
        },
        pause: () => undefined,
        resume: () => undefined,
        close() {
          client.transportClosed = true;
        },
      },
      { pod: POD, names: podSandboxNames(POD, 'uid-1'), ports, counters: this.counters, streamCreationTimeoutMs, closed: () => undefined },
    );
  }

  async open(streamId: number, headers: Record<string, string>): Promise<void> {
    const headerBlock = await this.#deflater.compress(encodeHeaderBlock(Object.entries(headers).map(([name, value]) => [name, [value]])));
    this.send({ kind: 'synStream', flags: 0, streamId, associatedToStreamId: 0, priority: 0, slot: 0, headerBlock });
  }

  /** Opens the error and data streams of one forwarded connection, as kubectl does, error half-closed. */
  async forward(requestId: number, port: number, errorId: number, dataId: number): Promise<void> {
    await this.open(errorId, { streamtype: 'error', port: String(port), requestid: String(requestId) });
    this.send({ kind: 'data', streamId: errorId, flags: 1, data: Buffer.alloc(0) });
    await this.open(dataId, { streamtype: 'data', port: String(port), requestid: String(requestId) });
  }

  send(frame: SpdyFrame): void {
    this.connection.session.receive(encodeFrame(frame));
  }

  dataOn(streamId: number): Buffer {
    return Buffer.concat(this.frames.flatMap((frame) => (frame.kind === 'data' && frame.streamId === streamId ? [frame.data] : [])));
  }

  finished(streamId: number): boolean {
    return this.frames.some((frame) => frame.kind === 'data' && frame.streamId === streamId && (frame.flags & 1) === 1);
  }

  kinds(): string[] {
    return this.frames.map((frame) => `${frame.kind}:${'streamId' in frame ? frame.streamId : ''}${frame.kind === 'data' && frame.flags === 1 ? ':fin' : ''}`);
  }

  dispose(): void {
    this.connection.session.close();
    this.#deflater.close();
    this.#inflater.close();
  }

  #read(bytes: Buffer): void {
    for (const frame of this.#parser.push(bytes)) {
      this.frames.push(frame);
      if (frame.kind === 'synReply') {
        // a reply still inflating when the test ends is dropped with the client's inflater
        this.#decoding = this.#decoding
          .then(async () => {
            this.replyHeaders.push(decodeHeaderBlock(await this.#inflater.decompress(frame.headerBlock)));
          })
          .catch(() => undefined);
      }
    }
  }
}

function client(t: ExecutionContext, ports = new PodPortMap(), timeoutMs?: number): ScriptedClient {
  const scripted = new ScriptedClient(ports, timeoutMs);
  t.teardown(() => scripted.dispose());
  return scripted;
}

/** An echo server for the pod's port that ends its side when the client ends. */
async function echoServer(t: ExecutionContext): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer(function echoOnConnection(socket: Socket): void {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  const address = server.address();
  return { server, sockets, port: typeof address === 'object' && address !== null ? address.port : 0 };
}

test('every accepted stream gets a SYN_REPLY with an empty header block, before any data', async (t) => {
  const echo = await echoServer(t);
  const ports = new PodPortMap();
  ports.set(POD, 80, echo.port);
  const kubectl = client(t, ports);
  await kubectl.forward(0, 80, 1, 3);
  kubectl.send({ kind: 'data', streamId: 3, flags: 0, data: Buffer.from('ping') });
  await eventually(() => kubectl.dataOn(3).toString() === 'ping', 'the echo comes back');
  t.deepEqual(kubectl.kinds().slice(0, 3), ['synReply:1', 'synReply:3', 'data:3']);
  await eventually(() => kubectl.replyHeaders.length === 2, 'both replies decoded');
  t.deepEqual(kubectl.replyHeaders.map((headers) => headers.size), [0, 0]);
});

test('the relay half-closes both ways, then ends the error stream; everything is released', async (t) => {
  const echo = await echoServer(t);
  const ports = new PodPortMap();
  ports.set(POD, 80, echo.port);
  const kubectl = client(t, ports);
  await kubectl.forward(0, 80, 1, 3);
  kubectl.send({ kind: 'data', streamId: 3, flags: 0, data: Buffer.from('hello ') });
  kubectl.send({ kind: 'data', streamId: 3, flags: 1, data: Buffer.from('world') });
  // FIN on the data stream ends the socket's write side; the echo server then ends, which is FIN back
  await eventually(() => kubectl.finished(3) && kubectl.finished(1), 'FIN on the data stream, then on the error stream');
  t.is(kubectl.dataOn(3).toString(), 'hello world');
  t.is(kubectl.dataOn(1).length, 0);
  const kinds = kubectl.kinds();
  t.true(kinds.indexOf('data:3:fin') < kinds.indexOf('data:1:fin'));
  await eventually(() => kubectl.counters.sockets === 0 && kubectl.connection.session.streamCount === 0, 'socket and streams released');
  t.deepEqual(kubectl.counters, { connections: 1, pendingPairs: 0, timers: 0, relays: 0, sockets: 0 });
});

test('kubectl resets the data stream after the pod closes: the socket goes, the error stream ends', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer(function byeOnConnection(socket: Socket): void {
    sockets.add(socket);
    socket.end('bye');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const ports = new PodPortMap();
  ports.set(POD, 80, typeof address === 'object' && address !== null ? address.port : 0);
  const kubectl = client(t, ports);
  await kubectl.forward(0, 80, 1, 3);
  await eventually(() => kubectl.finished(3), 'FIN on the data stream');
  t.is(kubectl.dataOn(3).toString(), 'bye');
  kubectl.send({ kind: 'rstStream', streamId: 3, status: RstStatus.cancel });
  await eventually(() => kubectl.finished(1), 'FIN on the error stream');
  await eventually(() => kubectl.counters.sockets === 0 && kubectl.connection.session.streamCount === 0, 'released');
  t.is(kubectl.dataOn(1).length, 0);
});

test('a port nothing listens on gets the kubelet message on the error stream, then both FINs', async (t) => {
  const kubectl = client(t);
  await kubectl.forward(7, 9999, 1, 3);
  await eventually(() => kubectl.finished(1) && kubectl.finished(3), 'both streams finished');
  const { sandboxId, netnsPath } = podSandboxNames(POD, 'uid-1');
  t.is(
    kubectl.dataOn(1).toString(),
    `error forwarding port 9999 to pod ${sandboxId}, uid : failed to execute portforward in network namespace "${netnsPath}": ` +
      `failed to connect to localhost:9999 inside namespace "${sandboxId}", IPv4: dial tcp4 127.0.0.1:9999: connect: connection refused ` +
      'IPv6 dial tcp6 [::1]:9999: connect: connection refused ',
  );
  t.deepEqual(kubectl.kinds().slice(-3), ['data:1', 'data:1:fin', 'data:3:fin']);
});

test('streams without a valid port or stream type are reset with CANCEL', async (t) => {
  const kubectl = client(t);
  await kubectl.open(1, { streamtype: 'error', requestid: '0' });
  await kubectl.open(3, { streamtype: 'data', port: '0', requestid: '0' });
  await kubectl.open(5, { streamtype: 'data', port: '70000', requestid: '0' });
  await kubectl.open(7, { streamtype: 'bogus', port: '80', requestid: '0' });
  await kubectl.open(9, { port: '80', requestid: '0' });
  await eventually(() => kubectl.frames.length === 5, 'five answers');
  t.deepEqual(kubectl.frames, [1, 3, 5, 7, 9].map((streamId) => ({ kind: 'rstStream', streamId, status: RstStatus.cancel })));
  t.is(kubectl.connection.session.streamCount, 0);
  t.is(kubectl.counters.pendingPairs, 0);
});

test('client PINGs (odd ids) are echoed; SETTINGS and WINDOW_UPDATE change nothing', async (t) => {
  const kubectl = client(t);
  kubectl.send({ kind: 'settings', flags: 0, entries: [{ flags: 0, id: 7, value: 1 }] });
  kubectl.send({ kind: 'windowUpdate', streamId: 1, deltaWindowSize: 10 });
  kubectl.send({ kind: 'ping', id: 2 });
  kubectl.send({ kind: 'ping', id: 1 });
  await eventually(() => kubectl.frames.length >= 1, 'the echo');
  t.deepEqual(kubectl.frames, [{ kind: 'ping', id: 1 }]);
});

test('a pair missing its data stream times out with the kubelet message; the timer is released', async (t) => {
  const kubectl = client(t, new PodPortMap(), 50);
  await kubectl.open(1, { streamtype: 'error', port: '80', requestid: '4' });
  await eventually(() => kubectl.counters.timers === 1, 'the creation timer runs');
  await eventually(() => kubectl.finished(1), 'the error stream ends');
  t.is(kubectl.dataOn(1).toString(), '(conn=default/web, request=4) timed out waiting for streams');
  t.deepEqual({ timers: kubectl.counters.timers, pendingPairs: kubectl.counters.pendingPairs }, { timers: 0, pendingPairs: 0 });
});

test('a second error stream for one request is refused with a message on its error stream', async (t) => {
  const kubectl = client(t);
  await kubectl.open(1, { streamtype: 'error', port: '80', requestid: '0' });
  await kubectl.open(3, { streamtype: 'error', port: '80', requestid: '0' });
  await eventually(() => kubectl.frames.some((frame) => frame.kind === 'rstStream'), 'the duplicate is reset');
  t.is(kubectl.dataOn(1).toString(), 'error processing stream for request 0: error stream already assigned');
});

test('closing the connection releases streams, pairs, timers and sockets', async (t) => {
  const echo = await echoServer(t);
  const ports = new PodPortMap();
  ports.set(POD, 80, echo.port);
  const kubectl = client(t, ports);
  await kubectl.forward(0, 80, 1, 3);
  await kubectl.open(5, { streamtype: 'error', port: '80', requestid: '1' });
  await eventually(() => kubectl.counters.sockets === 1 && echo.sockets.size === 1, 'the relay connected');
  t.is(kubectl.counters.pendingPairs, 1);
  kubectl.connection.session.close();
  t.true(kubectl.transportClosed);
  await eventually(() => kubectl.counters.sockets === 0 && echo.sockets.size === 0, 'the socket closed');
  t.deepEqual(kubectl.counters, { connections: 0, pendingPairs: 0, timers: 0, relays: 0, sockets: 0 });
  t.is(kubectl.connection.session.streamCount, 0);
});

test('without a requestid, streams pair by id as the kubelet does for old clients', async (t) => {
  const echo = await echoServer(t);
  const ports = new PodPortMap();
  ports.set(POD, 80, echo.port);
  const kubectl = client(t, ports);
  await kubectl.open(1, { streamtype: 'error', port: '80' });
  await kubectl.open(3, { streamtype: 'data', port: '80' });
  kubectl.send({ kind: 'data', streamId: 3, flags: 0, data: Buffer.from('old') });
  await eventually(() => kubectl.dataOn(3).toString() === 'old', 'relayed');
  t.is(kubectl.counters.pendingPairs, 0);
});

test('a header block that does not inflate ends the connection with GOAWAY', async (t) => {
  const kubectl = client(t);
  kubectl.send({ kind: 'synStream', flags: 0, streamId: 1, associatedToStreamId: 0, priority: 0, slot: 0, headerBlock: Buffer.from('not zlib') });
  await eventually(() => kubectl.transportClosed, 'closed');
  t.deepEqual(kubectl.frames, [{ kind: 'goAway', lastGoodStreamId: 0, status: 1 }]);
});
