// SPDY/3 frames as kubectl's port-forward speaks them (moby/spdystream's framer, itself Go's old
// go.net/spdy): encoding and an incremental parser. Header blocks are carried here still compressed;
// header-zlib.ts owns the per-direction zlib contexts, because those are connection state and
// asynchronous, while everything in this file is pure and synchronous. Like Go's framer, the parser
// does not check the version field (always written as 3).
//
// Every frame starts with 8 bytes; the top bit of the first word tells control from data frames.
//
//   Control frame                           Data frame
//   +-+--------------+----------------+     +-+-------------------------------+
//   |1| version (15) |   type (16)    |     |0|        stream id (31)         |
//   +-+--------------+----------------+     +-+-------------------------------+
//   | flags (8) |     length (24)     |     | flags (8) |     length (24)     |
//   +-----------+---------------------+     +-----------+---------------------+
//   |   payload: `length` bytes ...   |     |    data: `length` bytes ...     |
//
// Control payloads (X = reserved bit, written 0 and ignored on read):
//
//   SYN_STREAM (1)  |X| stream id (31) | X| associated-to stream id (31) |
//                   | pri (3) | unused (5) | slot (8) | header block (compressed) ...
//   SYN_REPLY (2)   |X| stream id (31) | header block (compressed) ...
//   RST_STREAM (3)  |X| stream id (31) | status code (32)
//   SETTINGS (4)    | entry count (32) | then per entry: | flags (8) | id (24) | value (32) |
//   PING (6)        | ping id (32)
//   GOAWAY (7)      |X| last good stream id (31) | status code (32)
//   HEADERS (8)     |X| stream id (31) | header block (compressed) ...
//   WINDOW_UPDATE(9)|X| stream id (31) | X| delta window size (31) |
//
// Header blocks (layout in header-block.ts) stay opaque bytes here.

export const SPDY_VERSION = 3;
export const FRAME_HEADER_BYTES = 8;
/** lengths are 24-bit */
export const MAX_FRAME_PAYLOAD = 0xff_ffff;

export const ControlType = {
  synStream: 1,
  synReply: 2,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goAway: 7,
  headers: 8,
  windowUpdate: 9,
} as const;

/** FLAG_FIN on SYN_STREAM, SYN_REPLY, HEADERS and data frames; FLAG_UNIDIRECTIONAL on SYN_STREAM. */
export const FrameFlag = { fin: 0x01, unidirectional: 0x02 } as const;

export const RstStatus = {
  protocolError: 1,
  invalidStream: 2,
  refusedStream: 3,
  unsupportedVersion: 4,
  cancel: 5,
  internalError: 6,
  flowControlError: 7,
  streamInUse: 8,
  streamAlreadyClosed: 9,
  invalidCredentials: 10,
  frameTooLarge: 11,
} as const;

export const GoAwayStatus = { ok: 0, protocolError: 1, internalError: 2 } as const;

export interface SettingsEntry {
  readonly flags: number;
  readonly id: number;
  readonly value: number;
}

export type SpdyFrame =
  | { readonly kind: 'data'; readonly streamId: number; readonly flags: number; readonly data: Buffer }
  | {
      readonly kind: 'synStream';
      readonly flags: number;
      readonly streamId: number;
      readonly associatedToStreamId: number;
      readonly priority: number;
      readonly slot: number;
      readonly headerBlock: Buffer;
    }
  | { readonly kind: 'synReply'; readonly flags: number; readonly streamId: number; readonly headerBlock: Buffer }
  | { readonly kind: 'rstStream'; readonly streamId: number; readonly status: number }
  | { readonly kind: 'settings'; readonly flags: number; readonly entries: readonly SettingsEntry[] }
  | { readonly kind: 'ping'; readonly id: number }
  | { readonly kind: 'goAway'; readonly lastGoodStreamId: number; readonly status: number }
  | { readonly kind: 'headers'; readonly flags: number; readonly streamId: number; readonly headerBlock: Buffer }
  | { readonly kind: 'windowUpdate'; readonly streamId: number; readonly deltaWindowSize: number }
  /** a control type this framer does not know; SPDY says to ignore it */
  | { readonly kind: 'unknownControl'; readonly type: number; readonly flags: number; readonly payload: Buffer };

/** A byte stream that is not valid SPDY/3; the connection cannot continue. */
export class SpdyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpdyProtocolError';
  }
}

const STREAM_ID_MASK = 0x7fff_ffff;

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`SPDY control payload of ${payload.length} bytes exceeds 24 bits`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  frame.writeUInt16BE(type, 2);
  frame.writeUInt32BE(((flags & 0xff) << 24 | payload.length) >>> 0, 4);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Big-endian 32-bit words. */
export function words(...values: number[]): Buffer {
  const payload = Buffer.allocUnsafe(values.length * 4);
  values.forEach((value, index) => payload.writeUInt32BE(value >>> 0, index * 4));
  return payload;
}

/** Serialises a frame; header blocks must already be compressed. */
export function encodeFrame(frame: SpdyFrame): Buffer {
  switch (frame.kind) {
    case 'data': {
      if (frame.data.length > MAX_FRAME_PAYLOAD) throw new RangeError(`SPDY data of ${frame.data.length} bytes exceeds 24 bits`);
      const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      head.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      head.writeUInt32BE(((frame.flags & 0xff) << 24 | frame.data.length) >>> 0, 4);
      return Buffer.concat([head, frame.data]);
    }
    case 'synStream': {
      const fixed = Buffer.allocUnsafe(10);
      fixed.writeUInt32BE(frame.streamId & STREAM_ID_MASK, 0);
      fixed.writeUInt32BE(frame.associatedToStreamId & STREAM_ID_MASK, 4);
      fixed.writeUInt8((frame.priority & 0x07) << 5, 8);
      fixed.writeUInt8(frame.slot & 0xff, 9);
      return controlFrame(ControlType.synStream, frame.flags, Buffer.concat([fixed, frame.headerBlock]));
    }
    case 'synReply':
      return controlFrame(ControlType.synReply, frame.flags, Buffer.concat([words(frame.streamId & STREAM_ID_MASK), frame.headerBlock]));
    case 'headers':
      return controlFrame(ControlType.headers, frame.flags, Buffer.concat([words(frame.streamId & STREAM_ID_MASK), frame.headerBlock]));
    case 'rstStream':
      return controlFrame(ControlType.rstStream, 0, words(frame.streamId & STREAM_ID_MASK, frame.status));
    case 'settings':
      return controlFrame(
        ControlType.settings,
        frame.flags,
        words(frame.entries.length, ...frame.entries.flatMap((entry) => [((entry.flags & 0xff) << 24) | (entry.id & 0xff_ffff), entry.value])),
      );
    case 'ping':
      return controlFrame(ControlType.ping, 0, words(frame.id));
    case 'goAway':
      return controlFrame(ControlType.goAway, 0, words(frame.lastGoodStreamId & STREAM_ID_MASK, frame.status));
    case 'windowUpdate':
      return controlFrame(ControlType.windowUpdate, 0, words(frame.streamId & STREAM_ID_MASK, frame.deltaWindowSize & STREAM_ID_MASK));
    case 'unknownControl':
      return controlFrame(frame.type, frame.flags, frame.payload);
  }
}

function requireLength(type: string, payload: Buffer, minimum: number, exact = false): void {
  if (exact ? payload.length !== minimum : payload.length < minimum) {
    throw new SpdyProtocolError(`${type} frame with a ${payload.length}-byte payload`);
  }
}

function decodeControl(type: number, flags: number, payload: Buffer): SpdyFrame {
  const streamIdAt = (offset: number): number => payload.readUInt32BE(offset) & STREAM_ID_MASK;
  switch (type) {
    case ControlType.synStream:
      requireLength('SYN_STREAM', payload, 10);
      return {
        kind: 'synStream',
        flags,
        streamId: streamIdAt(0),
        associatedToStreamId: streamIdAt(4),
        priority: payload.readUInt8(8) >> 5,
        slot: payload.readUInt8(9),
        headerBlock: payload.subarray(10),
      };
    case ControlType.synReply:
      requireLength('SYN_REPLY', payload, 4);
      return { kind: 'synReply', flags, streamId: streamIdAt(0), headerBlock: payload.subarray(4) };
    case ControlType.headers:
      requireLength('HEADERS', payload, 4);
      return { kind: 'headers', flags, streamId: streamIdAt(0), headerBlock: payload.subarray(4) };
    case ControlType.rstStream:
      requireLength('RST_STREAM', payload, 8, true);
      return { kind: 'rstStream', streamId: streamIdAt(0), status: payload.readUInt32BE(4) };
    case ControlType.settings: {
      requireLength('SETTINGS', payload, 4);
      const count = payload.readUInt32BE(0);
      if (payload.length !== 4 + count * 8) throw new SpdyProtocolError(`SETTINGS frame announcing ${count} entries in ${payload.length} bytes`);
      const entries: SettingsEntry[] = [];
      for (let offset = 4; offset < payload.length; offset += 8) {
        const flagsAndId = payload.readUInt32BE(offset);
        entries.push({ flags: flagsAndId >>> 24, id: flagsAndId & 0xff_ffff, value: payload.readUInt32BE(offset + 4) });
      }
      return { kind: 'settings', flags, entries };
    }
    case ControlType.ping:
      requireLength('PING', payload, 4, true);
      return { kind: 'ping', id: payload.readUInt32BE(0) };
    case ControlType.goAway:
      requireLength('GOAWAY', payload, 8, true);
      return { kind: 'goAway', lastGoodStreamId: streamIdAt(0), status: payload.readUInt32BE(4) };
    case ControlType.windowUpdate:
      requireLength('WINDOW_UPDATE', payload, 8, true);
      return { kind: 'windowUpdate', streamId: streamIdAt(0), deltaWindowSize: payload.readUInt32BE(4) & STREAM_ID_MASK };
    default:
      return { kind: 'unknownControl', type, flags, payload };
  }
}

/**
 * Splits a byte stream into frames. The bytes arrive in WebSocket messages (or TCP reads) whose
 * boundaries mean nothing to SPDY: a message may hold half a frame or several, so input is buffered
 * until a whole frame is present.
 */
export class FrameParser {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** bytes the next frame needs, once its header has been seen; spares re-joining partial frames */
  #needed = FRAME_HEADER_BYTES;

  /** bytes held that do not yet form a whole frame */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Adds bytes and returns every frame now complete, in order; throws SpdyProtocolError. */
  push(chunk: Buffer): SpdyFrame[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const frames: SpdyFrame[] = [];
    if (this.#buffered < this.#needed) return frames;
    let input = this.#chunks.length === 1 ? (this.#chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(this.#chunks, this.#buffered);
    let offset = 0;
    while (input.length - offset >= FRAME_HEADER_BYTES) {
      const first = input.readUInt32BE(offset);
      const flagsAndLength = input.readUInt32BE(offset + 4);
      const length = flagsAndLength & 0xff_ffff;
      const end = offset + FRAME_HEADER_BYTES + length;
      if (input.length < end) {
        this.#needed = end - offset;
        break;
      }
      const flags = flagsAndLength >>> 24;
      // copies, so frames outlive the buffer they were cut from
      const payload = Buffer.from(input.subarray(offset + FRAME_HEADER_BYTES, end));
      if ((first & 0x8000_0000) !== 0) {
        frames.push(decodeControl(first & 0xffff, flags, payload));
      } else {
        const streamId = first & STREAM_ID_MASK;
        if (streamId === 0) throw new SpdyProtocolError('data frame on stream 0');
        frames.push({ kind: 'data', streamId, flags, data: payload });
      }
      offset = end;
    }
    input = input.subarray(offset);
    this.#chunks = input.length === 0 ? [] : [input];
    this.#buffered = input.length;
    if (input.length < FRAME_HEADER_BYTES) this.#needed = FRAME_HEADER_BYTES;
    return frames;
  }
}
