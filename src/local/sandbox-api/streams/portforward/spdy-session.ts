// The server half of a SPDY/3 connection, behaving like the kubelet's (k8s.io/apimachinery
// httpstream/spdy over moby/spdystream): the client opens every stream, each accepted stream gets a
// SYN_REPLY with an empty header block and a rejected one an RST_STREAM CANCEL, PINGs are echoed, and no
// flow control is spoken (kubectl never sends WINDOW_UPDATE and ignores windows, and so does spdystream).
// It knows nothing of WebSockets or TLS: bytes come in through receive() and leave through a
// SessionTransport, so the same session serves the WebSocket tunnel and a plain SPDY upgrade.
//
// Header blocks need the connection's zlib contexts, which are asynchronous. Frames are therefore
// handled strictly in arrival order through an inbox that waits while a header block inflates, and
// frames go out through an outbox that holds later frames back while a SYN_REPLY is being compressed,
// so a data frame can never overtake the reply to its own stream (spdystream drops such data).

import { HeaderDeflater, HeaderInflater } from './header-zlib.js';
import { decodeHeaderBlock, encodeHeaderBlock } from './header-block.js';
import { FrameFlag, FrameParser, GoAwayStatus, RstStatus, SpdyProtocolError, encodeFrame, type SpdyFrame } from './spdy-framer.js';
import { SpdyStream, type StreamOwner } from './spdy-stream.js';

export { SpdyStream, type StreamListener } from './spdy-stream.js';

export interface SessionTransport {
  /** hands bytes to the peer; `flushed` runs once they have left this process's buffers */
  send(bytes: Buffer, flushed: () => void): void;
  /** stops delivering inbound bytes until resume() (a forwarded socket is not keeping up) */
  pause(): void;
  resume(): void;
  /** ends the connection; may be called more than once */
  close(): void;
}

export interface SessionHooks {
  /** a new client stream with decoded headers: call accept() or reject() and set a listener */
  stream(stream: SpdyStream): void;
  /** the connection ended; every stream has been reset */
  closed(): void;
}

/** Above this many bytes not yet flushed to the peer, writers are asked to wait. */
const OUTBOUND_HIGH_WATER = 1024 * 1024;
const OUTBOUND_LOW_WATER = 256 * 1024;

interface OutboxEntry {
  bytes: Buffer | undefined;
}

export class SpdyServerSession implements StreamOwner {
  readonly #transport: SessionTransport;
  readonly #hooks: SessionHooks;
  readonly #parser = new FrameParser();
  readonly #inflater = new HeaderInflater();
  readonly #deflater = new HeaderDeflater();
  readonly #streams = new Map<number, SpdyStream>();
  readonly #inbox: SpdyFrame[] = [];
  readonly #outbox: OutboxEntry[] = [];
  readonly #pausedBy = new Set<SpdyStream>();
  #drainWaiters: Array<() => void> = [];
  #inflating = false;
  #unflushed = 0;
  #lastPeerStreamId = 0;
  #goneAway = false;
  #closed = false;

  constructor(transport: SessionTransport, hooks: SessionHooks) {
    this.#transport = transport;
    this.#hooks = hooks;
  }

  get streamCount(): number {
    return this.#streams.size;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get isCongested(): boolean {
    return this.#unflushed > OUTBOUND_HIGH_WATER;
  }

  /** Runs `resume` once the bytes queued towards the peer fall below the low-water mark. */
  whenDrained(resume: () => void): void {
    if (this.#unflushed <= OUTBOUND_LOW_WATER) resume();
    else this.#drainWaiters.push(resume);
  }

  /** Bytes from the peer, in order, with no regard to frame boundaries. */
  receive(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#inbox.push(...this.#parser.push(chunk));
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#pump();
  }

  /** Our side ends the connection like apimachinery's Close: reset every stream, then GOAWAY. */
  shutdown(): void {
    if (this.#closed) return;
    for (const stream of [...this.#streams.values()]) stream.reset(RstStatus.cancel);
    this.sendFrame({ kind: 'goAway', lastGoodStreamId: this.#lastPeerStreamId, status: GoAwayStatus.ok });
    this.close();
  }

  /** Releases everything; the transport is closed (again, harmlessly, when it closed first). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    this.#pausedBy.clear();
    this.#drainWaiters = [];
    for (const stream of streams) stream.peerReset();
    this.#inflater.close();
    this.#deflater.close();
    this.#transport.close();
    this.#hooks.closed();
  }

  /** @internal */
  sendFrame(frame: SpdyFrame): void {
    if (this.#closed) return;
    const bytes = encodeFrame(frame);
    if (this.#outbox.length === 0) this.#transmit(bytes);
    else this.#outbox.push({ bytes });
  }

  /** @internal a SYN_REPLY holds its place in the outbox while its empty header block compresses */
  sendSynReply(streamId: number): void {
    if (this.#closed) return;
    const entry: OutboxEntry = { bytes: undefined };
    this.#outbox.push(entry);
    this.#deflater.compress(encodeHeaderBlock([])).then(
      (headerBlock) => {
        entry.bytes = encodeFrame({ kind: 'synReply', flags: 0, streamId, headerBlock });
        this.#flushOutbox();
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /** @internal */
  release(stream: SpdyStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    this.resumeInboundFor(stream);
    if (this.#goneAway && this.#streams.size === 0) this.close();
  }

  /** @internal */
  resumeInboundFor(stream: SpdyStream): void {
    if (this.#pausedBy.delete(stream) && this.#pausedBy.size === 0 && !this.#closed) this.#transport.resume();
  }

  #flushOutbox(): void {
    while (this.#outbox.length > 0 && !this.#closed) {
      const bytes = this.#outbox[0]?.bytes;
      if (bytes === undefined) return;
      this.#outbox.shift();
      this.#transmit(bytes);
    }
  }

  #transmit(bytes: Buffer): void {
    this.#unflushed += bytes.length;
    const flushed = (): void => {
      this.#unflushed -= bytes.length;
      if (this.#unflushed > OUTBOUND_LOW_WATER || this.#drainWaiters.length === 0) return;
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const resume of waiters) resume();
    };
    this.#transport.send(bytes, flushed);
  }

  #pump(): void {
    while (!this.#inflating && !this.#closed && this.#inbox.length > 0) {
      const frame = this.#inbox.shift();
      if (frame === undefined) return;
      if (frame.kind === 'synStream' || frame.kind === 'synReply' || frame.kind === 'headers') {
        // every block must pass through the inflater, even ones we ignore, to keep its context in step
        this.#inflating = true;
        this.#inflater.decompress(frame.headerBlock).then(
          (block) => {
            this.#inflating = false;
            if (frame.kind === 'synStream') this.#openStream(frame.streamId, frame.flags, block);
            this.#pump();
          },
          (error: unknown) => this.#fail(new SpdyProtocolError(`header block does not inflate: ${error instanceof Error ? error.message : String(error)}`)),
        );
        return;
      }
      this.#handle(frame);
    }
  }

  #handle(frame: SpdyFrame): void {
    switch (frame.kind) {
      case 'data': {
        const stream = this.#streams.get(frame.streamId);
        // data for a stream that is unknown or gone is dropped, as spdystream does
        if (stream === undefined) return;
        if (frame.data.length > 0 && !stream.peerData(frame.data) && !stream.isReleased) {
          this.#pausedBy.add(stream);
          if (this.#pausedBy.size === 1) this.#transport.pause();
        }
        if ((frame.flags & FrameFlag.fin) !== 0) stream.peerEnd();
        return;
      }
      case 'rstStream':
        this.#streams.get(frame.streamId)?.peerReset();
        return;
      case 'ping':
        // the client's pings are odd; an even id would answer a ping of ours, and we send none
        if ((frame.id & 1) === 1) this.sendFrame(frame);
        return;
      case 'goAway':
        this.#goneAway = true;
        if (this.#streams.size === 0) this.close();
        return;
      default:
        // SETTINGS, WINDOW_UPDATE and unknown control frames change nothing here
        return;
    }
  }

  #openStream(streamId: number, flags: number, block: Buffer): void {
    if (this.#goneAway) return;
    let headers: Map<string, string[]>;
    try {
      headers = decodeHeaderBlock(block);
    } catch (error) {
      this.#fail(error);
      return;
    }
    // client streams are odd and increasing (spdystream's validateStreamId); others are refused
    if (streamId === 0 || (streamId & 1) === 0 || streamId <= this.#lastPeerStreamId) {
      this.sendFrame({ kind: 'rstStream', streamId: streamId === 0 ? 1 : streamId, status: RstStatus.protocolError });
      return;
    }
    this.#lastPeerStreamId = streamId;
    const stream = new SpdyStream(this, streamId, headers, flags);
    this.#streams.set(streamId, stream);
    this.#hooks.stream(stream);
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    const status = error instanceof SpdyProtocolError ? GoAwayStatus.protocolError : GoAwayStatus.internalError;
    this.sendFrame({ kind: 'goAway', lastGoodStreamId: this.#lastPeerStreamId, status });
    this.close();
  }
}
