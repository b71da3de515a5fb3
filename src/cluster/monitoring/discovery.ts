// Finds an existing Prometheus, Loki, Grafana and OpenCost in the cluster (CLUSTER.md §3) for the heartbeat's
// monitoring fields (PROTOCOL.md §6.4). Never on the heartbeat's critical path: readers get the cached result
// at once and a stale cache refreshes beside them. Never invents credentials; logs only at debug.
//
//   heartbeat ──current()──► cache (≤ 5 min old) ──► fields
//                              │ stale and no refresh running
//                              └──► refresh: one Service list of the namespace (per-name reads when
//                                   listing is forbidden), then the Grafana Secret; each call aborted
//                                   after callTimeoutMs on callClock

import type { V1Secret, V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { AgentError, ErrorCode } from '../../errors.js';
import { boundedKubeCall } from '../../kube/bounded-call.js';
import type { KubeClient } from '../../kube/kube-client.js';
import type { KubeList } from '../../kube/kube-informer.js';
import { isKubeStatus, kubeFailureOf } from '../../kube/kube-failure.js';
import type { JsonObject } from '../../protocol/envelope.js';
import { systemClock, type Clock } from '../../util/clock.js';

export const DEFAULT_MONITORING_NAMESPACE = 'pipeops-monitoring';
export const DEFAULT_MONITORING_RELEASE = 'kube-prometheus-stack';
/** How long a result (found or not) is served before a refresh; CLUSTER.md §3. */
export const MONITORING_CACHE_TTL_MS = 5 * 60_000;
export const DEFAULT_MONITORING_CALL_TIMEOUT_MS = 5_000;

export interface MonitoringEndpoint {
  readonly url: string;
  /** Empty when the component has no credentials the agent can read. */
  readonly username: string;
  readonly password: string;
  readonly isSsl: boolean;
}

export interface MonitoringInfo {
  readonly prometheus?: MonitoringEndpoint;
  readonly loki?: MonitoringEndpoint;
  readonly grafana?: MonitoringEndpoint;
  readonly opencost?: MonitoringEndpoint;
}

type MonitoringKind = keyof MonitoringInfo;

/** What the heartbeat needs: the last result, without waiting. */
export interface MonitoringSource {
  current(): MonitoringInfo;
}

export interface MonitoringDiscoveryOptions {
  /** The agent's own credentials; undefined (no Kubernetes access) means nothing is ever found. */
  readonly kube: KubeClient | undefined;
  /** Measures the age of the cache. */
  readonly clock: Clock;
  /**
   * Measures each call's bound; real time unless given. The bound guards real I/O: an agent driven by a
   * simulated clock that jumps 30 s must not time out reads that are merely in flight.
   */
  readonly callClock?: Clock;
  readonly logger: Logger;
  readonly namespace?: string;
  /** Helm release of kube-prometheus-stack, which prefixes the Prometheus and Grafana names. */
  readonly release?: string;
  readonly callTimeoutMs?: number;
}

/** Service names tried in order; the first that exists wins (CLUSTER.md §3). */
function candidateNames(kind: MonitoringKind, release: string): readonly string[] {
  switch (kind) {
    case 'prometheus':
      return [`${release}-prometheus`, 'prometheus-server', 'prometheus-k8s', 'prometheus-operated', 'prometheus', release];
    case 'loki':
      return ['loki'];
    case 'grafana':
      return [`${release}-grafana`];
    case 'opencost':
      return ['opencost'];
  }
}

const PROMETHEUS_PORT_NAMES = ['http-web', 'web', 'http'];

function portNumbered(ports: readonly V1ServicePort[], numbers: readonly number[]): number | undefined {
  for (const number of numbers) if (ports.some((port) => port.port === number)) return number;
  return undefined;
}

/** The Service port to put in the URL; the Service's own port, since the URL goes through its DNS name. */
export function pickPort(kind: MonitoringKind, ports: readonly V1ServicePort[]): number | undefined {
  const first = ports[0]?.port;
  switch (kind) {
    case 'prometheus': {
      for (const name of PROMETHEUS_PORT_NAMES) {
        const named = ports.find((port) => port.name === name);
        if (named !== undefined) return named.port;
      }
      return portNumbered(ports, [9090]) ?? first;
    }
    case 'loki':
      return portNumbered(ports, [3100]) ?? first;
    case 'grafana':
      // The chart's Service usually maps 80 to the container's 3000: whichever the Service exposes.
      return portNumbered(ports, [3000, 80]) ?? first;
    case 'opencost':
      return portNumbered(ports, [9003]) ?? first;
  }
}

/** §6.4 heartbeat keys for the endpoints that are known; none for the others. */
export function monitoringHeartbeatFields(info: MonitoringInfo): JsonObject {
  const fields: JsonObject = {};
  for (const kind of ['prometheus', 'loki', 'grafana'] as const) {
    const endpoint = info[kind];
    if (endpoint === undefined) continue;
    fields[`${kind}_url`] = endpoint.url;
    fields[`${kind}_username`] = endpoint.username;
    fields[`${kind}_password`] = endpoint.password;
    fields[`${kind}_ssl`] = endpoint.isSsl;
  }
  if (info.opencost !== undefined) {
    fields['opencost_base_url'] = info.opencost.url;
    fields['opencost_username'] = info.opencost.username;
    fields['opencost_password'] = info.opencost.password;
  }
  return fields;
}

function decodedKey(secret: V1Secret, key: string): string {
  const value = secret.data?.[key];
  return value === undefined ? '' : Buffer.from(value, 'base64').toString('utf8');
}

/** Marks a component whose lookup failed (as opposed to "not there"): its previous value is kept. */
const FAILED = Symbol('failed');
type Lookup = MonitoringEndpoint | undefined | typeof FAILED;
/** A candidate Service by name, undefined when it does not exist; rejects when that cannot be known. */
type ServiceSource = (name: string) => Promise<V1Service | undefined>;

export class MonitoringDiscovery implements MonitoringSource {
  readonly #api: KubeClient | undefined;
  readonly #clock: Clock;
  readonly #callClock: Clock;
  readonly #logger: Logger;
  readonly #namespace: string;
  readonly #release: string;
  readonly #callTimeoutMs: number;
  #info: MonitoringInfo = {};
  #refreshedAtMs: number | undefined;
  #refreshing: Promise<MonitoringInfo> | undefined;

  constructor(options: MonitoringDiscoveryOptions) {
    const timeout = options.callTimeoutMs ?? DEFAULT_MONITORING_CALL_TIMEOUT_MS;
    if (!Number.isInteger(timeout) || timeout <= 0) {
      throw new AgentError(ErrorCode.configInvalid, `callTimeoutMs must be a positive integer (got ${String(timeout)})`);
    }
    this.#logger = options.logger;
    this.#api = options.kube;
    this.#clock = options.clock;
    this.#callClock = options.callClock ?? systemClock;
    this.#namespace = options.namespace ?? DEFAULT_MONITORING_NAMESPACE;
    this.#release = options.release ?? DEFAULT_MONITORING_RELEASE;
    this.#callTimeoutMs = timeout;
  }

  /** The last result, at once; starts one refresh beside the caller when it is older than 5 minutes. */
  current(): MonitoringInfo {
    if (this.#isStale()) void this.refresh();
    return this.#info;
  }

  /** The running refresh, or a new one when the cache is stale; never rejects. */
  refresh(): Promise<MonitoringInfo> {
    if (this.#refreshing !== undefined) return this.#refreshing;
    if (!this.#isStale()) return Promise.resolve(this.#info);
    this.#refreshing = this.#discover().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  #isStale(): boolean {
    return this.#refreshedAtMs === undefined || this.#clock.now() - this.#refreshedAtMs >= MONITORING_CACHE_TTL_MS;
  }

  async #discover(): Promise<MonitoringInfo> {
    const kinds = ['prometheus', 'loki', 'grafana', 'opencost'] as const;
    const api = this.#api;
    const source = api === undefined ? undefined : await this.#serviceSource(api);
    const lookups = await Promise.all(
      kinds.map((kind) => {
        if (api === undefined || source === undefined) return undefined;
        return source === FAILED ? FAILED : this.#lookup(api, source, kind);
      }),
    );
    const previous = this.#info;
    const next: { -readonly [K in MonitoringKind]?: MonitoringEndpoint } = {};
    const failed: MonitoringKind[] = [];
    kinds.forEach((kind, index) => {
      const lookup = lookups[index];
      // A failed read says nothing about presence: keep what was known rather than drop a working endpoint.
      const endpoint = lookup === FAILED ? previous[kind] : lookup;
      if (lookup === FAILED) failed.push(kind);
      if (endpoint !== undefined) next[kind] = endpoint;
    });
    this.#info = next;
    // Stamped after failures too: a broken or forbidden API is asked again in 5 minutes, not every heartbeat.
    this.#refreshedAtMs = this.#clock.now();
    this.#logger.debug(
      {
        namespace: this.#namespace,
        prometheus: next.prometheus?.url ?? null,
        loki: next.loki?.url ?? null,
        grafana: next.grafana?.url ?? null,
        opencost: next.opencost?.url ?? null,
        failed,
      },
      'monitoring discovery finished',
    );
    return next;
  }

  /**
   * One list call answers every candidate of every component. An agent allowed to get but not to list
   * Services falls back to reading each name (in parallel, so still one call bound).
   */
  async #serviceSource(api: KubeClient): Promise<ServiceSource | typeof FAILED> {
    try {
      const list = await this.#bounded('services', (signal) =>
        api.get<KubeList<V1Service>>(`/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/services`, undefined, signal),
      );
      const byName = new Map(list.items.map((service) => [service.metadata?.name, service] as const));
      return (name) => Promise.resolve(byName.get(name));
    } catch (error) {
      if (isKubeStatus(error, 403)) return (name) => this.#readService(api, name);
      this.#logger.debug({ namespace: this.#namespace, ...kubeFailureOf(error) }, 'monitoring service list failed');
      return FAILED;
    }
  }

  async #lookup(api: KubeClient, source: ServiceSource, kind: MonitoringKind): Promise<Lookup> {
    const names = candidateNames(kind, this.#release);
    // Order is applied to the answers, so the reads of the fallback can run in parallel.
    const answers = await Promise.allSettled(names.map((name) => source(name)));
    for (const [index, answer] of answers.entries()) {
      if (answer.status === 'rejected') {
        this.#logger.debug({ kind, service: names[index], ...kubeFailureOf(answer.reason) }, 'monitoring service read failed');
        return FAILED;
      }
      const service = answer.value;
      if (service === undefined) continue;
      const name = names[index]!;
      const port = pickPort(kind, service.spec?.ports ?? []);
      if (port === undefined) continue;
      const url = `http://${name}.${this.#namespace}.svc.cluster.local:${port}`;
      if (kind !== 'grafana') return { url, username: '', password: '', isSsl: false };
      return this.#withGrafanaCredentials(api, name, url);
    }
    return undefined;
  }

  /** The chart's admin Secret has the same name as the Service; without it the credentials stay empty. */
  async #withGrafanaCredentials(api: KubeClient, name: string, url: string): Promise<Lookup> {
    try {
      const secret = await this.#bounded(`secrets/${name}`, (signal) =>
        api.get<V1Secret>(`/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/secrets/${encodeURIComponent(name)}`, undefined, signal),
      );
      return { url, username: decodedKey(secret, 'admin-user'), password: decodedKey(secret, 'admin-password'), isSsl: false };
    } catch (error) {
      if (isKubeStatus(error, 404)) return { url, username: '', password: '', isSsl: false };
      this.#logger.debug({ kind: 'grafana', secret: name, ...kubeFailureOf(error) }, 'grafana secret read failed');
      return FAILED;
    }
  }

  /** The Service, or undefined when it does not exist; other failures reject. */
  async #readService(api: KubeClient, name: string): Promise<V1Service | undefined> {
    try {
      return await this.#bounded(`services/${name}`, (signal) =>
        api.get<V1Service>(`/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/services/${encodeURIComponent(name)}`, undefined, signal),
      );
    } catch (error) {
      if (isKubeStatus(error, 404)) return undefined;
      throw error;
    }
  }

  /** Runs one API call under the call bound, aborting the request when it expires so its socket is freed. */
  #bounded<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return boundedKubeCall(this.#callClock, this.#callTimeoutMs, `monitoring discovery: ${what}`, call);
  }
}
