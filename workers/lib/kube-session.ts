// One kubectl WebSocket session (exec, attach, cp, port-forward) relayed between the control plane and
// the Kubernetes API (PROTOCOL.md §13). Byte-transparent when the control plane named a subprotocol,
// terminal translation only when it named none and the API server chose a channel protocol.
//
// The relay itself is WsRelay (ws-relay.ts); this file holds what is kubectl's own:
//
//   dial: wss to the API server, CP headers minus hop-by-hop, the CP's Authorization else the agent's token
//   queue: ≤ 100 frames / 16 MiB waiting; overflow ⇒ proxy_error `stream input queue overflow` + close
//   end: API close/error, write failure, CP close (echoed) ──► exactly one proxy_websocket_close {stream_id}
//        socket loss or replacement by a duplicate start ──► none

import { headerValues, type HeaderMap } from '../../src/protocol/headers.js';
import { WsFrameType, collapseSlashes, encodeRelayFrame, subprotocolOffer } from '../../src/protocol/kube-session-rules.js';
import { HANDSHAKE_TIMEOUT_MS } from '../../src/protocol/constants.js';
import { DialError, dialKubeWebSocket } from './kube-websocket-dial.js';
import type { PortListener, RouterPort } from './router-port.js';
import type { Upstream } from './upstream.js';
import { WsRelay, type RelayFrame, type RelayKind, type RelayOutcome, type RelayStats } from './ws-relay.js';

export const MAX_QUEUED_FRAMES = 100;
export const MAX_QUEUED_BYTES = 16 * 1024 * 1024;
const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export interface SessionStart {
  readonly streamId: string;
  readonly path: string;
  readonly query: string;
  readonly protocol: string;
  readonly headers: HeaderMap;
}

export type SessionOutcome = RelayOutcome;
export type SessionStats = RelayStats;

const DIAL_DROPPED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'http2-settings',
  'host',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
]);

/** §13.4: the control plane's headers minus hop-by-hop and handshake headers; its Authorization wins. */
export function sessionDialHeaders(headers: HeaderMap, agentToken: string | undefined): Record<string, string | string[]> {
  const listed = new Set(
    headerValues(headers, 'connection').flatMap((value) => value.split(',').map((token) => token.trim().toLowerCase())),
  );
  const out: Record<string, string | string[]> = {};
  let authorization: string | undefined;
  for (const [name, values] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (DIAL_DROPPED_HEADERS.has(lower) || listed.has(lower)) continue;
    if (lower === 'authorization') {
      authorization ??= values[0];
      continue;
    }
    out[name] = values.length === 1 ? values[0]! : values;
  }
  if (authorization !== undefined) out['Authorization'] = authorization;
  else if (agentToken !== undefined) out['Authorization'] = `Bearer ${agentToken}`;
  return out;
}

/** §13.3 / §13.6 as relay options; `isTranslating` is set once the API server chose its subprotocol. */
class KubeRelayKind implements RelayKind {
  readonly queueFrames = MAX_QUEUED_FRAMES;
  readonly queueBytes = MAX_QUEUED_BYTES;
  // Frames handed to the API socket but not yet written are bounded by bytes (16 MiB), not by count:
  // kubectl's port-forward writes every SPDY field as its own message, so a burst of connections is
  // hundreds of tiny frames. Beyond the window frames wait in the queue under the 100-frame bound.
  readonly writeWindowBytes = MAX_QUEUED_BYTES;
  readonly overflow = 'fail' as const;
  readonly echoesControlPlaneClose = true;
  readonly #streamId: string;
  isTranslating = false;

  constructor(streamId: string) {
    this.#streamId = streamId;
  }

  dataPayload(frame: RelayFrame): Record<string, unknown> {
    return { stream_id: this.#streamId, data: encodeRelayFrame(frame.type, frame.payload) };
  }

  closePayload(): Record<string, unknown> {
    return { stream_id: this.#streamId };
  }

  toUpstream(frame: RelayFrame): RelayFrame {
    if (!this.isTranslating || frame.type !== WsFrameType.text) return frame;
    const stdin = new Uint8Array(frame.payload.length + 1); // text T ⇒ binary 00 ‖ T (stdin)
    stdin.set(frame.payload, 1);
    return { type: WsFrameType.binary, payload: stdin };
  }

  toControlPlane(frame: RelayFrame): RelayFrame {
    const first = frame.payload[0];
    if (!this.isTranslating || frame.type !== WsFrameType.binary || first === undefined || first > 3) return frame;
    return { type: WsFrameType.text, payload: frame.payload.subarray(1) }; // channels 0–3 ⇒ text without the channel byte
  }
}

export class KubeSession {
  readonly #start: SessionStart;
  readonly #upstream: Upstream;
  readonly #kind: KubeRelayKind;
  readonly #relay: WsRelay;
  readonly #dialAbort = new AbortController();

  constructor(start: SessionStart, port: RouterPort, upstream: Upstream, creditBytes: number) {
    this.#start = start;
    this.#upstream = upstream;
    this.#kind = new KubeRelayKind(start.streamId);
    this.#relay = new WsRelay(start.streamId, port, this.#kind, creditBytes);
    // A session ended while dialling (CP close, replacement, drain limit) ends the dial with it.
    void this.#relay.finished.then(() => this.#dialAbort.abort());
  }

  get stats(): RelayStats {
    return this.#relay.stats;
  }

  /** Frames, credit and cancel for this session; install before the first await so nothing is missed. */
  listener(): PortListener {
    return this.#relay.listener();
  }

  /** Dials and relays until the session ends. */
  async run(): Promise<SessionOutcome> {
    const { offer, isTransparent } = subprotocolOffer(this.#start.protocol, this.#start.headers, this.#start.path);
    const query = this.#start.query.replace(/[\r\n\0]/g, '');
    const target = collapseSlashes(this.#start.path) + (query === '' ? '' : `?${query}`);
    try {
      const dialed = await dialKubeWebSocket({
        origin: this.#upstream.origin,
        target,
        headers: sessionDialHeaders(this.#start.headers, this.#upstream.agentToken),
        offer,
        tls: this.#upstream.tls,
        timeoutMs: HANDSHAKE_TIMEOUT_MS,
        maxPayload: MAX_PAYLOAD_BYTES,
        signal: this.#dialAbort.signal,
      });
      this.#kind.isTranslating = !isTransparent && /^(v\d+\.)?channel\.k8s\.io$/.test(dialed.protocol);
      this.#relay.attach(dialed.socket);
    } catch (error) {
      if (!this.#relay.isEnded) {
        const status = error instanceof DialError && error.status !== undefined ? ` (status: ${error.status})` : '';
        const detail = error instanceof Error ? error.message : String(error);
        this.#relay.fail(`failed to connect to K8s API: ${detail}${status}`);
      }
    }
    return this.#relay.finished;
  }
}
