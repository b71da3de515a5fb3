// An application WebSocket relay (PROTOCOL.md §14): a WebSocket-upgrade proxy_request for an in-cluster
// service. The agent dials the service, answers the HTTP side with 101 and the backend's handshake
// headers, then relays frames both ways through a bounded FIFO.
//
//   CP data ──► FIFO (capacity N frames; full ⇒ drop + backpressure{channel_full}) ──► backend
//   CP      ◄── proxy_websocket_data {request_id, stream_id, data, message_type} ◄──── backend
//   CP close / proxy_cancel ⇒ close 1000 to the backend, nothing sent
//   backend close / error / deadline ⇒ exactly one proxy_websocket_close {stream_id, request_id}

import type WebSocket from 'ws';
import type { RawData } from 'ws';
import { parseEnvelope } from '../../src/protocol/envelope.js';
import { InboundType, OutboundType } from '../../src/protocol/message-types.js';
import { canonicalHeaderName, firstHeader, headerValues, type HeaderMap } from '../../src/protocol/headers.js';
import { WsFrameType, encodeRelayFrame, readRelayFrame } from '../../src/protocol/kube-session-rules.js';
import { setLongTimeout } from '../../src/protocol/long-timeout.js';
import { decodeBase64Strict } from './proxy-request.js';
import { DialError, dialKubeWebSocket } from './kube-websocket-dial.js';
import type { RouterPort } from './router-port.js';
import type { LookupFunction } from 'node:net';

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

export class AppRelay {
  readonly #target: AppRelayTarget;
  readonly #port: RouterPort;
  readonly #pending: { type: WsFrameType; payload: Uint8Array }[] = [];
  #socket: WebSocket | undefined;
  #isEnded = false;
  #deadline: NodeJS.Timeout | undefined;
  #finish!: () => void;
  readonly #finished = new Promise<void>((resolve) => (this.#finish = resolve));

  constructor(target: AppRelayTarget, port: RouterPort) {
    this.#target = target;
    this.#port = port;
  }

  /** Dials; on success answers 101 and relays until the end. A failed dial rejects with AppRelayFailure. */
  async run(): Promise<void> {
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
        lookup: this.#target.lookup,
      });
    } catch (error) {
      const status = error instanceof DialError && error.status !== undefined ? error.status : 502;
      throw new AppRelayFailure(`failed to connect to service WebSocket: ${error instanceof Error ? error.message : String(error)}`, status);
    }
    if (this.#isEnded) {
      dialed.socket.close(1000);
      return;
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
    this.#attach(dialed.socket);
    await this.#finished;
  }

  /** Relay data (`proxy_websocket_data`, `ws_data`, `proxy_stream_data`) or a close from the CP. */
  onFrame(envelopeBytes: Uint8Array): void {
    if (this.#isEnded) return;
    const envelope = parseEnvelope(envelopeBytes);
    if (envelope === undefined) return;
    if (envelope.type === InboundType.proxyWebsocketClose || envelope.type === InboundType.wsClose) {
      this.#end(false);
      return;
    }
    const data = envelope.payload['data'];
    const decoded = typeof data === 'string' ? decodeBase64Strict(data) : undefined;
    const frame = decoded === undefined ? undefined : readRelayFrame(decoded, envelope.payload['message_type']);
    if (frame === undefined) return;
    if (this.#socket === undefined || this.#socket.bufferedAmount > 0) {
      if (this.#pending.length >= this.#target.capacity) {
        this.#port.sendJson(OutboundType.backpressure, { request_id: this.#target.requestId, reason: 'channel_full' });
        return;
      }
      this.#pending.push(frame);
      if (this.#socket !== undefined) this.#flush();
      return;
    }
    this.#write(frame);
  }

  /** proxy_cancel acts as a CP close (§9.13); socket loss ends it silently too. */
  cancel(): void {
    this.#end(false);
  }

  #attach(socket: WebSocket): void {
    this.#socket = socket;
    socket.on('message', (data: RawData, isBinary: boolean) => this.#backendOnMessage(data, isBinary));
    socket.on('close', () => this.#end(true));
    socket.on('error', () => this.#end(true));
    this.#deadline = setLongTimeout(() => this.#end(true), this.#target.deadlineMs - Date.now());
    this.#flush();
  }

  #flush(): void {
    while (this.#pending.length > 0 && this.#socket !== undefined && this.#socket.bufferedAmount === 0) this.#write(this.#pending.shift()!);
  }

  #write(frame: { type: WsFrameType; payload: Uint8Array }): void {
    const socket = this.#socket!;
    const payload = Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
    if (frame.type === WsFrameType.close) socket.close(1000);
    else if (frame.type === WsFrameType.ping) socket.ping(payload);
    else if (frame.type === WsFrameType.pong) socket.pong(payload);
    else socket.send(payload, { binary: frame.type === WsFrameType.binary }, () => this.#flush());
  }

  #backendOnMessage(data: RawData, isBinary: boolean): void {
    if (this.#isEnded) return;
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const type = isBinary ? WsFrameType.binary : WsFrameType.text;
    const id = this.#target.requestId;
    this.#port.sendJson(OutboundType.proxyWebsocketData, { request_id: id, stream_id: id, data: encodeRelayFrame(type, bytes), message_type: type });
  }

  #end(isBackendSide: boolean): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    clearTimeout(this.#deadline);
    this.#pending.length = 0;
    const socket = this.#socket;
    if (socket !== undefined && socket.readyState === socket.OPEN) socket.close(1000);
    if (isBackendSide && socket !== undefined) {
      const id = this.#target.requestId;
      this.#port.sendJson(OutboundType.proxyWebsocketClose, { stream_id: id, request_id: id });
    }
    this.#finish();
  }
}
