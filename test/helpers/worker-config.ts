// The configuration an actor thread gets (src/messages/worker-config.ts) for worker-level tests: silent,
// zlib, and Kubernetes access to a loopback fake API when one is given.

import { DEFAULT_WORKER_TUNING, type WorkerConfig, type WorkerTuning } from '../../src/config/agent-config.js';

export function testWorkerConfig(api: { readonly server: string; readonly caPem: string } | undefined, tuning: Partial<WorkerTuning> = {}): WorkerConfig {
  return {
    logLevel: 'silent',
    kubeconfig: undefined,
    kube:
      api === undefined
        ? undefined
        : { server: api.server, ca: api.caPem, caFile: undefined, rejectUnauthorized: true, tlsServerName: undefined, agentToken: undefined, agentTokenFile: undefined },
    compression: 'zlib',
    requestTimeoutMs: 10_000,
    dropAcceptEncoding: true,
    tuning: { ...DEFAULT_WORKER_TUNING, ...tuning },
  };
}
