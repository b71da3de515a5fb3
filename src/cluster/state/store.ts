// The agent's persisted state (CLUSTER.md §1): agent id, cluster id, gateway URL, and the token and CA last
// handed to the control plane. Serves the link through the StateStore interface; where the bytes live is a
// backend's business (cluster objects, a local file, memory). Never logs a token.
//
//   Agent.start ─► open() ─read─► backend          link.start ─► load()  (gateway dropped when resume is barred)
//                    │                              register ok ─► save() ─► queued write of record + presented credentials
//                    └─► adoptAgentId() ─write─► backend (first start only)

import { readFileSync } from 'node:fs';
import type { KubeClient } from '../../kube/kube-client.js';
import type { Logger } from 'pino';
import type { StateSettings } from '../../config/agent-config.js';
import type { LinkState, StateStore } from '../../link/link-state.js';
import { FileStateBackend } from './file-backend.js';
import { FallbackStateBackend } from './fallback-backend.js';
import { KubeStateBackend } from './kube-backend.js';

export const DEFAULT_STATE_NAMESPACE = 'pipeops-system';
export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** Everything persisted; an absent field is "not known" (the reference agent writes "" for that). */
export interface AgentStateRecord {
  readonly agentId?: string | undefined;
  readonly clusterId?: string | undefined;
  readonly gatewayUrl?: string | undefined;
  /** The cluster token handed to the control plane as `k8s_service_token`. */
  readonly clusterToken?: string | undefined;
  /** The cluster CA bundle, base64 PEM. */
  readonly clusterCertData?: string | undefined;
}

export interface AgentCredentials {
  readonly clusterToken: string | undefined;
  readonly clusterCertData: string | undefined;
}

export interface AgentStateBackend {
  /** For logs: where the state lives, e.g. `ConfigMap pipeops-system/pipeops-agent-state`. */
  readonly description: string;
  /** The stored record; rejects when the store cannot be read (absent objects are an empty record). */
  read(): Promise<AgentStateRecord>;
  /** Replaces the stored record; absent fields are removed from the store. */
  write(record: AgentStateRecord): Promise<void>;
}

export class MemoryStateBackend implements AgentStateBackend {
  readonly description = 'memory (not persisted)';
  #record: AgentStateRecord = {};
  read(): Promise<AgentStateRecord> {
    return Promise.resolve({ ...this.#record });
  }
  write(record: AgentStateRecord): Promise<void> {
    this.#record = { ...record };
    return Promise.resolve();
  }
}

/** Empty strings count as absent: the reference agent writes every key, known or not. */
export function nonEmptyText(value: string | undefined | null): string | undefined {
  if (value === undefined || value === null) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function sameRecord(a: AgentStateRecord, b: AgentStateRecord): boolean {
  return (
    a.agentId === b.agentId &&
    a.clusterId === b.clusterId &&
    a.gatewayUrl === b.gatewayUrl &&
    a.clusterToken === b.clusterToken &&
    a.clusterCertData === b.clusterCertData
  );
}

export class AgentStateStore implements StateStore {
  readonly #backend: AgentStateBackend;
  readonly #logger: Logger;
  #record: AgentStateRecord;
  #presented: AgentCredentials | undefined;
  #isResumeAllowed = true;
  /** Writes run one at a time, in call order, so an older record never lands after a newer one. */
  #writes: Promise<void> = Promise.resolve();

  private constructor(backend: AgentStateBackend, record: AgentStateRecord, logger: Logger) {
    this.#backend = backend;
    this.#record = record;
    this.#logger = logger;
  }

  /** Reads the backend once. An unreadable store starts empty: the agent registers afresh rather than not at all. */
  static async open(backend: AgentStateBackend, logger: Logger): Promise<AgentStateStore> {
    let record: AgentStateRecord = {};
    try {
      record = await backend.read();
    } catch (error) {
      logger.warn({ err: error, store: backend.description }, 'could not read the agent state; starting without it');
    }
    logger.info(
      { store: backend.description, hasAgentId: record.agentId !== undefined, clusterId: record.clusterId, hasGateway: record.gatewayUrl !== undefined },
      'agent state loaded',
    );
    return new AgentStateStore(backend, record, logger);
  }

  /** The record as last read or written. */
  get persisted(): Readonly<AgentStateRecord> {
    return { ...this.#record };
  }

  get isResumeAllowed(): boolean {
    return this.#isResumeAllowed;
  }

  /** The credentials given to the control plane now; written with the next save (after a registration). */
  present(credentials: AgentCredentials): void {
    this.#presented = credentials;
  }

  /**
   * Makes load() withhold the gateway URL, so the link registers (with the stored cluster id) instead of
   * resuming: the control plane must learn about a changed token or CA (CLUSTER.md §2).
   */
  barResume(): void {
    this.#isResumeAllowed = false;
  }

  load(): Promise<Partial<LinkState>> {
    const { clusterId, gatewayUrl } = this.#record;
    // The reference agent keeps no cluster_uuid; §5.7 resumes with the cluster id in its place.
    return Promise.resolve({
      clusterId,
      clusterUuid: undefined,
      gatewayUrl: this.#isResumeAllowed ? gatewayUrl : undefined,
    });
  }

  save(state: Readonly<LinkState>): Promise<void> {
    const credentials = this.#presented ?? { clusterToken: this.#record.clusterToken, clusterCertData: this.#record.clusterCertData };
    return this.#write({ ...this.#record, clusterId: state.clusterId, gatewayUrl: state.gatewayUrl, ...credentials });
  }

  /** Persists the agent id in use when the store holds another (or none): first start, or a configured id. */
  async adoptAgentId(agentId: string): Promise<void> {
    if (this.#record.agentId === agentId) return;
    try {
      await this.#write({ ...this.#record, agentId });
    } catch (error) {
      this.#logger.warn({ err: error, store: this.#backend.description }, 'could not persist the agent id');
    }
  }

  /** Resolves once every write queued so far has settled. */
  flush(): Promise<void> {
    return this.#writes;
  }

  #write(next: AgentStateRecord): Promise<void> {
    const previous = this.#record;
    this.#record = next;
    if (sameRecord(previous, next)) return this.#writes;
    const write = this.#writes.then(() => this.#backend.write(next));
    // The chain itself never rejects, so one failed write does not fail the ones after it.
    this.#writes = write.catch(() => undefined);
    return write;
  }
}

export interface OpenAgentStateOptions {
  /** Absent: nothing is persisted (configs built by hand). */
  readonly settings: StateSettings | undefined;
  readonly kube: KubeClient | undefined;
  /** True outside a pod (a kubeconfig was given): the local file may stand in for the cluster objects. */
  readonly isOutOfCluster: boolean;
  /** Stamped into the local file, whose state is ignored when either differs (it may serve several setups). */
  readonly apiUrl: string;
  readonly clusterName: string;
  readonly logger: Logger;
  readonly readFile?: (path: string) => string;
}

/** PIPEOPS_STATE_NAMESPACE, else the service-account namespace file, else PIPEOPS_POD_NAMESPACE, else pipeops-system. */
export function stateNamespace(settings: StateSettings, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): string {
  if (settings.namespace !== undefined) return settings.namespace;
  try {
    const fromFile = nonEmptyText(readFile(SERVICE_ACCOUNT_NAMESPACE_FILE));
    if (fromFile !== undefined) return fromFile;
  } catch {
    // not in a pod
  }
  return settings.podNamespace ?? DEFAULT_STATE_NAMESPACE;
}

/**
 * Picks the backend by `state.backend`: `auto` uses the cluster objects, and outside a pod falls back to the
 * local file whenever they cannot be read or written (in a pod a file would not outlive the container).
 */
export function stateBackendFor(options: OpenAgentStateOptions): AgentStateBackend {
  const { settings, kube, logger } = options;
  if (settings === undefined || settings.backend === 'memory') return new MemoryStateBackend();
  const file = () =>
    new FileStateBackend({ path: settings.file, apiUrl: options.apiUrl, clusterName: options.clusterName, logger });
  if (settings.backend === 'file') return file();
  if (kube === undefined) {
    logger.warn('no Kubernetes access for the state objects');
    return settings.backend === 'auto' && options.isOutOfCluster ? file() : new MemoryStateBackend();
  }
  const cluster = new KubeStateBackend({
    kube,
    namespace: stateNamespace(settings, options.readFile),
    configMapName: settings.configMapName,
    secretName: settings.secretName,
  });
  if (settings.backend === 'cluster' || !options.isOutOfCluster) return cluster;
  return new FallbackStateBackend(cluster, file(), logger);
}

export function openAgentState(options: OpenAgentStateOptions): Promise<AgentStateStore> {
  return AgentStateStore.open(stateBackendFor(options), options.logger);
}
