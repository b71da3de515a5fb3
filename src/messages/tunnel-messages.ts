// Messages between the router (which owns a tunnel's yamux stream) and the tunnel actor (which owns the
// socket to the in-cluster target). Flow control runs both ways on these messages:
//
//   router ──data──────► actor ─ socket.write ─► (written) ──consumed(n)──► router ─► yamux window update (n)
//   router ◄─data─────── actor ◄─ socket 'data' (paused when its credit is 0)
//   router ──credit(n)──► actor   once the yamux stream has handed those n bytes to the control-plane socket
//
//   router ──end──► actor: stream FIN ⇒ half-close the target;  actor ──end──► router: target EOF ⇒ FIN
//   actor ──reset{kind}──► router: the target failed ⇒ RST;     router ──cancel──► actor: stream or socket gone

import type { TunnelProtocol } from '../protocol/tunnel-header.js';
import { type ActorName, type ActorPort, CancelReason } from './actor-messages.js';
import { isBytes, isCount, isOneOf, isOptional, isRecord } from './message-fields.js';

export interface TunnelStreamTask {
  readonly kind: typeof ActorName.tunnelStream;
  /** `<protocol>/<yamux stream id>`, for logs. */
  readonly streamId: string;
  readonly protocol: TunnelProtocol;
  /** `<name>.<namespace>.svc.<cluster-domain>` is built by the actor, which knows the domain. */
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly servicePort: number;
  /** Stream bytes that followed the header in the same data; may be empty. */
  readonly frame: Uint8Array;
  readonly port: ActorPort;
  readonly connectTimeoutMs: number;
  /** UDP: the stream ends after this long without a datagram either way. */
  readonly udpIdleTimeoutMs: number;
  /** Bytes the actor may post before the router grants more. */
  readonly creditBytes: number;
}

export const TunnelErrorKind = {
  header: 'header',
  dial: 'dial',
  target: 'target',
  refused: 'refused',
  protocol: 'protocol',
  session: 'session',
} as const;
export type TunnelErrorKind = (typeof TunnelErrorKind)[keyof typeof TunnelErrorKind];

/** Stream bytes, either way: router → actor for the target, actor → router for the yamux stream. */
export interface TunnelData {
  readonly type: 'data';
  readonly data: Uint8Array;
}

/** Half-close, either way: a stream FIN towards the target, or the target's EOF towards the stream. */
export interface TunnelEnd {
  readonly type: 'end';
}

export type TunnelInbound =
  | TunnelData
  | TunnelEnd
  | { readonly type: 'credit'; readonly bytes: number }
  | { readonly type: 'cancel'; readonly reason: CancelReason };

export type TunnelOutbound =
  | { readonly type: 'connected' }
  | TunnelData
  | { readonly type: 'consumed'; readonly bytes: number }
  | TunnelEnd
  | { readonly type: 'reset'; readonly kind: TunnelErrorKind }
  | { readonly type: 'done'; readonly bytesToTarget: number; readonly bytesFromTarget: number; readonly error: TunnelErrorKind | undefined };

export function isTunnelInbound(value: unknown): value is TunnelInbound {
  if (!isRecord(value)) return false;
  switch (value['type']) {
    case 'data':
      return isBytes(value['data']);
    case 'end':
      return true;
    case 'credit':
      return isCount(value['bytes']);
    case 'cancel':
      return isOneOf(CancelReason, value['reason']);
    default:
      return false;
  }
}

export function isTunnelOutbound(value: unknown): value is TunnelOutbound {
  if (!isRecord(value)) return false;
  switch (value['type']) {
    case 'connected':
    case 'end':
      return true;
    case 'data':
      return isBytes(value['data']);
    case 'consumed':
      return isCount(value['bytes']);
    case 'reset':
      return isOneOf(TunnelErrorKind, value['kind']);
    case 'done':
      return isCount(value['bytesToTarget']) && isCount(value['bytesFromTarget']) && isOptional(value['error'], isTunnelErrorKind);
    default:
      return false;
  }
}

function isTunnelErrorKind(value: unknown): value is TunnelErrorKind {
  return isOneOf(TunnelErrorKind, value);
}
