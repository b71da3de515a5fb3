// The gateway's side of yamux in tests: a server session over a FakeSocket's binary frames, stream
// readers, and loopback TCP/UDP echo targets the agent reaches through host aliases.

import { createServer, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { RawData } from 'ws';
import type { ExecutionContext } from 'ava';
import { systemClock } from '../../src/util/clock.js';
import { YamuxRole, YamuxSession } from '../../src/tunnel/yamux/yamux-session.js';
import type { YamuxStream } from '../../src/tunnel/yamux/yamux-stream.js';
import { encodeTunnelHeader, type TunnelHeader } from '../../src/protocol/tunnel-header.js';
import type { FakeSocket } from './fake-control-plane.js';

export function gatewaySession(socket: FakeSocket, maxStreamWindowBytes?: number): YamuxSession {
  const session = new YamuxSession({
    role: YamuxRole.server,
    clock: systemClock,
    keepAliveIntervalMs: 0,
    ...(maxStreamWindowBytes === undefined ? {} : { maxStreamWindowBytes }),
    transport: {
      write: (bytes, onWritten) => socket.socket.send(bytes, { binary: true }, () => onWritten?.()),
    },
  });
  socket.socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) session.receive(data as Buffer);
  });
  return session;
}

export interface StreamResult {
  readonly data: Buffer;
  /** How the stream ended: 'fin' (the agent's FIN came), 'reset', or 'session'. */
  readonly end: 'fin' | 'reset' | 'session' | 'closed';
}

/** Collects (and consumes) everything the agent sends on `stream` until its FIN or a reset. */
export function readStream(stream: YamuxStream, timeoutMs = 15_000): Promise<StreamResult> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stream ${stream.id}: no end within ${timeoutMs} ms (${Buffer.concat(chunks).length} bytes so far)`)), timeoutMs);
    const finish = (end: StreamResult['end']): void => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), end });
    };
    stream.onData = (chunk) => {
      chunks.push(Buffer.from(chunk));
      stream.consume(chunk.length);
    };
    stream.onEnd = () => finish('fin');
    stream.onClose = (end) => finish(end === 'reset' ? 'reset' : end === 'session' ? 'session' : 'closed');
  });
}

/** Opens a tunnel stream and writes its §15.4 header (and optional first bytes). */
export function openTunnel(session: YamuxSession, header: TunnelHeader, first?: Buffer): YamuxStream {
  const stream = session.open();
  stream.write(first === undefined ? encodeTunnelHeader(header) : Buffer.concat([encodeTunnelHeader(header), first]));
  return stream;
}

export async function tcpEcho(t: ExecutionContext): Promise<{ port: number; connections: Socket[] }> {
  const connections: Socket[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    connections.push(socket);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connections };
}

export async function udpEcho(t: ExecutionContext): Promise<{ port: number; socket: DgramSocket }> {
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => socket.send(message, remote.port, remote.address));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, socket };
}
