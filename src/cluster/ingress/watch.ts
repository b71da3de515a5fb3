// The Ingress informer of the gateway proxy: list + watch of networking.k8s.io/v1 Ingresses in all
// namespaces with the agent's own credentials (kube/kube-informer.ts), restarted with capped backoff
// after a failure. Delivers events and the cache; decides nothing about them.
//
//   start ─► list ─ok─► add… ─► onInitialList (once) ─► watch ─events─► onUpsert / onDelete
//              │                                           │ ends cleanly ─► watch again (the informer)
//              └ fails ───────────────┬────────────────────┘ fails
//                                     └─► wait 1 s, 2 s … 60 s on clock ─► start again (relist only if needed)

import type { V1Ingress } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Clock } from '../../util/clock.js';
import { InformerRestart } from '../../kube/informer-restart.js';
import { kubeFailureOf } from '../../kube/kube-failure.js';
import type { KubeClient } from '../../kube/kube-client.js';
import { KubeInformer, type KubeList } from '../../kube/kube-informer.js';

export const INGRESS_PATH = '/apis/networking.k8s.io/v1/ingresses';

export interface IngressEvents {
  onUpsert(ingress: V1Ingress): void;
  /** The object as last seen: a watch DELETED event, or the cached copy when a relist no longer has it. */
  onDelete(ingress: V1Ingress): void;
  /** The first complete list is in the cache (events for its items came before). */
  onInitialList(): void;
}

/** Where the ingress sync gets Ingresses from; an interface so the sync can be driven without an API server. */
export interface IngressSource {
  start(events: IngressEvents): void;
  /** Every cached Ingress, managed or not. */
  list(): readonly V1Ingress[];
  stop(): Promise<void>;
}

export interface IngressWatchOptions {
  readonly kube: KubeClient;
  /** Restart backoff. */
  readonly clock: Clock;
  readonly logger: Logger;
}

export class IngressWatch implements IngressSource {
  readonly #informer: KubeInformer<V1Ingress>;
  readonly #restart: InformerRestart;
  readonly #logger: Logger;
  #events: IngressEvents | undefined;
  #hasListed = false;
  #didListThisRun = false;
  #isStopped = false;

  constructor(options: IngressWatchOptions) {
    const kube = options.kube;
    this.#restart = new InformerRestart(options.clock);
    this.#logger = options.logger;
    const listIngresses = async () => {
      const list = await kube.get<KubeList<V1Ingress>>(INGRESS_PATH);
      this.#didListThisRun = true;
      this.#restart.reset();
      return list;
    };
    this.#informer = new KubeInformer<V1Ingress>(kube, INGRESS_PATH, listIngresses);
  }

  start(events: IngressEvents): void {
    if (this.#events !== undefined) return;
    this.#events = events;
    // Listeners close over `watch` rather than `this`: the informer calls them unbound.
    const watch = this;
    // An event proves the watch works again, so the next failure starts the backoff afresh.
    function informerOnAdd(ingress: V1Ingress): void {
      watch.#restart.reset();
      watch.#events?.onUpsert(ingress);
    }
    function informerOnUpdate(ingress: V1Ingress): void {
      watch.#restart.reset();
      watch.#events?.onUpsert(ingress);
    }
    function informerOnDelete(ingress: V1Ingress): void {
      watch.#restart.reset();
      watch.#events?.onDelete(ingress);
    }
    function informerOnError(error: unknown): void {
      watch.#onError(error);
    }
    this.#informer.on('add', informerOnAdd);
    this.#informer.on('update', informerOnUpdate);
    this.#informer.on('delete', informerOnDelete);
    this.#informer.on('error', informerOnError);
    this.#run();
  }

  list(): readonly V1Ingress[] {
    return this.#informer.list();
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    this.#restart.cancel();
    // The informer reports nothing once stopped; #onError ignores late reports all the same.
    await this.#informer.stop();
  }

  #run(): void {
    if (this.#isStopped) return;
    this.#didListThisRun = false;
    // start() resolves once the list is cached and the watch is open, or after reporting a failure as 'error'.
    this.#informer.start().then(
      () => {
        if (this.#isStopped || !this.#didListThisRun || this.#hasListed) return;
        this.#hasListed = true;
        this.#logger.debug({ ingresses: this.#informer.list().length }, 'ingress list cached');
        this.#events?.onInitialList();
      },
      (error: unknown) => this.#onError(error),
    );
  }

  #onError(error: unknown): void {
    if (this.#isStopped || this.#restart.isPending) return;
    const waitMs = this.#restart.nextDelayMs();
    // A refused list or watch is a KubeStatusError with `statusCode`.
    const statusCode = typeof error === 'object' && error !== null && 'statusCode' in error ? error.statusCode : undefined;
    this.#logger.warn({ ...kubeFailureOf(error), ...(typeof statusCode === 'number' ? { status: statusCode } : {}), waitMs }, 'ingress watch failed; restarting');
    this.#restart.schedule(waitMs, () => this.#run());
  }
}
