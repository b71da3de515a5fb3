// The agents' door: WebSocket upgrades on the controller path (and the gateway path in gateway mode),
// with the handshake checks a real control plane makes (bearer token, no token in the query, known
// cluster on the gateway). Accepted sockets become AgentSessions.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONTROLLER_PATH, GATEWAY_DEFAULT_PATH } from '../../protocol/constants.js';
import type { ClusterRecord } from './cluster-registry.js';
import { ControlPlaneEvent, type HandshakeEvent } from './control-plane-events.js';
import { AgentSession, type AgentSessionContext } from './agent-session.js';
import { refuseUpgrade } from './upgrade-refusal.js';

/** Larger than the agent's own 64 MiB inbound cap, so the agent's limits are the ones a test meets. */
export const AGENT_MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;
const CLOSE_WAIT_MS = 1000;

export interface AgentEndpointOptions {
  /** When set, the handshake must carry exactly `Authorization: Bearer <agentToken>`. */
  readonly agentToken: string | undefined;
  readonly context: AgentSessionContext;
}

interface Verdict {
  readonly status: number;
  readonly message: string;
  readonly cluster?: ClusterRecord;
}

function socketOnCloseWaitEnd(this: WebSocket): void {
  this.terminate();
}

export class AgentEndpoint {
  readonly #options: AgentEndpointOptions;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: AGENT_MAX_PAYLOAD_BYTES });

  constructor(options: AgentEndpointOptions) {
    this.#options = options;
  }

  /** The agent paths: the controller path always, the gateway path only in gateway mode. */
  servesPath(path: string): boolean {
    return path === CONTROLLER_PATH || (this.#options.context.gatewayUrl !== undefined && path === GATEWAY_DEFAULT_PATH);
  }

  /** Answers every upgrade that is not a kubectl one: agent paths are checked, other paths get 404. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://control-plane.invalid');
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const verdict = this.#verify(req, url);
    const event: HandshakeEvent = {
      path: url.pathname,
      query,
      rawQuery: url.search.startsWith('?') ? url.search.slice(1) : url.search,
      headers: req.headers,
      status: verdict.status,
    };
    this.#options.context.events.emit(ControlPlaneEvent.handshake, event);
    if (verdict.status !== 101) {
      this.#options.context.logger.info({ path: url.pathname, status: verdict.status, reason: verdict.message }, 'agent handshake refused');
      refuseUpgrade(socket, verdict.status, `${verdict.message}\n`);
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      new AgentSession(ws, url.pathname, this.#options.context, verdict.cluster, query['supports_yamux'] === 'true');
    });
  }

  /** Closes every agent socket (1001, then a hard stop after a second) and the WebSocket server. */
  async close(): Promise<void> {
    const sockets = [...this.#wss.clients];
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === ws.CLOSED) {
              resolve();
              return;
            }
            const timer = setTimeout(socketOnCloseWaitEnd.bind(ws), CLOSE_WAIT_MS);
            ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            ws.close(1001, 'control plane shutting down');
          }),
      ),
    );
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #verify(req: IncomingMessage, url: URL): Verdict {
    if (!this.servesPath(url.pathname)) return { status: 404, message: 'not found' };
    for (const key of url.searchParams.keys()) {
      if (key.toLowerCase() === 'token') return { status: 400, message: 'the agent token must not appear in the URL query' };
    }
    const authorization = req.headers.authorization;
    const expected = this.#options.agentToken;
    const isAuthorized =
      authorization !== undefined &&
      (expected === undefined ? /^bearer +\S/i.test(authorization) : authorization === `Bearer ${expected}`);
    if (!isAuthorized) return { status: 401, message: 'missing or invalid bearer token' };
    if (url.pathname !== GATEWAY_DEFAULT_PATH) return { status: 101, message: 'ok' };
    const clusterUuid = url.searchParams.get('cluster_uuid') ?? '';
    const cluster = clusterUuid === '' ? undefined : this.#options.context.registry.findById(clusterUuid);
    if (cluster === undefined) return { status: 401, message: 'unknown cluster_uuid' };
    return { status: 101, message: 'ok', cluster };
  }
}
