// One kubectl WebSocket session (exec, attach, cp, port-forward) relayed over an agent socket. The relay
// is byte-transparent: the control plane never interprets channel bytes or SPDY frames, it only moves
// WebSocket messages with their type. Agent-side sending and flow control belong to the SessionTable.
//
//   open ──agent close, close frame, proxy_error, agent socket lost──▶ ended (client closed by us, nothing sent)
//     └───client closed or errored, client hopelessly slow───────────▶ ended (exactly one proxy_websocket_close)

import type { RawData, WebSocket } from 'ws';
import type { Logger } from '../../log.js';
import { parseClosePayload, rawDataBytes, truncateCloseReason, WsFrameType, type WsFrame } from './ws-frame.js';

/** Above this many bytes queued towards kubectl, the client counts as slow (logged once per episode). */
export const CLIENT_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** A slow episode ends when the queue drains below this. */
export const CLIENT_LOW_WATER_BYTES = 1024 * 1024;
/**
 * The agent cannot be paused per stream, so a kubectl that stops reading would grow its queue without
 * end; past this bound the session is given up instead of the control plane's memory.
 */
export const CLIENT_QUEUE_LIMIT_BYTES = 64 * 1024 * 1024;

export const AGENT_DISCONNECTED_REASON = 'agent disconnected';

/**
 * The protocol has no "dialled" acknowledgement, and the agent may hold at most 100 frames of a session
 * before its dial to the API server completes (PROTOCOL.md §13.3). kubectl starts streaming stdin (a whole
 * `kubectl cp` archive) the moment its upgrade is accepted, so after this many frames the control plane
 * stops reading kubectl until the agent sends anything for the session or the grace below has passed.
 */
export const DIAL_GRACE_FRAMES = 64;
export const DIAL_GRACE_MS = 2_000;

/** What a session needs from the agent socket that carries it (implemented by SessionTable). */
export interface SessionHost {
  /** Sends one client message as proxy_websocket_data, or as a stream frame when the agent uses them. */
  sendData(streamId: string, isBinary: boolean, bytes: Buffer): void;
  /** Sends proxy_websocket_close for the stream. */
  sendClose(streamId: string): void;
  /** True while every client is paused because the agent socket is backed up. */
  readonly isAgentPaused: boolean;
  /** Called exactly once when the session ends, however it ends. */
  ended(session: KubectlSession): void;
}

export interface KubectlSessionOptions {
  readonly streamId: string;
  readonly cluster: string;
  readonly client: WebSocket;
  readonly host: SessionHost;
  readonly logger: Logger;
}

const SESSION_BY_CLIENT = new WeakMap<WebSocket, KubectlSession>();

function clientOnMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  SESSION_BY_CLIENT.get(this)?.fromClient(rawDataBytes(data), isBinary);
}

function clientOnClose(this: WebSocket, code: number): void {
  SESSION_BY_CLIENT.get(this)?.clientClosed(code);
}

function clientOnError(this: WebSocket, error: Error): void {
  // a 'close' always follows, and that is where the session ends
  SESSION_BY_CLIENT.get(this)?.logger.debug({ err: error }, 'kubectl session socket error');
}

export class KubectlSession {
  readonly streamId: string;
  readonly cluster: string;
  readonly client: WebSocket;
  readonly logger: Logger;
  readonly #host: SessionHost;
  #isEnded = false;
  #isClientSlow = false;
  /** How often kubectl fell behind what the agent sent (for the end-of-session log line). */
  #slowEpisodes = 0;
  readonly #startedMs = Date.now();
  #framesToAgent = 0;
  #hasHeardFromAgent = false;
  #holdTimer: NodeJS.Timeout | undefined;

  constructor(options: KubectlSessionOptions) {
    this.streamId = options.streamId;
    this.cluster = options.cluster;
    this.client = options.client;
    this.#host = options.host;
    this.logger = options.logger.child({ streamId: options.streamId });
    SESSION_BY_CLIENT.set(options.client, this);
    options.client.on('message', clientOnMessage);
    options.client.on('close', clientOnClose);
    options.client.on('error', clientOnError);
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** kubectl is paused until the agent has had time to dial (see DIAL_GRACE_FRAMES). */
  get isHeld(): boolean {
    return this.#holdTimer !== undefined;
  }

  fromClient(bytes: Buffer, isBinary: boolean): void {
    // messages that were in flight while we closed the client belong to a stream the agent has ended
    if (this.#isEnded) return;
    this.#host.sendData(this.streamId, isBinary, bytes);
    this.#framesToAgent++;
    if (!this.#hasHeardFromAgent && !this.isHeld && this.#framesToAgent >= DIAL_GRACE_FRAMES) {
      const remainingMs = this.#startedMs + DIAL_GRACE_MS - Date.now();
      if (remainingMs > 0) {
        this.client.pause();
        this.#holdTimer = setTimeout(() => this.#release(), remainingMs);
      }
    }
  }

  #release(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    if (!this.#host.isAgentPaused) this.client.resume();
  }

  /** One proxy_websocket_data from the agent, already decoded. */
  fromAgent(frame: WsFrame): void {
    if (this.#isEnded) return;
    this.#hasHeardFromAgent = true;
    if (this.isHeld) this.#release();
    switch (frame.type) {
      case WsFrameType.text:
      case WsFrameType.binary:
        // ws does not validate outgoing UTF-8, so text payloads stay byte-exact
        this.client.send(frame.payload, { binary: frame.type === WsFrameType.binary });
        this.#watchClientQueue();
        return;
      case WsFrameType.close: {
        const { code, reason } = parseClosePayload(frame.payload);
        this.#endByAgent(code, reason);
        return;
      }
      default:
        // ping and pong are per-hop: ws answers kubectl's own pings, the agent answers the API server's
        return;
    }
  }

  agentClosed(): void {
    this.#endByAgent(1000, '');
  }

  agentError(text: string): void {
    this.logger.warn({ cluster: this.cluster, error: text }, 'agent reported a session error');
    this.#endByAgent(1011, truncateCloseReason(text));
  }

  agentLost(): void {
    this.#endByAgent(1011, AGENT_DISCONNECTED_REASON);
  }

  clientClosed(code: number): void {
    if (this.#isEnded) return;
    this.logger.debug({ code }, 'kubectl closed the session');
    this.#end(true);
  }

  #endByAgent(code: number | undefined, reason: string): void {
    if (this.#isEnded) return;
    this.#end(false);
    // CONNECTING cannot happen (sessions start from an accepted socket); CLOSING/CLOSED need nothing
    if (this.client.readyState !== this.client.OPEN) return;
    if (code === undefined) this.client.close();
    else this.client.close(code, reason);
  }

  #watchClientQueue(): void {
    const queued = this.client.bufferedAmount;
    if (queued > CLIENT_QUEUE_LIMIT_BYTES) {
      this.logger.warn({ queued }, 'kubectl stopped reading; session given up');
      this.#end(true);
      this.client.terminate();
      return;
    }
    if (!this.#isClientSlow && queued > CLIENT_HIGH_WATER_BYTES) {
      this.#isClientSlow = true;
      this.#slowEpisodes++;
      this.logger.info({ queued, episodes: this.#slowEpisodes }, 'kubectl reads slower than the agent sends');
    } else if (this.#isClientSlow && queued < CLIENT_LOW_WATER_BYTES) {
      this.#isClientSlow = false;
    }
  }

  /** `tellAgent`: the end started on the kubectl side, so the agent must hear of it (before 'session-ended'). */
  #end(tellAgent: boolean): void {
    this.#isEnded = true;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    if (tellAgent) this.#host.sendClose(this.streamId);
    if (this.#slowEpisodes > 0) this.logger.info({ slowEpisodes: this.#slowEpisodes }, 'session ended after slow-client episodes');
    this.#host.ended(this);
  }
}
