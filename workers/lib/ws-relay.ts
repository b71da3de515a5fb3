// The relay core shared by kubectl sessions (PROTOCOL.md §13) and application relays (§14): everything
// between the control plane's relay messages and one upstream WebSocket. The kinds differ only in the
// options of RelayKind (queue bounds, what an overflow does, close reporting, message shapes, translation).
//
//   CP data ─► decode (§12.1; undecodable or unusable ⇒ dropped, counted)
//           ─► control-frame limits (§13.6) ─► FIFO (bounded; full ⇒ kind.overflow) ─► write window ─► upstream
//   CP      ◄── proxy_websocket_data (credit taken per message; upstream paused at zero, §12.4) ◄── upstream
//   upstream close / error / write failure / keepalive / deadline ⇒ one proxy_websocket_close
//   CP close ⇒ close 1000 upstream; echoed or silent per kind.   cancel ⇒ silent unless proxy_cancel and echoing

import { MAX_TIMER_DELAY_MS, setLongTimeout } from '../../src/protocol/long-timeout.js';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import { parseEnvelope } from '../../src/protocol/envelope.js';
import { InboundType, OutboundType } from '../../src/protocol/message-types.js';
import { WsFrameType, readRelayFrame } from '../../src/protocol/kube-session-rules.js';
import { encodeWsDataFrame } from '../../src/protocol/stream-frame.js';
import type { CancelReason, RelayOutcome as DoneOutcome } from '../../src/messages/actor-messages.js';
import { decodeBase64Strict } from './proxy-request.js';
import { CreditWindow } from './credit-window.js';
import type { PortListener, RouterPort } from './router-port.js';

/** Largest payload of a WebSocket control frame (RFC 6455 §5.5). */
const MAX_CONTROL_PAYLOAD = 125;
/** A close payload is a 2-byte code and at most this many bytes of reason. */
const MAX_CLOSE_REASON = MAX_CONTROL_PAYLOAD - 2;
/** A socket closing on our side gets this long for the closing handshake before it is destroyed. */
const CLOSE_GRACE_MS = 5_000;

export interface RelayFrame {
  readonly type: WsFrameType;
  readonly payload: Uint8Array;
}

/** How a relay can end: every `done` outcome but `invalid`, which only a request that never started has. */
export type RelayOutcome = Exclude<DoneOutcome, 'invalid'>;

export interface RelayStats {
  /** Frames and payload bytes written to the upstream. */
  framesIn: number;
  bytesIn: number;
  /** Frames and payload bytes sent to the control plane. */
  framesOut: number;
  bytesOut: number;
  /** Inbound data that could not be used (§12.1, §13.6). */
  dropped: number;
}

export interface RelayKind {
  /** Frames and bytes that may wait for the upstream socket (§13.3 pre-dial queue, §14.4 FIFO). */
  readonly queueFrames: number;
  readonly queueBytes: number;
  /** Bytes handed to the upstream socket and not yet written, beyond which frames wait in the FIFO. */
  readonly writeWindowBytes: number;
  /** `fail`: proxy_error `stream input queue overflow`, then the end (§13.3); `backpressure`: drop + `channel_full` (§14.4). */
  readonly overflow: 'fail' | 'backpressure';
  /** A CP close (and proxy_cancel) is answered with the one proxy_websocket_close (§13.7) or not (§14.5). */
  readonly echoesControlPlaneClose: boolean;
  /** The payload of `proxy_websocket_data` for one upstream frame. */
  dataPayload(frame: RelayFrame): Record<string, unknown>;
  /** The payload of the one `proxy_websocket_close`. */
  closePayload(): Record<string, unknown>;
  /** Frame translation, CP → upstream and upstream → CP (terminal mode, §13.6); identity otherwise. */
  toUpstream(frame: RelayFrame): RelayFrame;
  toControlPlane(frame: RelayFrame): RelayFrame;
}

export interface AttachOptions {
  /** §14.5 backend keepalive: ping every `intervalMs`, end when no pong came for `timeoutMs`. */
  readonly keepalive?: { readonly intervalMs: number; readonly timeoutMs: number } | undefined;
  /** Absolute end of the relay in ms since the epoch (§14.5). */
  readonly deadlineMs?: number | undefined;
}

interface EndHow {
  readonly shouldReport: boolean;
  readonly outcome?: RelayOutcome;
}

/** §13.6: a close frame from the CP as `ws` can send it: a valid code, a reason of at most 123 bytes. */
export function sanitizeClose(payload: Uint8Array): { code: number; reason: Buffer | undefined } {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length < 2) return { code: 1000, reason: undefined };
  const code = bytes.readUInt16BE(0);
  const isValid = (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  let end = Math.min(bytes.length, 2 + MAX_CLOSE_REASON);
  // never cut inside a UTF-8 sequence: back off over continuation bytes (10xxxxxx)
  if (end < bytes.length) while (end > 2 && (bytes[end]! & 0xc0) === 0x80) end--;
  const reason = end > 2 ? bytes.subarray(2, end) : undefined;
  return { code: isValid ? code : 1000, reason };
}

export class WsRelay {
  readonly stats: RelayStats = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropped: 0 };
  readonly #id: string;
  readonly #port: RouterPort;
  readonly #kind: RelayKind;
  readonly #credit: CreditWindow;
  readonly #pending: RelayFrame[] = [];
  #pendingBytes = 0;
  /** Bytes handed to the upstream socket whose write has not completed. */
  #inFlightBytes = 0;
  #socket: WebSocket | undefined;
  #isEnded = false;
  #outcome: RelayOutcome = 'ok';
  #deadlineTimer: NodeJS.Timeout | undefined;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #lastPongMs = 0;
  /** Reading from the upstream is paused for lack of credit: its pongs cannot be read either. */
  #isPaused = false;
  #finish!: () => void;
  /** Resolves with the outcome once the relay has ended. */
  readonly finished: Promise<RelayOutcome>;

  constructor(id: string, port: RouterPort, kind: RelayKind, creditBytes: number) {
    this.#id = id;
    this.#port = port;
    this.#kind = kind;
    this.#credit = new CreditWindow(creditBytes);
    const done = new Promise<void>((resolve) => (this.#finish = resolve));
    this.finished = done.then(() => this.#outcome);
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** The router port listener for this relay: frames, credit and cancel. */
  listener(): PortListener {
    return {
      onFrame: (data) => this.onFrame(data),
      onBody: () => undefined,
      onCredit: (bytes) => this.#credit.grant(bytes),
      onCancel: (reason) => this.cancel(reason),
      onWsData: (data) => this.onWsData(data),
    };
  }

  /** Relay data from a stream frame: `[type u8][payload]`, read by the same rules as decoded JSON data (§12.1). */
  onWsData(framed: Uint8Array): void {
    if (this.#isEnded) return;
    this.#accept(readRelayFrame(framed, undefined));
  }

  /** A `proxy_websocket_data` / `ws_data` / `proxy_stream_data` or close envelope for this stream. */
  onFrame(envelopeBytes: Uint8Array): void {
    if (this.#isEnded) return;
    const envelope = parseEnvelope(envelopeBytes);
    if (envelope === undefined) {
      this.stats.dropped++;
      return;
    }
    if (envelope.type === InboundType.proxyWebsocketClose || envelope.type === InboundType.wsClose) {
      this.end({ shouldReport: this.#kind.echoesControlPlaneClose });
      return;
    }
    const data = envelope.payload['data'];
    const decoded = typeof data === 'string' ? decodeBase64Strict(data) : undefined;
    this.#accept(decoded === undefined ? undefined : readRelayFrame(decoded, envelope.payload['message_type']));
  }

  #accept(frame: RelayFrame | undefined): void {
    if (frame === undefined || ((frame.type === WsFrameType.ping || frame.type === WsFrameType.pong) && frame.payload.length > MAX_CONTROL_PAYLOAD)) {
      this.stats.dropped++;
      return;
    }
    this.#enqueue(frame);
  }

  /** Socket loss, replacement, shutdown (silent) or proxy_cancel (a CP close, §9.13 / §14.5). */
  cancel(reason: CancelReason): void {
    this.#outcome = 'canceled';
    this.end({ shouldReport: reason === 'proxy_cancel' && this.#kind.echoesControlPlaneClose });
  }

  /** Sends `proxy_error {request_id, error}` and ends with the close report. */
  fail(message: string): void {
    if (this.#isEnded) return;
    this.#port.sendJson(OutboundType.proxyError, { request_id: this.#id, error: message });
    this.end({ shouldReport: true, outcome: 'upstream_error' });
  }

  /** Connects the dialled upstream: queued frames are written in order, then the relay runs. */
  attach(socket: WebSocket, options: AttachOptions = {}): void {
    if (this.#isEnded) {
      socket.on('error', () => undefined); // an ended relay only closes the late socket
      socket.close(1000);
      return;
    }
    this.#socket = socket;
    socket.on('message', (data: RawData, isBinary: boolean) => this.#upstreamOnMessage(data, isBinary));
    socket.on('close', () => this.end({ shouldReport: true }));
    socket.on('error', () => this.end({ shouldReport: true, outcome: 'upstream_error' }));
    if (options.deadlineMs !== undefined) this.#armDeadline(options.deadlineMs);
    if (options.keepalive !== undefined) this.#startKeepalive(socket, options.keepalive.intervalMs, options.keepalive.timeoutMs);
    this.#flush();
  }

  end(how: EndHow): void {
    if (this.#isEnded) return;
    this.#isEnded = true;
    if (how.outcome !== undefined) this.#outcome = how.outcome;
    clearTimeout(this.#deadlineTimer);
    clearInterval(this.#keepaliveTimer);
    this.#pending.length = 0;
    this.#pendingBytes = 0;
    const socket = this.#socket;
    if (socket !== undefined && socket.readyState !== socket.CLOSED) {
      socket.resume();
      socket.close(1000);
      const terminate = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
      socket.once('close', () => clearTimeout(terminate));
    }
    if (how.shouldReport) this.#port.sendJson(OutboundType.proxyWebsocketClose, this.#kind.closePayload());
    this.#finish();
  }

  #enqueue(frame: RelayFrame): void {
    if (this.#pending.length === 0 && this.#canWrite(frame)) {
      this.#write(frame);
      return;
    }
    if (this.#pending.length >= this.#kind.queueFrames || this.#pendingBytes + frame.payload.length > this.#kind.queueBytes) {
      if (this.#kind.overflow === 'fail') this.fail('stream input queue overflow');
      else this.#port.sendJson(OutboundType.backpressure, { request_id: this.#id, reason: 'channel_full' });
      return;
    }
    this.#pending.push(frame);
    this.#pendingBytes += frame.payload.length;
  }

  #canWrite(frame: RelayFrame): boolean {
    if (this.#socket === undefined || this.#isEnded) return false;
    return this.#inFlightBytes === 0 || this.#inFlightBytes + frame.payload.length <= this.#kind.writeWindowBytes;
  }

  #flush(): void {
    while (this.#pending.length > 0 && this.#canWrite(this.#pending[0]!)) {
      const frame = this.#pending.shift()!;
      this.#pendingBytes -= frame.payload.length;
      this.#write(frame);
    }
  }

  #write(original: RelayFrame): void {
    const socket = this.#socket!;
    const frame = this.#kind.toUpstream(original);
    const payload = Buffer.from(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
    this.stats.framesIn++;
    this.stats.bytesIn += payload.length;
    switch (frame.type) {
      case WsFrameType.text:
      case WsFrameType.binary:
        this.#inFlightBytes += payload.length;
        socket.send(payload, { binary: frame.type === WsFrameType.binary }, (error) => {
          this.#inFlightBytes -= payload.length;
          if (error !== undefined && error !== null) this.end({ shouldReport: true, outcome: 'upstream_error' });
          else this.#flush();
        });
        break;
      case WsFrameType.close: {
        const { code, reason } = sanitizeClose(payload);
        socket.close(code, reason);
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

  #upstreamOnMessage(data: RawData, isBinary: boolean): void {
    if (this.#isEnded) return;
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const frame = this.#kind.toControlPlane({ type: isBinary ? WsFrameType.binary : WsFrameType.text, payload: bytes });
    this.stats.framesOut++;
    this.stats.bytesOut += frame.payload.length;
    // With stream frames the payload travels as bytes after a small header; otherwise base64 in JSON (§13.6, §14.4).
    const frameId = this.#port.streamFrameId;
    const sent =
      frameId === undefined
        ? this.#port.sendJson(OutboundType.proxyWebsocketData, this.#kind.dataPayload(frame), true)
        : this.#port.sendBinary(encodeWsDataFrame(frameId, frame.type, frame.payload), true);
    this.#credit.take(sent);
    if (this.#credit.isExhausted) {
      // The control plane's socket is behind: stop reading the upstream until it has caught up (§12.4).
      this.#isPaused = true;
      this.#socket?.pause();
      this.#credit.whenAvailable(() => {
        this.#isPaused = false;
        this.#socket?.resume();
      });
    }
  }

  #armDeadline(deadlineMs: number): void {
    // Beyond the timer range the deadline runs in steps to its real end (C97).
    this.#deadlineTimer = setLongTimeout(() => this.end({ shouldReport: true, outcome: 'timeout' }), deadlineMs - Date.now());
  }

  #startKeepalive(socket: WebSocket, intervalMs: number, timeoutMs: number): void {
    this.#lastPongMs = Date.now();
    socket.on('pong', () => (this.#lastPongMs = Date.now()));
    this.#keepaliveTimer = setInterval(() => {
      if (this.#isPaused) {
        // a pong may be waiting unread behind the pause; TCP keepalive still notices a vanished peer
        this.#lastPongMs = Date.now();
        return;
      }
      if (Date.now() - this.#lastPongMs >= timeoutMs) {
        this.end({ shouldReport: true, outcome: 'upstream_error' });
        return;
      }
      socket.ping();
    }, Math.min(intervalMs, MAX_TIMER_DELAY_MS));
  }
}
