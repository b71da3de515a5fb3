// §10.3 WebSocket frame data as the control plane reads and writes it inside proxy_websocket_data:
// `base64([type u8][payload])`. Kept apart from the session logic so the byte rules are testable alone.

import type { JsonObject } from '../../protocol/envelope.js';

export const WsFrameType = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;
export type WsFrameType = (typeof WsFrameType)[keyof typeof WsFrameType];

const VALID_TYPES: ReadonlySet<number> = new Set(Object.values(WsFrameType));

/** RFC 6455 limits a close reason to 123 bytes (125 minus the 2-byte code); `ws` throws beyond that. */
export const MAX_CLOSE_REASON_BYTES = 123;

export interface WsFrame {
  readonly type: WsFrameType;
  readonly payload: Buffer;
}

function isFrameType(value: number): value is WsFrameType {
  return VALID_TYPES.has(value);
}

/** One client message as the `data` string of proxy_websocket_data. */
export function encodeFrameData(isBinary: boolean, payload: Buffer): string {
  const framed = Buffer.allocUnsafe(payload.length + 1);
  framed[0] = isBinary ? WsFrameType.binary : WsFrameType.text;
  payload.copy(framed, 1);
  return framed.toString('base64');
}

/**
 * Reads the `data` of an agent's proxy_websocket_data. Framed data is the norm; like the agent (§12.1),
 * an unframed payload with a valid numeric `message_type` is accepted too. Undefined means drop it.
 */
export function decodeFrameData(payload: JsonObject): WsFrame | undefined {
  const data = payload['data'];
  if (typeof data !== 'string') return undefined;
  const bytes = Buffer.from(data, 'base64');
  const first = bytes[0];
  if (first !== undefined && isFrameType(first)) return { type: first, payload: bytes.subarray(1) };
  const messageType = payload['message_type'];
  if (typeof messageType === 'number' && isFrameType(messageType)) return { type: messageType, payload: bytes };
  return undefined;
}

/** Codes a peer may legitimately send in a close frame (RFC 6455 §7.4); `ws` throws on the others. */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Cuts `reason` to at most 123 UTF-8 bytes without splitting a character. */
export function truncateCloseReason(reason: string): string {
  if (Buffer.byteLength(reason, 'utf8') <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let size = 0;
  for (const ch of reason) {
    const chSize = Buffer.byteLength(ch, 'utf8');
    if (size + chSize > MAX_CLOSE_REASON_BYTES) break;
    out += ch;
    size += chSize;
  }
  return out;
}

export interface ClosePayload {
  /** Undefined when the frame carried no (usable) code: close without one. */
  readonly code: number | undefined;
  readonly reason: string;
}

/** The body of a type-8 frame: a 2-byte code and a UTF-8 reason, or nothing. */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length < 2) return { code: undefined, reason: '' };
  const code = payload.readUInt16BE(0);
  if (!isSendableCloseCode(code)) return { code: undefined, reason: '' };
  return { code, reason: truncateCloseReason(payload.subarray(2).toString('utf8')) };
}

/** A `ws` message in whichever shape the socket delivered it, as one Buffer. */
export function rawDataBytes(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
