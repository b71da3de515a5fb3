// A UDP tunnel target (PROTOCOL.md §15.5): each stream chunk is sent as one datagram, each datagram received
// is written to the stream unchanged. UDP has no backpressure: a datagram arriving with no credit left is
// dropped (as the network would). The stream ends after the idle timeout without a datagram either way.

import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { TunnelErrorKind, TunnelInbound } from '../../src/messages/tunnel-messages.js';
import type { TunnelPeer, TunnelTarget } from '../tunnel-stream.js';

export interface UdpTargetOptions {
  readonly host: string;
  readonly port: number;
  readonly lookup: LookupFunction | undefined;
  readonly peer: TunnelPeer;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly creditBytes: number;
}

export class UdpTunnelTarget implements TunnelTarget {
  readonly #options: UdpTargetOptions;
  #socket: Socket | undefined;
  #isConnected = false;
  #early: Uint8Array[] = [];
  #credit: number;
  #finish: ((error: TunnelErrorKind | undefined) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #droppedDatagrams = 0;
  bytesToTarget = 0;
  bytesFromTarget = 0;

  constructor(options: UdpTargetOptions) {
    this.#options = options;
    this.#credit = options.creditBytes;
  }

  get droppedDatagrams(): number {
    return this.#droppedDatagrams;
  }

  run(initial: Uint8Array): Promise<TunnelErrorKind | undefined> {
    if (initial.byteLength > 0) this.#early.push(initial);
    return new Promise((resolve) => {
      this.#finish = resolve;
      this.#timer = setTimeout(() => this.#fail('dial'), this.#options.connectTimeoutMs);
      const lookup = this.#options.lookup ?? (dnsLookup as unknown as LookupFunction);
      lookup(this.#options.host, {}, (error, address, family) => {
        if (this.#finish === undefined) return;
        if (error !== null || typeof address !== 'string') {
          this.#fail('dial');
          return;
        }
        this.#open(address, family === 6 ? 'udp6' : 'udp4');
      });
    });
  }

  onInbound(message: TunnelInbound): void {
    switch (message.type) {
      case 'data':
        if (this.#isConnected) this.#send(message.data);
        else this.#early.push(message.data);
        break;
      case 'end':
        this.#close(undefined);
        break;
      case 'credit':
        this.#credit += message.bytes;
        break;
      case 'cancel':
        this.#close(undefined, false);
        break;
    }
  }

  #open(address: string, type: 'udp4' | 'udp6'): void {
    const socket = createSocket(type);
    this.#socket = socket;
    socket.on('error', () => this.#fail(this.#isConnected ? 'target' : 'dial'));
    socket.on('message', (datagram: Buffer) => this.#socketOnMessage(datagram));
    socket.connect(this.#options.port, address, () => {
      this.#isConnected = true;
      this.#options.peer.post({ type: 'connected' });
      for (const chunk of this.#early.splice(0)) this.#send(chunk);
      this.#touch();
    });
  }

  #socketOnMessage(datagram: Buffer): void {
    this.#touch();
    if (datagram.length > this.#credit) {
      this.#droppedDatagrams++;
      return;
    }
    this.#credit -= datagram.length;
    this.bytesFromTarget += datagram.length;
    this.#options.peer.post({ type: 'data', data: datagram });
  }

  #send(data: Uint8Array): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    this.#touch();
    const size = data.byteLength;
    socket.send(data, (error) => {
      // A datagram the kernel refused is lost, like one lost on the network; its window is given back anyway.
      if (error === null || error === undefined) this.bytesToTarget += size;
      this.#options.peer.post({ type: 'consumed', bytes: size });
    });
  }

  /** Restarts the idle timer (the connect timer until the socket is connected). */
  #touch(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#close(undefined), this.#options.idleTimeoutMs);
  }

  #fail(kind: TunnelErrorKind): void {
    if (this.#finish === undefined) return;
    this.#options.peer.post({ type: 'reset', kind });
    this.#close(kind, false);
  }

  /** Ends the stream: FIN towards the gateway when it ends cleanly. */
  #close(error: TunnelErrorKind | undefined, shouldSendEnd = true): void {
    const finish = this.#finish;
    if (finish === undefined) return;
    this.#finish = undefined;
    clearTimeout(this.#timer);
    if (shouldSendEnd && error === undefined) this.#options.peer.post({ type: 'end' });
    try {
      this.#socket?.close();
    } catch {
      // already closed
    }
    finish(error);
  }
}
