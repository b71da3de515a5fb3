// The gateway proxy as the agent composes it: off unless `agent.enableIngressSync` is set, because it
// advertises the cluster's routes to the platform. When off, nothing is built, so nothing is watched.
// When on, it wires the Ingress informer, Service reads and route calls into an IngressSync.

import type { Logger } from 'pino';
import type { AgentConfig } from '../../config/agent-config.js';
import type { ConnectionTls } from '../../link/connection.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { GatewayRoutesClient } from './gateway-routes-client.js';
import { KubeServiceReader } from './service-reader.js';
import { IngressSync } from './sync.js';
import { IngressWatch } from './watch.js';
import { kubeFailureOf } from '../../kube/kube-failure.js';
import type { KubeClient } from '../../kube/kube-client.js';

export interface GatewayProxyOptions {
  readonly config: AgentConfig;
  /** The agent's own credentials; undefined (no Kubernetes access) leaves the proxy off. */
  readonly kube: KubeClient | undefined;
  /** TLS towards the control plane, as the link uses it. */
  readonly tls: ConnectionTls;
  /** The agent token for the route calls, the link's own provider: asked at every call. */
  readonly token: () => string;
  /** The registered cluster's uuid (or id), undefined before registration. */
  readonly clusterUuid: () => string | undefined;
  readonly clock: Clock;
  readonly random?: (() => number) | undefined;
  readonly logger: Logger;
}

/** The ingress sync when enabled and the cluster is reachable, else undefined (and nothing is started). */
export function createGatewayProxy(options: GatewayProxyOptions): IngressSync | undefined {
  const { config, kube } = options;
  if (!config.agent.enableIngressSync) return undefined;
  const logger = options.logger.child({ part: 'ingress-sync' });
  if (kube === undefined) {
    logger.warn('ingress sync is enabled but the agent has no Kubernetes access; it stays off');
    return undefined;
  }
  try {
    return new IngressSync({
      source: new IngressWatch({ kube, clock: options.clock, logger }),
      // Kubernetes reads and each route call are bounded in real time, whatever clock drives the agent.
      services: new KubeServiceReader(kube, systemClock),
      client: new GatewayRoutesClient({
        apiUrl: config.pipeops.apiUrl,
        token: options.token,
        tls: options.tls,
        clock: options.clock,
        callClock: systemClock,
        ...(options.random === undefined ? {} : { random: options.random }),
        logger,
      }),
      clusterUuid: options.clusterUuid,
      clock: options.clock,
      logger,
    });
  } catch (error) {
    // A kubeconfig without a current cluster: the proxy is off rather than the agent failing to start.
    logger.warn(kubeFailureOf(error), 'ingress sync could not start; it stays off');
    return undefined;
  }
}
