// The ingress route cache of PROTOCOL.md §9.5: which Service a proxied request for a host should reach when
// the control plane sent none. Written only by the ingress sync (a whole snapshot at a time), read by the
// router; holds no Kubernetes objects and does no I/O.

import { routeTargetOf, type RouteTarget } from './gateway-route-bodies.js';
import type { IngressController } from './controller.js';
import type { IngressRoute } from './routes.js';

/** Read side, for the router. */
export interface IngressRouteLookup {
  /** The first route of the host: exact match first, then without a `:port` suffix. */
  lookup(host: string): IngressRoute | undefined;
  /** Where a request for the host goes: the ingress controller when known, else the route's backend. */
  target(host: string): RouteTarget | undefined;
  readonly controller: IngressController | undefined;
}

function withoutPort(host: string): string | undefined {
  const match = /^(.*):\d+$/.exec(host);
  if (match === null) return undefined;
  const name = match[1] ?? '';
  // `[::1]:80` → `::1` is no Ingress host; only names and IPv4 carry a plain `:port`.
  return name.startsWith('[') ? name.slice(1, -1) : name;
}

export class IngressRouteCache implements IngressRouteLookup {
  #byHost = new Map<string, IngressRoute>();
  #routeCount = 0;
  #controller: IngressController | undefined;

  /** Routes (host + path) in the current snapshot. */
  get size(): number {
    return this.#routeCount;
  }

  get controller(): IngressController | undefined {
    return this.#controller;
  }

  /** Swaps in a new snapshot; a host served by several routes keeps the first one listed. */
  replace(routes: readonly IngressRoute[], controller: IngressController | undefined): void {
    const byHost = new Map<string, IngressRoute>();
    for (const route of routes) {
      const host = route.host.toLowerCase();
      if (!byHost.has(host)) byHost.set(host, route);
    }
    this.#byHost = byHost;
    this.#routeCount = routes.length;
    this.#controller = controller;
  }

  lookup(host: string): IngressRoute | undefined {
    // Host names are case-insensitive; Ingress hosts are stored lower-case by convention but not by rule.
    const name = host.trim().toLowerCase();
    const exact = this.#byHost.get(name);
    if (exact !== undefined) return exact;
    const bare = withoutPort(name);
    return bare === undefined ? undefined : this.#byHost.get(bare);
  }

  target(host: string): RouteTarget | undefined {
    const route = this.lookup(host);
    return route === undefined ? undefined : routeTargetOf(route, this.#controller);
  }
}
