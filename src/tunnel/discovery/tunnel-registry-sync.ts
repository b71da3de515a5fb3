// Keeps the platform's tunnel registry for this cluster (PROTOCOL.md §17.3) equal to the tunnels the agent
// serves: the config-declared ones plus those of the PipeOps-managed Gateways. A full sync once the
// Gateway API caches are ready, after every session start and every 5 minutes; in between, a register for
// each new or changed tunnel and a delete for each one that disappeared.
//
//   Gateway API changes ─┐                        ┌─► full sync: ready, session start, every 5 min, after a failure
//   session start ───────┼─► one serial queue ────┤
//   5-min timer ─────────┘   (calls in order)     └─► reconcile: desired vs last told ─► register new/changed, delete gone
//
// Entries the platform rejects (in a sync answer, or a register refused with a 4xx) are logged and
// counted, and not sent again until the next full sync, so a refused tunnel cannot flood the platform.

import type { Logger } from 'pino';
import type { AgentMetrics } from '../../metrics/agent-metrics.js';
import { setRepeating, type Clock, type TimerHandle } from '../../util/clock.js';
import { SerialQueue } from '../../util/serial-queue.js';
import type { GatewayApiSource } from './gateway-api-watch.js';
import { tunnelsOfGatewayApi } from './gateway-tunnels.js';
import { registrationBodyOf, type TunnelEntry } from './tunnel-entry.js';
import { RegistryCall, RegistryOutcome, syncAnswerOf, type RegistryAnswer, type TunnelRegistryClient } from './tunnel-registry-client.js';

/** §17.3 / issue: every 5 minutes, so the platform's view heals from anything missed. */
export const TUNNEL_SYNC_INTERVAL_MS = 5 * 60_000;
/**
 * How long a session waits for the Gateway API before registering the config-declared tunnels one by one:
 * long enough for a healthy watch to list (then one full sync does it all), short enough that a watch
 * that keeps failing does not keep them off the platform.
 */
export const DECLARED_GRACE_MS = 10_000;

export interface TunnelRegistrySyncOptions {
  /** Config-declared tunnels (`tunnel.tunnels`); they win over a discovered tunnel with the same id. */
  readonly declared: readonly TunnelEntry[];
  /** Gateway API objects; undefined without Kubernetes access (then only the declared tunnels exist). */
  readonly source: GatewayApiSource | undefined;
  readonly client: TunnelRegistryClient;
  /** The `cluster_uuid` of the calls; undefined until the agent is registered (calls wait for it). */
  readonly clusterUuid: () => string | undefined;
  readonly clock: Clock;
  readonly metrics: AgentMetrics | undefined;
  readonly logger: Logger;
}

export class TunnelRegistrySync {
  readonly #options: TunnelRegistrySyncOptions;
  /** Tunnel id → registration JSON the platform accepted; undefined until a full sync succeeded. */
  #advertised: Map<string, string> | undefined;
  /** Tunnel id → registration JSON the platform refused; resent only by a full sync. */
  readonly #rejected = new Map<string, string>();
  /**
   * Tunnel id → registration JSON of a config-declared tunnel registered one by one while the Gateway API
   * is not ready: a full sync then would delete the discovered tunnels the platform has, but a failing or
   * slow watch must not keep the declared ones unregistered. Cleared at every session start.
   */
  readonly #declaredEarly = new Map<string, string>();
  /** Steps run one at a time, in order, so calls reach the platform in the order the cluster changed. */
  readonly #queue: SerialQueue;
  #isSyncQueued = false;
  #isReconcileQueued = false;
  #isReady = false;
  #timer: TimerHandle | undefined;
  #graceTimer: TimerHandle | undefined;
  #isStarted = false;

  constructor(options: TunnelRegistrySyncOptions) {
    this.#options = options;
    this.#queue = new SerialQueue((error) => options.logger.error({ err: error }, 'tunnel registry step failed'));
  }

  /** What the agent serves now, ordered by id. */
  desired(): TunnelEntry[] {
    const byId = new Map<string, TunnelEntry>();
    for (const entry of this.#options.declared) byId.set(entry.tunnelId, entry);
    const source = this.#options.source;
    if (source !== undefined) {
      for (const entry of tunnelsOfGatewayApi(source.gateways(), source.tcpRoutes(), source.udpRoutes())) {
        if (!byId.has(entry.tunnelId)) byId.set(entry.tunnelId, entry);
      }
    }
    return [...byId.values()].sort((a, b) => a.tunnelId.localeCompare(b.tunnelId));
  }

  /** Tunnel ids the platform accepted, as last told. */
  get registeredCount(): number {
    return this.#advertised?.size ?? 0;
  }

  start(): void {
    if (this.#isStarted) return;
    this.#isStarted = true;
    const sync = this;
    function sourceOnChange(): void {
      sync.#requestReconcile();
    }
    function sourceOnReady(): void {
      sync.#isReady = true;
      sync.#graceTimer?.cancel();
      sync.#graceTimer = undefined;
      sync.#options.logger.info({ tunnels: sync.desired().length }, 'tunnel discovery ready');
      sync.#requestSync('ready');
    }
    function clockOnSync(): void {
      sync.#requestSync('periodic');
    }
    this.#timer = setRepeating(this.#options.clock, TUNNEL_SYNC_INTERVAL_MS, clockOnSync);
    if (this.#options.source === undefined) sourceOnReady();
    else this.#options.source.start({ onChange: sourceOnChange, onReady: sourceOnReady });
  }

  /** A session began (first connect or reconnect): the platform may have lost tunnels while the agent was away. */
  onSessionStart(): void {
    this.#declaredEarly.clear();
    this.#requestSync('session start');
  }

  /** Resolves once the queue is empty, including steps queued by steps. */
  settled(): Promise<void> {
    return this.#queue.settled();
  }

  async stop(): Promise<void> {
    this.#queue.stop();
    this.#timer?.cancel();
    this.#graceTimer?.cancel();
    this.#options.client.close();
    await this.#options.source?.stop();
    await this.#queue.tail();
  }

  #requestSync(reason: string): void {
    if (this.#isSyncQueued || this.#queue.isStopped) return;
    this.#isSyncQueued = true;
    this.#queue.enqueue(() => this.#fullSync(reason));
  }

  /** Informer events come in bursts (a relist is one per object): one queued reconcile covers them all. */
  #requestReconcile(): void {
    if (this.#isReconcileQueued || this.#queue.isStopped) return;
    this.#isReconcileQueued = true;
    this.#queue.enqueue(() => this.#reconcile());
  }

  #count(call: RegistryCall, answer: RegistryAnswer): void {
    this.#options.metrics?.inc('tunnelRegistryCalls', { kind: call, outcome: answer.outcome });
  }

  #publishGauge(): void {
    this.#options.metrics?.set('tunnelsRegistered', this.registeredCount);
  }

  #noteRejected(tunnelId: string, json: string, reason: string, call: RegistryCall): void {
    this.#rejected.set(tunnelId, json);
    this.#options.metrics?.inc('tunnelRegistryRejections', { kind: call });
    this.#options.logger.warn({ tunnelId, call, reason }, 'tunnel registry rejected a tunnel');
  }

  async #fullSync(reason: string): Promise<void> {
    this.#isSyncQueued = false;
    const clusterUuid = this.#options.clusterUuid();
    if (!this.#isReady || clusterUuid === undefined) {
      this.#options.logger.debug({ reason, isReady: this.#isReady }, 'tunnel sync deferred');
      if (clusterUuid !== undefined && !this.#isReady && this.#graceTimer === undefined && this.#options.declared.length > 0) {
        this.#graceTimer = this.#options.clock.setTimer(DECLARED_GRACE_MS, () => {
          this.#graceTimer = undefined;
          if (!this.#isReady) this.#queue.enqueue(() => this.#registerDeclared());
        });
      }
      return;
    }
    const desired = this.desired();
    const bodies = desired.map((entry) => registrationBodyOf(entry, clusterUuid));
    const answer = await this.#options.client.sync(clusterUuid, bodies);
    this.#count(RegistryCall.sync, answer);
    if (answer.outcome !== RegistryOutcome.ok) {
      this.#options.logger.warn({ reason, outcome: answer.outcome, ...(answer.outcome === RegistryOutcome.failed ? { failure: answer.failure } : { status: answer.status }) }, 'tunnel sync failed');
      return;
    }
    const { accepted, rejected } = syncAnswerOf(answer.body);
    const rejectedIds = new Set(rejected.map((item) => item.tunnelId));
    const acceptedIds = accepted === undefined ? undefined : new Set(accepted);
    this.#rejected.clear();
    const advertised = new Map<string, string>();
    for (const body of bodies) {
      const json = JSON.stringify(body);
      const isRejected = rejectedIds.has(body.tunnel_id) || (acceptedIds !== undefined && !acceptedIds.has(body.tunnel_id));
      if (!isRejected) advertised.set(body.tunnel_id, json);
    }
    for (const item of rejected) {
      const body = bodies.find((candidate) => candidate.tunnel_id === item.tunnelId);
      if (body !== undefined) this.#noteRejected(item.tunnelId, JSON.stringify(body), item.reason, RegistryCall.sync);
    }
    this.#advertised = advertised;
    this.#publishGauge();
    this.#options.logger.info({ reason, tunnels: bodies.length, accepted: advertised.size, rejected: rejected.length }, 'tunnels synced');
  }

  async #registerDeclared(): Promise<void> {
    const clusterUuid = this.#options.clusterUuid();
    if (clusterUuid === undefined || this.#isReady) return;
    for (const entry of this.#options.declared) {
      const body = registrationBodyOf(entry, clusterUuid);
      const json = JSON.stringify(body);
      if (this.#declaredEarly.get(entry.tunnelId) === json) continue;
      const answer = await this.#options.client.register(clusterUuid, body);
      this.#count(RegistryCall.register, answer);
      if (answer.outcome === RegistryOutcome.ok) this.#declaredEarly.set(entry.tunnelId, json);
      else if (answer.outcome === RegistryOutcome.rejected) this.#noteRejected(entry.tunnelId, json, answer.reason, RegistryCall.register);
      else this.#options.logger.warn({ tunnelId: entry.tunnelId, failure: answer.failure }, 'tunnel register failed; the next sync retries');
    }
  }

  async #reconcile(): Promise<void> {
    this.#isReconcileQueued = false;
    const advertised = this.#advertised;
    const clusterUuid = this.#options.clusterUuid();
    if (!this.#isReady || clusterUuid === undefined) return;
    // Before any successful sync the platform's state is unknown: only a sync can say it.
    if (advertised === undefined) {
      await this.#fullSync('pending');
      return;
    }
    const desired = this.desired();
    const desiredIds = new Set(desired.map((entry) => entry.tunnelId));
    for (const entry of desired) {
      const body = registrationBodyOf(entry, clusterUuid);
      const json = JSON.stringify(body);
      if (advertised.get(entry.tunnelId) === json || this.#rejected.get(entry.tunnelId) === json) continue;
      const answer = await this.#options.client.register(clusterUuid, body);
      this.#count(RegistryCall.register, answer);
      if (answer.outcome === RegistryOutcome.ok) {
        advertised.set(entry.tunnelId, json);
        this.#rejected.delete(entry.tunnelId);
        this.#options.logger.info({ tunnelId: entry.tunnelId, protocol: entry.protocol, service: `${entry.serviceNamespace}/${entry.serviceName}:${entry.servicePort}` }, 'tunnel registered');
      } else if (answer.outcome === RegistryOutcome.rejected) {
        // Known to the platform or not, the old registration is no longer ours to keep.
        advertised.delete(entry.tunnelId);
        this.#noteRejected(entry.tunnelId, json, answer.reason, RegistryCall.register);
      } else {
        this.#options.logger.warn({ tunnelId: entry.tunnelId, failure: answer.failure }, 'tunnel register failed; the next sync retries');
      }
    }
    for (const tunnelId of [...advertised.keys(), ...this.#rejected.keys()]) {
      if (desiredIds.has(tunnelId)) continue;
      if (!advertised.has(tunnelId)) {
        this.#rejected.delete(tunnelId);
        continue;
      }
      const answer = await this.#options.client.remove(clusterUuid, tunnelId);
      this.#count(RegistryCall.delete, answer);
      if (answer.outcome === RegistryOutcome.ok) {
        advertised.delete(tunnelId);
        this.#options.logger.info({ tunnelId }, 'tunnel deleted');
      } else {
        this.#options.logger.warn({ tunnelId, outcome: answer.outcome }, 'tunnel delete failed; the next sync retries');
      }
    }
    this.#publishGauge();
  }
}
