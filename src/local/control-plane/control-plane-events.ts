// Names and payloads of the events the local control plane emits on `ControlPlane.events`, so tests can
// watch the wire without reaching into sockets.

import type { IncomingHttpHeaders } from 'node:http';
import type { Envelope } from '../../protocol/envelope.js';

export const ControlPlaneEvent = {
  /** Every JSON message from an agent (text frames, and JSON sent in binary frames). */
  agentMessage: 'agent-message',
  /** Every binary frame from an agent that is not JSON. */
  agentBinary: 'agent-binary',
  /** A socket became a cluster's live session. */
  agentConnected: 'agent-connected',
  /** A cluster's live session socket closed. */
  agentDisconnected: 'agent-disconnected',
  /** Every upgrade attempt on an agent path, accepted or not. */
  handshake: 'handshake',
  /** A kubectl WebSocket upgrade was accepted and proxy_websocket_start sent. */
  sessionStarted: 'session-started',
  /** A kubectl session ended, whichever side ended it (the proxy_websocket_close, if due, is already sent). */
  sessionEnded: 'session-ended',
} as const;
export type ControlPlaneEvent = (typeof ControlPlaneEvent)[keyof typeof ControlPlaneEvent];

export interface AgentMessageEvent {
  /** Cluster name, once the socket is bound to one (undefined on a controller socket before `register`). */
  readonly cluster: string | undefined;
  readonly type: string;
  readonly envelope: Envelope;
}

export interface AgentBinaryEvent {
  readonly cluster: string | undefined;
  readonly data: Uint8Array;
}

export interface AgentConnectedEvent {
  readonly cluster: string;
  /** `/api/v1/clusters/agent/ws` or `/ws`. */
  readonly path: string;
}

export interface AgentDisconnectedEvent {
  readonly cluster: string;
  readonly code: number;
  readonly reason: string;
}

export interface HandshakeEvent {
  readonly path: string;
  /** Query parameters in received order (last one wins for repeated keys). */
  readonly query: Readonly<Record<string, string>>;
  /** The raw query string, without `?` (for checks of order and encoding). */
  readonly rawQuery: string;
  /** Node's lower-cased header view; Authorization is included, so never log this object. */
  readonly headers: IncomingHttpHeaders;
  /** HTTP status the control plane answered with: 101 when accepted. */
  readonly status: number;
}

export interface SessionEvent {
  readonly cluster: string;
  /** `ws-<counter>`: the stream id and envelope request_id of the session's messages. */
  readonly streamId: string;
}
