// Keeps the platform's ingress routes for this cluster in step with the managed Ingresses (CLUSTER.md §4,
// PROTOCOL.md §17.2): a full sync once the Ingresses are listed, after every session start and every 4 h;
// register/unregister for changes in between; a 5-minute resync that re-reads the cache. Owns the route
// cache the router reads (§9.5). Reads the cluster only; never modifies an Ingress, Service or controller.
//
//   informer events ───┐                       ┌─► full sync: start, session start, 4 h, a path left a shared host, retry
//   session start ─────┼─► one serial queue ───┤
//   5-min / 4-h timers ┘   (calls in order)    └─► reconcile: desired routes vs what the platform was last told;
//                                                  new or changed host + path ─► register, host gone ─► unregister

import type { V1Ingress } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { setRepeating, type Clock, type TimerHandle } from '../../util/clock.js';
import { SerialQueue } from '../../util/serial-queue.js';
import { registerBodyOf, syncBodyOf } from './gateway-route-bodies.js';
import type { RoutesClient } from './gateway-routes-client.js';
import { RoutingMode, detectIngressController, isSameController, type IngressController, type ServiceReader } from './controller.js';
import { IngressRouteCache } from './route-cache.js';
import { backendServiceKeys, extractRoutes, ingressKey, isManagedIngress, type IngressRoute } from './routes.js';
import { readServices } from './service-reader.js';
import type { IngressSource } from './watch.js';
import { kubeFailureOf } from '../../kube/kube-failure.js';

/** The platform expires routes after about 24 h; a full sync every 4 h keeps them well inside that. */
export const FULL_SYNC_INTERVAL_MS = 4 * 60 * 60_000;
/** Re-reads every cached Ingress (and the Services behind it), as an informer resync period would. */
export const RESYNC_INTERVAL_MS = 5 * 60_000;

/** What the heartbeat reports while the sync runs (PROTOCOL.md §6.4 `is_private`, `gateway_routes`). */
export interface GatewayFacts {
  /** No public LoadBalancer address in front of the ingress controller: traffic must come through the tunnel. */
  readonly isPrivate: boolean;
  /** Routes (host + path) currently advertised from the managed Ingresses. */
  readonly routeCount: number;
}

export interface IngressSyncOptions {
  readonly source: IngressSource;
  readonly services: ServiceReader;
  readonly client: RoutesClient;
  /** The `cluster_uuid` of the calls; undefined until the agent is registered (calls wait for it). */
  readonly clusterUuid: () => string | undefined;
  /** The 5-minute and 4-hour timers. */
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What the platform was last told about one host + path. */
interface Advertised {
  readonly host: string;
  readonly json: string;
}

function routeId(route: IngressRoute): string {
  return `${route.host}\n${route.path}`;
}

export class IngressSync implements GatewayFacts {
  /** The §9.5 lookup, kept equal to the routes the managed Ingresses yield. */
  readonly routes = new IngressRouteCache();
  readonly #options: IngressSyncOptions;
  readonly #managed = new Map<string, V1Ingress>();
  /** Last successful extraction per Ingress key; kept when a later extraction could not read a Service. */
  readonly #routesByIngress = new Map<string, readonly IngressRoute[]>();
  #controller: IngressController | undefined;
  /** By route id; undefined until a full sync succeeded, as the platform's state is unknown before that. */
  #advertised: Map<string, Advertised> | undefined;
  /** Steps run one at a time, in order, so calls reach the platform in the order the cluster changed. */
  readonly #queue: SerialQueue;
  #isSyncQueued = false;
  /** A full sync could not run (no list yet, no cluster uuid) or failed: run one at the next chance. */
  #isSyncWanted = true;
  #hasInitialList = false;
  #timers: TimerHandle[] = [];
  #isStarted = false;

  constructor(options: IngressSyncOptions) {
    this.#options = options;
    this.#queue = new SerialQueue((error) => options.logger.error({ err: error }, 'ingress sync step failed'));
  }

  get isPrivate(): boolean {
    return this.#controller?.routingMode !== RoutingMode.direct;
  }

  get routeCount(): number {
    return this.routes.size;
  }

  start(): void {
    if (this.#isStarted) return;
    this.#isStarted = true;
    const sync = this;
    function sourceOnUpsert(ingress: V1Ingress): void {
      sync.#queue.enqueue(() => sync.#upsert(ingress));
    }
    function sourceOnDelete(ingress: V1Ingress): void {
      sync.#queue.enqueue(() => sync.#delete(ingress));
    }
    function sourceOnInitialList(): void {
      sync.#queue.enqueue(() => sync.#initialList());
    }
    function clockOnResync(): void {
      sync.#queue.enqueue(() => sync.#resync());
    }
    function clockOnFullSync(): void {
      sync.#requestSync('periodic');
    }
    const { clock } = this.#options;
    this.#timers = [setRepeating(clock, RESYNC_INTERVAL_MS, clockOnResync), setRepeating(clock, FULL_SYNC_INTERVAL_MS, clockOnFullSync)];
    this.#options.source.start({ onUpsert: sourceOnUpsert, onDelete: sourceOnDelete, onInitialList: sourceOnInitialList });
  }

  /** A session began (first connect or reconnect): the platform may have lost routes while the agent was away. */
  onSessionStart(): void {
    this.#requestSync('session start');
  }

  /** Resolves once the queue is empty, including steps queued by steps (tests, and callers that want the calls out). */
  settled(): Promise<void> {
    return this.#queue.settled();
  }

  async stop(): Promise<void> {
    this.#queue.stop();
    for (const timer of this.#timers) timer.cancel();
    this.#timers = [];
    this.#options.client.close();
    await this.#options.source.stop();
    await this.#queue.tail();
  }

  #requestSync(reason: string): void {
    // One queued sync covers every request made before it starts; a request during a sync queues another.
    if (this.#isSyncQueued || this.#queue.isStopped) return;
    this.#isSyncQueued = true;
    this.#queue.enqueue(() => this.#fullSync(reason));
  }

  async #upsert(ingress: V1Ingress): Promise<void> {
    const key = ingressKey(ingress);
    if (!isManagedIngress(ingress)) {
      // Unmanaged now (label removed) counts as a delete for the routes it had.
      if (!this.#managed.delete(key)) return;
      this.#routesByIngress.delete(key);
    } else {
      this.#managed.set(key, ingress);
      // Before the first list the full extraction at onInitialList covers it.
      if (!this.#hasInitialList) return;
      await this.#extract([ingress]);
    }
    if (!this.#hasInitialList) return;
    this.#publish();
    await this.#reconcile();
  }

  /** Forgets by key, not by the object's content: a tombstone may be older than what was advertised. */
  async #delete(ingress: V1Ingress): Promise<void> {
    const key = ingressKey(ingress);
    const wasManaged = this.#managed.delete(key);
    this.#routesByIngress.delete(key);
    if (!wasManaged || !this.#hasInitialList) return;
    this.#publish();
    await this.#reconcile();
  }

  async #initialList(): Promise<void> {
    this.#hasInitialList = true;
    this.#options.logger.info({ managed: this.#managed.size }, 'ingress sync watching managed Ingresses');
    this.#requestSync('start');
  }

  async #resync(): Promise<void> {
    if (!this.#hasInitialList) return;
    // The cache is the truth: it also drops an Ingress whose delete event was missed.
    this.#managed.clear();
    for (const ingress of this.#options.source.list()) if (isManagedIngress(ingress)) this.#managed.set(ingressKey(ingress), ingress);
    for (const key of [...this.#routesByIngress.keys()]) if (!this.#managed.has(key)) this.#routesByIngress.delete(key);
    const hasControllerChanged = await this.#detectController();
    await this.#extract([...this.#managed.values()]);
    this.#publish();
    // A new controller or routing mode changes every route: one sync says that better than a register per route.
    if (hasControllerChanged || this.#isSyncWanted || this.#advertised === undefined) await this.#fullSync('resync');
    else await this.#reconcile();
  }

  async #fullSync(reason: string): Promise<void> {
    this.#isSyncQueued = false;
    const clusterUuid = this.#options.clusterUuid();
    if (!this.#hasInitialList || clusterUuid === undefined) {
      this.#isSyncWanted = true;
      this.#options.logger.debug({ reason, hasInitialList: this.#hasInitialList }, 'ingress route sync deferred');
      return;
    }
    await this.#detectController();
    await this.#extract([...this.#managed.values()]);
    this.#publish();
    const desired = this.#desiredRoutes();
    const body = syncBodyOf(desired, this.#controller, clusterUuid);
    if (!(await this.#options.client.sync(body))) {
      this.#isSyncWanted = true;
      return;
    }
    this.#isSyncWanted = false;
    this.#advertised = new Map(desired.map((route) => [routeId(route), this.#advertisedOf(route, clusterUuid)]));
    this.#options.logger.info({ reason, ingresses: body.ingresses.length, routes: desired.length, routingMode: body.routing_mode }, 'ingress routes synced');
  }

  /** Tells the platform what changed since it was last told; no call when nothing did. */
  async #reconcile(): Promise<void> {
    const advertised = this.#advertised;
    const clusterUuid = this.#options.clusterUuid();
    if (advertised === undefined || clusterUuid === undefined) {
      if (this.#isSyncWanted) await this.#fullSync('pending');
      return;
    }
    const desired = this.#desiredRoutes();
    const desiredIds = new Set(desired.map(routeId));
    const desiredHosts = new Set(desired.map((route) => route.host));
    for (const route of desired) {
      const next = this.#advertisedOf(route, clusterUuid);
      if (advertised.get(routeId(route))?.json === next.json) continue;
      // A failed call leaves the old entry, so the next reconcile or sync tries again.
      if (await this.#options.client.register(registerBodyOf(route, this.#controller, clusterUuid))) advertised.set(routeId(route), next);
    }
    const stale = [...advertised].filter(([id]) => !desiredIds.has(id));
    for (const host of new Set(stale.map(([, entry]) => entry.host))) {
      // Unregister is per host: a host another route still serves must stay.
      if (desiredHosts.has(host)) continue;
      if (!(await this.#options.client.unregister(host))) continue;
      for (const [id, entry] of [...advertised]) if (entry.host === host) advertised.delete(id);
    }
    // A path left a host that is still served: only a full sync can drop that path without the host.
    if (stale.some(([, entry]) => desiredHosts.has(entry.host))) await this.#fullSync('path removed');
  }

  #advertisedOf(route: IngressRoute, clusterUuid: string): Advertised {
    return { host: route.host, json: JSON.stringify(registerBodyOf(route, this.#controller, clusterUuid)) };
  }

  /** Every route of the managed Ingresses, ordered by Ingress key; a host + path claimed twice keeps the first. */
  #desiredRoutes(): IngressRoute[] {
    const seen = new Set<string>();
    const routes: IngressRoute[] = [];
    for (const key of [...this.#routesByIngress.keys()].sort()) {
      for (const route of this.#routesByIngress.get(key) ?? []) {
        if (seen.has(routeId(route))) continue;
        seen.add(routeId(route));
        routes.push(route);
      }
    }
    return routes;
  }

  #publish(): void {
    this.routes.replace(this.#desiredRoutes(), this.#controller);
  }

  /** True when the advertised target changed; a failed detection keeps the last one. */
  async #detectController(): Promise<boolean> {
    let controller: IngressController | undefined;
    try {
      controller = await detectIngressController(this.#options.services);
    } catch (error) {
      this.#options.logger.warn(kubeFailureOf(error), 'ingress controller detection failed; keeping the last result');
      return false;
    }
    if (isSameController(controller, this.#controller)) return false;
    this.#controller = controller;
    this.#options.logger.info(
      { controller: controller === undefined ? null : `${controller.namespace}/${controller.name}:${controller.port}`, routingMode: controller?.routingMode ?? RoutingMode.tunnel },
      'ingress controller detected',
    );
    return true;
  }

  /** Extracts routes for the Ingresses, reading each Service they need once; one whose reads failed keeps its last routes. */
  async #extract(ingresses: readonly V1Ingress[]): Promise<void> {
    const { index, failed } = await readServices(this.#options.services, ingresses.flatMap(backendServiceKeys), this.#options.logger);
    for (const ingress of ingresses) {
      const key = ingressKey(ingress);
      if (!this.#managed.has(key)) continue;
      if (backendServiceKeys(ingress).some((service) => failed.has(service))) {
        this.#options.logger.warn({ ingress: key }, 'could not read the Services of an Ingress; keeping its last routes');
        continue;
      }
      const { routes, skipped } = extractRoutes(ingress, index);
      for (const path of skipped) this.#options.logger.debug({ ingress: key, ...path }, 'ingress path not advertised');
      this.#routesByIngress.set(key, routes);
    }
  }
}
