// A hashicorp/yamux (protocol version 0) session over any byte transport (PROTOCOL.md §15.3), usable on both
// sides: the agent is the client and accepts the streams the gateway opens (even ids); the local control
// plane is the server and opens them. No timer or socket of its own: time comes from a Clock, bytes go out
// through `transport.write` and come in through `receive`.
//
//   receive(bytes) ─► FrameReader ─┬─ data / window update ─► stream (SYN ⇒ new stream ⇒ onStream, or RST past the backlog)
//                                  ├─ ping SYN ─► ping ACK;  ping ACK ─► keepalive answered
//                                  └─ go away ─► normal: no new streams; error codes: session ends
//   a peer exceeding a window, a duplicate SYN, a bad version ⇒ go away (protocol error) and the session ends

import { type Clock, type TimerHandle, setRepeating } from '../../util/clock.js';
import { FrameFlag, FrameReader, FrameType, GoAwayCode, INITIAL_STREAM_WINDOW_BYTES, YAMUX_VERSION, encodeHeader, type FrameHeader } from './yamux-frame.js';
import { YamuxStream, type StreamOwner } from './yamux-stream.js';

export interface YamuxTransport {
  /** Hands bytes to the transport; `onWritten` runs once it has accepted them. */
  write(bytes: Uint8Array, onWritten?: () => void): void;
}

export const YamuxRole = { client: 'client', server: 'server' } as const;
export type YamuxRole = (typeof YamuxRole)[keyof typeof YamuxRole];

export interface YamuxSessionOptions {
  readonly role: YamuxRole;
  readonly transport: YamuxTransport;
  readonly clock: Clock;
  /** At least INITIAL_STREAM_WINDOW_BYTES (256 KiB). */
  readonly maxStreamWindowBytes?: number;
  /** Keepalive ping interval; 0 sends none. */
  readonly keepAliveIntervalMs?: number;
  /** A write not accepted by the transport, or a ping not answered, within this ends the session. */
  readonly writeTimeoutMs?: number;
  /** Streams opened by the peer and not yet accepted; a SYN beyond it gets RST. */
  readonly acceptBacklog?: number;
  /** A stream the peer opened (state SYN received): call stream.announce() to accept it. */
  readonly onStream?: (stream: YamuxStream) => void;
  /** The session ended: `error` is undefined for a local close. */
  readonly onClose?: (error: YamuxSessionError | undefined) => void;
}

export const YamuxErrorKind = {
  protocol: 'protocol_error',
  remoteGoAway: 'remote_go_away',
  keepAliveTimeout: 'keepalive_timeout',
  writeTimeout: 'write_timeout',
} as const;
export type YamuxErrorKind = (typeof YamuxErrorKind)[keyof typeof YamuxErrorKind];

export class YamuxSessionError extends Error {
  readonly kind: YamuxErrorKind;
  constructor(kind: YamuxErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export const DEFAULT_KEEPALIVE_INTERVAL_MS = 30_000;
export const DEFAULT_WRITE_TIMEOUT_MS = 30_000;
export const DEFAULT_ACCEPT_BACKLOG = 256;

export class YamuxSession implements StreamOwner {
  readonly maxStreamWindowBytes: number;
  readonly #options: YamuxSessionOptions;
  readonly #reader = new FrameReader();
  readonly #streams = new Map<number, YamuxStream>();
  /** Streams the peer opened that have not been accepted (announced) yet. */
  readonly #unaccepted = new Set<YamuxStream>();
  readonly #pings = new Map<number, { resolve: (rttMs: number) => void; reject: (error: Error) => void; sentMs: number; timer: TimerHandle }>();
  readonly #writeTimeoutMs: number;
  readonly #acceptBacklog: number;
  #nextStreamId: number;
  #nextPingId = 1;
  #keepAlive: TimerHandle | undefined;
  /** Writes handed to the transport and not yet accepted, oldest first, by the time they were made. */
  readonly #unwritten: number[] = [];
  #writeTimer: TimerHandle | undefined;
  #isLocalGoAway = false;
  #isRemoteGoAway = false;
  #isClosed = false;

  constructor(options: YamuxSessionOptions) {
    const max = options.maxStreamWindowBytes ?? INITIAL_STREAM_WINDOW_BYTES;
    if (!Number.isInteger(max) || max < INITIAL_STREAM_WINDOW_BYTES || max > 0xffff_ffff) {
      throw new RangeError(`maxStreamWindowBytes must be an integer of at least ${INITIAL_STREAM_WINDOW_BYTES} (got ${String(max)})`);
    }
    this.maxStreamWindowBytes = max;
    this.#options = options;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS;
    this.#acceptBacklog = options.acceptBacklog ?? DEFAULT_ACCEPT_BACKLOG;
    // hashicorp: the client opens odd ids, the server even ones.
    this.#nextStreamId = options.role === YamuxRole.client ? 1 : 2;
    const interval = options.keepAliveIntervalMs ?? DEFAULT_KEEPALIVE_INTERVAL_MS;
    if (interval > 0) {
      this.#keepAlive = setRepeating(options.clock, interval, () => {
        this.ping().catch(() => undefined); // a failed keepalive has already ended the session
      });
    }
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  /** Bytes received and held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.#reader.bufferedBytes;
  }

  /** Feeds transport bytes in; any split or coalescing of frames is fine. */
  receive(bytes: Uint8Array): void {
    if (this.#isClosed) return;
    let frames;
    try {
      frames = this.#reader.push(bytes, (header) => this.#checkHeader(header));
    } catch (error) {
      if (error instanceof YamuxSessionError) {
        this.#fail(error, GoAwayCode.protocolError);
        return;
      }
      throw error;
    }
    for (const frame of frames) {
      if (this.#isClosed) return;
      this.#onFrame(frame.header, frame.data);
    }
  }

  /** Opens a stream (SYN). Refused after a go away from either side. */
  open(): YamuxStream {
    if (this.#isClosed) throw new YamuxSessionError(YamuxErrorKind.protocol, 'session closed');
    if (this.#isRemoteGoAway) throw new YamuxSessionError(YamuxErrorKind.remoteGoAway, 'remote end is not accepting streams');
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    const stream = new YamuxStream(this, id, true);
    this.#streams.set(id, stream);
    stream.announce();
    return stream;
  }

  /** Accepts a stream handed to onStream: ACK, and it leaves the backlog. */
  accept(stream: YamuxStream): void {
    if (!this.#unaccepted.delete(stream)) return;
    stream.announce();
  }

  /** Round trip of one ping, in milliseconds; rejects (and ends the session) when unanswered within the write timeout. */
  ping(): Promise<number> {
    if (this.#isClosed) return Promise.reject(new YamuxSessionError(YamuxErrorKind.protocol, 'session closed'));
    const id = this.#nextPingId;
    this.#nextPingId = (this.#nextPingId + 1) >>> 0 || 1;
    return new Promise((resolve, reject) => {
      const timer = this.#options.clock.setTimer(this.#writeTimeoutMs, () => {
        this.#pings.delete(id);
        const error = new YamuxSessionError(YamuxErrorKind.keepAliveTimeout, `no ping answer within ${this.#writeTimeoutMs} ms`);
        reject(error);
        this.#end(error);
      });
      this.#pings.set(id, { resolve, reject, sentMs: this.#options.clock.now(), timer });
      this.sendFrame(FrameType.ping, FrameFlag.syn, 0, id, undefined);
    });
  }

  /** Tells the peer no new streams are accepted (go away, normal); existing streams go on. */
  goAway(): void {
    if (this.#isClosed || this.#isLocalGoAway) return;
    this.#isLocalGoAway = true;
    this.sendFrame(FrameType.goAway, 0, 0, GoAwayCode.normal, undefined);
  }

  /** Ends the session at once: every stream ends with `session`; nothing more is written. */
  close(): void {
    this.#end(undefined);
  }

  sendFrame(type: FrameType, flags: number, streamId: number, length: number, data: Uint8Array | undefined, onWritten?: () => void): void {
    if (this.#isClosed) return;
    const header = encodeHeader(type, flags, streamId, length);
    const bytes = data === undefined || data.byteLength === 0 ? header : Buffer.concat([header, data]);
    this.#unwritten.push(this.#options.clock.now());
    this.#writeTimer ??= this.#options.clock.setTimer(this.#writeTimeoutMs, () => this.#checkWrites());
    this.#options.transport.write(bytes, () => {
      this.#unwritten.shift();
      onWritten?.();
    });
  }

  forget(stream: YamuxStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    this.#unaccepted.delete(stream);
  }

  #checkWrites(): void {
    this.#writeTimer = undefined;
    const oldest = this.#unwritten[0];
    if (oldest === undefined || this.#isClosed) return;
    const waitedMs = this.#options.clock.now() - oldest;
    if (waitedMs >= this.#writeTimeoutMs) {
      this.#end(new YamuxSessionError(YamuxErrorKind.writeTimeout, `a write waited more than ${this.#writeTimeoutMs} ms`));
      return;
    }
    this.#writeTimer = this.#options.clock.setTimer(this.#writeTimeoutMs - waitedMs, () => this.#checkWrites());
  }

  /** Runs before a frame's data is buffered: a data frame larger than its stream's window is refused here. */
  #checkHeader(header: FrameHeader): void {
    if (header.version !== YAMUX_VERSION) throw new YamuxSessionError(YamuxErrorKind.protocol, `invalid protocol version ${header.version}`);
    if (header.type > FrameType.goAway) throw new YamuxSessionError(YamuxErrorKind.protocol, `invalid frame type ${header.type}`);
    // Data is buffered whole before it reaches its stream, which checks its exact window; no frame may exceed
    // the largest window this side ever grants. Data for a stream we reset is read and dropped (hashicorp).
    if (header.type === FrameType.data && header.length > this.maxStreamWindowBytes) {
      throw new YamuxSessionError(YamuxErrorKind.protocol, `data frame of ${header.length} bytes exceeds the window`);
    }
  }

  #onFrame(header: FrameHeader, data: Buffer): void {
    switch (header.type) {
      case FrameType.ping:
        this.#onPing(header);
        return;
      case FrameType.goAway:
        this.#onGoAway(header.length);
        return;
      default:
        this.#onStreamFrame(header, data);
    }
  }

  #onStreamFrame(header: FrameHeader, data: Buffer): void {
    if ((header.flags & FrameFlag.syn) !== 0 && !this.#incoming(header.streamId)) return;
    const stream = this.#streams.get(header.streamId);
    if (stream === undefined) return; // a stream we reset: its late frames are dropped
    if (header.type === FrameType.windowUpdate) {
      stream.receiveWindowUpdate(header.flags, header.length);
      return;
    }
    if (!stream.receiveData(header.flags, data)) {
      this.#fail(new YamuxSessionError(YamuxErrorKind.protocol, `stream ${header.streamId} exceeded its receive window`), GoAwayCode.protocolError);
    }
  }

  /** A SYN from the peer: a new stream, unless we go away, the backlog is full, or the id is taken. */
  #incoming(id: number): boolean {
    if (this.#streams.has(id)) {
      this.#fail(new YamuxSessionError(YamuxErrorKind.protocol, `duplicate stream ${id}`), GoAwayCode.protocolError);
      return false;
    }
    if (this.#isLocalGoAway || this.#unaccepted.size >= this.#acceptBacklog) {
      this.sendFrame(FrameType.windowUpdate, FrameFlag.rst, id, 0, undefined);
      return false;
    }
    const stream = new YamuxStream(this, id, false);
    this.#streams.set(id, stream);
    this.#unaccepted.add(stream);
    this.#options.onStream?.(stream);
    return true;
  }

  #onPing(header: FrameHeader): void {
    if ((header.flags & FrameFlag.syn) !== 0) {
      this.sendFrame(FrameType.ping, FrameFlag.ack, 0, header.length, undefined);
      return;
    }
    const pending = this.#pings.get(header.length);
    if (pending === undefined) return;
    this.#pings.delete(header.length);
    pending.timer.cancel();
    pending.resolve(this.#options.clock.now() - pending.sentMs);
  }

  #onGoAway(code: number): void {
    if (code === GoAwayCode.normal) {
      this.#isRemoteGoAway = true;
      return;
    }
    const what = code === GoAwayCode.protocolError ? 'protocol error' : code === GoAwayCode.internalError ? 'internal error' : `code ${code}`;
    this.#end(new YamuxSessionError(YamuxErrorKind.remoteGoAway, `peer went away: ${what}`));
  }

  /** A fatal error: tell the peer (go away with `code`) and end. */
  #fail(error: YamuxSessionError, code: GoAwayCode): void {
    if (this.#isClosed) return;
    this.sendFrame(FrameType.goAway, 0, 0, code, undefined);
    this.#end(error);
  }

  #end(error: YamuxSessionError | undefined): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#keepAlive?.cancel();
    this.#writeTimer?.cancel();
    this.#writeTimer = undefined;
    for (const pending of this.#pings.values()) {
      pending.timer.cancel();
      pending.reject(error ?? new YamuxSessionError(YamuxErrorKind.protocol, 'session closed'));
    }
    this.#pings.clear();
    for (const stream of [...this.#streams.values()]) stream.abort();
    this.#streams.clear();
    this.#unaccepted.clear();
    this.#options.onClose?.(error);
  }
}
