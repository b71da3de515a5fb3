// One SPDY stream as the server sees it: opened by the client, accepted with a SYN_REPLY or refused,
// and closed in each direction separately (FLAG_FIN) or in both at once (RST_STREAM). It is released
// from its connection once both directions are done, which is what the sandbox counts for tests.

import { FrameFlag, MAX_FRAME_PAYLOAD, RstStatus, type SpdyFrame } from './spdy-framer.js';

/** What a stream's owner hears from the peer. */
export interface StreamListener {
  /** bytes for the stream; return false to stop the peer until stream.resumeInbound() */
  data(chunk: Buffer): boolean;
  /** the peer finished sending (FLAG_FIN) */
  end(): void;
  /** the peer reset the stream, or the connection went away */
  reset(): void;
}

/** The connection a stream writes through (SpdyServerSession). */
export interface StreamOwner {
  readonly isCongested: boolean;
  sendFrame(frame: SpdyFrame): void;
  sendSynReply(streamId: number): void;
  release(stream: SpdyStream): void;
  resumeInboundFor(stream: SpdyStream): void;
  whenDrained(resume: () => void): void;
}

const IGNORING_LISTENER: StreamListener = { data: () => true, end: () => undefined, reset: () => undefined };

export class SpdyStream {
  readonly id: number;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly #session: StreamOwner;
  #listener: StreamListener = IGNORING_LISTENER;
  #localDone: boolean;
  #remoteDone: boolean;
  #released = false;

  constructor(session: StreamOwner, id: number, headers: ReadonlyMap<string, readonly string[]>, flags: number) {
    this.#session = session;
    this.id = id;
    this.headers = headers;
    this.#remoteDone = (flags & FrameFlag.fin) !== 0;
    this.#localDone = (flags & FrameFlag.unidirectional) !== 0;
  }

  /** The first value of a header, as Go's http.Header.Get reads it. */
  header(name: string): string | undefined {
    return this.headers.get(name)?.[0];
  }

  get isReleased(): boolean {
    return this.#released;
  }

  listen(listener: StreamListener): void {
    this.#listener = listener;
  }

  accept(): void {
    this.#session.sendSynReply(this.id);
    this.#releaseIfDone();
  }

  /** Refuses the stream the way apimachinery does: RST_STREAM with CANCEL. */
  reject(): void {
    this.reset(RstStatus.cancel);
  }

  /** Sends bytes; false means the connection is congested and the caller should wait for drain. */
  write(data: Buffer): boolean {
    if (this.#localDone) return false;
    for (let offset = 0; offset < data.length; offset += MAX_FRAME_PAYLOAD) {
      this.#session.sendFrame({ kind: 'data', streamId: this.id, flags: 0, data: data.subarray(offset, offset + MAX_FRAME_PAYLOAD) });
    }
    return !this.#session.isCongested;
  }

  /** Half-closes this side: an empty data frame with FLAG_FIN, as spdystream's Stream.Close sends. */
  end(): void {
    if (this.#localDone) return;
    this.#localDone = true;
    this.#session.sendFrame({ kind: 'data', streamId: this.id, flags: FrameFlag.fin, data: Buffer.alloc(0) });
    this.#releaseIfDone();
  }

  reset(status: number = RstStatus.cancel): void {
    if (this.#released) return;
    this.#localDone = true;
    this.#remoteDone = true;
    this.#session.sendFrame({ kind: 'rstStream', streamId: this.id, status });
    this.#releaseIfDone();
  }

  resumeInbound(): void {
    this.#session.resumeInboundFor(this);
  }

  /** Runs `resume` once the connection is no longer congested (after write() returned false). */
  whenWritable(resume: () => void): void {
    this.#session.whenDrained(resume);
  }

  /** @internal the session delivers peer events through these */
  peerData(data: Buffer): boolean {
    return this.#remoteDone ? true : this.#listener.data(data);
  }

  peerEnd(): void {
    if (this.#remoteDone) return;
    this.#remoteDone = true;
    this.#listener.end();
    this.#releaseIfDone();
  }

  peerReset(): void {
    if (this.#released) return;
    this.#localDone = true;
    this.#remoteDone = true;
    this.#releaseIfDone();
    this.#listener.reset();
  }

  #releaseIfDone(): void {
    if (this.#released || !this.#localDone || !this.#remoteDone) return;
    this.#released = true;
    this.#session.release(this);
  }
}

