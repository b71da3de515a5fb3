// Runs actors: in a piscina pool of worker threads, or inline on the main thread (AGENT_WORKERS=0) with
// the very same actor code and port interface. Admission happens before run() (router/admission.ts): the
// router starts no more actors than a host has slots, so the pool's own queue stays short.

import { Piscina } from 'piscina';
import { MessageChannel, MessagePort, type Worker } from 'node:worker_threads';
import type { WorkerConfig } from '../config/agent-config.js';
import type { ActorKind, ActorPort, ActorTask } from '../messages/actor-messages.js';
import { localChannel } from './local-channel.js';
import { mapPoolError } from './dispatch.js';

export interface ActorHost {
  run(task: ActorTask): Promise<void>;
  /** A channel for one actor of this host: a MessageChannel for a pool thread, a same-thread pair inline. */
  createChannel(): { readonly port1: ActorPort; readonly port2: ActorPort };
  /** Actors started and not yet finished. */
  readonly activeActors: number;
  readonly threads: number;
  readonly queueSize: number;
  /** The pool's worker threads (none inline), for inspection and fault tests. */
  readonly workerThreads: readonly Worker[];
  close(): Promise<void>;
}

export interface PoolOptions {
  readonly workers: number;
  readonly tasksPerWorker: number;
  readonly maxQueue: number;
  readonly workerConfig: WorkerConfig;
  /**
   * A fault outside any task: a worker thread that died while running none (an unobserved rejection, say).
   * Without this listener the pool's 'error' event would end the process (C93).
   */
  readonly onFault?: (error: Error) => void;
  /** The worker entry, when not the actor kind's own (fault tests run a worker that fails on purpose). */
  readonly workerFile?: URL;
  /**
   * Threads start at the first task and stop after IDLE_TIMEOUT_MS without one, so an idle agent holds no
   * worker isolate (each costs 10–20 MB, docs/performance.md). All of a pool's threads start together:
   * piscina's balancer only spreads tasks over threads that exist.
   */
  readonly isLazy?: boolean;
}

/** One worker entry per actor kind: HTTP relays and WebSocket sessions run in separate pools. */
const WORKER_URLS: Readonly<Record<ActorKind, URL>> = {
  'http-relay': new URL('../../workers/http-relay.js', import.meta.url),
  'ws-session': new URL('../../workers/ws-session.js', import.meta.url),
};
const IDLE_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 5_000;

type ActorFunction = (task: ActorTask) => Promise<void>;

/** What the inline host needs from the actor module (see workers/http-relay.ts). */
interface ActorModule {
  default: (task: ActorTask, context: InlineContext) => Promise<void>;
  ActorContext: new (config: WorkerConfig) => InlineContext;
}

interface InlineContext {
  close(): void;
}

class PoolActorHost implements ActorHost {
  readonly #options: PoolOptions;
  readonly #kind: ActorKind;
  #pool: Piscina | undefined;
  #active = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(options: PoolOptions, kind: ActorKind) {
    this.#options = options;
    this.#kind = kind;
    if (options.isLazy !== true) this.#pool = this.#open();
  }

  #open(): Piscina {
    const options = this.#options;
    const pool = new Piscina({
      filename: (options.workerFile ?? WORKER_URLS[this.#kind]).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      concurrentTasksPerWorker: options.tasksPerWorker,
      maxQueue: options.maxQueue,
      // Actors own sockets and timers that must run between tasks: no Atomics parking.
      atomics: 'disabled',
      // The default queue let one task starve for seconds under load here.
      stricterFIFO: true,
      idleTimeout: IDLE_TIMEOUT_MS,
      closeTimeout: CLOSE_TIMEOUT_MS,
      workerData: options.workerConfig,
    });
    const onFault = options.onFault;
    pool.on('error', function poolOnError(error: unknown) {
      onFault?.(error instanceof Error ? error : new Error(String(error)));
    });
    return pool;
  }

  async run(task: ActorTask): Promise<void> {
    this.#active++;
    clearTimeout(this.#idleTimer);
    this.#pool ??= this.#open();
    try {
      if (!(task.port instanceof MessagePort)) throw new TypeError('a pool actor needs a MessagePort from createChannel()');
      await this.#pool.run(task, { transferList: [task.port, task.frame.buffer as ArrayBuffer] });
    } catch (error) {
      throw mapPoolError(error);
    } finally {
      this.#active--;
      if (this.#active === 0 && this.#options.isLazy === true) this.#closeWhenIdle();
    }
  }

  createChannel(): { readonly port1: ActorPort; readonly port2: ActorPort } {
    return new MessageChannel();
  }

  #closeWhenIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      const pool = this.#pool;
      if (this.#active > 0 || pool === undefined) return;
      this.#pool = undefined;
      // closing an idle pool fails only if its threads are already gone: nothing is left to release
      pool.close().catch(() => undefined);
    }, IDLE_TIMEOUT_MS);
    this.#idleTimer.unref();
  }

  get activeActors(): number {
    return this.#active;
  }
  get threads(): number {
    return this.#pool?.threads.length ?? 0;
  }
  get workerThreads(): readonly Worker[] {
    return this.#pool?.threads ?? [];
  }
  get queueSize(): number {
    return this.#pool?.queueSize ?? 0;
  }

  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close({ force: true });
  }
}

class InlineActorHost implements ActorHost {
  readonly #actor: ActorFunction;
  readonly #context: InlineContext;
  #active = 0;

  constructor(module: ActorModule, config: WorkerConfig) {
    const context = new module.ActorContext(config);
    this.#context = context;
    this.#actor = (task) => module.default(task, context);
  }

  createChannel(): { readonly port1: ActorPort; readonly port2: ActorPort } {
    return localChannel();
  }

  async run(task: ActorTask): Promise<void> {
    this.#active++;
    try {
      await this.#actor(task);
    } catch (error) {
      throw mapPoolError(error);
    } finally {
      this.#active--;
    }
  }

  get activeActors(): number {
    return this.#active;
  }
  get threads(): number {
    return 0;
  }
  get workerThreads(): readonly Worker[] {
    return [];
  }
  get queueSize(): number {
    return 0;
  }
  close(): Promise<void> {
    this.#context.close();
    return Promise.resolve();
  }
}

export async function createActorHost(options: PoolOptions, kind: ActorKind = 'http-relay'): Promise<ActorHost> {
  if (options.workers > 0) return new PoolActorHost(options, kind);
  // Loaded by URL so that src/ never imports workers/ statically (the thread boundary stays visible).
  const module = (await import(WORKER_URLS[kind].href)) as ActorModule;
  return new InlineActorHost(module, options.workerConfig);
}
