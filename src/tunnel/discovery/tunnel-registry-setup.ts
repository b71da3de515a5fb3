// The tunnel registry sync as the agent composes it: on unless `tunnel.enabled` is false. With Kubernetes
// access it watches the Gateway API; without it, only the config-declared tunnels are registered.

import type { Logger } from 'pino';
import type { AgentConfig } from '../../config/agent-config.js';
import type { ConnectionTls } from '../../link/connection.js';
import type { AgentMetrics } from '../../metrics/agent-metrics.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { kubeFailureOf } from '../../kube/kube-failure.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { GatewayApiWatch, type GatewayApiSource } from './gateway-api-watch.js';
import { HttpTunnelRegistryClient } from './tunnel-registry-client.js';
import { TunnelRegistrySync } from './tunnel-registry-sync.js';

export interface TunnelRegistrySetupOptions {
  readonly config: AgentConfig;
  readonly kube: KubeClient | undefined;
  readonly tls: ConnectionTls;
  readonly clusterUuid: () => string | undefined;
  /** The agent token, read at every call (agent.ts's one token provider). */
  readonly token: () => string;
  readonly clock: Clock;
  readonly random?: (() => number) | undefined;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
}

/** The sync when the tunnel is enabled, else undefined (nothing watched, nothing called). */
export function createTunnelRegistrySync(options: TunnelRegistrySetupOptions): TunnelRegistrySync | undefined {
  const { config, kube } = options;
  if (!config.tunnel.enabled) {
    if (config.tunnel.tunnels.length > 0) options.logger.warn({ tunnels: config.tunnel.tunnels.length }, 'tunnel.tunnels is set but tunnel.enabled is false: no tunnel is registered');
    return undefined;
  }
  const logger = options.logger.child({ part: 'tunnel-registry' });
  let source: GatewayApiSource | undefined;
  if (kube === undefined) {
    logger.info('no Kubernetes access: only config-declared tunnels are registered');
  } else {
    try {
      source = new GatewayApiWatch({ kube, clock: options.clock, logger });
    } catch (error) {
      logger.warn(kubeFailureOf(error), 'Gateway API watch could not start; only config-declared tunnels are registered');
    }
  }
  return new TunnelRegistrySync({
    declared: config.tunnel.tunnels,
    source,
    client: new HttpTunnelRegistryClient({
      apiUrl: config.pipeops.apiUrl,
      token: options.token,
      tls: options.tls,
      clock: options.clock,
      // Each call is bounded in real time, whatever clock drives the agent.
      callClock: systemClock,
      random: options.random,
      logger,
    }),
    clusterUuid: options.clusterUuid,
    clock: options.clock,
    metrics: options.metrics,
    logger,
  });
}
