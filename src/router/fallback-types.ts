// §8.3: an unknown message type gets one protocol_fallback per socket. Which types each socket has been
// answered for is the router's to remember, not the socket's.

import type { JsonObject } from '../protocol/envelope.js';
import { SUPPORTED_TYPES } from '../protocol/message-types.js';
import { FALLBACK_AGENT_NAME, FALLBACK_MODE, FALLBACK_PROTOCOL_VERSION } from '../protocol/constants.js';

/**
 * How many distinct unknown types one socket remembers. A peer that sends ever new types would otherwise
 * grow the set without bound; past the limit new types are still counted but get no protocol_fallback.
 */
export const FALLBACK_TYPES_LIMIT = 256;

export class FallbackTypes {
  readonly #answered = new WeakMap<object, Set<string>>();

  /** True the first time `type` is seen on `socket`, while fewer than FALLBACK_TYPES_LIMIT types have been answered there. */
  isFirst(socket: object, type: string): boolean {
    let answered = this.#answered.get(socket);
    if (answered === undefined) this.#answered.set(socket, (answered = new Set()));
    if (answered.has(type) || answered.size >= FALLBACK_TYPES_LIMIT) return false;
    answered.add(type);
    return true;
  }

  /** The socket is gone: its set goes with it (the WeakMap would let it go anyway once the socket is collected). */
  forget(socket: object): void {
    this.#answered.delete(socket);
  }
}

/** The protocol_fallback payload for an unknown `type` (§8.3); the request id loses any line break. */
export function protocolFallbackPayload(type: string, requestId: string | undefined, nowMs: number): JsonObject {
  const payload: JsonObject = {
    agent_version: FALLBACK_AGENT_NAME,
    unknown_type: type,
    supported_types: [...SUPPORTED_TYPES],
    fallback_mode: FALLBACK_MODE,
    protocol_version: FALLBACK_PROTOCOL_VERSION,
    timestamp: new Date(nowMs).toISOString(),
  };
  if (requestId !== undefined) payload['original_request_id'] = requestId.replace(/[\r\n]/g, '');
  return payload;
}
