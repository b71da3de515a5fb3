// Informers over the Gateway API kinds tunnels come from: gateway.networking.k8s.io/v1 Gateways and
// v1alpha2 TCPRoutes and UDPRoutes, in all namespaces, with the agent's own credentials. Each kind runs on
// its own: a kind the API server does not serve (404: the CRDs are not installed) or does not let the agent
// list (403: RBAC from before tunnel discovery) counts as empty, is logged once and looked for again every
// 10 minutes; any other failure restarts that kind with capped backoff. Delivers
// "something changed" and the caches; decides nothing.
//
//   start ─► per kind: list ─ok─► watch ─events─► onChange
//                        ├ 404, 403 ─► idle, logged once ─► retry in 10 min ┐
//                        └ fails ─► wait 1 s … 60 s ──────────────────────┴─► list again
//   every kind listed once or found not served ─► onReady (once)

import type { Logger } from 'pino';
import { boundedKubeCall } from '../../kube/bounded-call.js';
import { InformerRestart } from '../../kube/informer-restart.js';
import { kubeFailureOf } from '../../kube/kube-failure.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { KubeInformer, type KubeList, type KubeObject } from '../../kube/kube-informer.js';
import { systemClock, type Clock } from '../../util/clock.js';
import { GATEWAY_GROUP, type GatewayObject, type RouteObject } from './gateway-tunnels.js';

/** The discovery read before each start. */
const DISCOVERY_TIMEOUT_MS = 10_000;
/** A cluster without the Gateway API CRDs rarely gains them; looking again costs one list call. */
export const NOT_SERVED_RETRY_MS = 10 * 60_000;

export const GatewayApiKind = { gateways: 'gateways', tcpRoutes: 'tcproutes', udpRoutes: 'udproutes' } as const;
export type GatewayApiKind = (typeof GatewayApiKind)[keyof typeof GatewayApiKind];

const VERSION_OF: Readonly<Record<GatewayApiKind, string>> = { gateways: 'v1', tcproutes: 'v1alpha2', udproutes: 'v1alpha2' };

export interface GatewayApiEvents {
  /** An object of any kind was added, changed or deleted (also for the items of a relist). */
  onChange(): void;
  /** Every kind was listed once, or found not served: the caches say what the cluster has. */
  onReady(): void;
}

/** Where tunnel discovery reads Gateway API objects; an interface so the sync runs without an API server. */
export interface GatewayApiSource {
  start(events: GatewayApiEvents): void;
  gateways(): readonly GatewayObject[];
  tcpRoutes(): readonly RouteObject[];
  udpRoutes(): readonly RouteObject[];
  stop(): Promise<void>;
}

export interface GatewayApiWatchOptions {
  readonly kube: KubeClient;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Discovery answered without the kind: the same as a 404 on its list. */
const NOT_SERVED = { statusCode: 404 } as const;

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  // A refused list or watch is a KubeStatusError (`statusCode`); NOT_SERVED stands in for one.
  const code = 'statusCode' in error ? error.statusCode : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** One kind's informer and its restart state. */
class KindWatch {
  readonly kind: GatewayApiKind;
  readonly #informer: KubeInformer<KubeObject>;
  readonly #restart: InformerRestart;
  readonly #logger: Logger;
  readonly #onChange: () => void;
  readonly #onSettled: () => void;
  /** Whether the API server lists the kind in its discovery document (group/version). */
  readonly #isListedInDiscovery: () => Promise<boolean>;
  #isNotServedLogged = false;
  #isServed = true;
  #didListThisRun = false;
  #isStopped = false;

  constructor(kind: GatewayApiKind, options: GatewayApiWatchOptions, onChange: () => void, onSettled: () => void) {
    this.kind = kind;
    this.#restart = new InformerRestart(options.clock);
    this.#logger = options.logger;
    this.#onChange = onChange;
    this.#onSettled = onSettled;
    const kube = options.kube;
    const version = VERSION_OF[kind];
    const path = `/apis/${GATEWAY_GROUP}/${version}/${kind}`;
    const list = async (): Promise<KubeList<KubeObject>> => {
      const answer = await kube.get<KubeList<KubeObject>>(path);
      this.#restart.reset();
      this.#didListThisRun = true;
      this.#isServed = true;
      if (this.#isNotServedLogged) this.#logger.info({ kind }, 'Gateway API kind is served now; watching it');
      this.#isNotServedLogged = false;
      return answer;
    };
    this.#isListedInDiscovery = async () => {
      // Real time, whatever clock drives the agent: a simulated clock must never abort real I/O.
      const resources = await boundedKubeCall(systemClock, DISCOVERY_TIMEOUT_MS, 'discovery read', (signal) =>
        kube.get<{ resources?: unknown } | undefined>(`/apis/${GATEWAY_GROUP}/${version}`, undefined, signal),
      );
      const listed: unknown = resources?.resources;
      return Array.isArray(listed) && listed.some((resource: { name?: unknown } | null) => resource?.name === kind);
    };
    this.#informer = new KubeInformer<KubeObject>(kube, path, list);
    const watch = this;
    function informerOnEvent(): void {
      watch.#restart.reset();
      watch.#onChange();
    }
    function informerOnError(error: unknown): void {
      watch.#onError(error);
    }
    this.#informer.on('add', informerOnEvent);
    this.#informer.on('update', informerOnEvent);
    this.#informer.on('delete', informerOnEvent);
    this.#informer.on('error', informerOnError);
  }

  list(): readonly KubeObject[] {
    // The informer keeps what it last saw; a kind that stopped being served has nothing.
    return this.#isServed ? this.#informer.list() : [];
  }

  /**
   * Discovery first: an informer on a kind the server does not serve only fails, and a server that answers
   * such paths oddly (a proxy, a stub) must not reach the watch at all.
   */
  run(): void {
    if (this.#isStopped) return;
    this.#isListedInDiscovery().then(
      (isListed) => {
        if (this.#isStopped) return;
        if (isListed) this.#startInformer();
        else this.#onError(NOT_SERVED);
      },
      (error: unknown) => this.#onError(error),
    );
  }

  #startInformer(): void {
    this.#didListThisRun = false;
    // start() resolves once the list is cached and the watch is open, or after reporting a failure as 'error'.
    this.#informer.start().then(
      () => {
        if (!this.#isStopped && this.#didListThisRun) this.#onSettled();
      },
      (error: unknown) => this.#onError(error),
    );
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    this.#restart.cancel();
    await this.#informer.stop();
  }

  #onError(error: unknown): void {
    if (this.#isStopped || this.#restart.isPending) return;
    let waitMs: number;
    const status = statusOf(error);
    if (status === 404 || status === 403) {
      waitMs = NOT_SERVED_RETRY_MS;
      // Once, not every 10 minutes: a cluster without the CRDs is a normal cluster, and an install whose
      // RBAC predates tunnel discovery (403) must still register its config-declared tunnels.
      if (!this.#isNotServedLogged) {
        if (status === 404) this.#logger.info({ kind: this.kind, group: GATEWAY_GROUP, retryMs: waitMs }, 'Gateway API kind not served; tunnel discovery for it stays idle');
        else this.#logger.warn({ kind: this.kind, group: GATEWAY_GROUP, status, retryMs: waitMs }, 'Gateway API kind may not be listed (RBAC); tunnel discovery for it stays idle');
      }
      this.#isNotServedLogged = true;
      this.#isServed = false;
      // Nothing of this kind exists, which is as good an answer as a list.
      this.#onSettled();
    } else {
      waitMs = this.#restart.nextDelayMs();
      this.#logger.warn({ kind: this.kind, ...kubeFailureOf(error), ...(status === undefined ? {} : { status }), waitMs }, 'Gateway API watch failed; restarting');
    }
    this.#restart.schedule(waitMs, () => this.run());
  }
}

export class GatewayApiWatch implements GatewayApiSource {
  readonly #watches: Map<GatewayApiKind, KindWatch>;
  readonly #settled = new Set<GatewayApiKind>();
  #events: GatewayApiEvents | undefined;
  #isReady = false;

  constructor(options: GatewayApiWatchOptions) {
    this.#watches = new Map(
      Object.values(GatewayApiKind).map((kind) => [
        kind,
        new KindWatch(kind, options, () => this.#events?.onChange(), () => this.#kindSettled(kind)),
      ]),
    );
  }

  start(events: GatewayApiEvents): void {
    if (this.#events !== undefined) return;
    this.#events = events;
    for (const watch of this.#watches.values()) watch.run();
  }

  gateways(): readonly GatewayObject[] {
    return this.#watches.get(GatewayApiKind.gateways)?.list() ?? [];
  }

  tcpRoutes(): readonly RouteObject[] {
    return this.#watches.get(GatewayApiKind.tcpRoutes)?.list() ?? [];
  }

  udpRoutes(): readonly RouteObject[] {
    return this.#watches.get(GatewayApiKind.udpRoutes)?.list() ?? [];
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#watches.values()].map((watch) => watch.stop()));
  }

  #kindSettled(kind: GatewayApiKind): void {
    this.#settled.add(kind);
    if (this.#isReady || this.#settled.size < this.#watches.size) {
      this.#events?.onChange();
      return;
    }
    this.#isReady = true;
    this.#events?.onReady();
  }
}
