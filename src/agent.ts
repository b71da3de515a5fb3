// Composes the agent: control-plane link, router, actor host and cluster facts. Start/stop only; the
// parts own their behaviour.

import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Dispatch, workerConfigOf, type AgentConfig, type ResolvedAgentConfig, type WorkerTuning } from './config/agent-config.js';
import { resolveAgentConfig } from './config/resolve-config.js';
import { ControlPlaneLink } from './link/control-plane-link.js';
import type { ConnectionTls } from './link/connection.js';
import type { StateStore } from './link/link-state.js';
import { SHUTTING_DOWN, StreamRouter } from './router/stream-router.js';
import { Lane } from './router/admission.js';
import { DispatchPolicy } from './router/dispatch-policy.js';
import { createActorHost, type ActorHost } from './pool/actor-host.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { AgentHttpServer } from './http/agent-http-server.js';
import { ClusterFacts } from './cluster/cluster-facts.js';
import { openClusterIdentity } from './cluster/identity/agent-identity.js';
import type { AgentStateStore } from './cluster/state/store.js';
import { RegionDetector } from './cluster/region/detection.js';
import { MonitoringDiscovery } from './cluster/monitoring/discovery.js';
import { resolveKubeTarget } from './kube/kube-endpoint.js';
import { KubeClient } from './kube/kube-client.js';
import { loadKubeAccess } from './kube/kubeconfig.js';
import type { KubeTarget } from './kube/kube-target.js';
import { systemClock, type Clock } from './util/clock.js';
import { AGENT_VERSION } from './version.js';
import { createGatewayProxy } from './cluster/ingress/gateway-proxy.js';
import type { IngressSync } from './cluster/ingress/sync.js';
import { createTunnelRegistrySync } from './tunnel/discovery/tunnel-registry-setup.js';
import type { TunnelRegistrySync } from './tunnel/discovery/tunnel-registry-sync.js';

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  /**
   * Timers of the tunnel registry (its 5-minute sync, the 10-minute look for Gateway API kinds not served);
   * `clock` when absent. Tests that count the link's own timers give the registry a clock of its own.
   */
  readonly tunnelRegistryClock?: Clock;
  /** The link's state store; when given, nothing is persisted elsewhere (CLUSTER.md §1 objects untouched). */
  readonly stateStore?: StateStore;
  /** Protocol timings and bounds of the actors; PROTOCOL.md §18 defaults when absent. */
  readonly workerTuning?: Partial<WorkerTuning>;
  /**
   * Told of every fault that ends streams against the agent's will: an actor that threw or whose thread died,
   * a pool error outside any task. Tests fail on them; the agent itself logs and counts them and goes on.
   */
  readonly onFault?: (fault: AgentFault) => void;
}

export interface AgentFault {
  readonly kind: 'actor-failed' | 'pool-error';
  readonly error: Error;
}

const LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * The agent token as the link and the gateway route calls present it: the token file, read at every call
 * so a rotated (mounted) token is picked up, else the configured token.
 */
export function agentTokenProvider(config: AgentConfig): () => string {
  const tokenFile = config.pipeops.tokenFile;
  if (tokenFile === undefined) return () => config.pipeops.token;
  return () => readFileSync(tokenFile, 'utf8').trim();
}

function controlPlaneTls(config: AgentConfig): ConnectionTls {
  const tls = config.pipeops.tls;
  return {
    rejectUnauthorized: !tls.insecureSkipVerify,
    // Node's `ca` replaces the default trust store; the documented behaviour is "in addition to it".
    ...(tls.caFile === undefined ? {} : { ca: [...rootCertificates, readFileSync(tls.caFile, 'utf8')].join('\n') }),
    ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile, 'utf8') }),
    ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile, 'utf8') }),
  };
}

export class Agent {
  readonly config: ResolvedAgentConfig;
  readonly metrics: AgentMetrics;
  readonly link: ControlPlaneLink;
  readonly router: StreamRouter;
  readonly host: ActorHost;
  /** The session pool: kubectl WebSocket sessions run apart from HTTP relays. */
  readonly sessionHost: ActorHost;
  /** The main thread's host for small requests when there are workers (AGENT_DISPATCH=auto). */
  readonly inlineHost: ActorHost | undefined;
  /** The main thread's host for byte relays (sessions, WebSocket relays, tunnel streams) with AGENT_DISPATCH=auto. */
  readonly inlineRelayHost: ActorHost | undefined;
  readonly agentId: string;
  readonly #logger: Logger;
  readonly #http: AgentHttpServer;
  /** The gateway proxy (ingress sync and the §9.5 route cache); undefined unless enabled. */
  #ingressSync: IngressSync | undefined;
  /** The TCP/UDP tunnel discovery and registry sync; undefined when `tunnel.enabled` is false. */
  #tunnelRegistry: TunnelRegistrySync | undefined;
  /** The agent's own Kubernetes client; its keep-alive sockets close at stop. */
  #kube: KubeClient | undefined;
  readonly #state: AgentStateStore;
  readonly #drainState: { isDraining: boolean };
  #endDrainNow: (() => void) | undefined;
  #shutdown: Promise<void> | undefined;
  #loopDelay: { disable(): boolean } | undefined;
  #stopped: Promise<void> | undefined;

  private constructor(parts: {
    config: ResolvedAgentConfig;
    metrics: AgentMetrics;
    link: ControlPlaneLink;
    router: StreamRouter;
    host: ActorHost;
    sessionHost: ActorHost;
    inlineHost: ActorHost | undefined;
    inlineRelayHost: ActorHost | undefined;
    agentId: string;
    logger: Logger;
    http: AgentHttpServer;
    state: AgentStateStore;
    drainState: { isDraining: boolean };
  }) {
    this.config = parts.config;
    this.metrics = parts.metrics;
    this.link = parts.link;
    this.router = parts.router;
    this.host = parts.host;
    this.sessionHost = parts.sessionHost;
    this.inlineHost = parts.inlineHost;
    this.inlineRelayHost = parts.inlineRelayHost;
    this.agentId = parts.agentId;
    this.#logger = parts.logger;
    this.#http = parts.http;
    this.#state = parts.state;
    this.#drainState = parts.drainState;
  }

  get ingressSync(): IngressSync | undefined {
    return this.#ingressSync;
  }

  get tunnelRegistry(): TunnelRegistrySync | undefined {
    return this.#tunnelRegistry;
  }

  /** Port of /health, /ready, /version and /metrics (the chosen one when configured as 0). */
  get httpPort(): number {
    return this.#http.port;
  }

  static async start(options: AgentOptions): Promise<Agent> {
    // Configs built by hand (tests, benches) come unresolved; resolving a loaded one again changes nothing.
    const config = resolveAgentConfig(options.config);
    const { logger } = options;
    const clock = options.clock ?? systemClock;
    const metrics = new AgentMetrics();
    let kube: KubeClient | undefined;
    let kubeTarget: KubeTarget | undefined;
    try {
      const access = await loadKubeAccess(config.kubernetes.kubeconfig, {
        onFullClient: (reason) => logger.info({ reason }, 'kubeconfig user needs the full Kubernetes client (@kubernetes/client-node); loading it'),
      });
      kube = new KubeClient(access);
      kubeTarget = resolveKubeTarget(access);
    } catch (error) {
      logger.error({ err: error }, 'no Kubernetes access: proxied requests will fail until it is configured');
    }
    // State, agent id and credentials are settled before the first dial: the link resumes from them.
    const identity = await openClusterIdentity({
      config,
      kube,
      logger: logger.child({ part: 'state' }),
      ...(options.stateStore === undefined ? {} : { stateStore: options.stateStore }),
    });
    const agentId = identity.agentId;
    const agentToken = agentTokenProvider(config);
    // Opt-in (CLUSTER.md §4): it advertises cluster routes to the platform, so off means nothing is built or watched.
    const ingressSync = createGatewayProxy({
      config,
      kube,
      tls: controlPlaneTls(config),
      token: agentToken,
      clusterUuid: () => link?.state.clusterUuid ?? link?.state.clusterId,
      clock,
      random: options.random,
      logger,
    });
    // On by default (`tunnel.enabled`): registers config-declared tunnels and those of managed Gateways.
    const tunnelRegistry = createTunnelRegistrySync({
      config,
      kube,
      tls: controlPlaneTls(config),
      clusterUuid: () => link?.state.clusterUuid ?? link?.state.clusterId,
      token: agentToken,
      clock: options.tunnelRegistryClock ?? clock,
      random: options.random,
      metrics,
      logger,
    });
    const facts = new ClusterFacts({
      kube,
      agentId,
      agentVersion: AGENT_VERSION,
      clusterName: config.agent.clusterName,
      labels: config.agent.labels,
      serviceToken: undefined,
      credentials: identity.credentials,
      region: new RegionDetector({ kube, apiUrl: config.pipeops.apiUrl, settings: config.registration, logger: logger.child({ part: 'region' }) }),
      agentPort: config.agent.advertisedPort,
      logger,
      gateway: ingressSync,
      monitoring: new MonitoringDiscovery({ kube, clock, logger: logger.child({ part: 'monitoring' }) }),
    });
    const workerConfig = workerConfigOf(config, options.workerTuning, kubeTarget);
    const onFault = options.onFault;
    const poolOnFault = (error: Error): void => {
      metrics.inc('workerCrashes');
      logger.error({ err: error }, 'worker thread failed outside any request');
      onFault?.({ kind: 'pool-error', error });
    };
    const { tasksPerWorker, maxQueue, workers } = config.agent;
    // dispatch auto: small requests run inline and the pools start their threads when first needed
    const isAuto = config.agent.dispatch === Dispatch.auto;
    const host = await createActorHost({ workers, tasksPerWorker, maxQueue, workerConfig, onFault: poolOnFault, isLazy: isAuto });
    const sessionHost = await createActorHost(
      { workers: config.agent.sessionWorkers, tasksPerWorker: config.agent.sessionTasksPerWorker, maxQueue, workerConfig, onFault: poolOnFault, isLazy: isAuto },
      'ws-session',
    );
    const inlineHost = isAuto && workers > 0 ? await createActorHost({ workers: 0, tasksPerWorker, maxQueue, workerConfig }) : undefined;
    const inlineRelayHost = inlineHost === undefined ? undefined : await createActorHost({ workers: 0, tasksPerWorker, maxQueue, workerConfig }, 'ws-session');
    let link: ControlPlaneLink | undefined;
    const router = new StreamRouter({
      hosts: { short: host, long: sessionHost },
      ...(inlineHost === undefined || inlineRelayHost === undefined
        ? {}
        : { inline: { host: inlineHost, relayHost: inlineRelayHost, policy: new DispatchPolicy() } }),
      lanes: config.agent.lanes,
      requestTimeoutMs: config.tunnel.requestTimeoutMs,
      outboundBufferedBytes: () => link?.sessionConnection?.bufferedAmount ?? 0,
      metrics,
      logger: logger.child({ part: 'router' }),
      clock,
      ...(onFault === undefined ? {} : { onActorFailure: (error: Error) => onFault({ kind: 'actor-failed', error }) }),
      // §9.5 host routing reads the ingress sync's cache; without the gateway proxy there is nothing to look up.
      ingressRoutes: ingressSync?.routes,
      ...(config.tunnel.enabled
        ? { tunnel: { maxStreams: config.tunnel.maxStreams, udpIdleTimeoutMs: config.tunnel.udpIdleTimeoutMs } }
        : {}),
    });
    link = new ControlPlaneLink({
      apiUrl: config.pipeops.apiUrl,
      tls: controlPlaneTls(config),
      inboundCapBytes: config.tunnel.inboundCapBytes,
      heartbeatIntervalMs: config.agent.heartbeatIntervalMs,
      agentId,
      agentVersion: AGENT_VERSION,
      token: agentToken,
      registerPayload: (state) => facts.registerPayload(state, clock.now()),
      heartbeatPayload: (state) => facts.heartbeatPayload(state, true),
      stateStore: identity.linkStore,
      onClusterToken: (token) => identity.credentials.adopt(token),
      streams: router,
      sessionListeners: [ingressSync, tunnelRegistry],
      ...(config.tunnel.enabled ? { tunnel: router } : {}),
      clock,
      ...(options.random === undefined ? {} : { random: options.random }),
      logger: logger.child({ part: 'link' }),
      metrics,
    });
    for (const [lane, laneHost] of [[Lane.short, host], [Lane.long, sessionHost]] as const) {
      metrics.observePool(lane, {
        get threads() {
          return laneHost.threads;
        },
        get queueSize() {
          return router.laneLoad(lane).waiting + laneHost.queueSize;
        },
        get activeActors() {
          // actors placed inline (small requests, byte relays) belong to their lane all the same
          const inlineActors = (lane === Lane.short ? inlineHost : inlineRelayHost)?.activeActors ?? 0;
          return laneHost.activeActors + inlineActors;
        },
      });
    }
    metrics.collectOnScrape('streamOutstandingBytes', () => router.outstandingStreamBytes);
    metrics.collectOnScrape('sessionsActive', () => router.activeSessions);
    metrics.collectOnScrape('relayRequestsActive', () => router.activeRequests);
    metrics.collectOnScrape('heapUsedBytes', () => process.memoryUsage().heapUsed);
    const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    loopDelay.enable();
    metrics.collectOnScrape('eventLoopDelaySeconds', () => {
      const p99 = loopDelay.count === 0 ? 0 : loopDelay.percentile(99) / 1e9;
      loopDelay.reset();
      return p99;
    });
    metrics.collectOnScrape('linkBufferedBytes', () => link?.sessionConnection?.bufferedAmount ?? 0);
    // Up before the first dial, so probes see "not ready" rather than a refused connection.
    const drainState = { isDraining: false };
    const probe = {
      get status() {
        return link!.status;
      },
      get lastHeartbeatMs() {
        return link!.lastHeartbeatMs;
      },
      get isDraining() {
        return drainState.isDraining;
      },
    };
    let http: AgentHttpServer;
    try {
      http = await AgentHttpServer.start({ config, link: probe, metrics, clock, logger: logger.child({ part: 'http' }) });
    } catch (error) {
      await host.close();
      await sessionHost.close();
      await inlineHost?.close();
      await inlineRelayHost?.close();
      throw error;
    }
    const agent = new Agent({ config, metrics, link, router, host, sessionHost, inlineHost, inlineRelayHost, agentId, logger, http, state: identity.state, drainState });
    agent.#loopDelay = loopDelay;
    logger.info({ agentId, version: AGENT_VERSION, workers: config.agent.workers }, 'agent starting');
    agent.#ingressSync = ingressSync;
    agent.#tunnelRegistry = tunnelRegistry;
    agent.#kube = kube;
    ingressSync?.start();
    tunnelRegistry?.start();
    await link.start();
    return agent;
  }

  /** True from the first shutdown signal on. */
  get isDraining(): boolean {
    return this.#drainState.isDraining;
  }

  /**
   * §7.7: at once /ready answers 503, reconnecting stops and new work is refused with `agent shutting down`;
   * what is in flight may finish until `limitMs` passes (AGENT_DRAIN_TIMEOUT), the socket drops or
   * endDrainNow() is called (a second signal). Then whatever is left ends with its terminal reply and the
   * agent stops (close 1000 within 5 s). Resolves once it has stopped; calling it again returns the same promise.
   */
  drainAndStop(limitMs: number = this.config.agent.drainTimeoutMs): Promise<void> {
    this.#shutdown ??= this.#drain(limitMs);
    return this.#shutdown;
  }

  /** Ends a drain in progress at once (§7.7 step 4). */
  endDrainNow(): void {
    this.#endDrainNow?.();
  }

  async #drain(limitMs: number): Promise<void> {
    this.#drainState.isDraining = true;
    this.router.beginDrain();
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const why = await Promise.race([
      this.router.whenIdle().then(() => 'idle' as const),
      new Promise<'socket lost'>((resolve) => this.link.beginDrain(() => resolve('socket lost'))),
      new Promise<'second signal'>((resolve) => (this.#endDrainNow = () => resolve('second signal'))),
      new Promise<'drain limit'>((resolve) => (timer = setTimeout(() => resolve('drain limit'), limitMs))),
    ]);
    clearTimeout(timer);
    this.#logger.info({ why, drainMs: Date.now() - started, requests: this.router.activeRequests, sessions: this.router.activeSessions }, 'drain ended');
    this.router.endAll(SHUTTING_DOWN);
    await this.stop();
  }

  /** Stops at once: close 1000 to the control plane, actors cancelled, pools closed. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#logger.info('agent stopping');
    // First, so no route call starts while the link goes down.
    await this.#ingressSync?.stop();
    await this.#tunnelRegistry?.stop();
    await this.link.stop();
    // A registration that just succeeded may still be writing its state; a restart must find it.
    await this.#state.flush();
    this.#kube?.close();
    await this.router.close();
    await this.host.close();
    await this.sessionHost.close();
    await this.inlineHost?.close();
    await this.inlineRelayHost?.close();
    // Last, so /metrics stays scrapable while the link and actors drain.
    await this.#http.close();
    this.#loopDelay?.disable();
  }
}
