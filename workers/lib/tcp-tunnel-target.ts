// A TCP tunnel target (PROTOCOL.md §15.5): half-close both ways (stream FIN ⇒ socket end(); socket EOF ⇒
// stream FIN), a target error ⇒ RST. Reads from the target pause at zero credit; stream bytes are reported
// consumed only once the socket accepted them, so the yamux window closes behind a slow target.

import { connect, type LookupFunction, type Socket } from 'node:net';
import type { TunnelErrorKind, TunnelInbound } from '../../src/messages/tunnel-messages.js';
import type { TunnelPeer, TunnelTarget } from '../tunnel-stream.js';

export interface TcpTargetOptions {
  readonly host: string;
  readonly port: number;
  readonly lookup: LookupFunction | undefined;
  readonly peer: TunnelPeer;
  readonly connectTimeoutMs: number;
  readonly creditBytes: number;
}

export class TcpTunnelTarget implements TunnelTarget {
  readonly #options: TcpTargetOptions;
  #socket: Socket | undefined;
  #isConnected = false;
  /** Stream bytes that arrived before the socket connected (bounded by the yamux window). */
  #early: Uint8Array[] = [];
  #isEndRequested = false;
  #credit: number;
  #error: TunnelErrorKind | undefined;
  #finish: ((error: TunnelErrorKind | undefined) => void) | undefined;
  #connectTimer: NodeJS.Timeout | undefined;
  bytesToTarget = 0;
  bytesFromTarget = 0;

  constructor(options: TcpTargetOptions) {
    this.#options = options;
    this.#credit = options.creditBytes;
  }

  run(initial: Uint8Array): Promise<TunnelErrorKind | undefined> {
    if (initial.byteLength > 0) this.#early.push(initial);
    return new Promise((resolve) => {
      this.#finish = resolve;
      const options = this.#options;
      const socket = connect({ host: options.host, port: options.port, allowHalfOpen: true, ...(options.lookup === undefined ? {} : { lookup: options.lookup }) });
      this.#socket = socket;
      socket.setNoDelay(true);
      this.#connectTimer = setTimeout(() => this.#fail('dial'), options.connectTimeoutMs);
      socket.on('connect', () => this.#socketOnConnect());
      socket.on('data', (chunk: Buffer) => this.#socketOnData(chunk));
      socket.on('end', () => options.peer.post({ type: 'end' }));
      socket.on('error', () => this.#fail(this.#isConnected ? 'target' : 'dial'));
      socket.on('close', () => this.#socketOnClose());
    });
  }

  onInbound(message: TunnelInbound): void {
    switch (message.type) {
      case 'data':
        if (this.#isConnected) this.#write(message.data);
        else this.#early.push(message.data);
        break;
      case 'end':
        this.#isEndRequested = true;
        if (this.#isConnected) this.#socket?.end();
        break;
      case 'credit':
        this.#credit += message.bytes;
        if (this.#credit > 0 && this.#socket?.isPaused() === true) this.#socket.resume();
        break;
      case 'cancel':
        this.#socket?.destroy();
        this.#settle(this.#error);
        break;
    }
  }

  #socketOnConnect(): void {
    clearTimeout(this.#connectTimer);
    this.#isConnected = true;
    this.#options.peer.post({ type: 'connected' });
    for (const chunk of this.#early.splice(0)) this.#write(chunk);
    if (this.#isEndRequested) this.#socket?.end();
  }

  #socketOnData(chunk: Buffer): void {
    this.bytesFromTarget += chunk.length;
    this.#credit -= chunk.length;
    this.#options.peer.post({ type: 'data', data: chunk });
    if (this.#credit <= 0) this.#socket?.pause();
  }

  #write(data: Uint8Array): void {
    const socket = this.#socket;
    if (socket === undefined || socket.destroyed) return;
    const size = data.byteLength;
    socket.write(data, (error) => {
      if (error !== undefined && error !== null) return;
      this.bytesToTarget += size;
      this.#options.peer.post({ type: 'consumed', bytes: size });
    });
  }

  #fail(kind: TunnelErrorKind): void {
    if (this.#error !== undefined || this.#finish === undefined) return;
    this.#error = kind;
    this.#options.peer.post({ type: 'reset', kind });
    this.#socket?.destroy();
    this.#settle(kind);
  }

  #socketOnClose(): void {
    this.#settle(this.#error);
  }

  #settle(error: TunnelErrorKind | undefined): void {
    clearTimeout(this.#connectTimer);
    const finish = this.#finish;
    this.#finish = undefined;
    finish?.(error);
  }
}
