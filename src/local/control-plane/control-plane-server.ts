// The local control plane as one object: an HTTP(S) server whose upgrades on the agent paths are agent
// sockets and whose `/clusters/<name>/…` requests are kubectl traffic relayed over them. Owns the
// listening socket and shuts everything down on close(); protocol work lives in the modules it composes.
//
//   agent ──wss /api/v1/clusters/agent/ws (or /ws)──▶ AgentEndpoint ─▶ AgentSession ─┐
//   kubectl ──https /clusters/<name>/api/…──▶ KubectlEndpoint ─▶ proxy_request ───────┤ ◀─ answers ─ PendingRequest
//   kubectl ──wss upgrade /clusters/<name>/…/exec──▶ SessionEndpoint ─▶ proxy_websocket_* ┘ ◀─ frames ─ SessionTable

import { EventEmitter } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { AgentError, ErrorCode } from '../../errors.js';
import { GATEWAY_DEFAULT_PATH } from '../../protocol/constants.js';
import { silentLogger, type Logger } from '../../log.js';
import { AgentEndpoint } from './agent-endpoint.js';
import { ClusterRegistry, clusterSnapshot, type ClusterInfo } from './cluster-registry.js';
import { TunnelGateway, type TunnelGatewayOptions } from './tunnel-gateway.js';
import { TunnelListeners } from './tunnel-listeners.js';
import type { AgentSession } from './agent-session.js';
import { ControlPlaneEvent, type AgentConnectedEvent } from './control-plane-events.js';
import { kubeconfigYaml, writeKubeconfigFile } from './kubeconfig.js';
import { CLUSTER_PATH_PREFIX, KubectlEndpoint } from './kubectl-endpoint.js';
import { WireMode } from './proxy-request.js';
import { SessionEndpoint } from './session-endpoint.js';
import type { TerminalReplyAudit } from './terminal-reply-audit.js';
import { RoutesEndpoint, type GatewayRoutes, type GatewayRoutesOptions } from './routes-endpoint.js';
import { TunnelsEndpoint, type TunnelRegistry } from './tunnels-endpoint.js';

export { WireMode } from './proxy-request.js';
export type { ClusterInfo } from './cluster-registry.js';
export type { TunnelGateway, TunnelGatewayOptions, TunnelListener, TunnelListenerSpec } from './tunnel-gateway.js';
export { TerminalReplyAudit, type AuditSnapshot } from './terminal-reply-audit.js';
export * from './control-plane-events.js';
export type { RegisteredTunnel, TunnelCall, TunnelEndpointResolver, TunnelRegistry, TunnelsChangedListener } from './tunnels-endpoint.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

export interface ControlPlaneOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; default 0 (a free one). */
  port?: number;
  /** Serve https/wss on both endpoints with this certificate; `caPem` goes into kubeconfigs. */
  tls?: { keyPem: string; certPem: string; caPem: string } | undefined;
  /** When set, the agent handshake must carry exactly `Authorization: Bearer <agentToken>`; else any bearer token. */
  agentToken?: string;
  /** Token put into Authorization of proxied requests; default: the k8s_service_token the agent registered. */
  clusterToken?: string;
  /** When true, register_success carries gateway_ws_url = ws(s)://host:port/ws and only gateway sockets carry requests. */
  gateway?: boolean;
  /**
   * Act as the gateway of every registered tunnel (§15, §17.3): a loopback listener per tunnel, opened through
   * the agent's yamux session (gateway mode only: supports_yamux travels in the gateway socket's query).
   */
  tunnelListeners?: boolean;
  /** How request bodies (and response streaming) are asked for; default legacy. */
  /** Wire mode for every request; default: the leanest the agent advertises (binary when it supports it). */
  mode?: WireMode;
  /**
   * Offer binary stream frames (docs/protocol.md extension) to every agent; default: on, except in legacy
   * mode, which keeps the whole wire as PROTOCOL.md alone describes it.
   */
  streamFrames?: boolean;
  /** `timeout` sent in proxy_request, in milliseconds; default 120000. */
  requestTimeoutMs?: number;
  /**
   * Keeps the cluster registry (names, ids, the tokens agents offered) in this file across restarts, so agents
   * that resume without registering are reachable again; the command puts it beside the kubeconfig.
   */
  registryFile?: string;
  /** The ingress route endpoints (PROTOCOL.md §17.2), e.g. to fail the next calls in retry tests. */
  gatewayRoutes?: GatewayRoutesOptions;
  /** Counts the agent's terminal replies; pass the same one to a restarted control plane to keep counting. */
  terminalReplyAudit?: TerminalReplyAudit;
  logger?: Logger;
}

export interface ControlPlane {
  /** `http(s)://127.0.0.1:PORT`: what PIPEOPS_API_URL points at. */
  readonly url: string;
  clusterUrl(name: string): string;
  kubeconfigYaml(clusterName: string): string;
  writeKubeconfig(path: string, clusterName: string): Promise<void>;
  /** Resolves once that cluster has an open session socket (registered, or resumed on the gateway). */
  waitForCluster(name: string, timeoutMs: number): Promise<ClusterInfo>;
  cluster(name: string): ClusterInfo | undefined;
  /** Emits the ControlPlaneEvent names with the payloads of control-plane-events.ts. */
  readonly events: EventEmitter;
  /** The routes agents registered and synced, and the calls that did it. */
  readonly gatewayRoutes: GatewayRoutes;
  /**
   * The tunnel registry (PROTOCOL.md §17.3) agents register TCP/UDP tunnels with; also served as JSON at
   * GET /local/tunnels. `tunnels.onTunnelsChanged((clusterUuid, tunnels) => …)` feeds the gateway listeners.
   */
  readonly tunnels: TunnelRegistry;
  /** Sends a raw frame on the cluster's session socket; throws when it is not connected. */
  sendToAgent(clusterName: string, data: string | Uint8Array, isBinary?: boolean): void;
  /**
   * Acts as the gateway of PROTOCOL.md §15 on the cluster's session socket (it must have advertised
   * supports_yamux): gateway_hello, then the yamux server session; one TunnelGateway per socket.
   */
  startTunnelGateway(clusterName: string, options?: TunnelGatewayOptions): Promise<TunnelGateway>;
  /** Closes the cluster's session socket with `code` (default 1000; 1006 drops it without a close frame). */
  dropAgent(clusterName: string, code?: number): void;
  /** Closes every socket and the server. */
  close(): Promise<void>;
}

function configError(message: string): AgentError {
  return new AgentError(ErrorCode.configInvalid, message);
}

function validateOptions(options: ControlPlaneOptions): void {
  const problems: string[] = [];
  const { port, mode, requestTimeoutMs } = options;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) problems.push(`port must be an integer from 0 to 65535 (got ${String(port)})`);
  if (mode !== undefined && !Object.values(WireMode).includes(mode)) problems.push(`mode must be one of legacy, binary, streaming (got "${String(mode)}")`);
  if (requestTimeoutMs !== undefined && (!Number.isInteger(requestTimeoutMs) || requestTimeoutMs <= 0)) {
    problems.push(`requestTimeoutMs must be a positive integer (got ${String(requestTimeoutMs)})`);
  }
  if (options.agentToken === '') problems.push('agentToken must not be empty when given');
  if (problems.length > 0) throw configError(`invalid control plane options: ${problems.join('; ')}`);
}

/** The host part of URLs we hand out: a wildcard bind is reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

const PLANE_BY_SERVER = new WeakMap<Server, LocalControlPlane>();
/** The tunnel gateway of each agent socket: it lives and dies with that socket. */
const TUNNEL_GATEWAY_BY_SESSION = new WeakMap<AgentSession, Promise<TunnelGateway>>();

function serverOnRequest(this: Server, req: IncomingMessage, res: ServerResponse): void {
  PLANE_BY_SERVER.get(this)?.handleRequest(req, res);
}

function serverOnError(this: Server, error: Error): void {
  PLANE_BY_SERVER.get(this)?.logger.error({ err: error }, 'control plane server error');
}

function serverOnUpgrade(this: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const plane = PLANE_BY_SERVER.get(this);
  if (plane === undefined) socket.destroy();
  else plane.handleUpgrade(req, socket, head);
}

class LocalControlPlane implements ControlPlane {
  readonly url: string;
  readonly events = new EventEmitter();
  readonly #server: Server;
  readonly #registry: ClusterRegistry;
  readonly #caPem: string | undefined;
  readonly #agents: AgentEndpoint;
  readonly #kubectl: KubectlEndpoint;
  readonly #sessions: SessionEndpoint;
  readonly gatewayRoutes: RoutesEndpoint;
  readonly tunnels: TunnelsEndpoint;
  readonly logger: Logger;
  readonly #waiters = new Set<(error: Error) => void>();
  #stopTunnelListeners: (() => Promise<void>) | undefined;

  constructor(server: Server, options: ControlPlaneOptions, host: string, port: number) {
    this.#server = server;
    this.#caPem = options.tls?.caPem;
    this.logger = options.logger ?? silentLogger();
    this.#registry = new ClusterRegistry({ file: options.registryFile, logger: this.logger });
    const isTls = options.tls !== undefined;
    this.url = `${isTls ? 'https' : 'http'}://${urlHost(host)}:${port}`;
    this.events.setMaxListeners(100);
    const gatewayUrl = options.gateway === true ? `${isTls ? 'wss' : 'ws'}://${urlHost(host)}:${port}${GATEWAY_DEFAULT_PATH}` : undefined;
    this.#agents = new AgentEndpoint({
      agentToken: options.agentToken,
      context: {
        registry: this.#registry,
        events: this.events,
        logger: this.logger,
        gatewayUrl,
        audit: options.terminalReplyAudit,
        shouldOfferStreamFrames: options.streamFrames ?? options.mode !== WireMode.legacy,
      },
    });
    this.#kubectl = new KubectlEndpoint({
      registry: this.#registry,
      clusterToken: options.clusterToken,
      mode: options.mode,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      logger: this.logger,
    });
    this.#sessions = new SessionEndpoint({ registry: this.#registry, clusterToken: options.clusterToken, logger: this.logger });
    this.gatewayRoutes = new RoutesEndpoint({
      ...options.gatewayRoutes,
      agentToken: options.agentToken,
      clusterName: (uuid) => this.#registry.findById(uuid)?.name,
      logger: this.logger,
    });
    this.tunnels = new TunnelsEndpoint({
      agentToken: options.agentToken,
      clusterName: (uuid) => this.#registry.findById(uuid)?.name,
      logger: this.logger,
    });
    if (options.tunnelListeners === true) {
      const listeners = new TunnelListeners({
        registry: this.tunnels,
        gatewayOf: (clusterName) => this.startTunnelGateway(clusterName),
        clusterName: (uuid) => this.#registry.findById(uuid)?.name,
        logger: this.logger.child({ part: 'tunnel-listeners' }),
      });
      // yamux is negotiated on the gateway socket only (its query carries supports_yamux)
      const eventsOnAgentConnected = (event: AgentConnectedEvent): void => {
        if (event.path === GATEWAY_DEFAULT_PATH) listeners.agentConnected(event.cluster);
      };
      this.events.on(ControlPlaneEvent.agentConnected, eventsOnAgentConnected);
      this.#stopTunnelListeners = async () => {
        this.events.off(ControlPlaneEvent.agentConnected, eventsOnAgentConnected);
        await listeners.close();
      };
      // until its listener is bound, a tunnel has no endpoint (port 0): clients need the listener's port
      this.tunnels.setEndpointResolver(() => ({ port: 0, endpoint: '' }));
    }
    PLANE_BY_SERVER.set(server, this);
    server.on('request', serverOnRequest);
    server.on('upgrade', serverOnUpgrade);
    server.on('error', serverOnError);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.gatewayRoutes.handles(req)) {
      this.gatewayRoutes.handleRequest(req, res);
      return;
    }
    if (this.tunnels.handles(req)) {
      this.tunnels.handleRequest(req, res);
      return;
    }
    this.#kubectl.handleRequest(req, res);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if ((req.url ?? '/').startsWith(CLUSTER_PATH_PREFIX)) {
      this.#sessions.handleUpgrade(req, socket, head);
      return;
    }
    this.#agents.handleUpgrade(req, socket, head);
  }

  clusterUrl(name: string): string {
    return `${this.url}${CLUSTER_PATH_PREFIX}${encodeURIComponent(name)}`;
  }

  kubeconfigYaml(clusterName: string): string {
    return kubeconfigYaml({ name: clusterName, server: this.clusterUrl(clusterName), caPem: this.#caPem });
  }

  writeKubeconfig(path: string, clusterName: string): Promise<void> {
    return writeKubeconfigFile(path, { name: clusterName, server: this.clusterUrl(clusterName), caPem: this.#caPem });
  }

  cluster(name: string): ClusterInfo | undefined {
    const record = this.#registry.get(name);
    return record === undefined ? undefined : clusterSnapshot(record);
  }

  waitForCluster(name: string, timeoutMs: number): Promise<ClusterInfo> {
    const current = this.cluster(name);
    if (current?.isConnected === true) return Promise.resolve(current);
    return new Promise<ClusterInfo>((resolve, reject) => {
      const settle = (error: Error | undefined): void => {
        clearTimeout(timer);
        this.events.off(ControlPlaneEvent.agentConnected, eventsOnAgentConnected);
        this.#waiters.delete(settle);
        const info = this.cluster(name);
        if (error === undefined && info !== undefined) resolve(info);
        else reject(error ?? new Error(`cluster "${name}" vanished`));
      };
      const eventsOnAgentConnected = (event: AgentConnectedEvent): void => {
        if (event.cluster === name) settle(undefined);
      };
      const timer = setTimeout(() => settle(new Error(`cluster "${name}" did not connect within ${timeoutMs} ms`)), timeoutMs);
      this.events.on(ControlPlaneEvent.agentConnected, eventsOnAgentConnected);
      this.#waiters.add(settle);
    });
  }

  sendToAgent(clusterName: string, data: string | Uint8Array, isBinary = false): void {
    const session = this.#registry.get(clusterName)?.session;
    if (session === undefined || !session.isOpen) throw new Error(`cluster "${clusterName}" is not connected`);
    session.send(data, isBinary);
  }

  startTunnelGateway(clusterName: string, options?: TunnelGatewayOptions): Promise<TunnelGateway> {
    const session = this.#registry.get(clusterName)?.session;
    if (session === undefined || !session.isOpen) return Promise.reject(new Error(`cluster "${clusterName}" is not connected`));
    let gateway = TUNNEL_GATEWAY_BY_SESSION.get(session);
    if (gateway === undefined) {
      gateway = TunnelGateway.start(session, options);
      TUNNEL_GATEWAY_BY_SESSION.set(session, gateway);
      gateway.catch(() => TUNNEL_GATEWAY_BY_SESSION.delete(session));
    }
    return gateway;
  }

  dropAgent(clusterName: string, code = 1000): void {
    const session = this.#registry.get(clusterName)?.session;
    if (session === undefined) throw new Error(`cluster "${clusterName}" is not connected`);
    session.close(code, 'dropped by the control plane');
  }

  async close(): Promise<void> {
    for (const settle of [...this.#waiters]) settle(new Error('control plane closed'));
    await this.#stopTunnelListeners?.();
    const serverClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // agents first: their sockets' close ends every kubectl session (1011), then the stragglers go
    await this.#agents.close();
    await this.#sessions.close();
    this.#server.closeAllConnections();
    await serverClosed;
    await this.#registry.flush();
    this.#server.off('request', serverOnRequest);
    this.#server.off('upgrade', serverOnUpgrade);
    this.#server.off('error', serverOnError);
  }
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  validateOptions(options);
  const host = options.host ?? '127.0.0.1';
  const tls = options.tls;
  const server: Server = tls === undefined ? createHttpServer() : createHttpsServer({ key: tls.keyPem, cert: tls.certPem });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const plane = new LocalControlPlane(server, options, host, port);
  (options.logger ?? silentLogger()).info({ url: plane.url, mode: options.mode ?? 'leanest advertised', gateway: options.gateway === true }, 'local control plane listening');
  return plane;
}
