// Starts an agent against a fake control plane (and optionally a fake Kubernetes API) with a simulated
// clock, and tears everything down with the test.

import type { ExecutionContext } from 'ava';
import { Agent, type AgentFault } from '../../src/agent.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { MemoryStateStore, type StateStore } from '../../src/link/link-state.js';
import type { WorkerTuning } from '../../src/config/agent-config.js';
import { FakeControlPlane, type FakeControlPlaneOptions } from './fake-control-plane.js';
import { FakeKubeApi } from './fake-kube-api.js';
import { SimulatedClock } from './simulated-clock.js';
import { testConfig, type TestConfigInput } from './agent-config.js';

export interface Harness {
  readonly agent: Agent;
  readonly plane: FakeControlPlane;
  readonly kube: FakeKubeApi;
  readonly clock: SimulatedClock;
}

export interface HarnessOptions {
  readonly config?: Partial<TestConfigInput>;
  readonly plane?: FakeControlPlaneOptions;
  readonly stateStore?: StateStore;
  /** Uniform jitter source; 0 makes backoff waits exactly nominal. */
  readonly random?: () => number;
  readonly workerTuning?: Partial<WorkerTuning>;
  /** Silent unless given (e.g. a pino logger writing to a test stream, to inspect what is logged). */
  readonly logger?: Logger;
  /** The test kills workers or makes actors fail on purpose; otherwise any such fault fails the test. */
  readonly expectFaults?: boolean;
}

/** An agent fault (an actor that failed, a worker that died) fails the test that caused it (C93). */
export function failOnFault(t: ExecutionContext): (fault: AgentFault) => void {
  return (fault) => t.fail(`agent fault (${fault.kind}): ${fault.error.stack ?? fault.error.message}`);
}

export async function startHarness(t: ExecutionContext, options: HarnessOptions = {}): Promise<Harness> {
  const kube = await FakeKubeApi.start();
  t.teardown(() => kube.close());
  const plane = await FakeControlPlane.start(options.plane);
  t.teardown(() => plane.close());
  const clock = new SimulatedClock();
  const agent = await Agent.start({
    config: testConfig({ apiUrl: plane.url, kubeconfig: kube.kubeconfigPath, ...options.config }),
    logger: options.logger ?? silentLogger(),
    clock,
    // The registry's 5- and 10-minute timers stay off the link's clock, whose pending timers tests count.
    tunnelRegistryClock: new SimulatedClock(),
    random: options.random ?? (() => 0),
    stateStore: options.stateStore ?? new MemoryStateStore(),
    ...(options.workerTuning === undefined ? {} : { workerTuning: options.workerTuning }),
    ...(options.expectFaults === true ? {} : { onFault: failOnFault(t) }),
  });
  t.teardown(() => agent.stop());
  return { agent, plane, kube, clock };
}
