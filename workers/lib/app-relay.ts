// An application WebSocket relay (PROTOCOL.md §14): a WebSocket-upgrade proxy_request for an in-cluster
// service. The agent dials the service, answers the HTTP side with 101 and the backend's handshake
// headers, then relays frames both ways through a bounded FIFO.
//
// The relay itself is WsRelay (ws-relay.ts); this file holds what is the application relay's own:
//
//   CP data ──► FIFO (capacity N frames; full ⇒ drop + backpressure{channel_full}) ──► backend
//   CP      ◄── proxy_websocket_data {request_id, stream_id, data, message_type} ◄──── backend (credit, §12.4)
//   CP close / proxy_cancel ⇒ close 1000 to the backend, nothing sent
//   backend close / error / keepalive failure / deadline ⇒ exactly one proxy_websocket_close {stream_id, request_id}

import type { LookupFunction } from 'node:net';
import { OutboundType } from '../../src/protocol/message-types.js';
import { canonicalHeaderName, firstHeader, headerValues, type HeaderMap } from '../../src/protocol/headers.js';
import { encodeRelayFrame } from '../../src/protocol/kube-session-rules.js';
import { DialError, dialKubeWebSocket } from './kube-websocket-dial.js';
import type { PortListener, RouterPort } from './router-port.js';
import { WsRelay, type RelayFrame, type RelayKind, type RelayOutcome, type RelayStats } from './ws-relay.js';

const RELAY_HANDSHAKE_TIMEOUT_MS = 10_000;
const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** §14.2: request headers not sent to the backend (besides names listed in Connection). */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export interface AppRelayTarget {
  readonly requestId: string;
  readonly origin: URL;
  readonly target: string;
  readonly headers: HeaderMap;
  readonly isStreaming: boolean;
  readonly deadlineMs: number;
  readonly capacity: number;
  readonly lookup: LookupFunction | undefined;
  readonly creditBytes: number;
  /** §14.5 backend keepalive. */
  readonly keepalive: { readonly intervalMs: number; readonly timeoutMs: number };
}

export class AppRelayFailure extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

function backendHeaders(headers: HeaderMap): { headers: Record<string, string | string[]>; offer: string[] } {
  const listed = new Set(headerValues(headers, 'connection').flatMap((value) => value.split(',').map((token) => token.trim().toLowerCase())));
  const out: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (DROPPED.has(lower) || listed.has(lower) || lower.startsWith('sec-websocket-')) continue;
    out[name] = values.length === 1 ? values[0]! : values;
  }
  const host = firstHeader(headers, 'host') ?? firstHeader(headers, 'x-forwarded-host');
  if (host !== undefined) out['Host'] = host;
  const offer = headerValues(headers, 'sec-websocket-protocol').flatMap((value) => value.split(',').map((token) => token.trim())).filter((token) => token !== '');
  return { headers: out, offer };
}

/** Bytes an application relay hands to a slow backend before frames wait in its FIFO. */
const APP_WRITE_WINDOW_BYTES = 256 * 1024;
/**
 * §14.4 bounds the FIFO by frames; this byte bound, the inbound message cap (§18), keeps 100 queued
 * frames from holding gigabytes while still admitting any single frame the socket accepted.
 */
const APP_QUEUE_BYTES = 64 * 1024 * 1024;

function appRelayKind(requestId: string, capacity: number): RelayKind {
  return {
    queueFrames: capacity,
    queueBytes: APP_QUEUE_BYTES,
    writeWindowBytes: APP_WRITE_WINDOW_BYTES,
    overflow: 'backpressure',
    echoesControlPlaneClose: false,
    dataPayload: (frame: RelayFrame) => ({
      request_id: requestId,
      stream_id: requestId,
      data: encodeRelayFrame(frame.type, frame.payload),
      message_type: frame.type,
    }),
    closePayload: () => ({ stream_id: requestId, request_id: requestId }),
    toUpstream: (frame: RelayFrame) => frame,
    toControlPlane: (frame: RelayFrame) => frame,
  };
}

export class AppRelay {
  readonly #target: AppRelayTarget;
  readonly #port: RouterPort;
  readonly #relay: WsRelay;

  readonly #dialAbort = new AbortController();

  constructor(target: AppRelayTarget, port: RouterPort) {
    this.#target = target;
    this.#port = port;
    this.#relay = new WsRelay(target.requestId, port, appRelayKind(target.requestId, target.capacity), target.creditBytes);
    // A relay ended while dialling (cancel, CP close, drain limit) ends the dial with it.
    void this.#relay.finished.then(() => this.#dialAbort.abort());
  }

  get stats(): RelayStats {
    return this.#relay.stats;
  }

  /** Frames, credit and cancel for this relay; install before the first await so nothing is missed. */
  listener(): PortListener {
    return this.#relay.listener();
  }

  /** Dials; on success answers 101 and relays until the end. A failed dial rejects with AppRelayFailure. */
  async run(): Promise<RelayOutcome> {
    const { headers, offer } = backendHeaders(this.#target.headers);
    let dialed;
    try {
      dialed = await dialKubeWebSocket({
        origin: this.#target.origin,
        target: this.#target.target,
        headers,
        offer,
        tls: { rejectUnauthorized: false },
        timeoutMs: RELAY_HANDSHAKE_TIMEOUT_MS,
        maxPayload: MAX_PAYLOAD_BYTES,
        signal: this.#dialAbort.signal,
        lookup: this.#target.lookup,
      });
    } catch (error) {
      if (this.#relay.isEnded) return this.#relay.finished;
      this.#relay.end({ shouldReport: false, outcome: 'upstream_error' }); // the caller answers the HTTP side (§14.3)
      const status = error instanceof DialError && error.status !== undefined ? error.status : 502;
      throw new AppRelayFailure(`failed to connect to service WebSocket: ${error instanceof Error ? error.message : String(error)}`, status);
    }
    if (this.#relay.isEnded) {
      this.#relay.attach(dialed.socket); // ended while dialling: attach only closes the socket
      return this.#relay.finished;
    }
    const responseHeaders: HeaderMap = { Upgrade: ['websocket'], Connection: ['Upgrade'] };
    for (let i = 0; i + 1 < dialed.rawHeaders.length; i += 2) {
      const lower = dialed.rawHeaders[i]!.toLowerCase();
      if (lower === 'upgrade' || lower === 'connection') continue;
      (responseHeaders[canonicalHeaderName(dialed.rawHeaders[i]!)] ??= []).push(dialed.rawHeaders[i + 1]!);
    }
    if (this.#target.isStreaming) {
      this.#port.sendJson(OutboundType.proxyResponseHeader, { status: 101, headers: responseHeaders });
      this.#port.sendJson(OutboundType.proxyResponseEnd, {});
    } else {
      this.#port.sendJson(OutboundType.proxyResponse, { status: 101, headers: responseHeaders });
    }
    this.#relay.attach(dialed.socket, { deadlineMs: this.#target.deadlineMs, keepalive: this.#target.keepalive });
    return this.#relay.finished;
  }
}
