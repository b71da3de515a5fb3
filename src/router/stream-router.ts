// The router: peeks at every inbound frame (type and ids only, never the body), hands control messages
// back to the link, starts one actor per `proxy_request`, forwards later frames of a request to its
// actor's port, and writes what actors send back, but only on the socket their request came in on
// (PROTOCOL.md §3.4: nothing of an old socket is sent on a new one).
//
//   frame ─► peek ─┬─ control type ─────────────► link.handleControl
//                  ├─ proxy_request ─► admit ─► host.run(actor, port) ── send/done ─► link.send (same socket only)
//                  ├─ chunk/end/cancel ─► actor port (unknown id: count)
//                  └─ unknown type ─► count + protocol_fallback once per socket

import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Connection } from '../link/connection.js';
import type { SessionHandlers } from '../link/control-plane-link.js';
import { peekEnvelope, type EnvelopePeek } from '../protocol/envelope-peek.js';
import { encodeEnvelope, parseEnvelope, type Envelope, type JsonObject } from '../protocol/envelope.js';
import { decodeRequestBodyFrame } from '../protocol/binary-frame.js';
import { InboundType, OutboundType, SUPPORTED_TYPES, isKnownInboundType } from '../protocol/message-types.js';
import { isValidSessionPath } from '../protocol/kube-session-rules.js';
import {
  ActorKind,
  CancelReason,
  isActorOutbound,
  ownedCopy,
  type ActorInbound,
  type ActorOutbound,
} from '../messages/actor-messages.js';
import { FALLBACK_AGENT_NAME, FALLBACK_MODE, FALLBACK_PROTOCOL_VERSION } from '../protocol/constants.js';
import type { ActorHost } from '../pool/actor-host.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { AgentError, ErrorCode } from '../errors.js';
import { RecentIds } from './recent-ids.js';

/** What the router needs from the link. */
export interface RouterLink {
  send(connection: Connection, data: string | Uint8Array, isBinary: boolean, onWritten?: () => void): boolean;
  handleControl(connection: Connection, envelope: Envelope): void;
}

interface ActorEntry {
  readonly requestId: string;
  readonly connection: Connection;
  readonly port: MessagePort;
  isDone: boolean;
  isDetached: boolean;
  /** A `body_binary` request whose request-body frame has not arrived yet (§9.14). */
  awaitsBinaryBody: boolean;
  /** Bytes sent for credit and not yet granted back: what this stream holds in the socket's buffer. */
  outstandingBytes: number;
}

/** Outbound-buffer water marks (§9.11): above the high mark no credit is granted until the low mark. */
export const OUTBOUND_HIGH_WATER_BYTES = 4 * 1024 * 1024;
export const OUTBOUND_LOW_WATER_BYTES = 1024 * 1024;
/** Flow control is not a protocol timer: the drain poll runs on real time even under a simulated clock. */
const DRAIN_POLL_MS = 20;

const CONTROL_TYPES: ReadonlySet<string> = new Set([
  InboundType.registerSuccess,
  InboundType.registerInProgress,
  InboundType.heartbeatAck,
  InboundType.ping,
  InboundType.pong,
  InboundType.error,
  InboundType.gatewayHello,
]);

export class StreamRouter implements SessionHandlers {
  readonly #link: () => RouterLink;
  readonly #host: ActorHost;
  readonly #sessionHost: ActorHost;
  readonly #metrics: AgentMetrics;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #actors = new Map<string, ActorEntry>();
  /** kubectl sessions by stream id (§13); sessions started through proxy_request live in #actors. */
  readonly #sessions = new Map<string, ActorEntry>();
  readonly #recent = new RecentIds(4096);
  readonly #running = new Set<Promise<void>>();
  /** Credit held back while the socket's buffer is above the high-water mark. */
  readonly #heldGrants: { entry: ActorEntry; bytes: number }[] = [];
  #drainTimer: TimerHandle | undefined;

  constructor(link: () => RouterLink, host: ActorHost, sessionHost: ActorHost, metrics: AgentMetrics, logger: Logger, clock: Clock) {
    this.#link = link;
    this.#host = host;
    this.#sessionHost = sessionHost;
    this.#metrics = metrics;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Requests whose actor has not reported `done` and whose socket is still open. */
  get activeRequests(): number {
    return this.#actors.size;
  }

  /** kubectl WebSocket sessions in progress. */
  get activeSessions(): number {
    return this.#sessions.size;
  }

  /** Bytes streaming actors have sent that the socket has not yet confirmed (bounded by their credit). */
  get outstandingStreamBytes(): number {
    let total = 0;
    for (const entry of this.#actors.values()) total += entry.outstandingBytes;
    for (const entry of this.#sessions.values()) total += entry.outstandingBytes;
    return total;
  }

  onSessionStart(_connection: Connection): void {
    // Nothing to set up: actors are created per request.
  }

  onSessionEnd(connection: Connection): void {
    for (const entry of [...this.#actors.values(), ...this.#sessions.values()]) {
      if (entry.connection !== connection) continue;
      this.#detach(entry, CancelReason.connectionLost);
    }
  }

  onFrame(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.#onEnvelopeBytes(connection, data);
      return;
    }
    // §4.3, yamux inactive: (a) the body of a pending body_binary request, (b) JSON in binary,
    // (c) an unmatched body frame, (d) malformed.
    const bodyFrame = decodeRequestBodyFrame(data);
    const waiting = bodyFrame === undefined ? undefined : this.#actors.get(bodyFrame.requestId);
    if (bodyFrame !== undefined && waiting !== undefined && waiting.awaitsBinaryBody && waiting.connection === connection) {
      waiting.awaitsBinaryBody = false;
      const body = ownedCopy(bodyFrame.body);
      const message: ActorInbound = { type: 'body', data: body };
      waiting.port.postMessage(message, [body.buffer as ArrayBuffer]);
      this.#metrics.inc('binaryProtocolRequests', { direction: 'request' });
      return;
    }
    let index = 0;
    while (index < data.length && (data[index] === 0x20 || data[index] === 0x09 || data[index] === 0x0a || data[index] === 0x0d)) index++;
    if (data[index] === 0x7b) {
      const peek = peekEnvelope(data);
      if (peek !== undefined) {
        this.#dispatch(connection, peek, data);
        return;
      }
    }
    if (bodyFrame !== undefined) this.#metrics.inc('binaryBodyUnmatched');
    else this.#metrics.inc('binaryFrameMalformed');
    this.#logger.debug({ bytes: data.length }, 'binary frame dropped');
  }

  /** Cancels every actor and waits (bounded by the actors' own cancellation) for them to finish. */
  async close(): Promise<void> {
    for (const entry of [...this.#actors.values(), ...this.#sessions.values()]) this.#detach(entry, CancelReason.shutdown);
    await Promise.allSettled([...this.#running]);
    this.#drainTimer?.cancel();
    this.#drainTimer = undefined;
    this.#heldGrants.length = 0;
  }

  #onEnvelopeBytes(connection: Connection, data: Buffer): void {
    const peek = peekEnvelope(data);
    if (peek === undefined) {
      this.#metrics.inc('inboundMalformed');
      this.#logger.debug({ bytes: data.length }, 'malformed frame dropped');
      return;
    }
    this.#dispatch(connection, peek, data);
  }

  #dispatch(connection: Connection, peek: EnvelopePeek, data: Buffer): void {
    const type = peek.type;
    if (CONTROL_TYPES.has(type)) {
      const envelope = parseEnvelope(data);
      if (envelope === undefined) this.#metrics.inc('inboundMalformed');
      else this.#link().handleControl(connection, envelope);
      return;
    }
    switch (type) {
      case InboundType.proxyRequest:
        this.#startRelay(connection, peek, data);
        return;
      case InboundType.proxyRequestChunk:
      case InboundType.proxyRequestStreamEnd:
        this.#forward(peek.requestId, { type: 'frame', data: ownedCopy(data), isBinary: false }, 'requestChunkUnknown');
        return;
      case InboundType.proxyCancel:
        this.#cancel(peek.requestId);
        return;
      case InboundType.proxyWebsocketStart:
      case InboundType.wsStart:
        this.#startSession(connection, peek, data);
        return;
      case InboundType.proxyWebsocketData:
      case InboundType.wsData:
      case InboundType.proxyStreamData: {
        const entry = type === InboundType.proxyStreamData ? this.#relayByRequestId(peek.requestId) : this.#resolveStream(peek);
        if (entry === undefined) this.#metrics.inc('wsDataUnknownStream');
        else this.#postFrame(entry, data);
        return;
      }
      case InboundType.proxyWebsocketClose:
      case InboundType.wsClose: {
        const entry = this.#resolveStream(peek);
        if (entry !== undefined) this.#postFrame(entry, data); // a close for an unknown stream is ignored (§12.2)
        return;
      }
      case InboundType.tcpTunnelStart:
        this.#reply(connection, OutboundType.tcpTunnelClose, { reason: 'connection_failed', error: 'tcp tunnels not supported' }, peek.requestId);
        return;
      case InboundType.tcpTunnelData:
      case InboundType.tcpTunnelClose:
      case InboundType.udpTunnelData:
        this.#metrics.inc('tunnelMessageDropped');
        return;
      default:
        break;
    }
    if (isKnownInboundType(type)) return;
    this.#onUnknownType(connection, peek);
  }

  #onUnknownType(connection: Connection, peek: EnvelopePeek): void {
    this.#metrics.countUnknownType(peek.type);
    if (!connection.shouldSendFallback(peek.type)) return;
    const payload: JsonObject = {
      agent_version: FALLBACK_AGENT_NAME,
      unknown_type: peek.type,
      supported_types: [...SUPPORTED_TYPES],
      fallback_mode: FALLBACK_MODE,
      protocol_version: FALLBACK_PROTOCOL_VERSION,
      timestamp: new Date(this.#clock.now()).toISOString(),
    };
    if (peek.requestId !== undefined) payload['original_request_id'] = peek.requestId.replace(/[\r\n]/g, '');
    this.#reply(connection, OutboundType.protocolFallback, payload, undefined);
    this.#logger.warn({ type: peek.type.slice(0, 64) }, 'unknown message type');
  }

  /**
   * §13.2–§13.3: validate before any state exists, close a session with the same id without a message,
   * and register the new one synchronously so data sent right after the start finds it.
   */
  #startSession(connection: Connection, peek: EnvelopePeek, data: Buffer): void {
    const streamId = peek.payloadStreamId;
    if (streamId === undefined) {
      this.#reply(connection, OutboundType.proxyError, { request_id: peek.requestId ?? '', error: 'missing stream_id' }, peek.requestId);
      return;
    }
    const start = parseEnvelope(data); // a start carries no body: small enough to read here
    const path = typeof start?.payload['path'] === 'string' ? start.payload['path'] : '';
    if (!isValidSessionPath(path)) {
      this.#reply(connection, OutboundType.proxyError, { request_id: streamId, error: 'invalid path: must be a Kubernetes API path' }, streamId);
      return;
    }
    const previous = this.#sessions.get(streamId);
    if (previous !== undefined) this.#detach(previous, CancelReason.replaced);
    if (!this.#sessionHost.canAdmit()) {
      this.#reply(connection, OutboundType.proxyError, { request_id: streamId, error: 'too many concurrent requests' }, streamId);
      this.#reply(connection, OutboundType.proxyWebsocketClose, { stream_id: streamId }, streamId);
      this.#metrics.inc('admissionRefused', { reason: 'saturated' });
      return;
    }
    const channel = new MessageChannel();
    const entry = this.#newEntry(streamId, connection, channel.port1, false);
    this.#sessions.set(streamId, entry);
    this.#metrics.inc('sessionsStarted');
    const running = this.#sessionHost
      .run({ kind: ActorKind.wsSession, streamId, frame: ownedCopy(data), port: channel.port2 })
      .catch((error: unknown) => this.#actorOnFailure(entry, error))
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  /** §12.2: a payload stream_id naming a session wins; else the first non-empty id, sessions then relays. */
  #resolveStream(peek: EnvelopePeek): ActorEntry | undefined {
    if (peek.payloadStreamId !== undefined) {
      const session = this.#sessions.get(peek.payloadStreamId);
      if (session !== undefined) return session;
    }
    const id = peek.payloadRequestId ?? peek.payloadStreamId ?? peek.requestId;
    if (id === undefined) return undefined;
    return this.#sessions.get(id) ?? this.#actors.get(id);
  }

  #relayByRequestId(requestId: string | undefined): ActorEntry | undefined {
    return requestId === undefined ? undefined : this.#actors.get(requestId);
  }

  #postFrame(entry: ActorEntry, data: Buffer): void {
    const bytes = ownedCopy(data);
    const message: ActorInbound = { type: 'frame', data: bytes, isBinary: false };
    entry.port.postMessage(message, [bytes.buffer as ArrayBuffer]);
  }

  #newEntry(id: string, connection: Connection, port: MessagePort, awaitsBinaryBody: boolean): ActorEntry {
    const entry: ActorEntry = { requestId: id, connection, port, isDone: false, isDetached: false, awaitsBinaryBody, outstandingBytes: 0 };
    port.on('message', (message: unknown) => this.#portOnMessage(entry, message));
    return entry;
  }

  #startRelay(connection: Connection, peek: EnvelopePeek, data: Buffer): void {
    const requestId = peek.requestId;
    if (requestId === undefined) {
      this.#metrics.inc('inboundMalformed');
      this.#logger.debug('proxy_request without request_id dropped');
      return;
    }
    if (peek.payloadKind !== 'object') {
      this.#reply(connection, OutboundType.proxyError, { error: 'invalid proxy_request: payload must be a JSON object' }, requestId);
      this.#metrics.inc('relayRequests', { outcome: 'invalid', mode: 'none' });
      return;
    }
    if (this.#actors.has(requestId)) {
      this.#reply(connection, OutboundType.proxyError, { error: 'duplicate request_id' }, requestId);
      this.#metrics.inc('admissionRefused', { reason: 'duplicate' });
      return;
    }
    if (!this.#host.canAdmit()) {
      this.#reply(connection, OutboundType.proxyError, { error: 'too many concurrent requests' }, requestId);
      this.#metrics.inc('admissionRefused', { reason: 'saturated' });
      return;
    }
    const channel = new MessageChannel();
    const entry = this.#newEntry(requestId, connection, channel.port1, peek.payloadBodyBinary);
    this.#actors.set(requestId, entry);
    const frame = ownedCopy(data);
    const running = this.#host
      .run({ kind: ActorKind.httpRelay, requestId, frame, port: channel.port2 })
      .catch((error: unknown) => this.#actorOnFailure(entry, error))
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  #portOnMessage(entry: ActorEntry, message: unknown): void {
    if (!isActorOutbound(message)) return;
    const outbound: ActorOutbound = message;
    if (outbound.type === 'send') {
      if (entry.isDetached) return; // its socket is gone: never send it on a newer one (C32)
      const bytes = Buffer.from(outbound.data.buffer, outbound.data.byteOffset, outbound.data.byteLength);
      if (!outbound.needsCredit) {
        this.#link().send(entry.connection, bytes, outbound.isBinary);
        return;
      }
      entry.outstandingBytes += bytes.length;
      this.#link().send(entry.connection, bytes, outbound.isBinary, () => this.#grant(entry, bytes.length));
      return;
    }
    this.#applyDeltas(outbound);
    this.#finish(entry);
  }

  /**
   * The socket took `bytes` of this stream: give them back as credit, unless the socket's buffer is above
   * the high-water mark, in which case grants wait until it falls to the low-water mark.
   */
  #grant(entry: ActorEntry, bytes: number): void {
    if (entry.isDone) return;
    if (this.#heldGrants.length === 0 && entry.connection.bufferedAmount <= OUTBOUND_HIGH_WATER_BYTES) {
      this.#postCredit(entry, bytes);
      return;
    }
    this.#heldGrants.push({ entry, bytes });
    this.#drainTimer ??= systemClock.setTimer(DRAIN_POLL_MS, () => this.#releaseHeldGrants());
  }

  #releaseHeldGrants(): void {
    this.#drainTimer = undefined;
    const connection = this.#heldGrants[0]?.entry.connection;
    if (connection !== undefined && connection.isOpen && connection.bufferedAmount > OUTBOUND_LOW_WATER_BYTES) {
      this.#drainTimer = systemClock.setTimer(DRAIN_POLL_MS, () => this.#releaseHeldGrants());
      return;
    }
    for (const { entry, bytes } of this.#heldGrants.splice(0)) this.#postCredit(entry, bytes);
  }

  #postCredit(entry: ActorEntry, bytes: number): void {
    entry.outstandingBytes -= bytes;
    if (entry.isDone) return;
    const message: ActorInbound = { type: 'credit', bytes };
    entry.port.postMessage(message);
  }

  /** The actor's metric deltas, flushed with its `done`. */
  #applyDeltas(done: Extract<ActorOutbound, { type: 'done' }>): void {
    const metrics = this.#metrics;
    if (done.kind === ActorKind.wsSession) {
      metrics.inc('actorTasks', { kind: done.kind, outcome: done.outcome });
      metrics.inc('sessionsEnded', { outcome: done.outcome });
      metrics.observe('sessionDuration', done.durationMs / 1000);
      metrics.inc('sessionFrames', { direction: 'to_cluster' }, done.session?.framesIn ?? 0);
      metrics.inc('sessionFrames', { direction: 'to_control_plane' }, done.session?.framesOut ?? 0);
      metrics.inc('sessionBytes', { direction: 'to_cluster' }, done.upstreamBytesSent);
      metrics.inc('sessionBytes', { direction: 'to_control_plane' }, done.upstreamBytesReceived);
      metrics.inc('wsDataUnknownStream', {}, done.session?.dropped ?? 0);
      return;
    }
    metrics.inc('relayRequests', { outcome: done.outcome, mode: done.mode });
    metrics.observe('relayDuration', done.durationMs / 1000, { mode: done.mode });
    metrics.inc('actorTasks', { kind: ActorKind.httpRelay, outcome: done.outcome });
    metrics.inc('kubeApiBytes', { direction: 'sent' }, done.upstreamBytesSent);
    metrics.inc('kubeApiBytes', { direction: 'received' }, done.upstreamBytesReceived);
    if (done.mode === 'binary') metrics.inc('binaryProtocolRequests', { direction: 'response' });
    const compression = done.compression;
    if (compression === undefined) return;
    if (compression.skipReason === undefined) {
      metrics.inc('compressionDecisions', { outcome: 'compressed', reason: 'none' });
      metrics.observe('compressionRatio', compression.rawBytes === 0 ? 1 : compression.wireBytes / compression.rawBytes);
      metrics.inc('bandwidthSaved', {}, compression.rawBytes - compression.wireBytes);
    } else {
      metrics.inc('compressionDecisions', { outcome: 'skipped', reason: compression.skipReason });
    }
  }

  #actorOnFailure(entry: ActorEntry, error: unknown): void {
    if (entry.isDone) return;
    const failure = error instanceof AgentError ? error : new AgentError(ErrorCode.actorFailed, `actor failed: ${String(error)}`);
    this.#logger.error({ err: error, requestId: entry.requestId, code: failure.code }, 'actor ended without done');
    if (!entry.isDetached) this.#reply(entry.connection, OutboundType.proxyError, { error: failure.message }, entry.requestId);
    this.#metrics.inc('relayRequests', { outcome: 'actor_error', mode: 'none' });
    this.#metrics.inc('actorTasks', { kind: ActorKind.httpRelay, outcome: 'actor_error' });
    this.#metrics.inc('actorErrors', { code: failure.code });
    if (failure.code === ErrorCode.actorFailed) {
      this.#metrics.inc('workerCrashes');
      this.#metrics.inc('metricDeltasLost');
    }
    this.#finish(entry);
  }

  #finish(entry: ActorEntry): void {
    if (entry.isDone) return;
    entry.isDone = true;
    entry.port.close();
    this.#forget(entry);
  }

  #forget(entry: ActorEntry): void {
    if (this.#actors.get(entry.requestId) === entry) this.#actors.delete(entry.requestId);
    if (this.#sessions.get(entry.requestId) === entry) this.#sessions.delete(entry.requestId);
    this.#recent.add(entry.requestId);
  }

  /** Stops an actor's output from reaching any socket and tells it to cancel; `done` still closes the port. */
  #detach(entry: ActorEntry, reason: CancelReason): void {
    entry.isDetached = true;
    this.#forget(entry);
    const message: ActorInbound = { type: 'cancel', reason };
    entry.port.postMessage(message);
  }

  #forward(requestId: string | undefined, message: ActorInbound, unknownCounter: 'requestChunkUnknown'): void {
    const entry = requestId === undefined ? undefined : this.#actors.get(requestId);
    if (entry === undefined) {
      this.#metrics.inc(requestId !== undefined && this.#recent.has(requestId) ? 'lateMessage' : unknownCounter);
      return;
    }
    const transfer = message.type === 'frame' ? [message.data.buffer as ArrayBuffer] : [];
    entry.port.postMessage(message, transfer);
  }

  #cancel(requestId: string | undefined): void {
    const entry = requestId === undefined ? undefined : this.#actors.get(requestId);
    if (entry === undefined) {
      this.#metrics.inc('lateMessage'); // unknown or finished ids are ignored (§9.13)
      return;
    }
    // Not detached: a started stream still owes its `proxy_response_abort {"error":"canceled"}`.
    const message: ActorInbound = { type: 'cancel', reason: CancelReason.proxyCancel };
    entry.port.postMessage(message);
  }

  #reply(connection: Connection, type: string, payload: JsonObject, requestId: string | undefined): void {
    this.#link().send(connection, encodeEnvelope(type, payload, requestId, this.#clock.now()), false);
  }
}
