// One connection object per dial attempt (PROTOCOL.md §7.4): it owns exactly one socket, its ping and
// silence timers, and reports the socket's end once. Nothing outlives it: a stale socket's events are
// ignored because the owner drops every callback when the connection ends.

import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { HANDSHAKE_TIMEOUT_MS, PING_INTERVAL_MS, SILENCE_LIMIT_MS, CLOSE_NORMAL, SHUTDOWN_CLOSE_WAIT_MS } from '../protocol/constants.js';
import { type Clock, type TimerHandle, setRepeating } from '../util/clock.js';
import type { YamuxSession } from '../tunnel/yamux/yamux-session.js';

export interface ConnectionTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly rejectUnauthorized: boolean;
}

export interface ConnectionOptions {
  readonly url: string;
  readonly token: string;
  readonly tls: ConnectionTls;
  readonly inboundCapBytes: number;
  readonly clock: Clock;
  /** Told of every frame's bytes, inbound when it arrives and outbound when it is queued. */
  readonly countBytes?: (direction: 'in' | 'out', bytes: number) => void;
}

/** Why a connection ended: the handshake failed (with the HTTP status when one came back) or the socket was lost. */
export type ConnectionEnd =
  | { readonly kind: 'handshake-failed'; readonly status: number | undefined; readonly detail: string }
  | { readonly kind: 'lost'; readonly code: number | undefined; readonly detail: string }
  | { readonly kind: 'closed-locally' };

export interface ConnectionHandlers {
  onOpen(connection: Connection): void;
  onMessage(connection: Connection, data: Buffer, isBinary: boolean): void;
  onEnd(connection: Connection, end: ConnectionEnd): void;
}

/** §9.11 / C99: an outbound buffer that stays non-empty without draining for this long means the peer stopped reading. */
export const WRITE_STALL_LIMIT_MS = 30_000;
/** How often the outbound buffer is sampled for the write-stall limit. */
const WRITE_STALL_CHECK_MS = 1_000;

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  readonly url: string;
  #socket: WebSocket;
  #handlers: ConnectionHandlers | undefined;
  #isOpen = false;
  #pingTimer: TimerHandle | undefined;
  #silenceTimer: TimerHandle | undefined;
  #stallTimer: TimerHandle | undefined;
  /** Bytes handed to the socket so far; minus bufferedAmount, what the operating system has accepted. */
  #queuedBytes = 0;
  #acceptedAtLastProgress = 0;
  /** When the outbound buffer was last seen non-empty with no byte accepted since; undefined while it drains. */
  #stallSinceMs: number | undefined;
  readonly #clock: Clock;
  readonly #countBytes: ConnectionOptions['countBytes'];
  /** The control plane opted in to binary stream frames on this socket (docs/protocol.md, extension). */
  #hasStreamFrames = false;
  /**
   * The yamux session negotiated on this socket (§15.2). From the moment it exists until the socket closes,
   * yamux is active: every binary frame in either direction is yamux bytes, `body_binary` is refused and
   * buffered responses are JSON only. It dies with the socket; a new connection starts without it.
   */
  #yamux: YamuxSession | undefined;

  constructor(options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.url = options.url;
    this.#clock = options.clock;
    this.#countBytes = options.countBytes;
    this.#handlers = handlers;
    const tlsOptions: Record<string, unknown> = { rejectUnauthorized: options.tls.rejectUnauthorized, minVersion: 'TLSv1.2' };
    if (options.tls.ca !== undefined) tlsOptions['ca'] = options.tls.ca;
    if (options.tls.cert !== undefined) tlsOptions['cert'] = options.tls.cert;
    if (options.tls.key !== undefined) tlsOptions['key'] = options.tls.key;
    this.#socket = new WebSocket(options.url, {
      headers: { Authorization: `Bearer ${options.token}` },
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: options.inboundCapBytes,
      followRedirects: false,
      ...tlsOptions,
    });
    const socket = this.#socket;
    socket.on('open', () => this.#socketOnOpen());
    socket.on('message', (data: Buffer, isBinary: boolean) => this.#socketOnMessage(data, isBinary));
    socket.on('ping', () => this.#restartSilenceTimer());
    socket.on('pong', () => this.#restartSilenceTimer());
    socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) =>
      this.#socketOnUnexpectedResponse(request, response),
    );
    socket.on('error', (error: Error) => this.#socketOnError(error));
    socket.on('close', (code: number, reason: Buffer) => this.#socketOnClose(code, reason));
  }

  get isOpen(): boolean {
    return this.#isOpen && this.#handlers !== undefined;
  }

  /** True from the yamux session's creation until the socket closes (§15.2); false on every new connection. */
  get isYamuxActive(): boolean {
    return this.#yamux !== undefined;
  }

  get yamux(): YamuxSession | undefined {
    return this.#yamux;
  }

  /** Binds a yamux session to this socket, once; closed with the socket. False when one is bound already or the socket is gone. */
  activateYamux(session: YamuxSession): boolean {
    if (this.#yamux !== undefined || !this.isOpen) return false;
    this.#yamux = session;
    return true;
  }

  /** Bytes queued on the socket but not yet accepted by the operating system. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /** Records the control plane's `stream_frames_hello`; the caller sends the ack. */
  acceptStreamFrames(): void {
    this.#hasStreamFrames = true;
  }

  /**
   * Stream frames are in use both ways: negotiated on this socket and yamux not active (once yamux is,
   * every binary frame is yamux bytes and stream data travels as JSON again).
   */
  get isStreamFramesActive(): boolean {
    return this.#hasStreamFrames && !this.isYamuxActive;
  }

  /**
   * Writes one frame; a failed write ends the connection as lost (§7.3). `onWritten` runs once the frame
   * has left userland (the socket accepted it), the signal credit-based flow control waits for. False (and
   * nothing written) once the socket has ended: nothing of an old socket goes out on a new one (§3.4).
   */
  send(data: string | Uint8Array, isBinary: boolean, onWritten?: () => void): boolean {
    if (!this.isOpen) return false;
    const bytes = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.byteLength;
    this.#queuedBytes += bytes;
    this.#countBytes?.('out', bytes);
    this.#socket.send(data, { binary: isBinary }, (error) => {
      if (error !== undefined && error !== null) {
        this.#end({ kind: 'lost', code: undefined, detail: `write failed: ${error.message}` });
        return;
      }
      onWritten?.();
    });
    this.#watchWriteStall();
    return true;
  }

  /**
   * Closes with `code` (1000 by default). With `waitMs` > 0 it waits for the peer's close at most that long,
   * then terminates; with 0 it returns at once and lets the close handshake finish in the background.
   */
  close(code = CLOSE_NORMAL, waitMs = 0): Promise<void> {
    const socket = this.#socket;
    this.#end({ kind: 'closed-locally' });
    if (socket.readyState === WebSocket.CONNECTING) {
      socket.terminate();
      return Promise.resolve();
    }
    if (socket.readyState !== WebSocket.OPEN) return Promise.resolve();
    socket.close(code);
    if (waitMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(waitMs, () => {
        socket.terminate();
        resolve();
      });
      socket.once('close', () => {
        timer.cancel();
        resolve();
      });
    });
  }

  #socketOnOpen(): void {
    if (this.#handlers === undefined) return;
    this.#isOpen = true;
    this.#pingTimer = setRepeating(this.#clock, PING_INTERVAL_MS, () => this.#sendPing());
    this.#restartSilenceTimer();
    this.#handlers.onOpen(this);
  }

  #socketOnMessage(data: Buffer, isBinary: boolean): void {
    if (this.#handlers === undefined) return;
    this.#restartSilenceTimer();
    this.#countBytes?.('in', data.length);
    this.#handlers.onMessage(this, data, isBinary);
  }

  #socketOnUnexpectedResponse(request: ClientRequest, response: IncomingMessage): void {
    const status = response.statusCode;
    response.resume();
    request.destroy();
    this.#end({ kind: 'handshake-failed', status, detail: `unexpected HTTP status ${String(status)}` });
  }

  #socketOnError(error: Error): void {
    if (this.#isOpen) {
      // A protocol error found by the reader (an oversized message: 1009, §3.4) makes ws queue a close frame with
      // its code before reporting the error; the socket must live until that frame is out (C10).
      const isClosing = this.#socket.readyState === WebSocket.CLOSING;
      this.#end({ kind: 'lost', code: undefined, detail: error.message }, isClosing);
    } else {
      this.#end({ kind: 'handshake-failed', status: undefined, detail: error.message });
    }
  }

  #socketOnClose(code: number, reason: Buffer): void {
    const detail = `closed by peer with code ${code}${reason.length > 0 ? `: ${reason.toString('utf8')}` : ''}`;
    if (this.#isOpen) this.#end({ kind: 'lost', code, detail });
    else this.#end({ kind: 'handshake-failed', status: undefined, detail });
  }

  #sendPing(): void {
    if (!this.isOpen) return;
    try {
      this.#socket.ping();
      this.#watchWriteStall();
    } catch (error) {
      this.#end({ kind: 'lost', code: undefined, detail: `ping failed: ${(error as Error).message}` });
    }
  }

  /**
   * The write-stall limit (§9.4, §9.11, C99): progress is any byte the operating system accepted since the last
   * sample, so a buffer that drains while it is refilled is not stalled; one that holds data with nothing
   * accepted for WRITE_STALL_LIMIT_MS ends the socket as lost. Its close frame could not get out either.
   */
  #checkWriteStall(): void {
    this.#stallTimer = undefined;
    if (!this.isOpen) return;
    const buffered = this.#socket.bufferedAmount;
    const accepted = this.#queuedBytes - buffered;
    const now = this.#clock.now();
    if (buffered === 0) {
      // Drained: sampling stops until a write leaves data behind again.
      this.#stallSinceMs = undefined;
      return;
    }
    if (this.#stallSinceMs === undefined || accepted > this.#acceptedAtLastProgress) {
      this.#acceptedAtLastProgress = accepted;
      this.#stallSinceMs = now;
    } else if (now - this.#stallSinceMs >= WRITE_STALL_LIMIT_MS) {
      this.#end({ kind: 'lost', code: undefined, detail: `outbound buffer stalled for ${WRITE_STALL_LIMIT_MS / 1000} s` });
      return;
    }
    this.#stallTimer = this.#clock.setTimer(WRITE_STALL_CHECK_MS, () => this.#checkWriteStall());
  }

  /** Starts sampling when a write left data in the buffer; an idle socket has no stall timer. */
  #watchWriteStall(): void {
    if (this.#stallTimer !== undefined || !this.isOpen || this.#socket.bufferedAmount === 0) return;
    this.#stallTimer = this.#clock.setTimer(WRITE_STALL_CHECK_MS, () => this.#checkWriteStall());
  }

  #restartSilenceTimer(): void {
    this.#silenceTimer?.cancel();
    if (this.#handlers === undefined) return;
    this.#silenceTimer = this.#clock.setTimer(SILENCE_LIMIT_MS, () => {
      this.#end({ kind: 'lost', code: undefined, detail: `no frame received for ${SILENCE_LIMIT_MS / 1000} s` });
    });
  }

  /**
   * Reports the end once, stops the timers and detaches. The socket is terminated at once, unless
   * `shouldFinishClose`: then the close handshake already under way may finish, for at most the shutdown close
   * wait, so its close frame reaches the peer even behind queued data.
   */
  #end(end: ConnectionEnd, shouldFinishClose = false): void {
    const handlers = this.#handlers;
    if (handlers === undefined) return;
    this.#handlers = undefined;
    this.#isOpen = false;
    this.#pingTimer?.cancel();
    this.#silenceTimer?.cancel();
    this.#stallTimer?.cancel();
    this.#yamux?.close();
    if (end.kind !== 'closed-locally') {
      const socket = this.#socket;
      if (shouldFinishClose && socket.readyState === WebSocket.CLOSING) {
        const timer = this.#clock.setTimer(SHUTDOWN_CLOSE_WAIT_MS, () => socket.terminate());
        socket.once('close', () => timer.cancel());
      } else {
        if (socket.readyState === WebSocket.OPEN) socket.close(CLOSE_NORMAL);
        if (socket.readyState !== WebSocket.CLOSED) socket.terminate();
      }
    }
    handlers.onEnd(this, end);
  }
}
