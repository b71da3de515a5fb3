// A complete AgentConfig for tests, built directly (load-config has its own tests).

import type { AgentConfig, Dispatch, RegistrationSettings, StateSettings } from '../../src/config/agent-config.js';
import type { TunnelEntry } from '../../src/tunnel/discovery/tunnel-entry.js';

export interface TestConfigInput {
  readonly apiUrl: string;
  readonly kubeconfig?: string | undefined;
  readonly workers?: number;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
  readonly heartbeatIntervalMs?: number;
  readonly drainTimeoutMs?: number;
  readonly inboundCapBytes?: number;
  /** Config-declared tunnels (`tunnel.tunnels`). */
  readonly tunnels?: readonly TunnelEntry[];
  readonly maxQueue?: number;
  readonly tasksPerWorker?: number;
  readonly sessionWorkers?: number;
  readonly sessionTasksPerWorker?: number;
  /** Absent: every short request on the pool with its threads started at once (AGENT_DISPATCH=workers). */
  readonly dispatch?: Dispatch;
  readonly clusterName?: string;
  /** null: no configured id (persisted, else derived). */
  readonly agentId?: string | null;
  readonly readyLenient?: boolean;
  readonly serviceToken?: string;
  /** Absent: nothing persisted (the default for tests). */
  readonly state?: StateSettings;
  /** Absent: node facts only, no HTTP lookups (the default for tests). */
  readonly registration?: RegistrationSettings;
  /** tunnel.enabled (default true, as in production): false is the Phase-1 agent of PROTOCOL.md §15 (C87). */
  readonly tunnelEnabled?: boolean;
  readonly tunnelMaxStreams?: number;
  readonly tunnelUdpIdleTimeoutMs?: number;
}

export function testConfig(input: TestConfigInput): AgentConfig {
  return {
    pipeops: {
      apiUrl: input.apiUrl,
      token: input.token ?? 'agent-token-secret',
      tokenFile: input.tokenFile,
      tls: { caFile: input.caFile, certFile: undefined, keyFile: undefined, insecureSkipVerify: false },
    },
    agent: {
      id: input.agentId === null ? undefined : (input.agentId ?? 'agent-0a1b2c3d4e5f6071'),
      clusterName: input.clusterName ?? 'test-cluster',
      port: 0,
      bindAddress: '127.0.0.1',
      readyLenient: input.readyLenient ?? false,
      workers: input.workers ?? 0,
      tasksPerWorker: input.tasksPerWorker ?? 16,
      maxQueue: input.maxQueue ?? 64,
      ...(input.sessionWorkers === undefined ? {} : { sessionWorkers: input.sessionWorkers }),
      ...(input.sessionTasksPerWorker === undefined ? {} : { sessionTasksPerWorker: input.sessionTasksPerWorker }),
      ...(input.dispatch === undefined ? {} : { dispatch: input.dispatch }),
      compression: 'zlib',
      enableIngressSync: false,
      heartbeatIntervalMs: input.heartbeatIntervalMs ?? 30_000,
      drainTimeoutMs: input.drainTimeoutMs ?? 20_000,
      labels: {},
    },
    kubernetes: { kubeconfig: input.kubeconfig, serviceToken: input.serviceToken },
    ...(input.state === undefined ? {} : { state: input.state }),
    ...(input.registration === undefined ? {} : { registration: input.registration }),
    tunnel: {
      enabled: input.tunnelEnabled ?? true,
      inboundCapBytes: input.inboundCapBytes ?? 64 * 1024 * 1024,
      requestTimeoutMs: 120_000,
      dropAcceptEncoding: true,
      tunnels: input.tunnels ?? [],
      ...(input.tunnelMaxStreams === undefined ? {} : { maxStreams: input.tunnelMaxStreams }),
      ...(input.tunnelUdpIdleTimeoutMs === undefined ? {} : { udpIdleTimeoutMs: input.tunnelUdpIdleTimeoutMs }),
    },
    logging: { level: (process.env['TEST_LOG_LEVEL'] as 'silent' | undefined) ?? 'silent' },
  };
}
