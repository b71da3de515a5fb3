// Binary stream frames: the project's own negotiated extension (docs/protocol.md "Extension: binary stream
// frames"), not part of PROTOCOL.md. Thread-neutral: the actors build whole frames, the router reads only
// the header, the local control plane decodes them. Big-endian like §10.
//
//   | 00 00 | version u8 (= 1) | kind u8 | N u16 | stream id (N bytes, UTF-8, N ≥ 1) | payload (rest) |
//
// The leading 00 00 is an empty §10.1 request id, which §10.1 declares malformed (L ≥ 1), and no JSON
// starts with a NUL byte: a stream frame can be mistaken neither for a request-body frame nor for JSON in
// binary (§4.3), nor, in the other direction, for a §10.2 response frame (whose id is never empty).

import { MAX_BINARY_ID_BYTES } from './constants.js';

export const STREAM_FRAME_VERSION = 1;
export const STREAM_FRAME_HEADER_BYTES = 6;

/** The negotiation messages (text frames, no request_id). */
export const StreamFramesMessage = {
  /** Control plane → agent: opts in for this socket. Payload `{"versions":[1]}`. */
  hello: 'stream_frames_hello',
  /** Agent → control plane: `{"version":1}`; from this message on the agent may send stream frames. */
  ack: 'stream_frames_ack',
} as const;

export const StreamFrameKind = {
  /** A streaming-response chunk (§9.11), raw bytes. Agent → CP. */
  chunk: 1,
  /** A streaming-response chunk: the next bytes of the stream's one raw-deflate stream, ending on a sync flush. Agent → CP. */
  deflatedChunk: 2,
  /** Relay data of a kubectl session or an application relay: `[type u8][payload]` as §10.3. Both directions. */
  wsData: 3,
  /** Like deflatedChunk, but the first bytes of a new raw-deflate stream: the previous context is discarded. Agent → CP. */
  deflatedChunkStart: 4,
} as const;
export type StreamFrameKind = (typeof StreamFrameKind)[keyof typeof StreamFrameKind];

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const KINDS: ReadonlySet<number> = new Set(Object.values(StreamFrameKind));

export interface StreamFrameHeader {
  readonly kind: StreamFrameKind;
  readonly streamId: string;
  /** Offset of the payload in the frame. */
  readonly payloadOffset: number;
}

/** True when the frame starts like a stream frame (00 00 version): the demux's only question. */
export function isStreamFrame(frame: Uint8Array): boolean {
  return frame.length >= 3 && frame[0] === 0 && frame[1] === 0 && frame[2] === STREAM_FRAME_VERSION;
}

/** Reads the header; undefined when the frame is truncated, names an unknown kind or an empty id. */
export function readStreamFrameHeader(frame: Uint8Array): StreamFrameHeader | undefined {
  if (frame.length < STREAM_FRAME_HEADER_BYTES || !isStreamFrame(frame)) return undefined;
  const kind = frame[3]!;
  if (!KINDS.has(kind)) return undefined;
  const idLength = (frame[4]! << 8) | frame[5]!;
  if (idLength < 1 || STREAM_FRAME_HEADER_BYTES + idLength > frame.length) return undefined;
  let streamId: string;
  try {
    // A stream id is text: invalid UTF-8 is garbage, not an id to look up.
    streamId = STRICT_UTF8.decode(frame.subarray(STREAM_FRAME_HEADER_BYTES, STREAM_FRAME_HEADER_BYTES + idLength));
  } catch {
    return undefined;
  }
  return { kind: kind as StreamFrameKind, streamId, payloadOffset: STREAM_FRAME_HEADER_BYTES + idLength };
}

/** The UTF-8 id when a stream frame can carry it (1 to 65,535 bytes); undefined otherwise (send JSON). */
export function streamFrameId(streamId: string): Buffer | undefined {
  const id = Buffer.from(streamId, 'utf8');
  return id.length < 1 || id.length > MAX_BINARY_ID_BYTES ? undefined : id;
}

/**
 * Builds a whole frame in one fresh buffer the caller owns (transferable): header, then `parts` in order.
 * `id` comes from streamFrameId.
 */
export function encodeStreamFrame(kind: StreamFrameKind, id: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  let length = STREAM_FRAME_HEADER_BYTES + id.length;
  for (const part of parts) length += part.length;
  const frame = new Uint8Array(length);
  frame[2] = STREAM_FRAME_VERSION;
  frame[3] = kind;
  frame[4] = id.length >> 8;
  frame[5] = id.length & 0xff;
  frame.set(id, STREAM_FRAME_HEADER_BYTES);
  let offset = STREAM_FRAME_HEADER_BYTES + id.length;
  for (const part of parts) {
    frame.set(part, offset);
    offset += part.length;
  }
  return frame;
}

/** A wsData frame: `[type u8][payload]` after the header, as §10.3 frames it inside JSON. */
export function encodeWsDataFrame(id: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  return encodeStreamFrame(StreamFrameKind.wsData, id, Uint8Array.of(type), payload);
}
