// Composes the agent: control-plane link, router, actor host and cluster facts. Start/stop only; the
// parts own their behaviour.

import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { workerConfigOf, type AgentConfig, type WorkerTuning } from './config/agent-config.js';
import { ControlPlaneLink } from './link/control-plane-link.js';
import type { ConnectionTls } from './link/connection.js';
import { MemoryStateStore, type StateStore } from './link/link-state.js';
import { StreamRouter } from './router/stream-router.js';
import { createActorHost, type ActorHost } from './pool/actor-host.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { AgentHttpServer } from './http/agent-http-server.js';
import { ClusterFacts, deriveAgentId } from './cluster/cluster-facts.js';
import { kubeUserToken, loadKubeConfig } from './kube/kube-endpoint.js';
import { systemClock, type Clock } from './util/clock.js';
import { AGENT_VERSION } from './version.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface AgentOptions {
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly stateStore?: StateStore;
  /** Protocol timings and bounds of the actors; PROTOCOL.md §18 defaults when absent. */
  readonly workerTuning?: Partial<WorkerTuning>;
}

function readTrimmed(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

function controlPlaneTls(config: AgentConfig): ConnectionTls {
  const tls = config.pipeops.tls;
  return {
    rejectUnauthorized: !tls.insecureSkipVerify,
    ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile, 'utf8') }),
    ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile, 'utf8') }),
    ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile, 'utf8') }),
  };
}

/** The token handed to the control plane as `k8s_service_token`: configured, else the kubeconfig user's, else the pod's. */
function serviceTokenOf(config: AgentConfig, kubeConfig: KubeConfig | undefined): string | undefined {
  if (config.kubernetes.serviceToken !== undefined) return config.kubernetes.serviceToken;
  const fromKubeconfig = kubeConfig === undefined ? undefined : kubeUserToken(kubeConfig);
  if (fromKubeconfig !== undefined) return fromKubeconfig;
  try {
    return readTrimmed(SERVICE_ACCOUNT_TOKEN);
  } catch {
    return undefined;
  }
}

export class Agent {
  readonly config: AgentConfig;
  readonly metrics: AgentMetrics;
  readonly link: ControlPlaneLink;
  readonly router: StreamRouter;
  readonly host: ActorHost;
  /** The session pool: kubectl WebSocket sessions run apart from HTTP relays. */
  readonly sessionHost: ActorHost;
  readonly agentId: string;
  readonly #logger: Logger;
  readonly #http: AgentHttpServer;

  private constructor(parts: {
    config: AgentConfig;
    metrics: AgentMetrics;
    link: ControlPlaneLink;
    router: StreamRouter;
    host: ActorHost;
    sessionHost: ActorHost;
    agentId: string;
    logger: Logger;
    http: AgentHttpServer;
  }) {
    this.config = parts.config;
    this.metrics = parts.metrics;
    this.link = parts.link;
    this.router = parts.router;
    this.host = parts.host;
    this.sessionHost = parts.sessionHost;
    this.agentId = parts.agentId;
    this.#logger = parts.logger;
    this.#http = parts.http;
  }

  /** Port of /health, /ready, /version and /metrics (the chosen one when configured as 0). */
  get httpPort(): number {
    return this.#http.port;
  }

  static async start(options: AgentOptions): Promise<Agent> {
    const { config, logger } = options;
    const clock = options.clock ?? systemClock;
    const metrics = new AgentMetrics();
    let kubeConfig: KubeConfig | undefined;
    try {
      kubeConfig = loadKubeConfig(config.kubernetes.kubeconfig);
    } catch (error) {
      logger.error({ err: error }, 'no Kubernetes access: proxied requests will fail until it is configured');
    }
    const agentId = config.agent.id ?? deriveAgentId(config.agent.clusterName);
    const facts = new ClusterFacts({
      kubeConfig,
      agentId,
      agentVersion: AGENT_VERSION,
      clusterName: config.agent.clusterName,
      labels: config.agent.labels,
      serviceToken: serviceTokenOf(config, kubeConfig),
      agentPort: config.agent.port === 0 ? 8080 : config.agent.port,
      logger,
    });
    const host = await createActorHost({
      workers: config.agent.workers,
      tasksPerWorker: config.agent.tasksPerWorker,
      maxQueue: config.agent.maxQueue,
      workerConfig: workerConfigOf(config, options.workerTuning),
    });
    const sessionHost = await createActorHost(
      {
        workers: config.agent.workers === 0 ? 0 : Math.max(1, Math.ceil(config.agent.workers / 2)),
        tasksPerWorker: config.agent.tasksPerWorker,
        maxQueue: config.agent.maxQueue,
        workerConfig: workerConfigOf(config, options.workerTuning),
      },
      'ws-session',
    );
    let link: ControlPlaneLink | undefined;
    const router = new StreamRouter(() => link!, host, sessionHost, metrics, logger.child({ part: 'router' }), clock);
    const tokenFile = config.pipeops.tokenFile;
    link = new ControlPlaneLink({
      apiUrl: config.pipeops.apiUrl,
      tls: controlPlaneTls(config),
      inboundCapBytes: config.tunnel.inboundCapBytes,
      heartbeatIntervalMs: config.agent.heartbeatIntervalMs,
      agentId,
      agentVersion: AGENT_VERSION,
      token: tokenFile === undefined ? () => config.pipeops.token : () => readTrimmed(tokenFile),
      registerPayload: (state) => facts.registerPayload(state, clock.now()),
      heartbeatPayload: (state) => facts.heartbeatPayload(state, true),
      stateStore: options.stateStore ?? new MemoryStateStore(),
      session: router,
      clock,
      ...(options.random === undefined ? {} : { random: options.random }),
      logger: logger.child({ part: 'link' }),
      metrics,
    });
    metrics.observePool(host);
    metrics.collectOnScrape('streamOutstandingBytes', () => router.outstandingStreamBytes);
    metrics.collectOnScrape('sessionsActive', () => router.activeSessions);
    metrics.collectOnScrape('linkBufferedBytes', () => link?.sessionConnection?.bufferedAmount ?? 0);
    // Up before the first dial, so probes see "not ready" rather than a refused connection.
    let http: AgentHttpServer;
    try {
      http = await AgentHttpServer.start({ config, link, metrics, clock, logger: logger.child({ part: 'http' }) });
    } catch (error) {
      await host.close();
      await sessionHost.close();
      throw error;
    }
    const agent = new Agent({ config, metrics, link, router, host, sessionHost, agentId, logger, http });
    logger.info({ agentId, version: AGENT_VERSION, workers: config.agent.workers }, 'agent starting');
    await link.start();
    return agent;
  }

  async stop(): Promise<void> {
    this.#logger.info('agent stopping');
    await this.link.stop();
    await this.router.close();
    await this.host.close();
    await this.sessionHost.close();
    // Last, so /metrics stays scrapable while the link and actors drain.
    await this.#http.close();
  }
}
