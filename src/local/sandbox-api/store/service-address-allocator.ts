// Hands out Service addresses the way the apiserver's allocators do: ClusterIPs from 10.96.0.0/16 and
// node ports from 30000-32767, never reusing one a stored Service holds.

import { arrayAt, isJsonObject, numberAt, objectAt, stringAt } from './json-value.js';
import type { ObjectStore } from './object-store.js';

const SERVICES = { group: '', version: 'v1', resource: 'services' } as const;
/** the first addresses are kept for kubernetes (10.96.0.1) and kube-dns (10.96.0.10) */
const FIRST_DYNAMIC_HOST = 100;
const HOSTS_IN_RANGE = 65_534;
const NODE_PORT_MIN = 30_000;
const NODE_PORT_MAX = 32_767;

function addressOf(host: number): string {
  return `10.96.${Math.floor(host / 256)}.${host % 256}`;
}

export class ServiceAddressAllocator {
  readonly #store: ObjectStore;
  #nextHost = FIRST_DYNAMIC_HOST;
  #nextNodePort = NODE_PORT_MIN;

  constructor(store: ObjectStore) {
    this.#store = store;
  }

  allocateClusterIp(): string {
    const used = new Set<string>();
    for (const service of this.#store.list(SERVICES)) {
      const spec = objectAt(service, 'spec');
      const ip = stringAt(spec, 'clusterIP');
      if (ip !== undefined) used.add(ip);
      for (const extra of arrayAt(spec, 'clusterIPs') ?? []) used.add(String(extra));
    }
    for (let tries = 0; tries < HOSTS_IN_RANGE; tries += 1) {
      const candidate = addressOf(this.#nextHost);
      this.#nextHost = this.#nextHost + 1 >= HOSTS_IN_RANGE ? FIRST_DYNAMIC_HOST : this.#nextHost + 1;
      if (!used.has(candidate)) return candidate;
    }
    throw new RangeError('the service ClusterIP range 10.96.0.0/16 is full');
  }

  /** A free node port; `taken` holds ports already chosen for the Service being written. */
  allocateNodePort(taken: ReadonlySet<number>): number {
    const used = new Set(taken);
    for (const service of this.#store.list(SERVICES)) {
      for (const port of arrayAt(objectAt(service, 'spec'), 'ports') ?? []) {
        const nodePort = isJsonObject(port) ? numberAt(port, 'nodePort') : undefined;
        if (nodePort !== undefined) used.add(nodePort);
      }
    }
    for (let tries = 0; tries <= NODE_PORT_MAX - NODE_PORT_MIN; tries += 1) {
      const candidate = this.#nextNodePort;
      this.#nextNodePort = candidate >= NODE_PORT_MAX ? NODE_PORT_MIN : candidate + 1;
      if (!used.has(candidate)) return candidate;
    }
    throw new RangeError('the node port range 30000-32767 is full');
  }
}
