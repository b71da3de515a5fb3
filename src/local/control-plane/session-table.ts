// The kubectl sessions carried by one agent socket: routes the agent's proxy_websocket_* (and ws_*)
// messages and session proxy_errors to them, sends their client messages to the agent, and pauses
// every client of the socket while the agent socket is backed up. Sessions die with the socket.

import type { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { Envelope, JsonObject } from '../../protocol/envelope.js';
import type { Logger } from '../../log.js';
import { ControlPlaneEvent, type SessionEvent } from './control-plane-events.js';
import type { KubectlSession, SessionHost } from './kubectl-session.js';
import { decodeFrameData, encodeFrameData, WsFrameType } from './ws-frame.js';
import { encodeWsDataFrame, streamFrameId } from '../../protocol/stream-frame.js';

/** Above this many bytes queued on the agent socket, kubectl clients stop being read. */
export const AGENT_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Reading resumes once the agent socket has drained below this. */
export const AGENT_LOW_WATER_BYTES = 1024 * 1024;
/**
 * ws has no drain event on the WebSocket and a send callback only reports its own message, so while
 * paused the queue is polled; 20 ms is invisible next to the time 3 MiB takes to drain.
 */
export const RESUME_POLL_MS = 20;

const DATA_TYPES: ReadonlySet<string> = new Set(['proxy_websocket_data', 'ws_data']);
const CLOSE_TYPES: ReadonlySet<string> = new Set(['proxy_websocket_close', 'ws_close']);

export function isSessionMessageType(type: string): boolean {
  return DATA_TYPES.has(type) || CLOSE_TYPES.has(type);
}

/** The agent socket as the table sees it (implemented by AgentSession). */
export interface SessionTableContext {
  readonly socket: WebSocket;
  readonly isOpen: boolean;
  sendJson(type: string, payload: JsonObject, requestId: string | undefined): void;
  send(data: string | Uint8Array, isBinary: boolean): void;
  /** The agent acknowledged binary stream frames: client data goes as frames, not base64 JSON. */
  readonly hasStreamFrames: boolean;
  readonly logger: Logger;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function resumePoll(table: SessionTable): void {
  table.checkResume();
}

export class SessionTable implements SessionHost {
  readonly #context: SessionTableContext;
  readonly #events: EventEmitter;
  readonly #sessions = new Map<string, KubectlSession>();
  #resumeTimer: NodeJS.Timeout | undefined;
  /** Times the agent socket backed up past the high-water mark (logged). */
  #pauses = 0;

  constructor(context: SessionTableContext, events: EventEmitter) {
    this.#context = context;
    this.#events = events;
  }

  get size(): number {
    return this.#sessions.size;
  }

  get isPaused(): boolean {
    return this.#resumeTimer !== undefined;
  }

  /** Registers a started session; its stream id is unique on this socket (the endpoint's counter). */
  add(session: KubectlSession): void {
    this.#sessions.set(session.streamId, session);
    if (this.isPaused) session.client.pause();
    this.#emit(ControlPlaneEvent.sessionStarted, session);
  }

  /** A proxy_websocket_data / ws_data / proxy_websocket_close / ws_close from the agent. */
  receive(envelope: Envelope): void {
    const session = this.#resolve(envelope);
    if (session === undefined) {
      // normal after the client went first: the agent's echo of our close arrives here
      this.#context.logger.debug({ type: envelope.type, requestId: envelope.requestId }, 'session message for an unknown stream; ignored');
      return;
    }
    if (CLOSE_TYPES.has(envelope.type)) {
      session.agentClosed();
      return;
    }
    const frame = decodeFrameData(envelope.payload);
    if (frame === undefined) {
      session.logger.debug('undecodable proxy_websocket_data; dropped');
      return;
    }
    session.fromAgent(frame);
  }

  /** Relay data from a stream frame (`[type u8][payload]`) for the session `streamId`. */
  receiveFramed(streamId: string, framed: Buffer): void {
    const session = this.#sessions.get(streamId);
    const type = framed[0];
    if (session === undefined || type === undefined || !Object.values(WsFrameType).some((known) => known === type)) {
      this.#context.logger.debug({ streamId }, 'stream frame for an unknown stream or undecodable; ignored');
      return;
    }
    session.fromAgent({ type: type as WsFrameType, payload: framed.subarray(1) });
  }

  /** A proxy_error: true when it named a session (payload `request_id` first, then the envelope's). */
  receiveError(envelope: Envelope): boolean {
    for (const id of [nonEmptyString(envelope.payload['request_id']), envelope.requestId]) {
      const session = id === undefined ? undefined : this.#sessions.get(id);
      if (session === undefined) continue;
      session.agentError(nonEmptyString(envelope.payload['error']) ?? 'unknown error');
      return true;
    }
    return false;
  }

  /** The agent socket is gone: every session ends with 1011. */
  agentLost(): void {
    this.#stopResumePoll();
    for (const session of [...this.#sessions.values()]) session.agentLost();
  }

  sendData(streamId: string, isBinary: boolean, bytes: Buffer): void {
    if (!this.#context.isOpen) return;
    const frameId = this.#context.hasStreamFrames ? streamFrameId(streamId) : undefined;
    if (frameId === undefined) this.#context.sendJson('proxy_websocket_data', { stream_id: streamId, data: encodeFrameData(isBinary, bytes) }, streamId);
    else this.#context.send(encodeWsDataFrame(frameId, isBinary ? WsFrameType.binary : WsFrameType.text, bytes), true);
    if (!this.isPaused && this.#context.socket.bufferedAmount > AGENT_HIGH_WATER_BYTES) this.#pause();
  }

  get isAgentPaused(): boolean {
    return this.isPaused;
  }

  sendClose(streamId: string): void {
    if (this.#context.isOpen) this.#context.sendJson('proxy_websocket_close', { stream_id: streamId }, streamId);
  }

  ended(session: KubectlSession): void {
    if (this.#sessions.get(session.streamId) !== session) return;
    this.#sessions.delete(session.streamId);
    // a client paused for the agent's sake must still be read to finish its close handshake (its data is ignored)
    session.client.resume();
    this.#emit(ControlPlaneEvent.sessionEnded, session);
  }

  checkResume(): void {
    if (!this.#context.isOpen) {
      // agentLost() follows from the socket's close event and ends the sessions
      this.#stopResumePoll();
      return;
    }
    if (this.#context.socket.bufferedAmount >= AGENT_LOW_WATER_BYTES) return;
    this.#stopResumePoll();
    for (const session of this.#sessions.values()) if (!session.isHeld) session.client.resume();
    this.#context.logger.debug({ sessions: this.#sessions.size }, 'agent socket drained; kubectl clients resumed');
  }

  #pause(): void {
    this.#pauses++;
    this.#context.logger.info(
      { queued: this.#context.socket.bufferedAmount, sessions: this.#sessions.size, pauses: this.#pauses },
      'agent socket backed up; pausing kubectl clients',
    );
    for (const session of this.#sessions.values()) session.client.pause();
    this.#resumeTimer = setInterval(resumePoll, RESUME_POLL_MS, this);
  }

  #stopResumePoll(): void {
    clearInterval(this.#resumeTimer);
    this.#resumeTimer = undefined;
  }

  /** §12.2: a payload stream_id naming a live session wins; else the first non-empty id. */
  #resolve(envelope: Envelope): KubectlSession | undefined {
    const payload = envelope.payload;
    const streamId = nonEmptyString(payload['stream_id']);
    const direct = streamId === undefined ? undefined : this.#sessions.get(streamId);
    if (direct !== undefined) return direct;
    const id = nonEmptyString(payload['request_id']) ?? streamId ?? envelope.requestId;
    return id === undefined ? undefined : this.#sessions.get(id);
  }

  #emit(name: string, session: KubectlSession): void {
    const event: SessionEvent = { cluster: session.cluster, streamId: session.streamId };
    this.#events.emit(name, event);
  }
}
