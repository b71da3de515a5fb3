// Binary frame layouts of PROTOCOL.md §10. Thread-neutral; big-endian throughout.
//
//   request body (CP → agent):  | L u16 | id (L) | body (rest) |
//   response     (agent → CP):  | L u16 | id (L) | status u32 | H u32 | headers JSON (H) | body (rest) |

import type { HeaderMap } from './headers.js';
import { MAX_BINARY_ID_BYTES } from './constants.js';

export interface RequestBodyFrame {
  readonly requestId: string;
  readonly body: Uint8Array;
}

/** Decodes a request-body frame; undefined unless well-formed (length ≥ 2, L ≥ 1, 2 + L ≤ length). */
export function decodeRequestBodyFrame(frame: Uint8Array): RequestBodyFrame | undefined {
  if (frame.length < 2) return undefined;
  const idLength = (frame[0]! << 8) | frame[1]!;
  if (idLength < 1 || 2 + idLength > frame.length) return undefined;
  const requestId = Buffer.from(frame.buffer, frame.byteOffset + 2, idLength).toString('utf8');
  return { requestId, body: frame.subarray(2 + idLength) };
}

export function encodeRequestBodyFrame(requestId: string, body: Uint8Array): Uint8Array {
  const id = Buffer.from(requestId, 'utf8');
  if (id.length < 1 || id.length > MAX_BINARY_ID_BYTES) throw new RangeError('request id length out of range');
  const frame = new Uint8Array(2 + id.length + body.length);
  frame[0] = id.length >> 8;
  frame[1] = id.length & 0xff;
  frame.set(id, 2);
  frame.set(body, 2 + id.length);
  return frame;
}

export interface ResponseFrame {
  readonly requestId: string;
  readonly status: number;
  readonly headers: HeaderMap | null;
  readonly body: Uint8Array;
}

export function encodeResponseFrame(requestId: string, status: number, headers: HeaderMap | null, body: Uint8Array): Uint8Array {
  const id = Buffer.from(requestId, 'utf8');
  if (id.length > MAX_BINARY_ID_BYTES) throw new RangeError('request id too long for a binary frame');
  const headerJson = Buffer.from(JSON.stringify(headers), 'utf8');
  const frame = new Uint8Array(2 + id.length + 8 + headerJson.length + body.length);
  const view = new DataView(frame.buffer);
  view.setUint16(0, id.length);
  frame.set(id, 2);
  let offset = 2 + id.length;
  view.setUint32(offset, status);
  view.setUint32(offset + 4, headerJson.length);
  offset += 8;
  frame.set(headerJson, offset);
  frame.set(body, offset + headerJson.length);
  return frame;
}

/** Decodes a response frame (the control plane's side); undefined when the layout does not fit. */
export function decodeResponseFrame(frame: Uint8Array): ResponseFrame | undefined {
  if (frame.length < 2) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const idLength = view.getUint16(0);
  if (2 + idLength + 8 > frame.length) return undefined;
  const requestId = Buffer.from(frame.buffer, frame.byteOffset + 2, idLength).toString('utf8');
  const status = view.getUint32(2 + idLength);
  const headerLength = view.getUint32(2 + idLength + 4);
  const headerStart = 2 + idLength + 8;
  if (headerStart + headerLength > frame.length) return undefined;
  let headers: unknown;
  try {
    headers = JSON.parse(Buffer.from(frame.buffer, frame.byteOffset + headerStart, headerLength).toString('utf8'));
  } catch {
    return undefined;
  }
  const isMap = headers === null || (typeof headers === 'object' && !Array.isArray(headers));
  if (!isMap) return undefined;
  return { requestId, status, headers: headers as HeaderMap | null, body: frame.subarray(headerStart + headerLength) };
}
