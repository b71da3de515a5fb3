// Facts about the cluster and host that go into `register` and `heartbeat` (PROTOCOL.md §5.1, §6.4),
// read with the agent's own credentials. Every Kubernetes call is bounded in time; a failure yields the
// protocol's fallback values, never a blocked registration or heartbeat.

import os from 'node:os';
import { primaryInterfaceIp } from './region/public-ip.js';
import { readFileSync, statfsSync } from 'node:fs';
import type { Logger } from 'pino';
import { REGISTER_FEATURES } from '../protocol/message-types.js';
import type { JsonObject } from '../protocol/envelope.js';
import type { LinkState } from '../link/link-state.js';
import { rfc3339 } from '../protocol/envelope.js';
import type { GatewayFacts } from './ingress/sync.js';
import { boundedKubeCall } from '../kube/bounded-call.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { KubeList } from '../kube/kube-informer.js';
import { kubeFailureOf } from '../kube/kube-failure.js';
import { systemClock, type Clock } from '../util/clock.js';
import { monitoringHeartbeatFields, type MonitoringSource } from './monitoring/discovery.js';
import type { RegionSource } from './region/detection.js';

export const FACTS_CALL_TIMEOUT_MS = 5_000;
const FALLBACK_K8S_VERSION = 'v1.28.0+k3s1';

export interface ClusterFactsOptions {
  /** The agent's own Kubernetes access; undefined: none (fallback values). */
  readonly kube: KubeClient | undefined;
  readonly agentId: string;
  readonly agentVersion: string;
  readonly clusterName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceToken: string | undefined;
  readonly agentPort: number;
  readonly logger: Logger;
  /** The gateway proxy's view while ingress sync runs (CLUSTER.md §4); absent: private, no routes. */
  readonly gateway?: GatewayFacts | undefined;
  /** Cached monitoring endpoints for the heartbeat (PROTOCOL.md §6.4); none are sent without it. */
  readonly monitoring?: MonitoringSource;
  /** Region, provider, public IP and ip-intel metadata (CLUSTER.md §5); defaults and the interface IP without it. */
  readonly region?: RegionSource;
  /** Picks `k8s_service_token` at each registration (CLUSTER.md §2); `serviceToken` is sent as is without it. */
  readonly credentials?: { serviceToken(): Promise<string | undefined> };
  /** Measures each Kubernetes call's bound (FACTS_CALL_TIMEOUT_MS); real time unless given. */
  readonly callClock?: Clock;
}

function osName(): string {
  try {
    const match = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (match?.[1] !== undefined) return match[1];
  } catch {
    // not Linux, or no os-release
  }
  return `${os.type()} ${os.release()}`;
}

function serverSpecs(): JsonObject {
  const specs: JsonObject = {};
  const cpuCores = os.availableParallelism();
  const memoryGb = Math.round(os.totalmem() / 1024 ** 3);
  let diskGb = 0;
  try {
    const stats = statfsSync('/');
    diskGb = Math.round((stats.blocks * stats.bsize) / 1024 ** 3);
  } catch {
    diskGb = 0;
  }
  if (cpuCores > 0) specs['cpu_cores'] = cpuCores;
  if (memoryGb > 0) specs['memory_gb'] = memoryGb;
  if (diskGb > 0) specs['disk_gb'] = diskGb;
  const name = osName();
  if (name !== '') specs['os'] = name;
  return specs;
}

/** Number of objects in a list, asking for one item and reading `remainingItemCount`. */
function countOf(list: { items?: unknown[]; metadata?: { remainingItemCount?: number } }): number {
  const items = Array.isArray(list.items) ? list.items.length : 0;
  const remaining = list.metadata?.remainingItemCount;
  return items + (typeof remaining === 'number' && remaining > 0 ? remaining : 0);
}

export class ClusterFacts {
  readonly #options: ClusterFactsOptions;
  #k8sVersion: string | undefined;

  constructor(options: ClusterFactsOptions) {
    this.#options = options;
  }

  #bounded<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return boundedKubeCall(this.#options.callClock ?? systemClock, FACTS_CALL_TIMEOUT_MS, what, call);
  }

  async k8sVersion(): Promise<string> {
    if (this.#k8sVersion !== undefined) return this.#k8sVersion;
    const kube = this.#options.kube;
    if (kube === undefined) return FALLBACK_K8S_VERSION;
    try {
      const info = await this.#bounded('version', (signal) => kube.get<{ gitVersion?: unknown }>('/version', undefined, signal));
      if (typeof info?.gitVersion !== 'string' || info.gitVersion === '') throw new Error('version without gitVersion');
      this.#k8sVersion = info.gitVersion;
      return info.gitVersion;
    } catch (error) {
      this.#options.logger.warn(kubeFailureOf(error), 'could not read the Kubernetes version');
      return FALLBACK_K8S_VERSION;
    }
  }

  async counts(): Promise<{ nodes: number; pods: number }> {
    const kube = this.#options.kube;
    if (kube === undefined) return { nodes: 0, pods: 0 };
    const [nodes, pods] = await Promise.allSettled([
      this.#bounded('node count', (signal) => kube.get<KubeList<unknown>>('/api/v1/nodes', { limit: 1 }, signal)),
      this.#bounded('pod count', (signal) => kube.get<KubeList<unknown>>('/api/v1/pods', { limit: 1 }, signal)),
    ]);
    for (const result of [nodes, pods]) {
      if (result.status === 'rejected') this.#options.logger.debug(kubeFailureOf(result.reason), 'count failed');
    }
    return {
      nodes: nodes.status === 'fulfilled' ? countOf(nodes.value) : 0,
      pods: pods.status === 'fulfilled' ? countOf(pods.value) : 0,
    };
  }

  async registerPayload(state: Readonly<LinkState>, nowMs: number): Promise<JsonObject> {
    const options = this.#options;
    // Starts a discovery beside the registration round trip, so the first heartbeat can already carry it.
    options.monitoring?.current();
    const hostname = os.hostname();
    // In parallel: the region lookups carry their own overall deadline, the version read its call bound.
    const [k8sVersion, region, serviceToken] = await Promise.all([
      this.k8sVersion(),
      options.region?.detect(),
      options.credentials === undefined ? options.serviceToken : options.credentials.serviceToken(),
    ]);
    const payload: JsonObject = {
      agent_id: options.agentId,
      name: options.clusterName,
      k8s_version: k8sVersion,
      hostname,
      agent_version: options.agentVersion,
      server_ip: region?.serverIp ?? primaryInterfaceIp(),
      region: region?.region ?? 'unknown-country',
      cloud_provider: region?.cloudProvider ?? 'agent',
      tunnel_port_config: { kubernetes_api: 6443, kubelet: 10250, agent_http: options.agentPort },
      labels: { ...options.labels, hostname, 'agent.pipeops.io/version': options.agentVersion },
      server_specs: serverSpecs(),
      features: { ...REGISTER_FEATURES },
      metadata: {
        agent_mode: 'vm-agent',
        registration_mode: state.clusterId === undefined ? 'fresh' : 'resume',
        registration_timestamp: rfc3339(nowMs).replace(/\.\d{3}Z$/, 'Z'),
        ...region?.metadata,
      },
    };
    if (state.clusterId !== undefined) payload['cluster_id'] = state.clusterId;
    if (serviceToken !== undefined) payload['k8s_service_token'] = serviceToken;
    return payload;
  }

  async heartbeatPayload(state: Readonly<LinkState>, isConnected: boolean): Promise<JsonObject> {
    // Read before any await: the heartbeat takes the cached endpoints and never waits for a discovery.
    const monitoring = this.#options.monitoring?.current() ?? {};
    const [k8sVersion, counts] = await Promise.all([this.k8sVersion(), this.counts()]);
    return {
      cluster_id: state.clusterId ?? '',
      agent_id: this.#options.agentId,
      status: isConnected ? 'healthy' : 'reconnecting',
      tunnel_status: isConnected ? 'connected' : 'disconnected',
      metadata: {
        agent_version: this.#options.agentVersion,
        k8s_version: k8sVersion,
        k8s_nodes: counts.nodes,
        k8s_pods: counts.pods,
        cpu_usage: '0%',
        memory_usage: '0%',
        // Without the gateway proxy nothing is detected: tunnel routing is the safe assumption.
        is_private: this.#options.gateway?.isPrivate ?? true,
        gateway_routes: this.#options.gateway?.routeCount ?? 0,
      },
      ...monitoringHeartbeatFields(monitoring),
    };
  }
}
