// Which buffered response bodies may be gzipped and how a buffered response travels (PROTOCOL.md §9.8,
// §11). Pure decisions, shared by the actors and the tests.

import { BINARY_RESPONSE_MIN_BYTES, COMPRESSION_MIN_BYTES, MAX_BINARY_ID_BYTES } from './constants.js';

export const SkipReason = {
  tooSmall: 'too_small',
  encoded: 'already_encoded',
  contentType: 'content_type',
  disabled: 'disabled',
  notSmaller: 'not_smaller',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

const REFUSED_TYPES = ['gzip', 'compress', 'zip', 'image/', 'video/', 'audio/'];
const TEXT_TYPES = ['text/', 'json', 'javascript', 'xml', 'html', 'yaml'];

/**
 * Why a body may not be compressed, or undefined when it is eligible: ≥ 1024 bytes, no Content-Encoding
 * other than identity, and a first Content-Type value (case-insensitive) that is textual and not already
 * compressed.
 */
export function compressionSkipReason(bodyLength: number, contentEncoding: string | undefined, contentType: string | undefined): SkipReason | undefined {
  if (bodyLength < COMPRESSION_MIN_BYTES) return SkipReason.tooSmall;
  if (contentEncoding !== undefined && contentEncoding.trim() !== '' && contentEncoding.trim().toLowerCase() !== 'identity') {
    return SkipReason.encoded;
  }
  const type = (contentType ?? '').toLowerCase();
  if (REFUSED_TYPES.some((part) => type.includes(part))) return SkipReason.contentType;
  if (!TEXT_TYPES.some((part) => type.includes(part))) return SkipReason.contentType;
  return undefined;
}

export function startsWithGzipMagic(body: Uint8Array): boolean {
  return body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
}

/**
 * A buffered response goes in a binary frame when the raw body is ≥ 10 240 bytes, yamux is inactive, the
 * id fits in 16 bits, and, unless the agent compresses the body, it does not start with the gzip magic
 * (the control plane would gunzip it).
 */
export function shouldUseBinaryFrame(rawLength: number, requestId: string, isCompressing: boolean, rawStartsWithGzip: boolean, isYamuxActive = false): boolean {
  if (isYamuxActive || rawLength < BINARY_RESPONSE_MIN_BYTES) return false;
  if (Buffer.byteLength(requestId, 'utf8') > MAX_BINARY_ID_BYTES) return false;
  return isCompressing || !rawStartsWithGzip;
}
