// Encodes a complete upstream response for the control plane (PROTOCOL.md §9.8–§9.10, §11): one binary
// frame for large bodies, else one JSON `proxy_response`; gzip only for eligible bodies, and in a binary
// frame only when strictly smaller.

import type { CompressionStats } from '../../src/messages/actor-messages.js';
import { encodeResponseFrame } from '../../src/protocol/binary-frame.js';
import { compressionSkipReason, shouldUseBinaryFrame, startsWithGzipMagic, SkipReason } from '../../src/protocol/compression-policy.js';
import { firstHeader, type HeaderMap } from '../../src/protocol/headers.js';
import type { GzipEngine } from './gzip-engine.js';

export type EncodedResponse =
  | { readonly kind: 'binary'; readonly frame: Uint8Array; readonly compression: CompressionResult }
  | { readonly kind: 'json'; readonly payload: Record<string, unknown>; readonly compression: CompressionResult };

/** Raw body bytes and bytes after compression (equal when not compressed). */
export interface CompressionResult extends CompressionStats {
  readonly skipReason: SkipReason | undefined;
}

function compress(body: Uint8Array, headers: HeaderMap | null, engine: GzipEngine): { gzip: Uint8Array | undefined; result: CompressionResult } {
  const map = headers ?? {};
  let skipReason = compressionSkipReason(body.length, firstHeader(map, 'content-encoding'), firstHeader(map, 'content-type'));
  let gzip: Uint8Array | undefined;
  if (skipReason === undefined) {
    gzip = engine.gzip(body);
    if (gzip === undefined) skipReason = SkipReason.disabled;
    else if (gzip.length >= body.length) {
      gzip = undefined;
      skipReason = SkipReason.notSmaller;
    }
  }
  return { gzip, result: { rawBytes: body.length, wireBytes: gzip?.length ?? body.length, skipReason } };
}

export function encodeBufferedResponse(
  requestId: string,
  status: number,
  headers: HeaderMap | null,
  body: Uint8Array,
  engine: GzipEngine,
  isBinaryEnabled = true,
  isYamuxActive = false,
): EncodedResponse {
  const { gzip, result } = compress(body, headers, engine);
  if (isBinaryEnabled && shouldUseBinaryFrame(body.length, requestId, gzip !== undefined, startsWithGzipMagic(body), isYamuxActive)) {
    return { kind: 'binary', frame: encodeResponseFrame(requestId, status, headers, gzip ?? body), compression: result };
  }
  const payload: Record<string, unknown> = { status, headers };
  if (body.length > 0) {
    payload['body'] = Buffer.from((gzip ?? body).buffer, (gzip ?? body).byteOffset, (gzip ?? body).byteLength).toString('base64');
    payload['encoding'] = gzip === undefined ? 'base64' : 'gzip';
  }
  return { kind: 'json', payload, compression: result };
}
