// The local control plane as the gateway of its registered tunnels: for every tunnel an agent registers
// (PROTOCOL.md §17.3) it opens a loopback listener through that agent's tunnel gateway (§15) and records
// the port in the registry, so GET /local/tunnels and the registry's answers name where clients connect.
// A gateway and its listeners live and die with one agent socket; when the agent connects again, the
// cluster's tunnels are opened again on the new socket (on new ports, recorded the same way).

import type { Logger } from '../../log.js';
import type { TunnelGateway, TunnelListener } from './tunnel-gateway.js';
import type { RegisteredTunnel, TunnelRegistry } from './tunnels-endpoint.js';

export interface TunnelListenersOptions {
  readonly registry: TunnelRegistry;
  /** The cluster's gateway on its current socket; rejects when it is not connected or has no yamux. */
  readonly gatewayOf: (clusterName: string) => Promise<TunnelGateway>;
  readonly clusterName: (clusterUuid: string) => string | undefined;
  readonly logger: Logger;
}

interface OpenTunnel {
  readonly shape: string;
  readonly listener: TunnelListener;
}

interface ClusterListeners {
  gateway: TunnelGateway | undefined;
  readonly open: Map<string, OpenTunnel>;
}

/** What a listener is bound to: a change of any of these opens a new one. */
function shapeOf(tunnel: RegisteredTunnel): string {
  return `${tunnel.protocol}|${tunnel.service_namespace}/${tunnel.service_name}:${tunnel.service_port}`;
}

export class TunnelListeners {
  readonly #options: TunnelListenersOptions;
  readonly #clusters = new Map<string, ClusterListeners>();
  /** One reconcile at a time per cluster, in arrival order. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #unsubscribe: () => void;
  #isClosed = false;

  constructor(options: TunnelListenersOptions) {
    this.#options = options;
    this.#unsubscribe = options.registry.onTunnelsChanged((clusterUuid) => this.reconcile(clusterUuid));
  }

  /** The agent of `clusterName` (re)connected: its tunnels are opened on the new socket. */
  agentConnected(clusterName: string): void {
    for (const cluster of this.#options.registry.clusters()) {
      if (cluster.clusterName === clusterName) this.reconcile(cluster.clusterUuid);
    }
  }

  /** Opens, keeps or closes listeners until they match the cluster's registered tunnels. */
  reconcile(clusterUuid: string): Promise<void> {
    const previous = this.#queues.get(clusterUuid) ?? Promise.resolve();
    const next = previous.then(() => this.#reconcile(clusterUuid));
    const settled = next.catch((error: unknown) => this.#options.logger.warn({ err: error, clusterUuid }, 'tunnel listeners not updated'));
    this.#queues.set(clusterUuid, settled);
    return settled;
  }

  async close(): Promise<void> {
    this.#isClosed = true;
    this.#unsubscribe();
    await Promise.all([...this.#queues.values()]);
    const listeners = [...this.#clusters.values()].flatMap((cluster) => [...cluster.open.values()]);
    this.#clusters.clear();
    await Promise.all(listeners.map((open) => open.listener.close()));
  }

  async #reconcile(clusterUuid: string): Promise<void> {
    if (this.#isClosed) return;
    const tunnels = this.#options.registry.list(clusterUuid);
    let cluster = this.#clusters.get(clusterUuid);
    if (cluster === undefined) {
      cluster = { gateway: undefined, open: new Map() };
      this.#clusters.set(clusterUuid, cluster);
    }
    const name = this.#options.clusterName(clusterUuid);
    if (name === undefined || tunnels.length === 0) {
      await this.#closeAll(cluster);
      return;
    }
    const gateway = await this.#options.gatewayOf(name);
    if (cluster.gateway !== gateway) {
      // the old socket's listeners closed with it
      cluster.open.clear();
      cluster.gateway = gateway;
    }
    const wanted = new Map(tunnels.map((tunnel) => [tunnel.tunnel_id, tunnel]));
    for (const [tunnelId, open] of [...cluster.open]) {
      const tunnel = wanted.get(tunnelId);
      if (tunnel !== undefined && shapeOf(tunnel) === open.shape) continue;
      cluster.open.delete(tunnelId);
      await open.listener.close();
    }
    for (const tunnel of tunnels) {
      if (cluster.open.has(tunnel.tunnel_id) || this.#isClosed) continue;
      const listener = await gateway.openTunnelListener({
        protocol: tunnel.protocol,
        tunnelId: tunnel.tunnel_id,
        serviceName: tunnel.service_name,
        serviceNamespace: tunnel.service_namespace,
        servicePort: tunnel.service_port,
      });
      cluster.open.set(tunnel.tunnel_id, { shape: shapeOf(tunnel), listener });
      this.#options.registry.setEndpoint(clusterUuid, tunnel.tunnel_id, { port: listener.port, endpoint: `127.0.0.1:${listener.port}` });
    }
  }

  async #closeAll(cluster: ClusterListeners): Promise<void> {
    const open = [...cluster.open.values()];
    cluster.open.clear();
    await Promise.all(open.map((entry) => entry.listener.close()));
  }
}
