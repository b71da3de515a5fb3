// Per-thread state of the actors: the WorkerConfig, one logger and one Kubernetes upstream, built on
// first use. Pool workers get theirs from piscina's workerData; the inline host builds one per agent, so
// two agents embedded in one process never share an upstream.

import { threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import type { WorkerConfig } from '../../src/config/agent-config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { Upstream, createKubeUpstream } from './upstream.js';

export class ActorContext {
  readonly config: WorkerConfig;
  readonly logger: Logger;
  #kube: Upstream | Error | undefined;

  constructor(config: WorkerConfig) {
    this.config = config;
    this.logger = createLogger({ level: config.logLevel, bindings: { threadId, actor: 'http-relay' } });
  }

  /** The Kubernetes API upstream, or the reason it cannot be built (reported once). */
  kubeUpstream(): Upstream | Error {
    if (this.#kube === undefined) {
      try {
        if (this.config.kube === undefined) throw new Error('no Kubernetes access configured (no service account, no kubeconfig)');
        this.#kube = createKubeUpstream(this.config.kube);
      } catch (error) {
        this.#kube = error instanceof Error ? error : new Error(String(error));
        this.logger.error({ err: this.#kube }, 'kubernetes client could not be initialised');
      }
    }
    return this.#kube;
  }

  close(): void {
    if (this.#kube instanceof Upstream) this.#kube.close();
  }
}

let workerContext: ActorContext | undefined;

/** The context of a pool worker thread. */
export function workerActorContext(): ActorContext {
  workerContext ??= new ActorContext(workerData as WorkerConfig);
  return workerContext;
}
