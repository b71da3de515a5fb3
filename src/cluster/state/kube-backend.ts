// State in the cluster (CLUSTER.md §1): ConfigMap `pipeops-agent-state` (agent_id, cluster_id,
// gateway_ws_url) and Opaque Secret `pipeops-agent-secrets` (cluster_token, cluster_cert_data), read and
// written with the agent's own credentials. Updates carry the resourceVersion read and retry on 409, and
// keep keys this agent does not own, so a reference-agent state is taken over without losing anything.

import type { V1ConfigMap, V1ObjectMeta, V1Secret } from '@kubernetes/client-node';
import { AgentError, ErrorCode } from '../../errors.js';
import { boundedKubeCall } from '../../kube/bounded-call.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { isKubeStatus } from '../../kube/kube-failure.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { nonEmptyText, type AgentStateBackend, type AgentStateRecord } from './store.js';

export const STATE_CALL_TIMEOUT_MS = 5_000;
/** Attempts of one read-modify-write when another writer keeps winning the resourceVersion race. */
export const STATE_CONFLICT_ATTEMPTS = 5;

const CONFIGMAP_KEYS = { agentId: 'agent_id', clusterId: 'cluster_id', gatewayUrl: 'gateway_ws_url' } as const;
const SECRET_KEYS = { clusterToken: 'cluster_token', clusterCertData: 'cluster_cert_data' } as const;
/** Early reference agents kept the token in the ConfigMap; read as a fallback, moved to the Secret on write. */
const LEGACY_CONFIGMAP_TOKEN_KEY = 'cluster_token';

function labelsFor(component: 'state' | 'secrets'): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'pipeops-agent',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/managed-by': 'pipeops-agent',
  };
}

function decoded(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/** Sets our keys, drops the ones we no longer know, leaves everything else as found. */
function mergedData(
  existing: Readonly<Record<string, string>> | undefined,
  ours: Readonly<Record<string, string | undefined>>,
  dropped: readonly string[] = [],
): Record<string, string> {
  const data: Record<string, string> = { ...existing };
  for (const key of dropped) delete data[key];
  for (const [key, value] of Object.entries(ours)) {
    if (value === undefined) delete data[key];
    else data[key] = value;
  }
  return data;
}

function sameData(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>>): boolean {
  const left = a ?? {};
  const keys = new Set([...Object.keys(left), ...Object.keys(b)]);
  for (const key of keys) if (left[key] !== b[key]) return false;
  return true;
}

function metadataFor(name: string, namespace: string, existing: V1ObjectMeta | undefined, component: 'state' | 'secrets'): V1ObjectMeta {
  return {
    ...existing,
    name,
    namespace,
    labels: { ...existing?.labels, ...labelsFor(component) },
  };
}

export interface KubeStateBackendOptions {
  readonly kube: KubeClient;
  readonly namespace: string;
  readonly configMapName: string;
  readonly secretName: string;
  /** Bounds each API call; real time unless given. */
  readonly clock?: Clock;
  readonly callTimeoutMs?: number;
}

export class KubeStateBackend implements AgentStateBackend {
  readonly description: string;
  readonly #api: KubeClient;
  readonly #namespace: string;
  readonly #configMapName: string;
  readonly #secretName: string;
  readonly #clock: Clock;
  readonly #callTimeoutMs: number;

  constructor(options: KubeStateBackendOptions) {
    this.#api = options.kube;
    this.#namespace = options.namespace;
    this.#configMapName = options.configMapName;
    this.#secretName = options.secretName;
    this.#clock = options.clock ?? systemClock;
    this.#callTimeoutMs = options.callTimeoutMs ?? STATE_CALL_TIMEOUT_MS;
    this.description = `ConfigMap ${options.namespace}/${options.configMapName}, Secret ${options.namespace}/${options.secretName}`;
  }

  async read(): Promise<AgentStateRecord> {
    const [configMap, secret] = await Promise.all([this.#readConfigMap(), this.#readSecret()]);
    const data = configMap?.data ?? {};
    const secretData = secret?.data ?? {};
    return {
      agentId: nonEmptyText(data[CONFIGMAP_KEYS.agentId]),
      clusterId: nonEmptyText(data[CONFIGMAP_KEYS.clusterId]),
      gatewayUrl: nonEmptyText(data[CONFIGMAP_KEYS.gatewayUrl]),
      clusterToken: nonEmptyText(decoded(secretData[SECRET_KEYS.clusterToken])) ?? nonEmptyText(data[LEGACY_CONFIGMAP_TOKEN_KEY]),
      clusterCertData: nonEmptyText(decoded(secretData[SECRET_KEYS.clusterCertData])),
    };
  }

  async write(record: AgentStateRecord): Promise<void> {
    await this.#writeConfigMap(record);
    await this.#writeSecret(record);
  }

  #call<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return boundedKubeCall(this.#clock, this.#callTimeoutMs, `state ${what}`, call);
  }

  /** The collection path of `resource` in the state namespace, or one object's path when `name` is given. */
  #path(resource: 'configmaps' | 'secrets', name?: string): string {
    const collection = `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/${resource}`;
    return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
  }

  async #readConfigMap(): Promise<V1ConfigMap | undefined> {
    try {
      return await this.#call('configmap read', (signal) =>
        this.#api.get<V1ConfigMap>(this.#path('configmaps', this.#configMapName), undefined, signal),
      );
    } catch (error) {
      if (isKubeStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async #readSecret(): Promise<V1Secret | undefined> {
    try {
      return await this.#call('secret read', (signal) =>
        this.#api.get<V1Secret>(this.#path('secrets', this.#secretName), undefined, signal),
      );
    } catch (error) {
      if (isKubeStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async #writeConfigMap(record: AgentStateRecord): Promise<void> {
    const ours = {
      [CONFIGMAP_KEYS.agentId]: record.agentId,
      [CONFIGMAP_KEYS.clusterId]: record.clusterId,
      [CONFIGMAP_KEYS.gatewayUrl]: record.gatewayUrl,
    };
    await this.#readModifyWrite('configmap', async () => {
      const existing = await this.#readConfigMap();
      const data = mergedData(existing?.data, ours, [LEGACY_CONFIGMAP_TOKEN_KEY]);
      const body: V1ConfigMap = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: metadataFor(this.#configMapName, this.#namespace, existing?.metadata, 'state'),
        data,
      };
      if (existing === undefined) {
        await this.#call('configmap create', (signal) => this.#api.create(this.#path('configmaps'), body, signal));
      } else if (!sameData(existing.data, data) || !hasLabels(existing.metadata, 'state')) {
        await this.#call('configmap update', (signal) =>
          this.#api.replace(this.#path('configmaps', this.#configMapName), body, signal),
        );
      }
    });
  }

  async #writeSecret(record: AgentStateRecord): Promise<void> {
    const encode = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, 'utf8').toString('base64'));
    const ours = {
      [SECRET_KEYS.clusterToken]: encode(record.clusterToken),
      [SECRET_KEYS.clusterCertData]: encode(record.clusterCertData),
    };
    await this.#readModifyWrite('secret', async () => {
      const existing = await this.#readSecret();
      const data = mergedData(existing?.data, ours);
      // No credentials and no Secret yet: creating an empty one would only add noise.
      if (existing === undefined && Object.keys(data).length === 0) return;
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        type: existing?.type ?? 'Opaque',
        metadata: metadataFor(this.#secretName, this.#namespace, existing?.metadata, 'secrets'),
        data,
      };
      if (existing === undefined) {
        await this.#call('secret create', (signal) => this.#api.create(this.#path('secrets'), body, signal));
      } else if (!sameData(existing.data, data) || !hasLabels(existing.metadata, 'secrets')) {
        await this.#call('secret update', (signal) =>
          this.#api.replace(this.#path('secrets', this.#secretName), body, signal),
        );
      }
    });
  }

  /**
   * Retries the whole read-modify-write when the object changed under us (409 on update) or appeared
   * meanwhile (409 AlreadyExists on create); the update carries the resourceVersion it read.
   */
  async #readModifyWrite(what: string, attempt: () => Promise<void>): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await attempt();
        return;
      } catch (error) {
        if (!isKubeStatus(error, 409) || i >= STATE_CONFLICT_ATTEMPTS) {
          if (isKubeStatus(error, 409)) throw new AgentError(ErrorCode.upstreamFailed, `state ${what}: still conflicting after ${i} attempts`, { cause: error });
          throw error;
        }
      }
    }
  }
}

function hasLabels(metadata: V1ObjectMeta | undefined, component: 'state' | 'secrets'): boolean {
  const labels = metadata?.labels ?? {};
  return Object.entries(labelsFor(component)).every(([key, value]) => labels[key] === value);
}
