// Per-thread state of the actors: the WorkerConfig, the thread's logger (each actor kind logs through its
// own child, named by `actor`) and one Kubernetes upstream, built on first use. Pool workers get theirs
// from piscina's workerData, checked once; the inline host builds one per agent, so two agents embedded in
// one process never share an upstream.

import { statSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import type { WorkerConfig } from '../../src/config/agent-config.js';
import type { ActorName } from '../../src/messages/actor-messages.js';
import { parseWorkerConfig } from '../../src/messages/worker-config.js';
import { createLogger, type Logger } from '../../src/log.js';
import { Upstream, createKubeUpstream } from './upstream.js';

export class ActorContext {
  readonly config: WorkerConfig;
  /** The thread's logger: for what no single actor owns (the shared upstream). */
  readonly logger: Logger;
  readonly #actorLoggers = new Map<ActorName, Logger>();
  #kube: Upstream | Error | undefined;
  #caFileMtimeMs = 0;
  #caCheckedAtMs = 0;

  constructor(config: WorkerConfig) {
    this.config = config;
    this.logger = createLogger({ level: config.logLevel, bindings: { threadId } });
  }

  /** The logger of one actor kind on this thread: every line names the actor that wrote it. */
  actorLogger(actor: ActorName): Logger {
    let logger = this.#actorLoggers.get(actor);
    if (logger === undefined) {
      logger = this.logger.child({ actor });
      this.#actorLoggers.set(actor, logger);
    }
    return logger;
  }

  /**
   * The Kubernetes API upstream, or the reason it cannot be built (reported once). A rotated CA file (the
   * service account's `ca.crt`) replaces the upstream; calls in flight finish on the old one.
   */
  kubeUpstream(): Upstream | Error {
    this.#checkCaRotation();
    if (this.#kube === undefined) {
      try {
        if (this.config.kube === undefined) throw new Error('no Kubernetes access configured (no service account, no kubeconfig)');
        this.#kube = createKubeUpstream(this.config.kube, this.config.tuning.isKubeHttp2Enabled);
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

  #checkCaRotation(): void {
    const caFile = this.config.kube?.caFile;
    if (caFile === undefined) return;
    const now = Date.now();
    if (this.#kube !== undefined && now - this.#caCheckedAtMs < this.config.tuning.caCheckIntervalMs) return;
    this.#caCheckedAtMs = now;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(caFile).mtimeMs;
    } catch {
      return; // a Secret volume swap in progress: keep the current upstream
    }
    if (mtimeMs === this.#caFileMtimeMs) return;
    const isRotation = this.#caFileMtimeMs !== 0;
    this.#caFileMtimeMs = mtimeMs;
    if (!isRotation || !(this.#kube instanceof Upstream)) return;
    this.logger.info('cluster CA file changed; new connections trust the new bundle');
    this.#kube.retire();
    this.#kube = undefined;
  }
}

let workerContext: ActorContext | undefined;

/** The context of a pool worker thread; its workerData is checked here, once, before any task reads it. */
export function workerActorContext(): ActorContext {
  workerContext ??= new ActorContext(parseWorkerConfig(workerData));
  return workerContext;
}
