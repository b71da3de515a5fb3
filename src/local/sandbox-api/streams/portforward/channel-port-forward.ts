// Port-forward over the plain WebSocket channel protocol, as the kubelet serves it
// (pkg/kubelet/cri/streaming/portforward/websocket.go) and kube-apiserver passes it through when the
// client offers no SPDY tunneling subprotocol: client libraries (client-node's PortForward among them)
// use it. The ports come from the query (`ports=8080`, repeated or comma-separated); each port i gets
// a data channel 2i and an error channel 2i+1, and the first message on both carries the port as a
// little-endian uint16. Every port is dialled at once; bytes on channel 2i go to its socket and back.
// A failure is written as text on the error channel; when every port's connection has ended, the
// WebSocket closes normally. Subprotocols: `v4.channel.k8s.io` and none (binary, one channel byte per
// message) and `v4.base64.channel.k8s.io` (text, an ASCII channel digit then base64).

import { connect, type Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import type { LiveCounters } from './port-forward-connection.js';
import { connectionRefusedDetail, forwardingError, type PodPortMap, type PodRef, type PodSandboxNames } from './pod-ports.js';

export const ChannelPortForwardProtocol = {
  /** what wsstream picks when the client offers no subprotocol */
  none: '',
  binary: 'v4.channel.k8s.io',
  base64: 'v4.base64.channel.k8s.io',
} as const;
export type ChannelPortForwardProtocol = (typeof ChannelPortForwardProtocol)[keyof typeof ChannelPortForwardProtocol];

const SERVED: readonly ChannelPortForwardProtocol[] = [ChannelPortForwardProtocol.binary, ChannelPortForwardProtocol.base64];
/** Above this many unsent bytes the sockets pause until the client catches up. */
const HIGH_WATER_BYTES = 1024 * 1024;
const NORMAL_CLOSURE = 1000;

/** wsstream's handshake: the first offered protocol it serves, "" when none is offered, undefined (403) otherwise. */
export function negotiateChannelProtocol(offered: readonly string[]): ChannelPortForwardProtocol | undefined {
  if (offered.length === 0) return ChannelPortForwardProtocol.none;
  for (const candidate of offered) {
    const match = SERVED.find((protocol) => protocol === candidate);
    if (match !== undefined) return match;
  }
  return undefined;
}

/** The ports of the request (kube-apiserver's `ports`, the kubelet's `port`), or the kubelet's 400 text. */
export function parsePorts(query: URLSearchParams): { ports: number[] } | { error: string } {
  const values = [...query.getAll('ports'), ...query.getAll('port')];
  if (values.length === 0) return { error: 'query parameter "port" is required' };
  const ports: number[] = [];
  for (const value of values) {
    if (value === '') return { error: 'query parameter "port" cannot be empty' };
    for (const text of value.split(',')) {
      const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
      if (!Number.isInteger(port) || port > 0xffff) return { error: `unable to parse "${value}" as a port: strconv.ParseUint: parsing "${text}": invalid syntax` };
      if (port < 1) return { error: `port "${value}" must be > 0` };
      ports.push(port);
    }
  }
  return { ports };
}

export interface ChannelPortForwardOptions {
  readonly pod: PodRef;
  readonly names: PodSandboxNames;
  readonly ports: readonly number[];
  readonly portMap: PodPortMap;
  readonly counters: LiveCounters;
  readonly closed: () => void;
}

interface ForwardedPort {
  readonly port: number;
  readonly dataChannel: number;
  socket?: Socket;
  isConnected: boolean;
  failure?: string;
  isDone: boolean;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

export class ChannelPortForward {
  readonly #ws: WebSocket;
  readonly #protocol: ChannelPortForwardProtocol;
  readonly #options: ChannelPortForwardOptions;
  readonly #forwards: ForwardedPort[];
  readonly #paused = new Set<Socket>();
  #isClosed = false;

  constructor(ws: WebSocket, protocol: ChannelPortForwardProtocol, options: ChannelPortForwardOptions) {
    this.#ws = ws;
    this.#protocol = protocol;
    this.#options = options;
    options.counters.connections += 1;
    this.#forwards = options.ports.map((port, index) => ({ port, dataChannel: index * 2, isConnected: false, isDone: false }));
    const channelsOnMessage = (data: RawData, isBinary: boolean): void => this.#receive(toBuffer(data), isBinary);
    const channelsOnClose = (): void => this.#closed();
    ws.on('message', channelsOnMessage);
    ws.once('close', channelsOnClose);
    ws.on('error', channelsOnClose);
    for (const forward of this.#forwards) {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(forward.port);
      this.#send(forward.dataChannel, portBytes);
      this.#send(forward.dataChannel + 1, portBytes);
    }
    for (const forward of this.#forwards) this.#dial(forward);
  }

  /** Ends every forwarded connection and the WebSocket (pod deleted, sandbox closing). */
  shutdown(): void {
    for (const forward of this.#forwards) forward.socket?.destroy();
    if (!this.#isClosed) this.#ws.close(NORMAL_CLOSURE);
  }

  /** Drops the WebSocket at once. */
  terminate(): void {
    this.#ws.terminate();
  }

  #dial(forward: ForwardedPort): void {
    const { pod, portMap, counters, names } = this.#options;
    counters.relays += 1;
    const localPort = portMap.lookup(pod, forward.port);
    if (localPort === undefined) {
      this.#finish(forward, connectionRefusedDetail(names, forward.port));
      return;
    }
    const socket = connect({ host: '127.0.0.1', port: localPort });
    forward.socket = socket;
    counters.sockets += 1;
    const podPortOnConnect = (): void => {
      forward.isConnected = true;
    };
    const podPortOnData = (chunk: Buffer): void => {
      if (this.#send(forward.dataChannel, chunk)) return;
      socket.pause();
      this.#paused.add(socket);
    };
    const podPortOnError = (error: Error): void => {
      // before connecting, every failure looks like containerd's failed dial; after, report the error
      forward.failure ??= forward.isConnected ? `failed to execute portforward for "${names.sandboxId}" port ${forward.port}: ${error.message}` : connectionRefusedDetail(names, forward.port);
    };
    const podPortOnClose = (): void => {
      counters.sockets -= 1;
      this.#paused.delete(socket);
      this.#finish(forward, forward.failure);
    };
    socket.on('connect', podPortOnConnect);
    socket.on('data', podPortOnData);
    socket.on('error', podPortOnError);
    socket.once('close', podPortOnClose);
  }

  #finish(forward: ForwardedPort, failure: string | undefined): void {
    if (forward.isDone) return;
    forward.isDone = true;
    this.#options.counters.relays -= 1;
    if (failure !== undefined) this.#send(forward.dataChannel + 1, Buffer.from(forwardingError(this.#options.names, forward.port, failure)));
    // the kubelet's handler returns, and closes the connection, once every port's forward has ended
    if (this.#forwards.every((candidate) => candidate.isDone) && !this.#isClosed) this.#ws.close(NORMAL_CLOSURE);
  }

  #receive(message: Buffer, isBinary: boolean): void {
    const frame = this.#decode(message, isBinary);
    if (frame === undefined) return;
    // odd channels are the error channels, written by the server only: wsstream drops what a client sends there
    const forward = frame.channel % 2 === 0 ? this.#forwards[frame.channel / 2] : undefined;
    const socket = forward?.socket;
    if (socket === undefined || socket.destroyed || frame.payload.length === 0) return;
    if (socket.write(frame.payload)) return;
    this.#ws.pause();
    const podPortOnDrain = (): void => {
      if (!this.#isClosed) this.#ws.resume();
    };
    socket.once('drain', podPortOnDrain);
  }

  #decode(message: Buffer, isBinary: boolean): { channel: number; payload: Buffer } | undefined {
    if (message.length === 0) return undefined;
    if (this.#protocol === ChannelPortForwardProtocol.base64) {
      if (isBinary) return undefined;
      const channel = (message[0] ?? 0) - 0x30;
      if (channel < 0 || channel >= this.#forwards.length * 2) return undefined;
      return { channel, payload: Buffer.from(message.subarray(1).toString('latin1'), 'base64') };
    }
    const channel = message[0] ?? 0;
    if (channel >= this.#forwards.length * 2) return undefined;
    return { channel, payload: message.subarray(1) };
  }

  /** Writes one channel message; false once the client is behind. */
  #send(channel: number, payload: Buffer): boolean {
    if (this.#isClosed || this.#ws.readyState !== this.#ws.OPEN) return true;
    if (this.#protocol === ChannelPortForwardProtocol.base64) {
      this.#ws.send(`${String.fromCharCode(0x30 + channel)}${payload.toString('base64')}`, () => this.#resumeSockets());
    } else {
      const frame = Buffer.allocUnsafe(payload.length + 1);
      frame[0] = channel;
      payload.copy(frame, 1);
      this.#ws.send(frame, { binary: true }, () => this.#resumeSockets());
    }
    return this.#ws.bufferedAmount < HIGH_WATER_BYTES;
  }

  #resumeSockets(): void {
    if (this.#ws.bufferedAmount >= HIGH_WATER_BYTES) return;
    for (const socket of this.#paused) socket.resume();
    this.#paused.clear();
  }

  #closed(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    for (const forward of this.#forwards) forward.socket?.destroy();
    this.#paused.clear();
    this.#options.counters.connections -= 1;
    this.#options.closed();
  }
}
