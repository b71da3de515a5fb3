// hashicorp/yamux protocol version 0 framing (PROTOCOL.md §15.3): the 12-byte header and the reader that
// cuts a byte stream (WebSocket message boundaries mean nothing) back into frames.
//
//   0      1      2      4          8          12
//   +------+------+------+----------+----------+---- data (type 0 only, `length` bytes)
//   | ver  | type | flags| stream id| length   |
//   +------+------+------+----------+----------+

export const YAMUX_VERSION = 0;
export const HEADER_BYTES = 12;
/** Every stream starts with this window, and a peer may not shrink below it (hashicorp initialStreamWindow). */
export const INITIAL_STREAM_WINDOW_BYTES = 256 * 1024;

export const FrameType = { data: 0, windowUpdate: 1, ping: 2, goAway: 3 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlag = { syn: 0x1, ack: 0x2, fin: 0x4, rst: 0x8 } as const;

export const GoAwayCode = { normal: 0, protocolError: 1, internalError: 2 } as const;
export type GoAwayCode = (typeof GoAwayCode)[keyof typeof GoAwayCode];

export interface FrameHeader {
  readonly version: number;
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly length: number;
}

export function encodeHeader(type: FrameType, flags: number, streamId: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = YAMUX_VERSION;
  header[1] = type;
  header.writeUInt16BE(flags, 2);
  header.writeUInt32BE(streamId >>> 0, 4);
  header.writeUInt32BE(length >>> 0, 8);
  return header;
}

export function decodeHeader(bytes: Uint8Array): FrameHeader {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return { version: view[0]!, type: view[1]!, flags: view.readUInt16BE(2), streamId: view.readUInt32BE(4), length: view.readUInt32BE(8) };
}

export interface ReadFrame {
  readonly header: FrameHeader;
  /** The data of a data frame (empty otherwise), whole: one frame is one chunk (a UDP datagram, say). */
  readonly data: Buffer;
}

/**
 * Accumulates transport bytes and yields whole frames. The caller checks each header (`onHeader`) before its
 * data is buffered, so a data frame can only hold as many bytes as the stream's receive window allows.
 */
export class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #header: FrameHeader | undefined;

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Appends bytes and returns the frames they complete. `onHeader` may throw to refuse a frame (a protocol
   * error); reading stops there.
   */
  push(bytes: Uint8Array, onHeader: (header: FrameHeader) => void): ReadFrame[] {
    if (bytes.byteLength > 0) {
      this.#chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      this.#buffered += bytes.byteLength;
    }
    const frames: ReadFrame[] = [];
    for (;;) {
      if (this.#header === undefined) {
        if (this.#buffered < HEADER_BYTES) break;
        const header = decodeHeader(this.#take(HEADER_BYTES));
        onHeader(header);
        this.#header = header;
      }
      const header = this.#header;
      const dataBytes = header.type === FrameType.data ? header.length : 0;
      if (this.#buffered < dataBytes) break;
      this.#header = undefined;
      frames.push({ header, data: dataBytes === 0 ? Buffer.alloc(0) : this.#take(dataBytes) });
    }
    return frames;
  }

  #take(count: number): Buffer {
    const first = this.#chunks[0]!;
    let out: Buffer;
    if (first.length >= count) {
      out = first.subarray(0, count);
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
    } else {
      out = Buffer.allocUnsafe(count);
      let filled = 0;
      while (filled < count) {
        const chunk = this.#chunks[0]!;
        const part = Math.min(chunk.length, count - filled);
        chunk.copy(out, filled, 0, part);
        filled += part;
        if (part === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(part);
      }
    }
    this.#buffered -= count;
    return out;
  }
}
