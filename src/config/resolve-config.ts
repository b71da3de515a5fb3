// The values other settings imply, derived once: every part reads the resolved field instead of
// recomputing it. loadConfig resolves what it loads; the agent resolves configs built by hand (tests,
// benches), so resolving twice must give the same config.

import { Dispatch, type AgentConfig, type ResolvedAgentConfig } from './agent-config.js';
import { DEFAULT_AGENT_PORT, DEFAULT_TUNNEL_MAX_STREAMS, DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS } from './env-spec.js';

/** Long-lived streams mostly wait on sockets: a session thread holds this many times a short-lane thread's actors. */
export const LONG_LANE_TASKS_FACTOR = 4;

export function resolveAgentConfig(config: AgentConfig): ResolvedAgentConfig {
  const { workers, tasksPerWorker, maxQueue, port } = config.agent;
  const sessionWorkers = config.agent.sessionWorkers ?? (workers === 0 ? 0 : Math.max(1, Math.ceil(workers / 2)));
  const sessionTasksPerWorker = config.agent.sessionTasksPerWorker ?? tasksPerWorker * LONG_LANE_TASKS_FACTOR;
  return {
    ...config,
    agent: {
      ...config.agent,
      // Hand-built configs (tests, benches) without a dispatch run every short request on workers started at once.
      dispatch: config.agent.dispatch ?? Dispatch.workers,
      sessionWorkers,
      sessionTasksPerWorker,
      // Workers 0 runs actors inline: each lane still has one "thread" worth of slots (docs/decisions.md).
      lanes: {
        short: { slots: Math.max(1, workers) * tasksPerWorker, maxQueue },
        long: { slots: Math.max(1, sessionWorkers) * sessionTasksPerWorker, maxQueue },
      },
      // Port 0 lets the OS pick a free port, which the control plane cannot know; it is told the default.
      advertisedPort: port === 0 ? DEFAULT_AGENT_PORT : port,
    },
    tunnel: {
      ...config.tunnel,
      maxStreams: config.tunnel.maxStreams ?? DEFAULT_TUNNEL_MAX_STREAMS,
      udpIdleTimeoutMs: config.tunnel.udpIdleTimeoutMs ?? DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS,
    },
  };
}
