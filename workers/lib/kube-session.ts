// One kubectl WebSocket session (exec, attach, cp, port-forward) relayed between the control plane and
// the Kubernetes API (PROTOCOL.md §13). Byte-transparent when the control plane named a subprotocol,
// terminal translation only when it named none and the API server chose a channel protocol.
//
//   CP frames ──► [queue ≤ 100 frames / 16 MiB while dialling or while the API socket is slow] ──► API server
//   CP        ◄── proxy_websocket_data (credit: pause the API socket at zero) ◄──────────────────── API server
//   end: API close/error, write failure, CP close (echoed) ──► exactly one proxy_websocket_close
//        socket loss or replacement by a duplicate start ──► none

import type WebSocket from 'ws';
import type { RawData } from 'ws';
import { parseEnvelope } from '../../src/protocol/envelope.js';
import { InboundType, OutboundType } from '../../src/protocol/message-types.js';
import { headerValues, type HeaderMap } from '../../src/protocol/headers.js';
import {
  WsFrameType,
  collapseSlashes,
  encodeRelayFrame,
  readRelayFrame,
  subprotocolOffer,
} from '../../src/protocol/kube-session-rules.js';
import { HANDSHAKE_TIMEOUT_MS } from '../../src/protocol/constants.js';
import type { CancelReason } from '../../src/messages/actor-messages.js';
import { decodeBase64Strict } from './proxy-request.js';
import { CreditWindow } from './credit-window.js';
import { DialError, dialKubeWebSocket } from './kube-websocket-dial.js';
import type { RouterPort } from './router-port.js';
import type { Upstream } from './upstream.js';

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

export type SessionOutcome = 'ok' | 'upstream_error' | 'canceled';

export interface SessionStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  dropped: number;
}

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

interface QueuedFrame {
  readonly type: WsFrameType;
  readonly payload: Uint8Array;
}

export class KubeSession {
  readonly stats: SessionStats = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0 };
  readonly #start: SessionStart;
  readonly #port: RouterPort;
  readonly #upstream: Upstream;
  readonly #credit: CreditWindow;
  readonly #pending: QueuedFrame[] = [];
  #pendingBytes = 0;
  /** Bytes handed to the API socket whose write has not completed. */
  #inFlightBytes = 0;
  #socket: WebSocket | undefined;
  #isTranslating = false;
  #isEnded = false;
  #outcome: SessionOutcome = 'ok';
  #finish!: () => void;
  readonly #finished: Promise<void>;

  constructor(start: SessionStart, port: RouterPort, upstream: Upstream, creditBytes: number) {
    this.#start = start;
    this.#port = port;
    this.#upstream = upstream;
    this.#credit = new CreditWindow(creditBytes);
    this.#finished = new Promise((resolve) => (this.#finish = resolve));
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
      });
      if (this.#isEnded) {
        dialed.socket.close(1000);
        return this.#outcome;
      }
      this.#isTranslating = !isTransparent && /^(v\d+\.)?channel\.k8s\.io$/.test(dialed.protocol);
      this.#attach(dialed.socket);
    } catch (error) {
      if (this.#isEnded) return this.#outcome;
      const status = error instanceof DialError && error.status !== undefined ? ` (status: ${error.status})` : '';
      const detail = error instanceof Error ? error.message : String(error);
      this.#fail(`failed to connect to K8s API: ${detail}${status}`);
      return this.#outcome;
    }
    await this.#finished;
    return this.#outcome;
  }

  /** A `proxy_websocket_data`/`ws_data`/`proxy_stream_data` or close envelope for this stream. */
  onFrame(envelopeBytes: Uint8Array): void {
    if (this.#isEnded) return;
    const envelope = parseEnvelope(envelopeBytes);
    if (envelope === undefined) return;
    if (envelope.type === InboundType.proxyWebsocketClose || envelope.type === InboundType.wsClose) {
      this.#end({ shouldCloseUpstream: true, shouldReport: true }); // the CP's close is echoed (§13.7)
      return;
    }
    const data = envelope.payload['data'];
    const decoded = typeof data === 'string' ? decodeBase64Strict(data) : undefined;
    const frame = decoded === undefined ? undefined : readRelayFrame(decoded, envelope.payload['message_type']);
    if (frame === undefined) {
      this.stats.dropped++;
      return;
    }
    this.#enqueue(this.#translateInbound(frame));
  }

  onCredit(bytes: number): void {
    this.#credit.grant(bytes);
  }

  /** Socket loss, replacement by a duplicate start, or shutdown: close upstream, report nothing. */
  cancel(reason: CancelReason): void {
    this.#outcome = 'canceled';
    this.#end({ shouldCloseUpstream: true, shouldReport: reason === 'proxy_cancel' });
  }

  #translateInbound(frame: QueuedFrame): QueuedFrame {
    if (this.#isTranslating && frame.type === WsFrameType.text) {
      const stdin = new Uint8Array(frame.payload.length + 1); // text T ⇒ binary 00 ‖ T (stdin)
      stdin.set(frame.payload, 1);
      return { type: WsFrameType.binary, payload: stdin };
    }
    return frame;
  }

  #enqueue(frame: QueuedFrame): void {
    if (this.#socket === undefined) {
      if (this.#pending.length >= MAX_QUEUED_FRAMES || this.#pendingBytes + frame.payload.length > MAX_QUEUED_BYTES) {
        this.#fail('stream input queue overflow');
        return;
      }
      this.#pending.push(frame);
      this.#pendingBytes += frame.payload.length;
      return;
    }
    this.#write(frame);
  }

  #write(frame: QueuedFrame): void {
    const socket = this.#socket!;
    // Frames handed to the API socket but not yet written are bounded by bytes (16 MiB), not by count:
    // kubectl's port-forward writes every SPDY field as its own message, so a burst of connections is
    // hundreds of tiny frames. The 100-frame bound of §13.3 applies to the queue before the dial.
    if (this.#inFlightBytes + frame.payload.length > MAX_QUEUED_BYTES) {
      this.#fail('stream input queue overflow');
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += frame.payload.length;
    const payload = Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
    switch (frame.type) {
      case WsFrameType.text:
      case WsFrameType.binary: {
        this.#inFlightBytes += payload.length;
        socket.send(payload, { binary: frame.type === WsFrameType.binary }, (error) => {
          this.#inFlightBytes -= payload.length;
          if (error !== undefined && error !== null) this.#end({ shouldCloseUpstream: true, shouldReport: true, outcome: 'upstream_error' });
        });
        break;
      }
      case WsFrameType.close: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
        const isValid = code === 1000 || (code >= 3000 && code <= 4999) || (code >= 1001 && code <= 1014 && ![1004, 1005, 1006].includes(code));
        socket.close(isValid ? code : 1000, payload.length > 2 ? payload.subarray(2) : undefined);
        break;
      }
      case WsFrameType.ping:
        socket.ping(payload);
        break;
      case WsFrameType.pong:
        socket.pong(payload);
        break;
    }
  }

  #attach(socket: WebSocket): void {
    this.#socket = socket;
    socket.on('message', (data: RawData, isBinary: boolean) => this.#upstreamOnMessage(data, isBinary));
    socket.on('close', () => this.#end({ shouldCloseUpstream: false, shouldReport: true }));
    socket.on('error', () => this.#end({ shouldCloseUpstream: true, shouldReport: true, outcome: 'upstream_error' }));
    for (const frame of this.#pending.splice(0)) this.#write(frame);
    this.#pendingBytes = 0;
  }

  #upstreamOnMessage(data: RawData, isBinary: boolean): void {
    if (this.#isEnded) return;
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    let type: WsFrameType = isBinary ? WsFrameType.binary : WsFrameType.text;
    let payload: Uint8Array = bytes;
    if (this.#isTranslating && isBinary && bytes.length > 0 && bytes[0]! <= 3) {
      type = WsFrameType.text; // channels 0–3 ⇒ text without the channel byte
      payload = bytes.subarray(1);
    }
    this.stats.framesOut++;
    this.stats.bytesOut += payload.length;
    const sent = this.#port.sendJson(
      OutboundType.proxyWebsocketData,
      { stream_id: this.#start.streamId, data: encodeRelayFrame(type, payload) },
      true,
    );
    this.#credit.take(sent);
    if (this.#credit.isExhausted) {
      // The control plane's socket is behind: stop reading the API server until it has caught up.
      this.#socket?.pause();
      this.#credit.whenAvailable(() => this.#socket?.resume());
    }
  }

  #fail(message: string): void {
    if (this.#isEnded) return;
    this.#port.sendJson(OutboundType.proxyError, { request_id: this.#start.streamId, error: message });
    this.#end({ shouldCloseUpstream: true, shouldReport: true, outcome: 'upstream_error' });
  }

  #end(how: { shouldCloseUpstream: boolean; shouldReport: boolean; outcome?: SessionOutcome }): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    if (how.outcome !== undefined) this.#outcome = how.outcome;
    this.#pending.length = 0;
    const socket = this.#socket;
    if (how.shouldCloseUpstream && socket !== undefined) {
      socket.resume();
      socket.close(1000);
      const terminate = setTimeout(() => socket.terminate(), 5_000);
      socket.once('close', () => clearTimeout(terminate));
    }
    if (how.shouldReport) this.#port.sendJson(OutboundType.proxyWebsocketClose, { stream_id: this.#start.streamId });
    this.#finish();
  }
}
