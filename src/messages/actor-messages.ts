// Messages between the router (main thread) and the actors (worker threads or inline). Every message has
// a literal `type` and is checked on receipt; bytes travel as transferred ArrayBuffers.
//
//   router ──pool.run(task{port})──► actor
//   router ──port: frame / body / cancel──► actor   (later messages of the request, its binary body, cancellation)
//   router ──port: credit──────────────────► actor   (bytes the socket has taken since: the actor may send more)
//   router ◄──port: send / done─────────────  actor  (already-encoded outbound frames, completion)

import type { TransferListItem } from 'node:worker_threads';
import { ErrorCode, type WireError } from '../errors.js';
import { type Fields, isBytes, isCount, isOneOf, isOptional, isRecord } from './message-fields.js';
import type { TunnelStreamTask } from './tunnel-messages.js';

export const ActorKind = { httpRelay: 'http-relay', wsSession: 'ws-session' } as const;
export type ActorKind = (typeof ActorKind)[keyof typeof ActorKind];

/** The name each actor logs under (`actor` in its log lines); tunnel streams report no `done` of this kind. */
export const ActorName = { ...ActorKind, tunnelStream: 'tunnel-stream' } as const;
export type ActorName = (typeof ActorName)[keyof typeof ActorName];

/**
 * One end of the router↔actor channel: a worker_threads MessagePort for an actor on a pool thread, or its
 * same-thread stand-in for an actor on the main thread (src/pool/local-channel.ts).
 */
export interface ActorPort {
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  postMessage(message: unknown, transferList?: readonly TransferListItem[]): void;
  close(): void;
}

/** The task handed to the pool: one actor for one request. */
export interface HttpRelayTask {
  readonly kind: typeof ActorKind.httpRelay;
  readonly requestId: string;
  /** The whole `proxy_request` envelope as UTF-8 JSON, still undecoded. */
  readonly frame: Uint8Array;
  readonly port: ActorPort;
  /** When the request arrived (Date.now()): its deadline runs from here, also while it waited for a slot (§9.4). */
  readonly arrivedMs?: number;
  /** The socket uses binary stream frames (docs/protocol.md extension): chunks and relay data go as frames. */
  readonly shouldUseStreamFrames?: boolean;
  /** §9.5 steps 1 and 4, decided by the router from the ingress route cache: the service to call instead. */
  readonly routedService?: RoutedService;
  /** Yamux was active on the request's socket when it arrived: a buffered response then goes as JSON only (§9.8, §15.2). */
  readonly isYamuxActive?: boolean;
}

/** An in-cluster service the router chose for a request that named none (plain HTTP, as the controller's HTTP port). */
export interface RoutedService {
  readonly name: string;
  readonly namespace: string;
  readonly port: number;
}

/** The task for one kubectl WebSocket session: the undecoded `proxy_websocket_start` envelope. */
export interface WsSessionTask {
  readonly kind: typeof ActorKind.wsSession;
  readonly streamId: string;
  readonly frame: Uint8Array;
  readonly port: ActorPort;
  readonly shouldUseStreamFrames?: boolean;
}

/** A tunnel stream (tunnel-messages.ts) runs in the long lane's pool next to the WebSocket sessions. */
export type ActorTask = HttpRelayTask | WsSessionTask | TunnelStreamTask;

export const CancelReason = {
  proxyCancel: 'proxy_cancel',
  connectionLost: 'connection_lost',
  shutdown: 'shutdown',
  /** A new session started with the same stream id (§13.3). */
  replaced: 'replaced',
} as const;
export type CancelReason = (typeof CancelReason)[keyof typeof CancelReason];

/** Router → actor. */
export type ActorInbound =
  | { readonly type: 'frame'; readonly data: Uint8Array; readonly isBinary: boolean }
  | { readonly type: 'body'; readonly data: Uint8Array }
  | { readonly type: 'credit'; readonly bytes: number }
  | { readonly type: 'cancel'; readonly reason: CancelReason }
  /** Relay data from a stream frame: `[type u8][payload]` as §10.3, already out of its frame. */
  | { readonly type: 'ws-data'; readonly data: Uint8Array }
  /** The socket stopped using stream frames (yamux became active): send JSON from now on. */
  | { readonly type: 'stream-frames-off' };

export const RelayOutcome = {
  ok: 'ok',
  upstreamError: 'upstream_error',
  invalid: 'invalid',
  canceled: 'canceled',
  timeout: 'timeout',
} as const;
export type RelayOutcome = (typeof RelayOutcome)[keyof typeof RelayOutcome];

export const ResponseMode = { json: 'json', binary: 'binary', streaming: 'streaming', none: 'none' } as const;
export type ResponseMode = (typeof ResponseMode)[keyof typeof ResponseMode];

/** Body sizes of a buffered response, for the compression metrics. */
export interface CompressionStats {
  readonly rawBytes: number;
  readonly wireBytes: number;
  readonly skipReason: string | undefined;
}

/** Session frames relayed, per direction (in: towards the API server), and frames dropped. */
export interface SessionCounts {
  readonly framesIn: number;
  readonly framesOut: number;
  readonly dropped: number;
}

/** Already-encoded outbound frame. With `needsCredit`, the router answers with `credit` once the socket took it. */
export interface ActorSend {
  readonly type: 'send';
  readonly data: Uint8Array;
  readonly isBinary: boolean;
  readonly needsCredit: boolean;
}

/** The actor's last message: its outcome and its metric deltas, applied on the main thread. */
export interface ActorDone {
  readonly type: 'done';
  readonly kind: ActorKind;
  readonly outcome: RelayOutcome;
  readonly mode: ResponseMode;
  readonly durationMs: number;
  readonly compression?: CompressionStats;
  /** Body bytes exchanged with the upstream. */
  readonly upstreamBytesSent: number;
  readonly upstreamBytesReceived: number;
  readonly session?: SessionCounts;
  /** Set when the stream ended in an error: its code from src/errors.ts (counted in stream_errors_total). */
  readonly failure?: WireError;
}

/** Actor → router. */
export type ActorOutbound = ActorSend | ActorDone;

export function isActorInbound(value: unknown): value is ActorInbound {
  if (!isRecord(value)) return false;
  switch (value['type']) {
    case 'frame':
      return isBytes(value['data']) && typeof value['isBinary'] === 'boolean';
    case 'body':
    case 'ws-data':
      return isBytes(value['data']);
    case 'credit':
      return isCount(value['bytes']);
    case 'cancel':
      return isOneOf(CancelReason, value['reason']);
    case 'stream-frames-off':
      return true;
    default:
      return false;
  }
}

export function isActorOutbound(value: unknown): value is ActorOutbound {
  if (!isRecord(value)) return false;
  if (value['type'] === 'send') {
    return isBytes(value['data']) && typeof value['isBinary'] === 'boolean' && typeof value['needsCredit'] === 'boolean';
  }
  return value['type'] === 'done' && isDoneFields(value);
}

function isDoneFields(value: Fields): boolean {
  return (
    isOneOf(ActorKind, value['kind']) &&
    isOneOf(RelayOutcome, value['outcome']) &&
    isOneOf(ResponseMode, value['mode']) &&
    // Wall-clock differences: a clock step may make one negative, which is still a duration to record.
    typeof value['durationMs'] === 'number' &&
    isCount(value['upstreamBytesSent']) &&
    isCount(value['upstreamBytesReceived']) &&
    isOptional(value['compression'], isCompressionStats) &&
    isOptional(value['session'], isSessionCounts) &&
    isOptional(value['failure'], isWireError)
  );
}

function isCompressionStats(value: unknown): value is CompressionStats {
  return (
    isRecord(value) &&
    typeof value['rawBytes'] === 'number' &&
    typeof value['wireBytes'] === 'number' &&
    (value['skipReason'] === undefined || typeof value['skipReason'] === 'string')
  );
}

function isSessionCounts(value: unknown): value is SessionCounts {
  return isRecord(value) && isCount(value['framesIn']) && isCount(value['framesOut']) && isCount(value['dropped']);
}

function isWireError(value: unknown): value is WireError {
  return isRecord(value) && isOneOf(ErrorCode, value['code']) && typeof value['message'] === 'string';
}

/** Copies bytes into a fresh, transferable ArrayBuffer (ws hands out Buffers that share one slab). */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
