// A list + watch cache of one resource path, with the events the agent's watches need (add, update,
// delete, error). Runs until an error, which it reports once and then waits for start() again (the caller
// owns the backoff, see informer-restart.ts); stop() ends it without reporting anything.
//
//   start ─► resourceVersion known? ─no─► list ─► cache diff (add/update/delete) ─┐
//              │ yes                                                              ▼
//              └──────────────────────────────────► watch from resourceVersion (allowWatchBookmarks)
//   watch ends cleanly ─► watch again from the last resourceVersion seen (events and bookmarks move it),
//                         unless it lasted under a second without an event: 'error', as client-go's reflector
//                         does, so a server that closes every watch at once meets the caller's backoff
//   410 Gone (refused watch or ERROR event) ─► forget the resourceVersion ─► list again
//   any other failure ─► 'error' (once) ─► idle until start()

import type { KubeClient, KubeWatch, WatchEvent } from './kube-client.js';
import { KubeStatusError } from './kube-failure.js';
import { AgentError, ErrorCode } from '../errors.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface KubeList<T> {
  items: T[];
  metadata?: { resourceVersion?: string; remainingItemCount?: number };
}

export const InformerEvent = { add: 'add', update: 'update', delete: 'delete', error: 'error' } as const;
export type InformerEvent = (typeof InformerEvent)[keyof typeof InformerEvent];

type Listener<T> = (object: T) => void;
type ErrorListener = (error: unknown) => void;

const GONE = 410;
/** A watch that ends cleanly sooner than this without one event is a failure, not a routine end. */
export const SHORT_WATCH_MS = 1_000;

function keyOf(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

export class KubeInformer<T extends KubeObject> {
  readonly #client: KubeClient;
  readonly #path: string;
  readonly #listFn: () => Promise<KubeList<T>>;
  readonly #objects = new Map<string, T>();
  readonly #listeners = { add: [] as Listener<T>[], update: [] as Listener<T>[], delete: [] as Listener<T>[], error: [] as ErrorListener[] };
  #resourceVersion = '';
  #watch: KubeWatch | undefined;
  #isStopped = false;
  /** Counts runs, so a watch of an earlier run that ends late does not start another. */
  #run = 0;

  /** `listFn` lists `path` (the caller may count or time it); the watch goes to `path` itself. */
  constructor(client: KubeClient, path: string, listFn: () => Promise<KubeList<T>>) {
    this.#client = client;
    this.#path = path;
    this.#listFn = listFn;
  }

  on(event: 'add' | 'update' | 'delete', listener: Listener<T>): void;
  on(event: 'error', listener: ErrorListener): void;
  on(event: InformerEvent, listener: Listener<T> | ErrorListener): void {
    (this.#listeners[event] as (Listener<T> | ErrorListener)[]).push(listener);
  }

  /** Every cached object. */
  list(): T[] {
    return [...this.#objects.values()];
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** Resolves once the cache is filled and the watch is open, or once a failure was reported as 'error'. */
  async start(): Promise<void> {
    this.#isStopped = false;
    this.#watch?.abort();
    this.#watch = undefined;
    await this.#connect(++this.#run, false);
  }

  async stop(): Promise<void> {
    this.#isStopped = true;
    this.#run++;
    this.#watch?.abort();
    this.#watch = undefined;
  }

  async #connect(run: number, hasJustListed: boolean): Promise<void> {
    if (this.#isStopped || run !== this.#run) return;
    let isFreshList = hasJustListed;
    if (this.#resourceVersion === '') {
      let list: KubeList<T>;
      try {
        list = await this.#listFn();
      } catch (error) {
        this.#fail(run, error);
        return;
      }
      if (this.#isStopped || run !== this.#run) return;
      this.#replaceAll(Array.isArray(list.items) ? list.items : []);
      this.#resourceVersion = list.metadata?.resourceVersion ?? '';
      isFreshList = true;
    }
    let watch: KubeWatch;
    let events = 0;
    try {
      watch = await this.#client.watch(this.#path, { resourceVersion: this.#resourceVersion || undefined, allowWatchBookmarks: true }, (event) => {
        events++;
        this.#onEvent(run, event);
      });
    } catch (error) {
      // A resourceVersion older than the server keeps: list again, once per run so a server that
      // answers 410 to a fresh list's version too is reported rather than looped on.
      if (error instanceof KubeStatusError && error.statusCode === GONE && !isFreshList) {
        this.#resourceVersion = '';
        await this.#connect(run, false);
        return;
      }
      this.#fail(run, error);
      return;
    }
    if (this.#isStopped || run !== this.#run) {
      // Opened after a stop or a newer start: nobody waits for its end, which an abort makes a rejection.
      watch.done.catch(() => undefined);
      watch.abort();
      return;
    }
    this.#watch = watch;
    const openedMs = Date.now();
    watch.done.then(
      () => {
        if (this.#watch === watch) this.#watch = undefined;
        if (events === 0 && Date.now() - openedMs < SHORT_WATCH_MS) {
          this.#fail(run, new AgentError(ErrorCode.upstreamFailed, 'the Kubernetes API ended a watch at once, without an event'));
          return;
        }
        void this.#connect(run, false);
      },
      (error: unknown) => {
        if (this.#watch === watch) this.#watch = undefined;
        // A 410 ERROR event aborts the stream itself and forgets the version: that is a relist, not a failure.
        if (this.#resourceVersion === '') void this.#connect(run, false);
        else this.#fail(run, error);
      },
    );
  }

  #onEvent(run: number, event: WatchEvent): void {
    if (this.#isStopped || run !== this.#run) return;
    const object = event.object as T;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#upsert(object);
        break;
      case 'DELETED':
        this.#objects.delete(keyOf(object));
        for (const listener of this.#listeners.delete) listener(object);
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const status = event.object as { code?: unknown; reason?: unknown };
        const code = typeof status.code === 'number' ? status.code : 500;
        const reason = typeof status.reason === 'string' ? status.reason : undefined;
        const watch = this.#watch;
        if (code === GONE) {
          this.#resourceVersion = '';
          watch?.abort();
        } else {
          this.#watch = undefined;
          watch?.abort();
          this.#fail(run, new KubeStatusError(code, reason));
        }
        return;
      }
      default:
        return;
    }
    const resourceVersion = object.metadata?.resourceVersion;
    if (typeof resourceVersion === 'string' && resourceVersion !== '') this.#resourceVersion = resourceVersion;
  }

  #upsert(object: T): void {
    const key = keyOf(object);
    const found = this.#objects.get(key);
    this.#objects.set(key, object);
    if (found === undefined) for (const listener of this.#listeners.add) listener(object);
    else if (found.metadata?.resourceVersion !== object.metadata?.resourceVersion || object.metadata?.resourceVersion === undefined) {
      for (const listener of this.#listeners.update) listener(object);
    }
  }

  /** A list replaces the cache: objects it no longer has are deleted (their cached copy is reported). */
  #replaceAll(items: readonly T[]): void {
    const keys = new Set(items.map(keyOf));
    for (const [key, object] of this.#objects) {
      if (keys.has(key)) continue;
      this.#objects.delete(key);
      for (const listener of this.#listeners.delete) listener(object);
    }
    for (const item of items) this.#upsert(item);
  }

  #fail(run: number, error: unknown): void {
    if (this.#isStopped || run !== this.#run) return;
    // The run is over: late events or a late end of its watch must not act on the cache or connect again.
    this.#run++;
    for (const listener of this.#listeners.error) listener(error);
  }
}
