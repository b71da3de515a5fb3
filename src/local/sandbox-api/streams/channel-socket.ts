// One exec or attach connection after the WebSocket upgrade: sends channel frames with bounded
// buffering (a producer that outruns the client is told to pause), turns client messages into stdin
// data, stdin end (v5 close of channel 0) and terminal sizes, and ends the session the way kube-apiserver
// does: the Status on the error channel, then a normal (1000) close once everything queued is written.

import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../../../log.js';
import { Channel, encodeFrame, parseClientFrame, parseTerminalSizes, type StreamProtocol, type TerminalSize } from './channel-protocol.js';

/** Above this many unsent bytes the producer pauses; it resumes below the low-water mark. */
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;
const NORMAL_CLOSURE = 1000;

export interface ChannelSocketEvents {
  onStdin(data: Buffer): void;
  onStdinEnd(): void;
  onResize(size: TerminalSize): void;
  /** the connection is gone, whether the client left or finish() completed */
  onClosed(): void;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class ChannelSocket {
  readonly protocol: StreamProtocol;
  readonly #ws: WebSocket;
  readonly #logger: Logger;
  #pendingBytes = 0;
  #drainWaiters: (() => void)[] = [];
  #isFinished = false;
  #isClosed = false;

  constructor(ws: WebSocket, protocol: StreamProtocol, events: ChannelSocketEvents, logger: Logger) {
    this.#ws = ws;
    this.protocol = protocol;
    this.#logger = logger;
    const onMessage = (data: RawData): void => {
      const frame = parseClientFrame(toBuffer(data), protocol);
      switch (frame.type) {
        case 'ignored':
          return;
        case 'invalid':
          // wsstream stops reading and closes the connection on a malformed close signal
          logger.debug({ reason: frame.reason }, 'remote command protocol error');
          ws.terminate();
          return;
        case 'close':
          if (frame.channel === Channel.stdin) events.onStdinEnd();
          return;
        case 'data':
          if (frame.channel === Channel.stdin) events.onStdin(frame.payload);
          else if (frame.channel === Channel.resize) for (const size of parseTerminalSizes(frame.payload)) events.onResize(size);
          return;
      }
    };
    const onClose = (): void => {
      this.#isClosed = true;
      this.#releaseDrainWaiters();
      events.onClosed();
    };
    const onError = (error: Error): void => logger.debug({ err: error }, 'remote command socket error');
    ws.on('message', onMessage);
    ws.once('close', onClose);
    ws.on('error', onError);
  }

  get isOpen(): boolean {
    return !this.#isClosed && !this.#isFinished;
  }

  /** Queues one frame; returns false when the client is behind and the producer should wait for whenDrained. */
  send(channel: Channel, payload?: Buffer | string): boolean {
    if (!this.isOpen || this.#ws.readyState !== this.#ws.OPEN) return true;
    const frame = encodeFrame(channel, payload);
    this.#pendingBytes += frame.length;
    const onSent = (): void => {
      this.#pendingBytes -= frame.length;
      if (this.#pendingBytes <= LOW_WATER_BYTES) this.#releaseDrainWaiters();
    };
    this.#ws.send(frame, { binary: true }, onSent);
    return this.#pendingBytes < HIGH_WATER_BYTES;
  }

  /** Runs `callback` once the queue is below the low-water mark (or the connection is gone). */
  whenDrained(callback: () => void): void {
    if (this.#pendingBytes <= LOW_WATER_BYTES || this.#isClosed) callback();
    else this.#drainWaiters.push(callback);
  }

  /** Stops reading client messages (stdin backpressure); resumeInput undoes it. */
  pauseInput(): void {
    if (!this.#isClosed) this.#ws.pause();
  }

  resumeInput(): void {
    if (!this.#isClosed) this.#ws.resume();
  }

  /** The Status on the error channel, then a normal close after the queued output. */
  finish(status: Buffer): void {
    if (!this.isOpen) return;
    this.send(Channel.error, status);
    this.#isFinished = true;
    this.#ws.close(NORMAL_CLOSURE);
  }

  /** Drops the connection at once (sandbox closing, protocol error). */
  terminate(): void {
    this.#isFinished = true;
    if (!this.#isClosed) this.#ws.terminate();
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) {
      try {
        waiter();
      } catch (error) {
        this.#logger.warn({ err: error }, 'drain waiter failed');
      }
    }
  }
}
