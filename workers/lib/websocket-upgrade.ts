// A WebSocket-upgrade `proxy_request` (PROTOCOL.md §9.2, §9.5 step 2): a kubectl session for a Kubernetes
// API path without complete service info (§13.8), an application relay otherwise (§14). Either way the
// relay core (ws-relay.ts) runs it; the HTTP relay and the session entry both come here.
//
//   /api/… or /apis/…, no service ─► validate (§13.2) ─► 200 at once ─► KubeSession (dial, relay)
//   otherwise                      ─► AppRelay: dial ─► 101 ─► relay   (dial failure ⇒ §14.3 reply)

import { ErrorCode } from '../../src/errors.js';
import { OutboundType } from '../../src/protocol/message-types.js';
import { isValidSessionPath } from '../../src/protocol/kube-session-rules.js';
import { DEFAULT_RELAY_DEADLINE_MS } from '../../src/protocol/constants.js';
import type { ActorContext } from './actor-context.js';
import type { ProxyRequest } from './proxy-request.js';
import type { RouterPort } from './router-port.js';
import { RelayFailure } from './upstream-exchange.js';
import { detectClusterDomain, serviceCallError, serviceOrigin } from './service-target.js';
import { aliasLookup } from './host-aliases.js';
import { KubeSession } from './kube-session.js';
import { AppRelay, AppRelayFailure } from './app-relay.js';
import type { RelayOutcome, RelayStats } from './ws-relay.js';

export interface UpgradeResult {
  readonly outcome: RelayOutcome;
  readonly stats: RelayStats;
}

export function isKubeSessionRequest(request: ProxyRequest): boolean {
  return (request.path.startsWith('/api/') || request.path.startsWith('/apis/')) && request.service === undefined;
}

/**
 * Runs the upgrade to its end. Failures before anything was sent throw RelayFailure (the caller answers
 * with `proxy_error`). Takes over `port`'s listener synchronously, before its first await, so frames sent
 * right after the request reach the relay's queue.
 */
export async function runWebSocketUpgrade(
  requestId: string,
  request: ProxyRequest,
  port: RouterPort,
  context: ActorContext,
  startedMs: number,
): Promise<UpgradeResult> {
  return isKubeSessionRequest(request) ? runKubeSession(requestId, request, port, context) : runAppRelay(requestId, request, port, context, startedMs);
}

/** §13.8: the HTTP side completes at once (200, for compatibility), then the session dials and relays. */
async function runKubeSession(requestId: string, request: ProxyRequest, port: RouterPort, context: ActorContext): Promise<UpgradeResult> {
  if (!isValidSessionPath(request.path)) throw new RelayFailure('invalid', 'invalid path: must be a Kubernetes API path');
  const kube = context.kubeUpstream();
  if (kube instanceof Error) throw new RelayFailure('upstream_error', 'kubernetes client not initialized', ErrorCode.kubeUnavailable);
  const session = new KubeSession(
    { streamId: requestId, path: request.path, query: request.query, protocol: request.protocol, headers: request.headers },
    port,
    kube,
    context.config.tuning.streamCreditBytes,
  );
  port.listen(session.listener());
  if (request.supportsResponseStreaming) port.sendJson(OutboundType.proxyResponseEnd, {});
  else port.sendJson(OutboundType.proxyResponse, { status: 200, headers: null });
  const outcome = await session.run(); // sessions have no timeout of their own (§13.7)
  return { outcome, stats: session.stats };
}

/** §14: dial the in-cluster service, answer 101, relay until either side ends (24 h default deadline). */
async function runAppRelay(
  requestId: string,
  request: ProxyRequest,
  port: RouterPort,
  context: ActorContext,
  startedMs: number,
): Promise<UpgradeResult> {
  const service = request.service;
  if (service === undefined) throw new RelayFailure('upstream_error', 'missing service routing information for WebSocket');
  const invalid = serviceCallError(service, request.path, request.query);
  if (invalid !== undefined) throw new RelayFailure('invalid', invalid);
  const { tuning } = context.config;
  const relay = new AppRelay(
    {
      requestId,
      origin: serviceOrigin(service, detectClusterDomain()),
      target: request.path + (request.query === '' ? '' : `?${request.query}`),
      headers: request.headers,
      isStreaming: request.supportsResponseStreaming,
      deadlineMs: request.hasExplicitDeadline ? request.deadlineMs : startedMs + DEFAULT_RELAY_DEADLINE_MS,
      capacity: tuning.relayChannelCapacity,
      lookup: aliasLookup(tuning.hostAliases),
      creditBytes: tuning.streamCreditBytes,
      keepalive: { intervalMs: tuning.relayPingIntervalMs, timeoutMs: tuning.relayPongTimeoutMs },
    },
    port,
  );
  port.listen(relay.listener());
  try {
    return { outcome: await relay.run(), stats: relay.stats };
  } catch (error) {
    if (!(error instanceof AppRelayFailure)) throw error;
    if (request.supportsResponseStreaming) {
      port.sendJson(OutboundType.proxyResponseHeader, { status: error.status, headers: null });
      port.sendJson(OutboundType.proxyResponseAbort, { error: error.message });
    } else {
      port.sendJson(OutboundType.proxyError, { error: error.message });
    }
    return { outcome: 'upstream_error', stats: relay.stats };
  }
}
