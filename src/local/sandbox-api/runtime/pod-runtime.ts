// What each pod has while it "runs" in the sandbox: one log per container, its main process (the demo
// ticker for the seeded pod), and its stand-in filesystem directory, created on first exec. Deleting the
// pod from the store ends its logs, tells every session bound to it and removes the directory, as the
// kubelet tears down a deleted pod's containers; close() does that for every pod.

import type { Logger } from '../../../log.js';
import { startDemoTicker, type DemoTicker } from './demo-ticker.js';
import { ChangeType, type ObjectStore, type StoreChange } from '../store/object-store.js';
import { PodLogBuffer } from './pod-log-buffer.js';
import { createPodSandboxDir, removePodSandboxDir } from './pod-sandbox-dir.js';

/** A container's running process that attach can join: its raw output, its stdin, its terminal. */
export interface AttachTarget {
  readonly isTty: boolean;
  /** the container's stdin (ignored once ended) */
  write(data: Buffer): void;
  /** closes the container's stdin (stdinOnce: the first attach that leaves takes it along) */
  endInput(): void;
  resize(width: number, height: number): void;
  /** every later output chunk (stream 1 stdout, 2 stderr) until the process ends; returns the unsubscribe */
  subscribe(onOutput: (stream: 1 | 2, chunk: Buffer) => void, onEnd: () => void): () => void;
}

/** Told when the pod goes away; a returned promise delays the directory's removal until it settles. */
export type GoneListener = () => void | Promise<void>;

interface PodState {
  readonly namespace: string;
  readonly name: string;
  readonly logs: Map<string, PodLogBuffer>;
  readonly goneListeners: Set<GoneListener>;
  readonly attachTargets: Map<string, AttachTarget>;
  dir?: Promise<string>;
  ticker?: DemoTicker;
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class PodRuntime {
  readonly #logger: Logger;
  readonly #pods = new Map<string, PodState>();
  readonly #removals = new Set<Promise<void>>();
  readonly #unsubscribe: () => void;
  #isClosed = false;

  constructor(store: ObjectStore, logger: Logger) {
    this.#logger = logger;
    const onStoreChange = (change: StoreChange): void => {
      const { key } = change;
      if (change.type === ChangeType.deleted && key.group === '' && key.resource === 'pods') this.#retire(podKey(key.namespace, key.name));
    };
    this.#unsubscribe = store.onChange(onStoreChange);
  }

  /** The log of one container (empty until something writes to it). */
  log(namespace: string, name: string, container: string): PodLogBuffer {
    const state = this.#state(namespace, name);
    let log = state.logs.get(container);
    if (log === undefined) {
      log = new PodLogBuffer();
      if (this.#isClosed) log.end();
      state.logs.set(container, log);
    }
    return log;
  }

  /** Makes `<n> demo tick` the main process of one container. */
  startDemoTicker(namespace: string, name: string, container: string): void {
    const state = this.#state(namespace, name);
    state.ticker?.stop();
    state.ticker = startDemoTicker(this.log(namespace, name, container));
  }

  /** Makes a container's running process joinable by attach (undefined: it has none any more). */
  setAttachTarget(namespace: string, name: string, container: string, target: AttachTarget | undefined): void {
    const targets = this.#state(namespace, name).attachTargets;
    if (target === undefined) targets.delete(container);
    else targets.set(container, target);
  }

  /** The container's interactive process, when it runs one (stdin: true in its spec). */
  attachTarget(namespace: string, name: string, container: string): AttachTarget | undefined {
    return this.#pods.get(podKey(namespace, name))?.attachTargets.get(container);
  }

  /** The pod's "/" on the host, created on first use. */
  sandboxDir(namespace: string, name: string): Promise<string> {
    if (this.#isClosed) return Promise.reject(new Error('the sandbox is closing'));
    const state = this.#state(namespace, name);
    state.dir ??= createPodSandboxDir(namespace, name);
    return state.dir;
  }

  /** Calls `listener` once when the pod is deleted or the sandbox closes; returns the unsubscribe. */
  onGone(namespace: string, name: string, listener: GoneListener): () => void {
    const state = this.#state(namespace, name);
    state.goneListeners.add(listener);
    return () => state.goneListeners.delete(listener);
  }

  /** Pods that currently have runtime state (logs, a directory or listeners). */
  get podCount(): number {
    return this.#pods.size;
  }

  /** Ends every pod: logs end, sessions are told, directories are removed; the store is no longer watched. */
  async close(): Promise<void> {
    this.#isClosed = true;
    this.#unsubscribe();
    for (const key of [...this.#pods.keys()]) this.#retire(key);
    await Promise.all([...this.#removals]);
  }

  #state(namespace: string, name: string): PodState {
    const key = podKey(namespace, name);
    let state = this.#pods.get(key);
    if (state === undefined) {
      state = { namespace, name, logs: new Map(), goneListeners: new Set(), attachTargets: new Map() };
      this.#pods.set(key, state);
    }
    return state;
  }

  #retire(key: string): void {
    const state = this.#pods.get(key);
    if (state === undefined) return;
    this.#pods.delete(key);
    state.ticker?.stop();
    for (const log of state.logs.values()) log.end();
    const listeners = [...state.goneListeners];
    state.goneListeners.clear();
    // sessions stop their processes first, so nothing writes into the directory while it is removed
    const stopped = Promise.allSettled(listeners.map(async (listener) => listener()));
    const removal = stopped
      .then(() => (state.dir === undefined ? undefined : state.dir.then((dir) => removePodSandboxDir(dir))))
      .catch((error: unknown) => this.#logger.warn({ err: error, pod: key }, 'could not remove pod sandbox directory'));
    this.#removals.add(removal);
    void removal.finally(() => this.#removals.delete(removal));
  }
}
