// kubectl's upgrades on `/clusters/<name>/<k8s path>`: WebSocket upgrades (exec, attach, cp, port-forward)
// are accepted at once and become `proxy_websocket_start` on the cluster's agent socket; SPDY upgrades are
// refused with a Status that tells the user what to do instead.
//
// The upgrade is accepted before the agent has dialled the API server: the protocol has no positive
// acknowledgement, and waiting for the first frame would add latency to every exec. A failed dial comes
// back as proxy_error and closes the session with 1011 and the agent's text.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { JsonObject } from '../../protocol/envelope.js';
import type { HeaderMap } from '../../protocol/headers.js';
import type { Logger } from '../../log.js';
import type { AgentSession } from './agent-session.js';
import type { ClusterRegistry } from './cluster-registry.js';
import { kubeStatusBody } from './kube-status.js';
import { AGENT_DISCONNECTED_REASON, KubectlSession } from './kubectl-session.js';
import { parseClusterTarget, type ClusterTarget } from './kubectl-endpoint.js';
import { proxyRequestHeaders } from './proxy-request.js';
import { refuseUpgrade } from './upgrade-refusal.js';

export const SPDY_REFUSAL_MESSAGE =
  'SPDY upgrades are not tunnelled by the local control plane; use kubectl >= 1.31 with WebSocket sessions ' +
  '(unset KUBECTL_REMOTE_COMMAND_WEBSOCKETS / KUBECTL_PORT_FORWARD_WEBSOCKETS)';

/** kubectl writes stdin and port-forward data in frames of at most 32 KiB; this only stops abuse. */
export const CLIENT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const CLOSE_WAIT_MS = 1000;

/** Handshake headers that belong to the client's own WebSocket; the agent's dial makes its own (§13.4). */
const HANDSHAKE_ONLY: ReadonlySet<string> = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']);

export interface SessionEndpointOptions {
  readonly registry: ClusterRegistry;
  /** Bearer token for the session; undefined ⇒ the k8s_service_token the agent registered. */
  readonly clusterToken: string | undefined;
  readonly logger: Logger;
}

/** The subprotocol each accepted request selected, for the 'headers' listener to write. */
const CHOSEN_PROTOCOL = new WeakMap<IncomingMessage, string>();

/**
 * Writes the selected subprotocol into the 101 ourselves: ws validates offered subprotocols as RFC 7230
 * tokens and answers 400 to `SPDY/3.1+portforward.k8s.io` (`/` is no token character). The header is
 * removed from the request before handleUpgrade, so ws neither rejects nor selects anything itself.
 */
function wssOnHeaders(headers: string[], req: IncomingMessage): void {
  const protocol = CHOSEN_PROTOCOL.get(req);
  if (protocol !== undefined) headers.push(`Sec-WebSocket-Protocol: ${protocol}`);
}

function socketOnCloseWaitEnd(this: WebSocket): void {
  this.terminate();
}

/** The request's Upgrade tokens, lower-cased (`websocket`, `spdy/3.1`, …). */
function upgradeTokens(req: IncomingMessage): string[] {
  return (req.headers.upgrade ?? '').split(',').map((token) => token.trim().toLowerCase()).filter((token) => token !== '');
}

/** The client's first offered subprotocol over every Sec-WebSocket-Protocol line, as it spelled it. */
export function firstOfferedProtocol(rawHeaders: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'sec-websocket-protocol') continue;
    const first = rawHeaders[i + 1]!.split(',').map((item) => item.trim()).find((item) => item !== '');
    if (first !== undefined) return first;
  }
  return undefined;
}

/**
 * The start's headers: the HTTP rule (hop-by-hop, Host and the client's Authorization removed, the cluster
 * token added) minus the client's handshake headers. Sec-WebSocket-Protocol stays as sent: the agent offers
 * exactly those subprotocols upstream (§13.5), which keeps the relay transparent.
 */
export function sessionStartHeaders(rawHeaders: readonly string[], bearerToken: string | undefined): HeaderMap {
  const headers = proxyRequestHeaders(rawHeaders, bearerToken);
  const kept: HeaderMap = {};
  for (const [name, values] of Object.entries(headers)) {
    if (!HANDSHAKE_ONLY.has(name.toLowerCase())) kept[name] = values;
  }
  return kept;
}

export function sessionStartPayload(streamId: string, target: ClusterTarget, headers: HeaderMap): JsonObject {
  const payload: JsonObject = { stream_id: streamId, method: 'GET', path: target.path };
  if (target.query !== '') payload['query'] = target.query;
  payload['headers'] = headers;
  return payload;
}

export class SessionEndpoint {
  readonly #options: SessionEndpointOptions;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: CLIENT_MAX_PAYLOAD_BYTES });
  #streamCounter = 0;

  constructor(options: SessionEndpointOptions) {
    this.#options = options;
    this.#wss.on('headers', wssOnHeaders);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const logger = this.#options.logger;
    const tokens = upgradeTokens(req);
    if (!tokens.includes('websocket')) {
      // SPDY is kubectl's last resort (it falls back to it from a refused WebSocket), so this answer is what
      // the user sees: kubectl prints the Status message of any refusal as "Error from server (BadRequest)"
      const isSpdy = tokens.some((token) => token.startsWith('spdy/'));
      const message = isSpdy ? SPDY_REFUSAL_MESSAGE : `unsupported upgrade "${req.headers.upgrade ?? ''}": only WebSocket sessions are relayed`;
      logger.info({ url: req.url, upgrade: req.headers.upgrade }, 'non-WebSocket kubectl upgrade refused');
      refuseUpgrade(socket, 400, kubeStatusBody(400, message), 'application/json');
      return;
    }
    const target = parseClusterTarget(req.url ?? '/');
    const cluster = target === undefined ? undefined : this.#options.registry.get(target.name);
    if (target === undefined || cluster === undefined) {
      const message = target === undefined ? 'the server could not find the requested resource' : `cluster "${target.name}" not found`;
      refuseUpgrade(socket, 404, kubeStatusBody(404, message), 'application/json');
      return;
    }
    const agent = cluster.session;
    if (agent === undefined || !agent.isOpen) {
      refuseUpgrade(socket, 503, kubeStatusBody(503, `cluster "${target.name}" is not connected`), 'application/json');
      return;
    }
    const headers = sessionStartHeaders(req.rawHeaders, this.#options.clusterToken ?? cluster.serviceToken);
    const protocol = firstOfferedProtocol(req.rawHeaders);
    if (protocol !== undefined) CHOSEN_PROTOCOL.set(req, protocol);
    delete req.headers['sec-websocket-protocol'];
    // ws answers malformed handshakes (key, version) itself; the callback runs only for accepted ones
    this.#wss.handleUpgrade(req, socket, head, (client) => this.#start(client, agent, target, headers));
  }

  /** Closes the remaining kubectl sockets (1001, then a hard stop after a second) and the server. */
  async close(): Promise<void> {
    await Promise.all([...this.#wss.clients].map(closeClient));
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #start(client: WebSocket, agent: AgentSession, target: ClusterTarget, headers: HeaderMap): void {
    // the handshake completes synchronously after the checks above, but a socket is never trusted blindly
    if (!agent.isOpen) {
      client.close(1011, AGENT_DISCONNECTED_REASON);
      return;
    }
    const streamId = `ws-${++this.#streamCounter}`;
    const session = new KubectlSession({ streamId, cluster: target.name, client, host: agent.streams, logger: agent.logger });
    // registered before the start goes out, and client messages are only read on a later tick, so the
    // start always precedes the session's first data on the agent socket
    agent.streams.add(session);
    agent.sendJson('proxy_websocket_start', sessionStartPayload(streamId, target, headers), streamId);
    session.logger.debug({ path: target.path }, 'kubectl session started');
  }
}

function closeClient(client: WebSocket): Promise<void> {
  return new Promise<void>((resolve) => {
    if (client.readyState === client.CLOSED) {
      resolve();
      return;
    }
    const timer = setTimeout(socketOnCloseWaitEnd.bind(client), CLOSE_WAIT_MS);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (client.readyState === client.OPEN) client.close(1001, 'control plane shutting down');
  });
}
