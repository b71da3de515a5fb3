// resolveAgentConfig: one test per derived value, and that loadConfig hands out the resolved config.

import test from 'ava';
import type { AgentConfig } from '../../../src/config/agent-config.js';
import { DEFAULT_AGENT_PORT, DEFAULT_TUNNEL_MAX_STREAMS, DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS } from '../../../src/config/env-spec.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { LONG_LANE_TASKS_FACTOR, resolveAgentConfig } from '../../../src/config/resolve-config.js';
import { testConfig, type TestConfigInput } from '../../helpers/agent-config.js';

const BASE: TestConfigInput = { apiUrl: 'http://127.0.0.1:1', workers: 4, tasksPerWorker: 64, maxQueue: 32 };

function withPort(config: AgentConfig, port: number): AgentConfig {
  return { ...config, agent: { ...config.agent, port } };
}

test('session workers: half the workers rounded up, at least 1, 0 when workers is 0, else as configured', (t) => {
  t.is(resolveAgentConfig(testConfig({ ...BASE, workers: 4 })).agent.sessionWorkers, 2);
  t.is(resolveAgentConfig(testConfig({ ...BASE, workers: 5 })).agent.sessionWorkers, 3);
  t.is(resolveAgentConfig(testConfig({ ...BASE, workers: 1 })).agent.sessionWorkers, 1);
  t.is(resolveAgentConfig(testConfig({ ...BASE, workers: 0 })).agent.sessionWorkers, 0);
  t.is(resolveAgentConfig(testConfig({ ...BASE, workers: 4, sessionWorkers: 0 })).agent.sessionWorkers, 0);
  t.is(resolveAgentConfig(testConfig({ ...BASE, workers: 0, sessionWorkers: 3 })).agent.sessionWorkers, 3);
});

test('session tasks per worker: 4 × tasksPerWorker, else as configured', (t) => {
  t.is(LONG_LANE_TASKS_FACTOR, 4);
  t.is(resolveAgentConfig(testConfig({ ...BASE, tasksPerWorker: 10 })).agent.sessionTasksPerWorker, 40);
  t.is(resolveAgentConfig(testConfig({ ...BASE, sessionTasksPerWorker: 7 })).agent.sessionTasksPerWorker, 7);
});

test('lane slots: threads (at least 1) × actors per thread, both lanes sharing maxQueue', (t) => {
  t.deepEqual(resolveAgentConfig(testConfig(BASE)).agent.lanes, { short: { slots: 256, maxQueue: 32 }, long: { slots: 512, maxQueue: 32 } });
  t.deepEqual(resolveAgentConfig(testConfig({ ...BASE, workers: 0 })).agent.lanes, { short: { slots: 64, maxQueue: 32 }, long: { slots: 256, maxQueue: 32 } });
  t.is(resolveAgentConfig(testConfig({ ...BASE, sessionWorkers: 3, sessionTasksPerWorker: 100 })).agent.lanes.long.slots, 300);
});

test('advertised port: the configured port, the default when it is 0 (a free port the control plane cannot know)', (t) => {
  const config = testConfig(BASE);
  t.is(DEFAULT_AGENT_PORT, 8080);
  t.is(resolveAgentConfig(withPort(config, 0)).agent.advertisedPort, 8080);
  t.is(resolveAgentConfig(withPort(config, 9191)).agent.advertisedPort, 9191);
  t.is(resolveAgentConfig(withPort(config, 9191)).agent.port, 9191);
});

test('tunnel limits: the env-spec defaults when absent, else as configured', (t) => {
  const absent = resolveAgentConfig(testConfig(BASE)).tunnel;
  t.is(absent.maxStreams, DEFAULT_TUNNEL_MAX_STREAMS);
  t.is(absent.udpIdleTimeoutMs, DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS);
  t.is(DEFAULT_TUNNEL_MAX_STREAMS, 1024);
  t.is(DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS, 60_000);
  const given = resolveAgentConfig(testConfig({ ...BASE, tunnelMaxStreams: 5, tunnelUdpIdleTimeoutMs: 1500 })).tunnel;
  t.is(given.maxStreams, 5);
  t.is(given.udpIdleTimeoutMs, 1500);
});

test('dispatch: workers when a hand-built config leaves it out, else as configured', (t) => {
  t.is(resolveAgentConfig(testConfig(BASE)).agent.dispatch, 'workers');
  t.is(resolveAgentConfig(testConfig({ ...BASE, dispatch: 'auto' })).agent.dispatch, 'auto');
  t.is(resolveAgentConfig(testConfig({ ...BASE, dispatch: 'workers' })).agent.dispatch, 'workers');
});

test('resolving is idempotent and leaves the input untouched', (t) => {
  const input = testConfig(BASE);
  const once = resolveAgentConfig(input);
  t.deepEqual(resolveAgentConfig(once), once);
  t.is(input.agent.sessionWorkers, undefined);
  t.false('lanes' in input.agent);
});

test('loadConfig returns the config resolved', (t) => {
  const env = { PIPEOPS_API_URL: 'https://cp.example.test', PIPEOPS_TOKEN: 'tok-resolve', PIPEOPS_CLUSTER_NAME: 'Edge Lab', AGENT_WORKERS: '4', AGENT_TASKS_PER_WORKER: '8', AGENT_PORT: '0' };
  const { config } = loadConfig({ env, argv: [], readFile: () => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); } });
  t.is(config.agent.sessionWorkers, 2);
  t.is(config.agent.sessionTasksPerWorker, 32);
  t.deepEqual(config.agent.lanes.long, { slots: 64, maxQueue: config.agent.maxQueue });
  t.is(config.agent.advertisedPort, 8080);
  t.is(config.agent.dispatch, 'auto');
  t.is(config.tunnel.maxStreams, 1024);
  t.true(Object.isFrozen(config.agent.lanes.short));
});
