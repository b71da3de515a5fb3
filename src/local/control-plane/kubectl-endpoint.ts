// The kubectl side: `ANY /clusters/<name>/<k8s path>?<query>` becomes one proxy_request on that
// cluster's live agent session; unknown or disconnected clusters are answered here with a Status.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import { queryFlag } from '../query-bool.js';
import type { ClusterRegistry } from './cluster-registry.js';
import { writeKubeStatus } from './kube-status.js';
import { proxyRequestHeaders, sendProxyRequest, WireMode, type ProxyRequestSpec } from './proxy-request.js';

export const CLUSTER_PATH_PREFIX = '/clusters/';
/**
 * Application traffic as the platform's HTTP gateway sends it: `/apps/<cluster>/<path>` becomes a
 * proxy_request for `<path>` with the client's Host and no service fields, so the agent routes it by
 * Host to the ingress controller (§9.5 steps 1 and 4). No cluster token is added.
 */
export const APP_PATH_PREFIX = '/apps/';
/** Timeout sent with watch and follow requests: they end when the client goes away, not before. */
export const LONG_LIVED_TIMEOUT_MS = 24 * 60 * 60_000;

/** Binary frames (request bodies, gzip responses) when the agent advertises them, else legacy JSON. */
export function leanestMode(registerPayload: Readonly<Record<string, unknown>>): WireMode {
  const features = registerPayload['features'];
  const isBinary = typeof features === 'object' && features !== null && (features as Record<string, unknown>)['supports_binary_protocol'] === true;
  return isBinary ? WireMode.binary : WireMode.legacy;
}

/** `watch` or `follow` set in a raw query string, read as kube-apiserver reads a bool (`True`, `t`, `1`, ...). */
export function isWatchOrFollow(query: string): boolean {
  const params = new URLSearchParams(query);
  return queryFlag(params, 'watch') || queryFlag(params, 'follow');
}

/** Added to the timeout sent to the agent before the control plane itself gives up with 504. */
export const RESPONSE_GRACE_MS = 5000;

export interface ClusterTarget {
  readonly name: string;
  /** The Kubernetes path, `/` when the URL names only the cluster. */
  readonly path: string;
  /** Raw query without `?`, exactly as the client sent it. */
  readonly query: string;
}

/** Splits `/clusters/<name>/<path>?<query>` (or `/apps/…`); undefined for other URLs or an undecodable name. */
export function parseClusterTarget(url: string, prefix = CLUSTER_PATH_PREFIX): ClusterTarget | undefined {
  const queryStart = url.indexOf('?');
  const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
  const query = queryStart === -1 ? '' : url.slice(queryStart + 1);
  if (!pathname.startsWith(prefix)) return undefined;
  const rest = pathname.slice(prefix.length);
  const slash = rest.indexOf('/');
  const rawName = slash === -1 ? rest : rest.slice(0, slash);
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    return undefined;
  }
  return { name, path: slash === -1 ? '/' : rest.slice(slash), query };
}

export interface KubectlEndpointOptions {
  readonly registry: ClusterRegistry;
  /** Bearer token for proxied requests; undefined ⇒ the k8s_service_token the agent registered. */
  readonly clusterToken: string | undefined;
  readonly mode: WireMode | undefined;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
}

/** Health paths kubectl sends to the server's root: `kubectl get --raw` replaces the whole server path. */
const ROOT_HEALTH_PATH = /^\/(?:healthz|livez|readyz)(?:\/[^?]*)?(?:\?.*)?$/;

export class KubectlEndpoint {
  readonly #options: KubectlEndpointOptions;
  #requestCounter = 0;

  constructor(options: KubectlEndpointOptions) {
    this.#options = options;
  }

  /**
   * `kubectl get --raw /healthz` drops the kubeconfig server's `/clusters/<name>` path, so health checks
   * arrive at the root. With exactly one cluster connected they are that cluster's; otherwise they are
   * ambiguous and get the 404 of any unknown path.
   */
  #rootHealthTarget(url: string): ClusterTarget | undefined {
    if (!ROOT_HEALTH_PATH.test(url)) return undefined;
    const connected = [...this.#options.registry.all()].filter((cluster) => cluster.session?.isOpen === true);
    if (connected.length !== 1) return undefined;
    const queryStart = url.indexOf('?');
    return {
      name: connected[0]!.name,
      path: queryStart === -1 ? url : url.slice(0, queryStart),
      query: queryStart === -1 ? '' : url.slice(queryStart + 1),
    };
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const appTarget = parseClusterTarget(req.url ?? '/', APP_PATH_PREFIX);
    const target = appTarget ?? parseClusterTarget(req.url ?? '/') ?? this.#rootHealthTarget(req.url ?? '/');
    if (target === undefined) {
      writeKubeStatus(res, 404, 'the server could not find the requested resource');
      return;
    }
    const cluster = this.#options.registry.get(target.name);
    if (cluster === undefined) {
      writeKubeStatus(res, 404, `cluster "${target.name}" not found`);
      return;
    }
    const session = cluster.session;
    if (session === undefined || !session.isOpen) {
      writeKubeStatus(res, 503, `cluster "${target.name}" is not connected`);
      return;
    }
    const requestId = `cp-${++this.#requestCounter}`;
    const method = (req.method ?? 'GET').toUpperCase();
    // Watches and followed logs only work streamed, and live as long as the client keeps them open.
    const isLongLived = isWatchOrFollow(target.query);
    const timeoutMs = isLongLived ? LONG_LIVED_TIMEOUT_MS : this.#options.requestTimeoutMs;
    const spec: ProxyRequestSpec = {
      requestId,
      method,
      path: target.path,
      query: target.query,
      headers: appTarget === undefined ? proxyRequestHeaders(req.rawHeaders, this.#options.clusterToken ?? cluster.serviceToken) : proxyRequestHeaders(req.rawHeaders, undefined, true),
      timeoutMs,
      mode: isLongLived ? WireMode.streaming : (this.#options.mode ?? leanestMode(cluster.registerPayload)),
    };
    this.#options.logger.debug({ requestId, cluster: target.name, method, path: target.path }, 'proxy_request');
    const begin = () => session.beginRequest(requestId, method, res, timeoutMs + RESPONSE_GRACE_MS);
    sendProxyRequest(session, spec, req, begin).catch((error: unknown) => {
      // the client upload failed (usually a hang-up); the pending request, if any, has seen the close
      this.#options.logger.debug({ requestId, err: error }, 'reading the kubectl request failed');
      if (!res.headersSent && !res.destroyed) writeKubeStatus(res, 400, 'reading the request body failed');
    });
  }
}
