// Service reads for the gateway proxy (backends and the ingress controller) with the agent's own
// credentials, each bounded in time, and batched reads for a whole extraction. Read-only: the agent
// never changes a Service.

import type { V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { boundedKubeCall } from '../../kube/bounded-call.js';
import type { KubeClient } from '../../kube/kube-client.js';
import type { KubeList } from '../../kube/kube-informer.js';
import { isKubeStatus, kubeFailureOf } from '../../kube/kube-failure.js';
import type { Clock } from '../../util/clock.js';
import type { ServiceReader } from './controller.js';

export const DEFAULT_SERVICE_READ_TIMEOUT_MS = 5_000;
/** Reads in flight at once: a resync of a large cluster must not burst hundreds of requests at the API server. */
const SERVICE_READ_CONCURRENCY = 8;

export interface ServiceReads {
  /** The Services that exist, by `namespace/name`. */
  readonly index: Map<string, V1Service>;
  /** Keys whose read failed: their absence from `index` says nothing. */
  readonly failed: Set<string>;
}

/** Reads each `namespace/name` once, a few at a time; never rejects. */
export async function readServices(reader: ServiceReader, keys: Iterable<string>, logger: Logger): Promise<ServiceReads> {
  const needed = [...new Set(keys)];
  const index = new Map<string, V1Service>();
  const failed = new Set<string>();
  let next = 0;
  async function readNext(): Promise<void> {
    for (let i = next++; i < needed.length; i = next++) {
      const key = needed[i]!;
      const slash = key.indexOf('/');
      try {
        const service = await reader.read(key.slice(0, slash), key.slice(slash + 1));
        if (service !== undefined) index.set(key, service);
      } catch (error) {
        failed.add(key);
        logger.debug({ service: key, ...kubeFailureOf(error) }, 'service read failed');
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(SERVICE_READ_CONCURRENCY, needed.length) }, readNext));
  return { index, failed };
}

export class KubeServiceReader implements ServiceReader {
  readonly #api: KubeClient;
  /** Real time in the agent: a simulated clock that jumps must not abort reads that are merely in flight. */
  readonly #callClock: Clock;
  readonly #timeoutMs: number;

  constructor(kube: KubeClient, callClock: Clock, timeoutMs = DEFAULT_SERVICE_READ_TIMEOUT_MS) {
    this.#api = kube;
    this.#callClock = callClock;
    this.#timeoutMs = timeoutMs;
  }

  async read(namespace: string, name: string): Promise<V1Service | undefined> {
    try {
      return await this.#bounded(`services ${namespace}/${name}`, (signal) =>
        this.#api.get<V1Service>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(name)}`, undefined, signal),
      );
    } catch (error) {
      if (isKubeStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async list(labelSelector: string): Promise<V1Service[]> {
    const list = await this.#bounded(`services -l ${labelSelector}`, (signal) => this.#api.get<KubeList<V1Service>>('/api/v1/services', { labelSelector }, signal));
    return list.items;
  }

  #bounded<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return boundedKubeCall(this.#callClock, this.#timeoutMs, `ingress sync: reading ${what}`, call);
  }
}
