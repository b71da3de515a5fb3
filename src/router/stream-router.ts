// The router: the stream side of the session socket. The link's inbound demux (link/inbound-demux.ts)
// hands it every message that is not a control message, already peeked (type and ids only, never the
// body). It admits one actor per `proxy_request` / `proxy_websocket_start`, forwards later frames of a
// stream to its actor's port, and writes what actors send back on the Connection their stream came in on,
// and only there (PROTOCOL.md §3.4: nothing of an old socket is sent on a new one). It also owes every
// stream exactly one terminal reply: when an actor fails, its thread dies, it waited past its deadline, or
// the drain limit passes, the router sends what the stream still owes (reply-ledger.ts) and detaches it.
// It never calls the link.
//
//   onEnvelope ─┬─ proxy_request / ws_start ─► admission (lane) ─► host.run(actor, port) ── send/done ─► connection.send
//               ├─ chunk/end/cancel/data ─► actor port (unknown id: count)
//               └─ unknown type ─► count + protocol_fallback once per type and socket
//   onStreamFrame / takeRequestBody ─► actor port
//   onGatewayHello ─► tunnel/tunnel-streams.ts (yamux bytes go from the demux to connection.yamux; one long-lane actor per stream)

import type { Logger } from 'pino';
import type { Connection } from '../link/connection.js';
import type { StreamSide } from '../link/inbound-demux.js';
import type { EnvelopePeek, RequestTraits } from '../protocol/envelope-peek.js';
import { encodeEnvelope, parseEnvelope, type JsonObject } from '../protocol/envelope.js';
import type { RequestBodyFrame } from '../protocol/binary-frame.js';
import { InboundType, OutboundType, isKnownInboundType } from '../protocol/message-types.js';
import { isValidSessionPath } from '../protocol/kube-session-rules.js';
import { effectiveDeadlineMs } from '../protocol/request-deadline.js';
import { ActorKind, CancelReason, isActorOutbound, ownedCopy, type ActorInbound, type ActorPort, type ActorTask } from '../messages/actor-messages.js';
import type { ActorHost } from '../pool/actor-host.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { applyActorDone, countActorFailure } from '../metrics/actor-deltas.js';
import { systemClock, type Clock, type TimerHandle } from '../util/clock.js';
import { AgentError, ErrorCode } from '../errors.js';
import { StreamTable, type SessionSocket, type StreamEntry } from './stream-entry.js';
import { CreditGrants, OUTBOUND_HIGH_WATER_BYTES } from './credit-grants.js';
import { Admission, Lane, type LaneLimits, type Ticket } from './admission.js';
import { Placement, requestShape, type DispatchPolicy } from './dispatch-policy.js';
import { ReplyLedger, StreamKind, outboundType } from './reply-ledger.js';
import { streamFrameAsJson } from './stream-frame-fallback.js';
import { FallbackTypes, protocolFallbackPayload } from './fallback-types.js';
import { StreamFrameKind, isStreamFrame, readStreamFrameHeader } from '../protocol/stream-frame.js';
import { resolveHostRoute } from './host-routing.js';
import type { IngressRouteLookup } from '../cluster/ingress/route-cache.js';
import { TunnelStreams, type TunnelSettings } from '../tunnel/tunnel-streams.js';
import type { TunnelStreamTask } from '../messages/tunnel-messages.js';

export interface RouterOptions {
  /** The actor host of each lane: short requests, and long-lived streams (watches, follows, sessions, relays). */
  readonly hosts: Readonly<Record<Lane, ActorHost>>;
  /**
   * With worker threads: the main thread's own hosts. `host` and the policy place short requests between
   * the main thread and the short lane's pool (router/dispatch-policy.ts); `relayHost` runs the long lane's
   * byte relays (kubectl sessions, WebSocket relays, tunnel streams), which copy bytes and would only add
   * two thread crossings per frame on a worker (docs/decisions.md). Absent: every actor runs on its lane's host.
   */
  readonly inline?: { readonly host: ActorHost; readonly relayHost: ActorHost; readonly policy: DispatchPolicy };
  readonly lanes: Readonly<Record<Lane, LaneLimits>>;
  /** Deadline of a request that names none (§9.2), counted from its arrival while it waits for a slot. */
  readonly requestTimeoutMs: number;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Bytes queued on the current session socket: above the high-water mark no new actor starts (C99). */
  readonly outboundBufferedBytes?: () => number;
  /** Told of every actor that failed instead of reporting `done` (tests fail on it). */
  readonly onActorFailure?: (error: Error) => void;
  /** The ingress route cache for host routing (§9.5 steps 1 and 4); absent when the gateway proxy is off. */
  readonly ingressRoutes?: IngressRouteLookup | undefined;
  /** TCP/UDP tunnels over yamux (§15); absent when `tunnel.enabled` is false. */
  readonly tunnel?: TunnelSettings;
}

/** How long a shutdown waits for cancelled actors to report `done` before the pools are closed. */
const ACTOR_SETTLE_WAIT_MS = 2_000;

export const SHUTTING_DOWN = 'agent shutting down';
const DEADLINE_EXCEEDED = 'context deadline exceeded';
const TOO_MANY = 'too many concurrent requests';
const BODY_BINARY_WITH_YAMUX = 'invalid proxy_request: body_binary is not supported while yamux is active';

/** A proxy_request's lane: anything that may live as long as its client wants goes to the long lane (C96). */
function laneOf(traits: RequestTraits | undefined): Lane {
  return traits !== undefined && (traits.isWebSocket || traits.isLongLived) ? Lane.long : Lane.short;
}

export class StreamRouter implements StreamSide {
  readonly #hosts: Readonly<Record<Lane, ActorHost>>;
  readonly #inline: RouterOptions['inline'];
  readonly #admission: Admission;
  readonly #requestTimeoutMs: number;
  readonly #metrics: AgentMetrics;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #onActorFailure: ((error: Error) => void) | undefined;
  readonly #ingressRoutes: IngressRouteLookup | undefined;
  readonly #streams = new StreamTable();
  readonly #credit = new CreditGrants();
  /** §7.7: set at the first shutdown signal; new streams are refused from then on. */
  #isDraining = false;
  readonly #tunnels: TunnelStreams | undefined;
  readonly #fallbackTypes = new FallbackTypes();

  constructor(options: RouterOptions) {
    this.#hosts = options.hosts;
    this.#inline = options.inline;
    // Request deadlines run on real time, as the actors' do (they compare against Date.now()).
    const buffered = options.outboundBufferedBytes ?? ((): number => 0);
    // C99: every kind of outbound data counts. Streams pause through credit; buffered responses cannot be
    // paused once read, so no new actor starts while the socket is above the high-water mark.
    this.#admission = new Admission(options.lanes, systemClock, () => buffered() <= OUTBOUND_HIGH_WATER_BYTES);
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#onActorFailure = options.onActorFailure;
    this.#ingressRoutes = options.ingressRoutes;
    const tunnel = options.tunnel;
    this.#tunnels =
      tunnel === undefined
        ? undefined
        : new TunnelStreams({
            send: (connection, bytes, onWritten) => connection.send(bytes, true, onWritten),
            admit: (task, onStart, onFailure) => this.#admitTunnel(task, onStart, onFailure),
            createChannel: () => this.#relayHost.createChannel(),
            settings: tunnel,
            metrics: options.metrics,
            logger: options.logger.child({ part: 'tunnel' }),
            clock: options.clock,
          });
  }

  /** Where the long lane's byte relays run: inline with `AGENT_DISPATCH=auto` and workers, else the lane's pool. */
  get #relayHost(): ActorHost {
    return this.#inline?.relayHost ?? this.#hosts[Lane.long];
  }

  /** Tunnel streams open over yamux. */
  get activeTunnelStreams(): number {
    return this.#tunnels?.activeStreams ?? 0;
  }

  /** §15.2: true when a yamux session now exists on `connection` (the link then acks); false without a tunnel. */
  onGatewayHello(connection: Connection, payload: Readonly<Record<string, unknown>>): boolean {
    return this.#tunnels?.onGatewayHello(connection, payload) ?? false;
  }

  /** A tunnel stream's actor in the long lane: it shares the lane's slots and queue; it owes no JSON reply. */
  #admitTunnel(task: TunnelStreamTask, onStart: () => void, onFailure: (error: unknown) => void): { cancel(): void } | undefined {
    if (this.#isDraining) return undefined;
    const host = this.#relayHost;
    const ticket = this.#admission.offer(Lane.long, {
      deadlineMs: undefined,
      start: () => {
        onStart();
        return host.run(task).catch(onFailure);
      },
      onExpire: () => undefined,
    });
    if (ticket === undefined) return undefined;
    return { cancel: () => (ticket.isWaiting ? this.#admission.withdraw(ticket) : undefined) };
  }

  /** Requests whose actor has not reported `done` and whose socket is still open. */
  get activeRequests(): number {
    return this.#streams.requestCount;
  }

  /** kubectl WebSocket sessions in progress. */
  get activeSessions(): number {
    return this.#streams.sessionCount;
  }

  /** Actors running and requests waiting for a slot, per lane. */
  laneLoad(lane: Lane): { readonly running: number; readonly waiting: number; readonly slots: number } {
    return { running: this.#admission.running(lane), waiting: this.#admission.waiting(lane), slots: this.#admission.slots(lane) };
  }

  /** Bytes streaming actors have sent that the socket has not yet confirmed (bounded by their credit). */
  get outstandingStreamBytes(): number {
    let total = 0;
    for (const entry of this.#streams.all()) total += entry.outstandingBytes;
    return total;
  }

  onSessionStart(_connection: SessionSocket): void {
    // Nothing to set up: actors are created per request.
  }

  onSessionEnd(connection: SessionSocket): void {
    for (const entry of this.#streams.all()) {
      if (entry.connection !== connection) continue;
      this.#detach(entry, CancelReason.connectionLost);
    }
    this.#fallbackTypes.forget(connection);
  }

  /** §4.3 (a): the body a `body_binary` request on this socket waits for goes to its actor. */
  takeRequestBody(connection: SessionSocket, frame: RequestBodyFrame): boolean {
    const waiting = this.#streams.request(frame.requestId);
    if (waiting === undefined || !waiting.awaitsBinaryBody || waiting.connection !== connection) return false;
    waiting.awaitsBinaryBody = false;
    const body = ownedCopy(frame.body);
    const message: ActorInbound = { type: 'body', data: body };
    waiting.port.postMessage(message, [body.buffer as ArrayBuffer]);
    this.#metrics.inc('binaryProtocolRequests', { direction: 'request' });
    return true;
  }

  /**
   * A stream frame from the control plane (only relay data travels this way inbound): the header names
   * the stream; its payload goes to the stream's actor as it is, never decoded here.
   */
  onStreamFrame(connection: SessionSocket, data: Buffer): void {
    const header = readStreamFrameHeader(data);
    if (header === undefined || header.kind !== StreamFrameKind.wsData) {
      this.#metrics.inc('binaryFrameMalformed');
      this.#logger.debug({ bytes: data.length }, 'malformed stream frame dropped');
      return;
    }
    // §12.2 with one id: kubectl sessions first, then relays started by proxy_request.
    const entry = this.#streams.relay(header.streamId);
    if (entry === undefined || entry.connection !== connection || !entry.isRelay) {
      this.#metrics.inc('wsDataUnknownStream');
      return;
    }
    this.#metrics.inc('streamFrames', { direction: 'in' });
    const payload = ownedCopy(data.subarray(header.payloadOffset));
    const message: ActorInbound = { type: 'ws-data', data: payload };
    entry.port.postMessage(message, [payload.buffer as ArrayBuffer]);
  }

  /** §7.7 step 1: from now on every new request and session is refused with `agent shutting down`. */
  beginDrain(): void {
    this.#isDraining = true;
    this.#tunnels?.beginDrain();
  }

  /** Resolves when no request or session is in flight or waiting (at once if none is). */
  whenIdle(): Promise<void> {
    return this.#streams.whenIdle();
  }

  /**
   * §7.7 step 3: ends whatever is still in flight with the terminal reply it owes (`agent shutting down`;
   * a session its one `proxy_websocket_close`), and cancels the actors.
   */
  endAll(error: string = SHUTTING_DOWN): void {
    this.#tunnels?.resetAll();
    for (const entry of this.#streams.all()) {
      this.#metrics.inc('streamErrors', { code: ErrorCode.shuttingDown });
      this.#terminate(entry, error, CancelReason.shutdown);
    }
  }

  /** Cancels every actor and waits, bounded, for them to finish; nothing more is sent. */
  async close(): Promise<void> {
    this.#tunnels?.resetAll();
    for (const entry of this.#streams.all()) this.#detach(entry, CancelReason.shutdown);
    let timer: TimerHandle | undefined;
    await Promise.race([
      this.#admission.settled(),
      new Promise<void>((resolve) => (timer = systemClock.setTimer(ACTOR_SETTLE_WAIT_MS, resolve))),
    ]);
    timer?.cancel();
    this.#admission.close();
    this.#credit.close();
  }

  /** Every message that is not a control message (link/inbound-demux.ts), dispatched by its type. */
  onEnvelope(connection: SessionSocket, peek: EnvelopePeek, data: Buffer): void {
    const type = peek.type;
    switch (type) {
      case InboundType.proxyRequest:
        this.#startRelay(connection, peek, data);
        return;
      case InboundType.proxyRequestChunk:
      case InboundType.proxyRequestStreamEnd:
        this.#forward(peek.requestId, data, 'requestChunkUnknown');
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
        const entry = type === InboundType.proxyStreamData ? this.#streams.request(peek.requestId) : this.#streams.resolve(peek);
        if (entry === undefined) this.#metrics.inc('wsDataUnknownStream');
        else this.#postFrame(entry, data);
        return;
      }
      case InboundType.proxyWebsocketClose:
      case InboundType.wsClose: {
        const entry = this.#streams.resolve(peek);
        if (entry === undefined) return; // a close for an unknown stream is ignored (§12.2)
        entry.ledger.noteCloseFromPeer();
        this.#postFrame(entry, data);
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

  #onUnknownType(connection: SessionSocket, peek: EnvelopePeek): void {
    this.#metrics.countUnknownType(peek.type);
    if (!this.#fallbackTypes.isFirst(connection, peek.type)) return;
    this.#reply(connection, OutboundType.protocolFallback, protocolFallbackPayload(peek.type, peek.requestId, this.#clock.now()), undefined);
    // Logged with the fallback, so once per type and socket (and at most for the bounded set of types):
    // a control plane repeating a type it should not send cannot flood the log; the counter has them all.
    this.#logger.warn({ type: peek.type.slice(0, 64) }, 'unknown message type');
  }

  /**
   * §13.2–§13.3: validate before any state exists, close a session with the same id without a message,
   * and register the new one synchronously so data sent right after the start finds it.
   */
  #startSession(connection: SessionSocket, peek: EnvelopePeek, data: Buffer): void {
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
    if (this.#isDraining) {
      this.#refuse(connection, streamId, new AgentError(ErrorCode.shuttingDown, SHUTTING_DOWN), 'shutting_down', { request_id: streamId });
      return;
    }
    const previous = this.#streams.session(streamId);
    if (previous !== undefined) this.#detach(previous, CancelReason.replaced);
    const host = this.#relayHost;
    const channel = host.createChannel();
    const entry = this.#newEntry(streamId, connection, channel.port1, {
      actorKind: ActorKind.wsSession,
      ledger: new ReplyLedger(StreamKind.session, streamId, false),
      awaitsBinaryBody: false,
      isAppRelay: false,
      isRelay: true,
    });
    const task: ActorTask = {
      kind: ActorKind.wsSession,
      streamId,
      frame: ownedCopy(data),
      port: channel.port2,
      shouldUseStreamFrames: connection.isStreamFramesActive,
    };
    const ticket = this.#admit(entry, Lane.long, task, undefined, host);
    if (ticket === undefined) {
      channel.port1.close();
      this.#refuse(connection, streamId, new AgentError(ErrorCode.poolSaturated, TOO_MANY), 'saturated', { request_id: streamId });
      this.#reply(connection, OutboundType.proxyWebsocketClose, { stream_id: streamId }, streamId);
      return;
    }
    this.#streams.addSession(entry);
    this.#metrics.inc('sessionsStarted');
  }

  #postFrame(entry: StreamEntry, data: Buffer): void {
    const bytes = ownedCopy(data);
    const message: ActorInbound = { type: 'frame', data: bytes, isBinary: false };
    entry.port.postMessage(message, [bytes.buffer as ArrayBuffer]);
  }

  #newEntry(
    id: string,
    connection: SessionSocket,
    port: ActorPort,
    parts: { actorKind: ActorKind; ledger: ReplyLedger; awaitsBinaryBody: boolean; isAppRelay: boolean; isRelay: boolean },
  ): StreamEntry {
    const entry: StreamEntry = {
      requestId: id,
      connection,
      port,
      actorKind: parts.actorKind,
      ledger: parts.ledger,
      ticket: undefined,
      isDone: false,
      isDetached: false,
      awaitsBinaryBody: parts.awaitsBinaryBody,
      outstandingBytes: 0,
      isAppRelay: parts.isAppRelay,
      isRelay: parts.isRelay,
      hasStreamFramesOff: false,
    };
    port.on('message', (message: unknown) => this.#portOnMessage(entry, message));
    return entry;
  }

  /** Offers the actor to its lane; a request still waiting at its deadline is answered here (§9.4). */
  #admit(entry: StreamEntry, lane: Lane, task: ActorTask, deadlineMs: number | undefined, host: ActorHost = this.#hosts[lane]): Ticket | undefined {
    const ticket = this.#admission.offer(lane, {
      deadlineMs,
      start: () =>
        host.run(task).catch((error: unknown) => this.#actorOnFailure(entry, error)),
      onExpire: () => {
        this.#metrics.inc('admissionRefused', { reason: 'deadline' });
        this.#metrics.inc('streamErrors', { code: ErrorCode.upstreamTimeout });
        this.#terminate(entry, DEADLINE_EXCEEDED, CancelReason.shutdown);
        this.#finish(entry);
      },
    });
    entry.ticket = ticket;
    return ticket;
  }

  #startRelay(connection: SessionSocket, peek: EnvelopePeek, data: Buffer): void {
    const arrivedMs = Date.now();
    const requestId = peek.requestId;
    if (requestId === undefined) {
      this.#metrics.inc('inboundMalformed');
      this.#logger.debug('proxy_request without request_id dropped');
      return;
    }
    if (peek.payloadKind !== 'object') {
      this.#refuse(connection, requestId, new AgentError(ErrorCode.requestInvalid, 'invalid proxy_request: payload must be a JSON object'), undefined);
      this.#metrics.inc('relayRequests', { outcome: 'invalid', mode: 'none' });
      return;
    }
    if (peek.payloadBodyBinary && connection.isYamuxActive) {
      this.#refuse(connection, requestId, new AgentError(ErrorCode.requestInvalid, BODY_BINARY_WITH_YAMUX), undefined);
      this.#metrics.inc('relayRequests', { outcome: 'invalid', mode: 'none' });
      return;
    }
    if (this.#streams.request(requestId) !== undefined) {
      this.#refuse(connection, requestId, new AgentError(ErrorCode.requestDuplicate, 'duplicate request_id'), 'duplicate');
      return;
    }
    if (this.#isDraining) {
      this.#refuse(connection, requestId, new AgentError(ErrorCode.shuttingDown, SHUTTING_DOWN), 'shutting_down');
      return;
    }
    const traits = peek.request;
    const kind = traits?.isWebSocket === true ? StreamKind.upgrade : StreamKind.request;
    const routedService = resolveHostRoute(traits, this.#ingressRoutes);
    // A host-routed upgrade is an application relay whatever its path (§9.5 step 1 comes before step 2).
    const isKubeSession = traits?.isKubeSession === true && routedService === undefined;
    const isAppRelay = kind === StreamKind.upgrade && !isKubeSession;
    const lane = laneOf(traits);
    let host = kind === StreamKind.upgrade ? this.#relayHost : this.#hosts[lane];
    let shape: string | undefined;
    if (lane === Lane.short && this.#inline !== undefined && traits !== undefined) {
      shape = requestShape(traits.method, traits.path);
      if (this.#inline.policy.place(shape, data.length) === Placement.inline) host = this.#inline.host;
    }
    const channel = host.createChannel();
    const entry = this.#newEntry(requestId, connection, channel.port1, {
      actorKind: ActorKind.httpRelay,
      ledger: new ReplyLedger(kind, requestId, isAppRelay),
      awaitsBinaryBody: peek.payloadBodyBinary,
      isAppRelay,
      isRelay: kind === StreamKind.upgrade,
    });
    if (shape !== undefined) entry.shape = shape;
    const task: ActorTask = {
      kind: ActorKind.httpRelay,
      requestId,
      frame: ownedCopy(data),
      port: channel.port2,
      arrivedMs,
      shouldUseStreamFrames: connection.isStreamFramesActive,
      isYamuxActive: connection.isYamuxActive,
      ...(routedService === undefined ? {} : { routedService }),
    };
    // WebSocket upgrades wait for a slot without a deadline of their own: sessions have none (§13.7).
    const deadlineMs = kind === StreamKind.upgrade ? undefined : effectiveDeadlineMs(traits?.deadline, traits?.timeout, arrivedMs, this.#requestTimeoutMs);
    if (this.#admit(entry, lane, task, deadlineMs, host) === undefined) {
      channel.port1.close();
      this.#refuse(connection, requestId, new AgentError(ErrorCode.poolSaturated, TOO_MANY), 'saturated');
      return;
    }
    this.#streams.addRequest(entry);
  }

  #portOnMessage(entry: StreamEntry, message: unknown): void {
    if (!isActorOutbound(message)) {
      this.#logger.error({ requestId: entry.requestId, kind: entry.actorKind }, 'actor sent a malformed message; dropped');
      return;
    }
    if (message.type === 'send') {
      if (entry.isDetached) return; // its socket is gone, or the router already ended it: never a second reply (C32, C93)
      let bytes: Buffer | string = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength);
      let isBinary = message.isBinary;
      if (isBinary && isStreamFrame(bytes)) {
        // A chunk or relay data: never a terminal reply, so the ledger has nothing to note.
        if (!entry.connection.isStreamFramesActive) {
          const json = this.#streamFrameAsJson(entry, bytes);
          if (json === undefined) return;
          bytes = json;
          isBinary = false;
        } else this.#metrics.inc('streamFrames', { direction: 'out' });
      } else {
        entry.ledger.note(isBinary, isBinary ? undefined : outboundType(bytes));
      }
      if (!message.needsCredit) {
        entry.connection.send(bytes, isBinary);
        return;
      }
      const size = typeof bytes === 'string' ? Buffer.byteLength(bytes, 'utf8') : bytes.length;
      entry.outstandingBytes += size;
      entry.connection.send(bytes, isBinary, () => this.#credit.grant(entry, size));
      return;
    }
    applyActorDone(this.#metrics, message);
    if (entry.shape !== undefined) this.#inline?.policy.learn(entry.shape, message.upstreamBytesReceived);
    if (!entry.isDetached && !entry.ledger.isSettled) {
      // An actor that ends without its terminal reply is a bug; the stream still gets one (C93).
      this.#logger.error({ requestId: entry.requestId, kind: entry.actorKind }, 'actor ended without its terminal reply');
      this.#metrics.inc('streamErrors', { code: ErrorCode.actorFailed });
      this.#terminate(entry, 'agent error: stream ended without a reply', CancelReason.shutdown);
    }
    this.#finish(entry);
  }

  /** A stream frame built before its socket stopped using them: sent as JSON, and the actor is told (once). */
  #streamFrameAsJson(entry: StreamEntry, frame: Buffer): string | undefined {
    if (!entry.hasStreamFramesOff) {
      entry.hasStreamFramesOff = true;
      const message: ActorInbound = { type: 'stream-frames-off' };
      entry.port.postMessage(message);
    }
    const json = streamFrameAsJson(frame, entry.isAppRelay, this.#clock.now());
    if (json === undefined) this.#logger.error({ requestId: entry.requestId }, 'actor sent a malformed stream frame; dropped');
    return json;
  }

  /** The actor's task rejected: it threw, or its thread died (then every actor on that thread lands here). */
  #actorOnFailure(entry: StreamEntry, error: unknown): void {
    if (entry.isDone) return;
    const failure = error instanceof AgentError ? error : new AgentError(ErrorCode.actorFailed, `actor failed: ${String(error)}`);
    this.#logger.error({ err: error, requestId: entry.requestId, code: failure.code }, 'actor ended without done');
    countActorFailure(this.#metrics, entry.actorKind, failure.code, failure.code === ErrorCode.actorFailed);
    this.#metrics.inc('streamErrors', { code: failure.code });
    this.#terminate(entry, failure.message, CancelReason.shutdown);
    this.#finish(entry);
    this.#onActorFailure?.(failure);
  }

  /** Sends the one terminal reply the stream still owes (none once its socket is gone) and detaches it. */
  #terminate(entry: StreamEntry, error: string, reason: CancelReason): void {
    if (!entry.isDetached) {
      const id = entry.requestId;
      for (const owed of entry.ledger.owed(error)) {
        const payload = owed.type === OutboundType.proxyError && entry.actorKind === ActorKind.wsSession ? { request_id: id, ...owed.payload } : owed.payload;
        this.#reply(entry.connection, owed.type, payload, id);
      }
      entry.ledger.settle();
    }
    this.#detach(entry, reason);
  }

  #finish(entry: StreamEntry): void {
    if (entry.isDone) return;
    entry.isDone = true;
    entry.port.close();
    this.#forget(entry);
  }

  #forget(entry: StreamEntry): void {
    this.#streams.remove(entry);
  }

  /** Stops an actor's output from reaching any socket and tells it to cancel; `done` still closes the port. */
  #detach(entry: StreamEntry, reason: CancelReason): void {
    entry.isDetached = true;
    const ticket = entry.ticket;
    if (ticket?.isWaiting === true) {
      // It never got a slot: there is no actor to tell, and none will report `done`.
      this.#admission.withdraw(ticket);
      this.#finish(entry);
      return;
    }
    this.#forget(entry);
    const message: ActorInbound = { type: 'cancel', reason };
    entry.port.postMessage(message);
  }

  #forward(requestId: string | undefined, data: Buffer, unknownCounter: 'requestChunkUnknown'): void {
    const entry = this.#streams.request(requestId);
    if (entry === undefined) {
      this.#metrics.inc(requestId !== undefined && this.#streams.isRecent(requestId) ? 'lateMessage' : unknownCounter);
      return;
    }
    this.#postFrame(entry, data);
  }

  #cancel(requestId: string | undefined): void {
    const entry = this.#streams.request(requestId);
    if (entry === undefined) {
      this.#metrics.inc('lateMessage'); // unknown or finished ids are ignored (§9.13)
      return;
    }
    entry.ledger.noteCancel();
    if (entry.ticket?.isWaiting === true) {
      // Still waiting for a slot: nothing was sent, so nothing is owed (§9.12 cancellation).
      this.#detach(entry, CancelReason.proxyCancel);
      return;
    }
    // Not detached: a started stream still owes its `proxy_response_abort {"error":"canceled"}`.
    const message: ActorInbound = { type: 'cancel', reason: CancelReason.proxyCancel };
    entry.port.postMessage(message);
  }

  /** Refuses a stream before any state exists: one proxy_error, counted by code (and by admission reason). */
  #refuse(connection: SessionSocket, id: string, error: AgentError, reason: string | undefined, payload: JsonObject = {}): void {
    this.#reply(connection, OutboundType.proxyError, { ...payload, error: error.message }, id);
    this.#metrics.inc('streamErrors', { code: error.code });
    if (reason !== undefined) this.#metrics.inc('admissionRefused', { reason });
    this.#logger.debug({ requestId: id, code: error.code }, 'stream refused');
  }

  #reply(connection: SessionSocket, type: string, payload: JsonObject, requestId: string | undefined): void {
    connection.send(encodeEnvelope(type, payload, requestId, this.#clock.now()), false);
  }
}
