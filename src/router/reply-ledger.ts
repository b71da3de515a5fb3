// What a stream has already told the control plane, read from the frames its actor sends (their `type`
// only), so that the router can end the stream itself with the one terminal reply it still owes: when
// its actor fails or its thread dies (C93), when it waited past its deadline for an actor (§9.4), or when
// the drain limit passes (§7.7).
//
//   request:  nothing sent ─► proxy_error        header sent ─► proxy_response_abort     answered ─► nothing
//   upgrade:  as a request until its HTTP side completes, then ─► proxy_websocket_close (once)
//   session:  ─► proxy_websocket_close (once)

import { OutboundType } from '../protocol/message-types.js';
import type { JsonObject } from '../protocol/envelope.js';

export const StreamKind = {
  /** A plain `proxy_request`. */
  request: 'request',
  /** A WebSocket-upgrade `proxy_request`: a kubectl session (§13.8) or an application relay (§14). */
  upgrade: 'upgrade',
  /** A `proxy_websocket_start` / `ws_start` kubectl session (§13). */
  session: 'session',
} as const;
export type StreamKind = (typeof StreamKind)[keyof typeof StreamKind];

export interface OwedReply {
  readonly type: string;
  readonly payload: JsonObject;
}

const PREFIX = '{"type":"';

/** The `type` of an envelope the agent encoded itself (encodeEnvelope writes it first); undefined otherwise. */
export function outboundType(bytes: Uint8Array): string | undefined {
  if (bytes.length < PREFIX.length + 2) return undefined;
  for (let i = 0; i < PREFIX.length; i++) if (bytes[i] !== PREFIX.charCodeAt(i)) return undefined;
  const end = bytes.indexOf(0x22, PREFIX.length);
  if (end < 0 || end - PREFIX.length > 64) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset + PREFIX.length, end - PREFIX.length).toString('latin1');
}

export class ReplyLedger {
  readonly #kind: StreamKind;
  readonly #id: string;
  /** An application relay's close carries `request_id` too (§14.5); a kubectl session's only `stream_id` (§13.7). */
  readonly #isAppRelay: boolean;
  #hasHeader = false;
  #isAnswered = false;
  #isSessionOpen = false;
  #isClosed = false;
  /** The control plane ended it in a way that asks for no reply (§9.13 cancel before a header, §14.5 CP close). */
  #isReleasedByPeer = false;

  constructor(kind: StreamKind, id: string, isAppRelay: boolean) {
    this.#kind = kind;
    this.#id = id;
    this.#isAppRelay = isAppRelay;
  }

  /** True once nothing more is owed (the stream may still be winding down). */
  get isSettled(): boolean {
    return this.owed('').length === 0;
  }

  /** Records one frame the actor sent: a binary frame (`undefined` type) is a whole buffered response (§9.10). */
  note(isBinary: boolean, type: string | undefined): void {
    if (isBinary) {
      this.#isAnswered = true;
      return;
    }
    switch (type) {
      case OutboundType.proxyResponseHeader:
        this.#hasHeader = true;
        break;
      case OutboundType.proxyResponse:
      case OutboundType.proxyResponseEnd:
        this.#isAnswered = true;
        if (this.#kind === StreamKind.upgrade) this.#isSessionOpen = true;
        break;
      case OutboundType.proxyError:
      case OutboundType.proxyResponseAbort:
        this.#isAnswered = true;
        break;
      case OutboundType.proxyWebsocketClose:
        this.#isClosed = true;
        break;
      default:
        break;
    }
  }

  /** `proxy_cancel`: a request that sent no header owes nothing more (§9.12); a relay takes it as a CP close. */
  noteCancel(): void {
    if (this.#kind === StreamKind.request && !this.#hasHeader) this.#isReleasedByPeer = true;
    if (this.#isAppRelay) this.#isReleasedByPeer = true;
  }

  /** A CP close: an application relay answers it with nothing (§14.5); a kubectl session echoes it (§13.7). */
  noteCloseFromPeer(): void {
    if (this.#isAppRelay) this.#isReleasedByPeer = true;
  }

  /** The terminal reply this stream still owes, given why it ends now; empty when it owes none. */
  owed(error: string): OwedReply[] {
    if (this.#isClosed || this.#isReleasedByPeer) return [];
    if (this.#kind === StreamKind.session || this.#isSessionOpen) return [this.#close()];
    if (this.#isAnswered) return [];
    if (this.#hasHeader) return [{ type: OutboundType.proxyResponseAbort, payload: { error } }];
    return [{ type: OutboundType.proxyError, payload: { error } }];
  }

  /** Marks the owed reply as sent, so that nothing the actor still sends can be a second one. */
  settle(): void {
    this.#isAnswered = true;
    this.#isClosed = true;
  }

  #close(): OwedReply {
    const payload: JsonObject = { stream_id: this.#id };
    if (this.#isAppRelay) payload['request_id'] = this.#id;
    return { type: OutboundType.proxyWebsocketClose, payload };
  }
}
