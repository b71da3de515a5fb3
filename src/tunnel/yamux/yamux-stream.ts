// One yamux stream (PROTOCOL.md §15.3): its state (SYN/ACK/FIN/RST), its two windows, and the writes that
// wait for send window. It never buffers without bound: the receive side holds at most its window of
// unconsumed bytes (more is a protocol error of the peer), and the send side queues only what the caller
// wrote, which the caller bounds by waiting for `onSent`.
//
//   peer ──data──► recvWindow -= n ─► onData(chunk) … consumer … consume(n) ─► window update (≥ max/2)
//   write(chunk) ─► sendWindow > 0 ? data frame : queue ─► window update from peer ─► flush ─► onSent

import { FrameFlag, FrameType, INITIAL_STREAM_WINDOW_BYTES } from './yamux-frame.js';

/** What a stream needs from its session. */
export interface StreamOwner {
  readonly maxStreamWindowBytes: number;
  sendFrame(type: FrameType, flags: number, streamId: number, length: number, data: Uint8Array | undefined, onWritten?: () => void): void;
  forget(stream: YamuxStream): void;
}

/** Largest data frame written: streams interleave on the socket at this granularity. */
const MAX_DATA_FRAME_BYTES = 64 * 1024;

export const StreamEnd = { closed: 'closed', reset: 'reset', session: 'session' } as const;
export type StreamEnd = (typeof StreamEnd)[keyof typeof StreamEnd];

interface QueuedWrite {
  data: Uint8Array;
  readonly onSent: (() => void) | undefined;
  /** Frames of this write handed to the transport and not yet confirmed. */
  unconfirmed: number;
}

export class YamuxStream {
  readonly id: number;
  /** Bytes of data (a whole data frame) from the peer; hand back with consume() once processed. */
  onData: ((chunk: Buffer) => void) | undefined;
  /** The peer sent FIN: no more data will arrive. */
  onEnd: (() => void) | undefined;
  /** The stream is gone (both FINs, a reset, or the session ended); called once. */
  onClose: ((end: StreamEnd) => void) | undefined;
  readonly #owner: StreamOwner;
  #sendWindow = INITIAL_STREAM_WINDOW_BYTES;
  #recvWindow = INITIAL_STREAM_WINDOW_BYTES;
  /** Bytes delivered through onData and not yet consumed. */
  #unconsumed = 0;
  readonly #queue: QueuedWrite[] = [];
  #pendingFlags = 0;
  /** Opened (SYN sent) or accepted (ACK sent): before that, consumption only counts, nothing is sent. */
  #isAnnounced = false;
  #isLocalClosed = false;
  #isFinQueued = false;
  #isRemoteClosed = false;
  #isGone = false;
  #bytesIn = 0;
  #bytesOut = 0;

  constructor(owner: StreamOwner, id: number, isOpener: boolean) {
    this.#owner = owner;
    this.id = id;
    this.#pendingFlags = isOpener ? FrameFlag.syn : FrameFlag.ack;
  }

  get isClosed(): boolean {
    return this.#isGone;
  }

  /** Bytes the peer still lets us send before its next window update. */
  get sendWindow(): number {
    return this.#sendWindow;
  }

  /** Bytes written and waiting for send window. */
  get queuedBytes(): number {
    let total = 0;
    for (const write of this.#queue) total += write.data.byteLength;
    return total;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  get bytesOut(): number {
    return this.#bytesOut;
  }

  /** Opens (SYN) or accepts (ACK) the stream, announcing the receive window grown to the maximum. */
  announce(): void {
    if (this.#isAnnounced) return;
    this.#isAnnounced = true;
    this.#sendWindowUpdate(true);
  }

  /**
   * Queues `data`; `onSent` runs once all of it has been handed to and accepted by the transport. Callers bound
   * what they write by waiting for it (the stream itself never refuses a write).
   */
  write(data: Uint8Array, onSent?: () => void): void {
    if (this.#isGone || this.#isFinQueued) return;
    if (data.byteLength === 0) {
      onSent?.();
      return;
    }
    this.#queue.push({ data, onSent, unconfirmed: 0 });
    this.#flush();
  }

  /** Half-close: FIN after the queued data. The peer may still send until its own FIN. */
  end(): void {
    if (this.#isGone || this.#isFinQueued) return;
    this.#isFinQueued = true;
    this.#flush();
  }

  /** Abort both directions (RST); queued data is dropped. */
  reset(): void {
    if (this.#isGone) return;
    this.#owner.sendFrame(FrameType.windowUpdate, this.#takeFlags() | FrameFlag.rst, this.id, 0, undefined);
    this.#gone(StreamEnd.reset);
  }

  /** The consumer processed `bytes` of what onData delivered: reopen the window by that much. */
  consume(bytes: number): void {
    if (this.#isGone || bytes <= 0) return;
    this.#unconsumed = Math.max(0, this.#unconsumed - bytes);
    // An acceptor's first frame is its ACK, which only accept() sends (the stream leaves the backlog then).
    if (this.#isAnnounced) this.#sendWindowUpdate(false);
  }

  /** The session ended under the stream. */
  abort(): void {
    if (!this.#isGone) this.#gone(StreamEnd.session);
  }

  /** A data frame for this stream. Returns false when it exceeds the receive window (a protocol error). */
  receiveData(flags: number, data: Buffer): boolean {
    if (this.#isGone) return true;
    if (data.length > this.#recvWindow) return false;
    this.#recvWindow -= data.length;
    if (data.length > 0 && !this.#isRemoteClosed) {
      this.#unconsumed += data.length;
      this.#bytesIn += data.length;
      this.onData?.(data);
    }
    this.#applyFlagsAfter(flags);
    return true;
  }

  /** A window update for this stream: more send window, and maybe FIN or RST. */
  receiveWindowUpdate(flags: number, delta: number): void {
    if (this.#isGone) return;
    this.#sendWindow += delta;
    this.#applyFlagsAfter(flags);
    if (!this.#isGone) this.#flush();
  }

  #applyFlagsAfter(flags: number): void {
    if ((flags & FrameFlag.rst) !== 0) {
      this.#gone(StreamEnd.reset);
      return;
    }
    if ((flags & FrameFlag.fin) !== 0 && !this.#isRemoteClosed) {
      this.#isRemoteClosed = true;
      this.onEnd?.();
      this.#closeIfDone();
    }
  }

  #flush(): void {
    while (!this.#isGone && this.#queue.length > 0 && this.#sendWindow > 0) {
      const write = this.#queue[0]!;
      const size = Math.min(write.data.byteLength, this.#sendWindow, MAX_DATA_FRAME_BYTES);
      const piece = write.data.subarray(0, size);
      write.data = write.data.subarray(size);
      this.#sendWindow -= size;
      this.#bytesOut += size;
      const isLast = write.data.byteLength === 0;
      if (isLast) this.#queue.shift();
      write.unconfirmed++;
      this.#owner.sendFrame(FrameType.data, this.#takeFlags(), this.id, size, piece, () => {
        write.unconfirmed--;
        if (write.unconfirmed === 0 && write.data.byteLength === 0) write.onSent?.();
      });
    }
    if (this.#isFinQueued && !this.#isLocalClosed && this.#queue.length === 0 && !this.#isGone) {
      this.#isLocalClosed = true;
      this.#owner.sendFrame(FrameType.windowUpdate, this.#takeFlags() | FrameFlag.fin, this.id, 0, undefined);
      this.#closeIfDone();
    }
  }

  /**
   * hashicorp's rule: grow the peer's view of our window back to the maximum minus what is still unconsumed,
   * but only once that is at least half the maximum (fewer small updates), unless flags must go out.
   */
  #sendWindowUpdate(isForced: boolean): void {
    const max = this.#owner.maxStreamWindowBytes;
    const delta = max - this.#unconsumed - this.#recvWindow;
    const flags = this.#takeFlags();
    if (!isForced && flags === 0 && delta < max / 2) return;
    const grant = Math.max(0, delta);
    this.#recvWindow += grant;
    this.#owner.sendFrame(FrameType.windowUpdate, flags, this.id, grant, undefined);
  }

  /** SYN or ACK ride on the first frame we send. */
  #takeFlags(): number {
    const flags = this.#pendingFlags;
    this.#pendingFlags = 0;
    return flags;
  }

  #closeIfDone(): void {
    if (this.#isLocalClosed && this.#isRemoteClosed) this.#gone(StreamEnd.closed);
  }

  #gone(end: StreamEnd): void {
    if (this.#isGone) return;
    this.#isGone = true;
    this.#queue.length = 0;
    this.#owner.forget(this);
    const onClose = this.onClose;
    this.onData = undefined;
    this.onEnd = undefined;
    this.onClose = undefined;
    onClose?.(end);
  }
}
