// One accepted agent socket: answers `register`, records heartbeats, and routes every response message or
// binary frame to the pending kubectl request it belongs to, and session messages to its SessionTable.
// Requests and sessions die with the socket that carried them.

import type { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { encodeEnvelope, parseEnvelope, type Envelope, type JsonObject } from '../../protocol/envelope.js';
import { decodeResponseFrame } from '../../protocol/binary-frame.js';
import type { Logger } from '../../log.js';
import type { ClusterRecord, ClusterRegistry } from './cluster-registry.js';
import { ControlPlaneEvent, type AgentBinaryEvent, type AgentMessageEvent } from './control-plane-events.js';
import { PendingRequest, isAgentResponseType } from './pending-request.js';
import { SessionTable, isSessionMessageType } from './session-table.js';
import type { TerminalReplyAudit } from './terminal-reply-audit.js';
import { rawDataBytes } from './ws-frame.js';
import { StreamFrameKind, StreamFramesMessage, STREAM_FRAME_VERSION, isStreamFrame, readStreamFrameHeader } from '../../protocol/stream-frame.js';

export interface AgentSessionContext {
  readonly registry: ClusterRegistry;
  readonly events: EventEmitter;
  readonly logger: Logger;
  /** Set in gateway mode: register_success carries it and only gateway sockets become sessions. */
  readonly gatewayUrl: string | undefined;
  /** Counts every terminal reply against what was sent (the fault-injection suite reads it). */
  readonly audit?: TerminalReplyAudit | undefined;
  /** Offer binary stream frames (docs/protocol.md extension) on every session socket. */
  readonly shouldOfferStreamFrames?: boolean | undefined;
}

const SESSION_BY_SOCKET = new WeakMap<WebSocket, AgentSession>();

function socketOnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  SESSION_BY_SOCKET.get(this)?.receive(rawDataBytes(data), isBinary);
}

function socketOnClose(this: WebSocket, code: number, reason: Buffer): void {
  SESSION_BY_SOCKET.get(this)?.closed(code, reason.toString('utf8'));
}

function socketOnError(this: WebSocket, error: Error): void {
  SESSION_BY_SOCKET.get(this)?.logger.debug({ err: error }, 'agent socket error');
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export class AgentSession {
  readonly socket: WebSocket;
  /** The handshake path: the controller path or the gateway path. */
  readonly path: string;
  logger: Logger;
  readonly #context: AgentSessionContext;
  readonly #pending = new Map<string, PendingRequest>();
  /** kubectl WebSocket sessions riding on this socket. */
  readonly streams: SessionTable;
  #cluster: ClusterRecord | undefined;
  #hasStreamFrames = false;
  /** The handshake carried `supports_yamux=true` (§3.2): tunnel-gateway.ts may negotiate yamux here. */
  readonly supportsYamux: boolean;
  /** Set once yamux is active on this socket (tunnel-gateway.ts): every binary frame is then yamux bytes. */
  yamuxSink: ((bytes: Buffer) => void) | undefined;

  /** `cluster` is known up front on a gateway socket (from `cluster_uuid`), which is a session at once. */
  constructor(socket: WebSocket, path: string, context: AgentSessionContext, cluster?: ClusterRecord, supportsYamux = false) {
    this.socket = socket;
    this.path = path;
    this.supportsYamux = supportsYamux;
    this.#context = context;
    this.logger = context.logger.child({ path });
    this.streams = new SessionTable(this, context.events);
    SESSION_BY_SOCKET.set(socket, this);
    socket.on('message', socketOnMessage);
    socket.on('close', socketOnClose);
    socket.on('error', socketOnError);
    if (cluster !== undefined) {
      this.#cluster = cluster;
      this.#becomeSession(cluster);
    }
  }

  get isOpen(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  /** The agent acknowledged binary stream frames on this socket: chunks and relay data may come as frames. */
  get hasStreamFrames(): boolean {
    return this.#hasStreamFrames;
  }

  get clusterName(): string | undefined {
    return this.#cluster?.name;
  }

  close(code: number, reason: string): void {
    if (code === 1006) this.socket.terminate();
    else this.socket.close(code, reason);
  }

  send(data: string | Uint8Array, isBinary: boolean): void {
    this.socket.send(data, { binary: isBinary });
  }

  sendJson(type: string, payload: JsonObject, requestId: string | undefined): void {
    if (this.isOpen) this.#context.audit?.planeSent(this, type, payload, requestId);
    this.send(encodeEnvelope(type, payload, requestId, Date.now()), false);
  }

  /** Registers a kubectl request sent (or about to be sent) on this socket under `requestId`. */
  beginRequest(requestId: string, method: string, res: ServerResponse, timeoutMs: number): PendingRequest {
    const pending = new PendingRequest({
      requestId,
      method,
      res,
      timeoutMs,
      logger: this.logger,
      sendCancel: () => {
        if (this.isOpen) this.sendJson('proxy_cancel', {}, requestId);
      },
      onDone: () => this.#pending.delete(requestId),
    });
    this.#pending.set(requestId, pending);
    return pending;
  }

  receive(bytes: Buffer, isBinary: boolean): void {
    if (isBinary && this.yamuxSink !== undefined) {
      this.yamuxSink(bytes);
      return;
    }
    if (!isBinary) {
      this.#receiveJson(bytes);
      return;
    }
    const binaryEvent: AgentBinaryEvent = { cluster: this.clusterName, data: bytes };
    this.#context.events.emit(ControlPlaneEvent.agentBinary, binaryEvent);
    if (this.#hasStreamFrames && isStreamFrame(bytes)) {
      this.#receiveStreamFrame(bytes);
      return;
    }
    const frame = decodeResponseFrame(bytes);
    const pending = frame === undefined ? undefined : this.#pending.get(frame.requestId);
    if (frame !== undefined && (pending !== undefined || !bytes.toString('latin1', 0, 64).trimStart().startsWith('{'))) {
      this.#context.audit?.agentFrame(this, frame.requestId);
    }
    if (frame !== undefined && pending !== undefined) {
      pending.handleFrame(frame);
      return;
    }
    if (bytes.toString('latin1', 0, 64).trimStart().startsWith('{')) {
      this.#receiveJson(bytes);
      return;
    }
    this.logger.debug({ bytes: bytes.length }, 'binary frame matches no pending request; dropped');
  }

  /** A chunk of a streamed response or relay data of a kubectl session, by the id in its header. */
  #receiveStreamFrame(bytes: Buffer): void {
    const header = readStreamFrameHeader(bytes);
    if (header === undefined) {
      this.logger.debug({ bytes: bytes.length }, 'malformed stream frame from agent; dropped');
      return;
    }
    const payload = bytes.subarray(header.payloadOffset);
    if (header.kind === StreamFrameKind.wsData) {
      this.streams.receiveFramed(header.streamId, payload);
      return;
    }
    const pending = this.#pending.get(header.streamId);
    if (pending === undefined) this.logger.debug({ requestId: header.streamId }, 'stream frame for an unknown or finished request; ignored');
    else pending.handleStreamChunk(header.kind, payload);
  }

  closed(code: number, reason: string): void {
    this.#context.audit?.socketClosed(this);
    for (const pending of [...this.#pending.values()]) pending.agentDisconnected();
    this.streams.agentLost();
    const cluster = this.#cluster;
    if (cluster === undefined || !this.#context.registry.detach(cluster, this)) return;
    this.logger.info({ code }, 'agent session closed');
    this.#context.events.emit(ControlPlaneEvent.agentDisconnected, { cluster: cluster.name, code, reason });
  }

  #receiveJson(bytes: Buffer): void {
    const envelope = parseEnvelope(bytes);
    if (envelope === undefined) {
      this.logger.debug('malformed message from agent; dropped');
      return;
    }
    this.#context.audit?.agentMessage(this, envelope);
    if (envelope.type === 'register') this.#register(envelope);
    if (envelope.type === StreamFramesMessage.ack && envelope.payload['version'] === STREAM_FRAME_VERSION) {
      this.#hasStreamFrames = true;
      this.logger.debug('agent uses binary stream frames on this socket');
    }
    const messageEvent: AgentMessageEvent = { cluster: this.clusterName, type: envelope.type, envelope };
    this.#context.events.emit(ControlPlaneEvent.agentMessage, messageEvent);
    if (envelope.type === 'heartbeat') {
      if (this.#cluster === undefined) this.#resume(envelope);
      if (this.#cluster !== undefined) {
        this.#cluster.lastHeartbeat = envelope.payload;
        this.#cluster.heartbeats++;
      } else if (this.#context.gatewayUrl === undefined) {
        // An agent resuming on the controller without `register` (§7.6) after a restart that forgot its
        // cluster: §5.5 makes it register afresh, so kubectl reaches it again instead of 404 forever.
        this.sendJson('error', { error: 'cluster not found' }, undefined);
      }
      return;
    }
    if (isSessionMessageType(envelope.type)) {
      this.streams.receive(envelope);
      return;
    }
    // session errors carry the stream id (payload request_id, else the envelope's); the rest are requests'
    if (envelope.type === 'proxy_error' && this.streams.receiveError(envelope)) return;
    if (isAgentResponseType(envelope.type) && envelope.requestId !== undefined) {
      const pending = this.#pending.get(envelope.requestId);
      if (pending === undefined) this.logger.debug({ type: envelope.type }, 'answer for an unknown or finished request; ignored');
      else pending.handleMessage(envelope);
    }
  }

  #register(envelope: Envelope): void {
    const payload = envelope.payload;
    const name = nonEmptyString(payload['name']);
    const agentId = nonEmptyString(payload['agent_id']);
    const missing = name === undefined ? 'name' : agentId === undefined ? 'agent_id' : undefined;
    if (name === undefined || agentId === undefined) {
      this.sendJson('error', { error: `invalid register: missing ${missing ?? 'name'}` }, envelope.requestId);
      return;
    }
    const cluster = this.#context.registry.register({
      name,
      agentId,
      clusterId: nonEmptyString(payload['cluster_id']),
      serviceToken: nonEmptyString(payload['k8s_service_token']),
      payload,
    });
    this.#cluster = cluster;
    this.logger = this.#context.logger.child({ path: this.path, cluster: name });
    const gatewayUrl = this.#context.gatewayUrl;
    const reply: JsonObject = {
      cluster_id: cluster.clusterId,
      cluster_uuid: cluster.clusterUuid,
      name,
      status: 'active',
      workspace_id: 1,
    };
    if (gatewayUrl !== undefined) reply['gateway_ws_url'] = gatewayUrl;
    this.sendJson('register_success', reply, envelope.requestId);
    this.logger.info({ clusterId: cluster.clusterId, agentId }, 'agent registered');
    // In gateway mode the agent leaves this socket for the gateway at once; it never carries requests.
    if (gatewayUrl === undefined) this.#becomeSession(cluster);
  }

  /**
   * A heartbeat on a controller socket that never registered: the agent came back to the controller with a
   * known cluster id (PROTOCOL.md §7.6), e.g. after this control plane restarted. A known cluster makes the
   * socket its session; an unknown one is told so, which makes the agent register afresh (§5.5).
   */
  #resume(envelope: Envelope): void {
    if (this.#context.gatewayUrl !== undefined) return;
    const clusterId = nonEmptyString(envelope.payload['cluster_id']);
    const cluster = clusterId === undefined ? undefined : this.#context.registry.findById(clusterId);
    if (cluster === undefined) {
      this.sendJson('error', { error: 'cluster not found' }, undefined);
      return;
    }
    this.#cluster = cluster;
    this.logger.info({ cluster: cluster.name }, 'agent resumed on the controller');
    this.#becomeSession(cluster);
  }

  #becomeSession(cluster: ClusterRecord): void {
    this.logger = this.#context.logger.child({ path: this.path, cluster: cluster.name });
    this.#context.registry.attach(cluster, this);
    // The opt-in goes out on the session socket only; until the ack arrives everything stays JSON.
    if (this.#context.shouldOfferStreamFrames === true) this.sendJson(StreamFramesMessage.hello, { versions: [STREAM_FRAME_VERSION] }, undefined);
    this.#context.events.emit(ControlPlaneEvent.agentConnected, { cluster: cluster.name, path: this.path });
  }
}
