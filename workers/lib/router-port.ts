// The actor's side of its MessagePort: posts already-encoded frames (bytes transferred, never shared),
// the final `done`, and dispatches what the router sends (later frames, a binary body, credit, cancel).

import {
  ActorKind,
  type ActorDone,
  type ActorPort,
  type ActorInbound,
  type ActorSend,
  type CancelReason,
  type CompressionStats,
  type SessionCounts,
  type RelayOutcome,
  type ResponseMode,
  isActorInbound,
  ownedCopy,
} from '../../src/messages/actor-messages.js';
import { encodeEnvelope } from '../../src/protocol/envelope.js';
import { streamFrameId } from '../../src/protocol/stream-frame.js';
import { toWireError, type AgentError } from '../../src/errors.js';

export interface UpstreamBytes {
  sent: number;
  received: number;
}

export interface DoneReport {
  readonly outcome: RelayOutcome;
  readonly mode: ResponseMode;
  readonly durationMs: number;
  readonly bytes: UpstreamBytes;
  readonly compression?: CompressionStats | undefined;
  readonly session?: SessionCounts | undefined;
  readonly kind?: ActorKind;
  /** What ended the stream when it failed; crosses the thread as `{code, message}` only. */
  readonly failure?: AgentError | undefined;
}

export interface PortListener {
  onFrame(data: Uint8Array): void;
  onBody(data: Uint8Array): void;
  onCredit(bytes: number): void;
  onCancel(reason: CancelReason): void;
  /** Relay data that came in a stream frame (`[type u8][payload]`). */
  onWsData?(data: Uint8Array): void;
}

export class RouterPort {
  readonly requestId: string;
  readonly #port: ActorPort;
  #listener: PortListener | undefined;
  /** The id as stream frames carry it, while the socket uses them; undefined means JSON. */
  #frameId: Buffer | undefined;

  constructor(port: ActorPort, requestId: string, shouldUseStreamFrames = false) {
    this.#port = port;
    this.requestId = requestId;
    this.#frameId = shouldUseStreamFrames ? streamFrameId(requestId) : undefined;
    port.on('message', (message: unknown) => this.#portOnMessage(message));
  }

  /**
   * The stream id for binary stream frames (docs/protocol.md extension), or undefined when this stream's
   * data travels as JSON: the control plane did not opt in, yamux took over, or the id does not fit.
   */
  get streamFrameId(): Buffer | undefined {
    return this.#frameId;
  }

  listen(listener: PortListener): void {
    this.#listener = listener;
  }

  /** Posts one JSON message for this request; returns its encoded size in bytes. */
  sendJson(type: string, payload: Record<string, unknown>, needsCredit = false): number {
    const text = encodeEnvelope(type, payload, this.requestId, Date.now());
    return this.#post(Buffer.from(text, 'utf8'), false, needsCredit);
  }

  sendBinary(frame: Uint8Array, needsCredit = false): number {
    return this.#post(frame, true, needsCredit);
  }

  /** The actor's last message: its outcome, metric deltas and, when it failed, the failure's code. */
  done(report: DoneReport): void {
    const message: ActorDone = {
      type: 'done',
      kind: report.kind ?? ActorKind.httpRelay,
      outcome: report.outcome,
      mode: report.mode,
      durationMs: report.durationMs,
      upstreamBytesSent: report.bytes.sent,
      upstreamBytesReceived: report.bytes.received,
      ...(report.compression === undefined ? {} : { compression: report.compression }),
      ...(report.session === undefined ? {} : { session: report.session }),
      ...(report.failure === undefined ? {} : { failure: toWireError(report.failure) }),
    };
    this.#port.postMessage(message);
  }

  close(): void {
    this.#listener = undefined;
    this.#port.close();
  }

  #post(bytes: Uint8Array, isBinary: boolean, needsCredit: boolean): number {
    // Only a buffer the view owns outright can be transferred; pooled Buffers are copied first.
    const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : ownedCopy(bytes);
    const size = owned.byteLength; // read before the transfer detaches the buffer
    const message: ActorSend = { type: 'send', data: owned, isBinary, needsCredit };
    this.#port.postMessage(message, [owned.buffer as ArrayBuffer]);
    return size;
  }

  #portOnMessage(message: unknown): void {
    if (!isActorInbound(message)) return;
    const inbound: ActorInbound = message;
    if (inbound.type === 'stream-frames-off') this.#frameId = undefined;
    const listener = this.#listener;
    if (listener === undefined) return;
    switch (inbound.type) {
      case 'frame':
        listener.onFrame(inbound.data);
        break;
      case 'body':
        listener.onBody(inbound.data);
        break;
      case 'credit':
        listener.onCredit(inbound.bytes);
        break;
      case 'cancel':
        listener.onCancel(inbound.reason);
        break;
      case 'ws-data':
        listener.onWsData?.(inbound.data);
        break;
      case 'stream-frames-off':
        break;
    }
  }
}
