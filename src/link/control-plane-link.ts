// The control-plane link: dials, registers, switches to the gateway, keeps the session alive with
// heartbeats, and reconnects with backoff (PROTOCOL.md §3, §5–§7). It owns at most one Connection at a
// time and answers the control messages; what travels over a session for streams (proxy traffic) it hands
// to the stream side (the router) through inbound-demux.ts, and the router writes its replies on the
// Connection itself: the router never calls the link.
//
//   start ─► dial controller ─open─► register ─register_success─┬─ gateway_ws_url ─► close 1000 ─► dial gateway ─open─┐
//                │                                              └─ none ────────────────────────────────────────────┤
//                └─ fail/lost ─► wait backoff ─► dial (same target; 401/403 ⇒ controller + register) ◄── lost ─── session

import type { Logger } from 'pino';
import { Connection, type ConnectionEnd, type ConnectionTls } from './connection.js';
import { controllerUrl, gatewayUrl, isUsableEndpointUrl, loggableUrl } from './endpoint-url.js';
import { PendingRegistration, registrationRequestId } from './pending-registration.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import type { LinkState, StateStore } from './link-state.js';
import { InboundDemux, type StreamSide } from './inbound-demux.js';
import { encodeEnvelope, parseEnvelope, type Envelope, type JsonObject } from '../protocol/envelope.js';
import type { EnvelopePeek } from '../protocol/envelope-peek.js';
import { STREAM_FRAME_VERSION, StreamFramesMessage } from '../protocol/stream-frame.js';
import { InboundType, OutboundType } from '../protocol/message-types.js';
import { CLOSE_NORMAL, SHUTDOWN_CLOSE_WAIT_MS } from '../protocol/constants.js';
import { type Clock, type TimerHandle, setRepeating } from '../util/clock.js';
import { AgentError, ErrorCode } from '../errors.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';

export const LinkStatus = { disconnected: 0, connecting: 1, connected: 2, reconnecting: 3 } as const;
export type LinkStatus = (typeof LinkStatus)[keyof typeof LinkStatus];
const STATUS_NAMES = ['disconnected', 'connecting', 'connected', 'reconnecting'] as const;

/** A side-channel sync that redoes its full sync when a session starts (ingress routes, tunnel registry, §7.6). */
export interface SessionStartListener {
  onSessionStart(): void;
}

/** Negotiates yamux on `gateway_hello` (§15.2); present only when the tunnel is enabled. */
export interface GatewayHelloHandler {
  /** True when the yamux session now exists on `connection`: the link then sends the ack. */
  onGatewayHello(connection: Connection, payload: Readonly<Record<string, unknown>>): boolean;
}

export interface LinkDependencies {
  readonly apiUrl: string;
  readonly tls: ConnectionTls;
  readonly inboundCapBytes: number;
  readonly heartbeatIntervalMs: number;
  readonly agentId: string;
  readonly agentVersion: string;
  /** Read at every dial, so a rotated token file takes effect on the next reconnect. */
  readonly token: () => string;
  /** The `register` payload (without identity fields the link fills in). */
  readonly registerPayload: (state: Readonly<LinkState>) => Promise<JsonObject>;
  readonly heartbeatPayload: (state: Readonly<LinkState>) => Promise<JsonObject>;
  readonly stateStore: StateStore;
  /** A `register_success.token` (§5.2); resolves true when it was adopted (the state is then saved again). */
  readonly onClusterToken?: (token: string) => Promise<boolean>;
  /** Where stream traffic goes (the router). */
  readonly streams: StreamSide;
  /** Told of every session start, after the stream side. */
  readonly sessionListeners?: readonly (SessionStartListener | undefined)[];
  /** Absent when `tunnel.enabled` is false: no `supports_yamux`, and `gateway_hello` is ignored (C87). */
  readonly tunnel?: GatewayHelloHandler;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly logger: Logger;
  readonly metrics: AgentMetrics;
}

type Target = 'controller' | 'gateway';

export class ControlPlaneLink {
  readonly #deps: LinkDependencies;
  readonly #backoff: ReconnectBackoff;
  readonly #state: LinkState = { clusterId: undefined, clusterUuid: undefined, gatewayUrl: undefined };
  #target: Target = 'controller';
  #needsRegistration = true;
  #current: Connection | undefined;
  #sessionConnection: Connection | undefined;
  #pending: PendingRegistration | undefined;
  #heartbeatTimer: TimerHandle | undefined;
  #reconnectTimer: TimerHandle | undefined;
  #isStopping = false;
  /** Set by beginDrain: no reconnects, no re-dials; called once when the session socket is gone. */
  #onDrainLost: (() => void) | undefined;
  #isDraining = false;
  /** Dialling the stored gateway without a register in this process (§5.7). */
  #isResuming = false;
  #hasConnectedOnce = false;
  #status: LinkStatus = LinkStatus.disconnected;
  #lastHeartbeatMs: number | undefined;
  readonly #demux: InboundDemux;

  constructor(deps: LinkDependencies) {
    this.#deps = deps;
    this.#demux = new InboundDemux({
      onControl: (connection, peek, data) => this.#onControl(connection, peek, data),
      streams: deps.streams,
      metrics: deps.metrics,
      logger: deps.logger,
    });
    this.#backoff = new ReconnectBackoff(deps.random);
    this.#setStatus(LinkStatus.disconnected);
  }

  get status(): LinkStatus {
    return this.#status;
  }

  get state(): Readonly<LinkState> {
    return { ...this.#state };
  }

  get lastHeartbeatMs(): number | undefined {
    return this.#lastHeartbeatMs;
  }

  /** The socket currently carrying the session, if any. */
  get sessionConnection(): Connection | undefined {
    return this.#sessionConnection;
  }

  async start(): Promise<void> {
    const stored = await this.#deps.stateStore.load();
    this.#state.clusterId = stored.clusterId;
    this.#state.clusterUuid = stored.clusterUuid;
    // §5.4: a stored gateway URL that could never be dialled is dropped; §5.7 then falls back to registration.
    this.#state.gatewayUrl = this.#usableGatewayUrl(stored.gatewayUrl, 'stored state');
    // With a stored cluster and gateway the agent resumes on the gateway (§5.7); a failure falls back.
    this.#isResuming = this.#state.clusterId !== undefined && this.#state.gatewayUrl !== undefined;
    this.#target = this.#isResuming ? 'gateway' : 'controller';
    this.#dial();
  }

  /** Local shutdown (§7.7): close 1000 within 5 s, abort the session, stop reconnecting. */
  async stop(): Promise<void> {
    this.#isStopping = true;
    this.#reconnectTimer?.cancel();
    this.#reconnectTimer = undefined;
    const connection = this.#current;
    this.#endSession();
    this.#pending?.cancel();
    this.#pending = undefined;
    this.#current = undefined;
    this.#setStatus(LinkStatus.disconnected);
    if (connection !== undefined) await connection.close(CLOSE_NORMAL, SHUTDOWN_CLOSE_WAIT_MS);
  }

  /**
   * Drain (§7.7): from now on the link never reconnects nor dials again, while the current session keeps its
   * heartbeats and pings. `onLost` runs once when the session socket is lost, at once (synchronously) when
   * there is no session; a socket still registering is closed. The link's own `stop()` does not call it.
   */
  beginDrain(onLost: () => void): void {
    if (this.#isDraining || this.#isStopping) return;
    this.#isDraining = true;
    this.#onDrainLost = onLost;
    this.#reconnectTimer?.cancel();
    this.#reconnectTimer = undefined;
    const current = this.#current;
    if (current !== undefined && current === this.#sessionConnection && current.isOpen) return;
    // Nothing to drain on: a socket still dialling or registering carries no work.
    this.#pending?.cancel();
    this.#pending = undefined;
    this.#current = undefined;
    this.#endSession();
    this.#setStatus(LinkStatus.disconnected);
    if (current !== undefined) void current.close(CLOSE_NORMAL);
    this.#reportDrainLost();
  }

  #reportDrainLost(): void {
    const onLost = this.#onDrainLost;
    if (onLost === undefined || this.#isStopping) return;
    this.#onDrainLost = undefined;
    this.#setStatus(LinkStatus.disconnected);
    onLost();
  }

  #reply(connection: Connection, type: string, payload: JsonObject, requestId?: string): void {
    const now = this.#deps.clock.now();
    connection.send(encodeEnvelope(type, payload, requestId, now), false);
  }

  /** The control messages (inbound-demux.ts CONTROL_TYPES): registration replies, ping, error, and the two hellos. */
  #onControl(connection: Connection, peek: EnvelopePeek, data: Buffer): void {
    if (connection !== this.#current) return;
    const envelope = parseEnvelope(data);
    if (envelope === undefined) {
      this.#deps.metrics.inc('inboundMalformed');
      return;
    }
    switch (peek.type) {
      case InboundType.ping:
        this.#reply(connection, OutboundType.pong, { timestamp: new Date(this.#deps.clock.now()).toISOString() }, envelope.requestId);
        break;
      case InboundType.registerSuccess:
        this.#onRegisterSuccess(connection, envelope);
        break;
      case InboundType.registerInProgress:
        this.#pending?.extend();
        break;
      case InboundType.error:
        this.#onError(connection, envelope);
        break;
      case InboundType.gatewayHello:
        this.#onGatewayHello(connection, envelope);
        break;
      case StreamFramesMessage.hello:
        this.#onStreamFramesHello(connection, envelope);
        break;
      default:
        break; // pong and heartbeat_ack need no reply
    }
  }

  #dial(): void {
    if (this.#isStopping || this.#isDraining) return;
    this.#setStatus(this.#hasConnectedOnce ? LinkStatus.reconnecting : LinkStatus.connecting);
    this.#deps.logger.debug({ target: this.#target }, 'dialling control plane');
    let token: string;
    try {
      token = this.#deps.token();
    } catch (error) {
      this.#deps.logger.error({ err: error }, 'agent token unavailable');
      this.#scheduleReconnect();
      return;
    }
    try {
      const url = this.#urlFor(this.#target);
      this.#current = new Connection(
        {
          url,
          token,
          tls: this.#deps.tls,
          inboundCapBytes: this.#deps.inboundCapBytes,
          clock: this.#deps.clock,
          countBytes: (direction, bytes) => this.#deps.metrics.inc('controlPlaneBytes', { direction }, bytes),
        },
        {
          onOpen: (connection) => this.#connectionOnOpen(connection),
          onMessage: (connection, data, isBinary) => this.#connectionOnMessage(connection, data, isBinary),
          onEnd: (connection, end) => this.#connectionOnEnd(connection, end),
        },
      );
    } catch (error) {
      // A URL the socket library refuses is a failed attempt, never an exception out of the link (C94).
      this.#deps.logger.error({ err: error, target: this.#target }, 'could not dial the control plane');
      if (this.#target === 'gateway') this.#forgetGateway();
      this.#scheduleReconnect();
    }
  }

  /** Registers afresh on the controller (keeping the cluster id) instead of dialling a gateway that cannot be used. */
  #forgetGateway(): void {
    this.#state.gatewayUrl = undefined;
    this.#target = 'controller';
    this.#needsRegistration = true;
    this.#isResuming = false;
    void this.#persist();
  }

  /** The URL if it can be dialled; otherwise logs it without its query string and returns undefined (§5.4). */
  #usableGatewayUrl(raw: unknown, source: string): string | undefined {
    if (typeof raw !== 'string' || raw === '') return undefined;
    if (isUsableEndpointUrl(raw)) return raw;
    this.#deps.logger.warn({ gatewayUrl: loggableUrl(raw), source }, 'ignoring an invalid gateway URL');
    return undefined;
  }

  #urlFor(target: Target): string {
    if (target === 'gateway' && this.#state.gatewayUrl !== undefined) {
      return gatewayUrl(this.#state.gatewayUrl, {
        agentVersion: this.#deps.agentVersion,
        clusterUuid: this.#state.clusterUuid ?? this.#state.clusterId ?? '',
        supportsYamux: this.#deps.tunnel !== undefined,
      });
    }
    this.#target = 'controller';
    return controllerUrl(this.#deps.apiUrl);
  }

  #connectionOnOpen(connection: Connection): void {
    if (connection !== this.#current) return;
    if (this.#target === 'controller' && (this.#needsRegistration || this.#state.clusterId === undefined)) {
      void this.#register(connection);
    } else {
      this.#startSession(connection);
    }
  }

  #connectionOnMessage(connection: Connection, data: Buffer, isBinary: boolean): void {
    if (connection !== this.#current) return;
    this.#demux.onFrame(connection, data, isBinary);
  }

  #connectionOnEnd(connection: Connection, end: ConnectionEnd): void {
    if (connection !== this.#current) return;
    this.#current = undefined;
    this.#pending?.cancel();
    this.#pending = undefined;
    const wasSession = this.#sessionConnection === connection;
    this.#endSession();
    if (this.#isStopping || end.kind === 'closed-locally') return;
    const isAuthFailure = end.kind === 'handshake-failed' && (end.status === 401 || end.status === 403);
    if (isAuthFailure) {
      const rejected = new AgentError(ErrorCode.linkAuthRejected, `the control plane answered the handshake with ${String(end.status)}`);
      this.#deps.logger.error({ target: this.#target, status: end.status, code: rejected.code }, 'control plane rejected the agent token');
      if (this.#target === 'gateway' || this.#hasConnectedOnce) {
        // §7.5: forget the gateway, register again on a fresh controller socket (keeping the cluster id)
        this.#state.gatewayUrl = undefined;
        this.#target = 'controller';
        this.#needsRegistration = true;
        void this.#persist();
      }
    } else {
      this.#deps.logger.warn({ target: this.#target, detail: end.detail, wasSession }, 'control-plane socket ended');
    }
    if (this.#isResuming && this.#target === 'gateway') {
      // §5.7: a resume dial that fails for any reason falls back to full registration.
      this.#isResuming = false;
      this.#target = 'controller';
      this.#needsRegistration = true;
    }
    this.#scheduleReconnect();
  }

  async #register(connection: Connection): Promise<void> {
    let payload: JsonObject;
    try {
      payload = await this.#deps.registerPayload(this.state);
    } catch (error) {
      this.#deps.logger.error({ err: error }, 'could not build the register payload');
      void connection.close(CLOSE_NORMAL);
      this.#connectionOnEnd(connection, { kind: 'lost', code: undefined, detail: 'register payload failed' });
      return;
    }
    if (connection !== this.#current || !connection.isOpen) return;
    const now = this.#deps.clock.now();
    const requestId = registrationRequestId(now, this.#deps.agentId);
    this.#pending = new PendingRegistration(requestId, this.#deps.clock, () => this.#failRegistration(connection, 'registration timed out'));
    connection.send(encodeEnvelope(OutboundType.register, payload, requestId, now), false);
    this.#deps.logger.info({ requestId, mode: payload['cluster_id'] === undefined ? 'fresh' : 'resume' }, 'register sent');
  }

  #onRegisterSuccess(connection: Connection, envelope: Envelope): void {
    const pending = this.#pending;
    if (pending === undefined || envelope.requestId !== pending.requestId) return; // foreign reply: ignored (C14)
    const clusterId = envelope.payload['cluster_id'];
    if (typeof clusterId !== 'string' || clusterId === '') {
      this.#failRegistration(connection, 'missing cluster_id');
      return;
    }
    pending.cancel();
    this.#pending = undefined;
    this.#deps.metrics.inc('registrations', { outcome: 'success' });
    const clusterUuid = envelope.payload['cluster_uuid'];
    const gateway = envelope.payload['gateway_ws_url'];
    this.#state.clusterId = clusterId;
    this.#state.clusterUuid = typeof clusterUuid === 'string' && clusterUuid !== '' ? clusterUuid : undefined;
    this.#state.gatewayUrl = this.#usableGatewayUrl(gateway, 'register_success');
    this.#needsRegistration = false;
    this.#isResuming = false;
    void this.#persist();
    const token = envelope.payload['token'];
    if (typeof token === 'string' && token !== '' && this.#deps.onClusterToken !== undefined) {
      this.#deps.onClusterToken(token).then(
        (isAdopted) => (isAdopted ? this.#persist() : undefined),
        (error: unknown) => this.#deps.logger.warn({ err: error }, 'could not check the cluster token from register_success'),
      );
    }
    this.#deps.logger.info({ clusterId, gateway: this.#state.gatewayUrl !== undefined }, 'registered with the control plane');
    if (this.#state.gatewayUrl !== undefined) {
      // §5.4: close the controller socket with 1000 and dial the gateway at once.
      this.#target = 'gateway';
      this.#current = undefined;
      void connection.close(CLOSE_NORMAL);
      this.#dial();
    } else {
      this.#startSession(connection);
    }
  }

  /** §15.2: the ack goes out only after the session exists, and only once per socket; without a tunnel, silence (C87). */
  #onGatewayHello(connection: Connection, envelope: Envelope): void {
    const tunnel = this.#deps.tunnel;
    if (tunnel === undefined || connection !== this.#sessionConnection) return;
    if (!tunnel.onGatewayHello(connection, envelope.payload)) return;
    this.#reply(connection, OutboundType.gatewayHelloAck, { use_yamux: true });
  }

  /**
   * `stream_frames_hello`: the control plane opts in to binary stream frames on this socket. Acked with
   * the version when it offers ours and yamux is not active (then binary frames are yamux's); otherwise
   * nothing is sent and the socket stays JSON-only. Streams already running keep JSON.
   */
  #onStreamFramesHello(connection: Connection, envelope: Envelope): void {
    const versions = envelope.payload['versions'];
    if (!Array.isArray(versions) || !versions.includes(STREAM_FRAME_VERSION) || connection.isYamuxActive) return;
    connection.acceptStreamFrames();
    this.#reply(connection, StreamFramesMessage.ack, { version: STREAM_FRAME_VERSION });
    this.#deps.logger.info('control plane opted in to binary stream frames');
  }

  #onError(connection: Connection, envelope: Envelope): void {
    const raw = envelope.payload['error'];
    const text = typeof raw === 'string' ? raw : '';
    this.#deps.logger.warn({ error: text.slice(0, 500) }, 'control plane reported an error');
    const isUnknownCluster = /not registered|cluster not found/i.test(text);
    if (isUnknownCluster) {
      // §5.5: forget the cluster and register afresh on a new controller socket.
      this.#state.clusterId = undefined;
      this.#state.clusterUuid = undefined;
      this.#state.gatewayUrl = undefined;
      this.#needsRegistration = true;
      this.#target = 'controller';
      void this.#persist();
    }
    if (this.#pending !== undefined) {
      this.#failRegistration(connection, `control plane error: ${text}`);
    } else if (isUnknownCluster) {
      this.#dropAndReconnect(connection, 'cluster unknown to the control plane');
    }
  }

  #failRegistration(connection: Connection, reason: string): void {
    this.#pending?.cancel();
    this.#pending = undefined;
    this.#deps.metrics.inc('registrations', { outcome: 'failure' });
    const failure = new AgentError(ErrorCode.linkRegistrationFailed, reason);
    this.#deps.logger.warn({ reason: failure.message, code: failure.code }, 'registration failed');
    this.#dropAndReconnect(connection, reason);
  }

  #dropAndReconnect(connection: Connection, reason: string): void {
    if (connection !== this.#current) return;
    void connection.close(CLOSE_NORMAL);
    this.#current = undefined;
    this.#endSession();
    this.#deps.logger.debug({ reason }, 'closing control-plane socket');
    this.#scheduleReconnect();
  }

  #startSession(connection: Connection): void {
    // Only an established session resets the backoff (§7.1): a control plane that accepts the socket but keeps
    // rejecting the registration is not dialled every 0.5 s.
    this.#backoff.reset();
    this.#sessionConnection = connection;
    this.#hasConnectedOnce = true;
    this.#isResuming = false;
    this.#needsRegistration = false;
    this.#setStatus(LinkStatus.connected);
    this.#deps.logger.info({ target: this.#target }, 'control-plane session started');
    this.#deps.streams.onSessionStart(connection);
    for (const listener of this.#deps.sessionListeners ?? []) listener?.onSessionStart();
    void this.#sendHeartbeat(connection);
    this.#heartbeatTimer = setRepeating(this.#deps.clock, this.#deps.heartbeatIntervalMs, () => {
      void this.#sendHeartbeat(connection);
    });
  }

  #endSession(): void {
    this.#heartbeatTimer?.cancel();
    this.#heartbeatTimer = undefined;
    const connection = this.#sessionConnection;
    this.#sessionConnection = undefined;
    if (connection !== undefined) this.#deps.streams.onSessionEnd(connection);
    if (this.#isDraining) this.#reportDrainLost();
  }

  async #sendHeartbeat(connection: Connection): Promise<void> {
    const startedMs = this.#deps.clock.now();
    let payload: JsonObject;
    try {
      payload = await this.#deps.heartbeatPayload(this.state);
    } catch (error) {
      this.#deps.metrics.inc('heartbeatFailures');
      this.#deps.logger.warn({ err: error }, 'heartbeat payload failed');
      return;
    }
    if (connection !== this.#sessionConnection || !connection.isOpen) return;
    const now = this.#deps.clock.now();
    connection.send(encodeEnvelope(OutboundType.heartbeat, payload, undefined, now), false);
    this.#lastHeartbeatMs = now;
    this.#deps.metrics.inc('heartbeatSuccess');
    this.#deps.metrics.observe('heartbeatDuration', (now - startedMs) / 1000);
  }

  #scheduleReconnect(): void {
    if (this.#isStopping || this.#isDraining || this.#reconnectTimer !== undefined) return;
    const waitMs = this.#backoff.next();
    this.#setStatus(this.#hasConnectedOnce ? LinkStatus.reconnecting : LinkStatus.connecting);
    this.#deps.metrics.inc('reconnections');
    // Each trigger has logged why already (socket ended, registration failed, …): one line per attempt.
    this.#deps.logger.debug({ waitMs: Math.round(waitMs), target: this.#target }, 'reconnecting to the control plane');
    this.#reconnectTimer = this.#deps.clock.setTimer(waitMs, () => {
      this.#reconnectTimer = undefined;
      this.#dial();
    });
  }

  async #persist(): Promise<void> {
    try {
      await this.#deps.stateStore.save(this.state);
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'could not persist agent state');
    }
  }

  #setStatus(status: LinkStatus): void {
    if (status === this.#status && this.#status !== LinkStatus.disconnected) return;
    this.#status = status;
    this.#deps.metrics.set('connectionState', status);
    this.#deps.metrics.inc('connectionStateChanges', { state: STATUS_NAMES[status] });
  }
}
