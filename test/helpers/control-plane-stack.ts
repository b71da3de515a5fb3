// The local control plane with one scripted agent registered on it: the setup shared by the tests that
// drive the control plane from the kubectl side while the test plays the agent. Both are torn down with
// the test.

import type { ExecutionContext } from 'ava';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/local/control-plane/control-plane-server.js';
import { DEFAULT_AGENT_TOKEN, ScriptedAgent } from './scripted-agent.js';

export const STACK_CLUSTER = 'edge-lab';

export interface ControlPlaneStack {
  readonly cp: ControlPlane;
  readonly agent: ScriptedAgent;
}

/** Starts a control plane, connects a scripted agent and waits until the control plane lists its cluster. */
export async function connectedStack(t: ExecutionContext, options: ControlPlaneOptions = {}): Promise<ControlPlaneStack> {
  const cp = await startControlPlane({ agentToken: DEFAULT_AGENT_TOKEN, ...options });
  t.teardown(() => cp.close());
  const agent = await ScriptedAgent.connect({ url: cp.url });
  t.teardown(() => agent.terminate());
  await agent.register(STACK_CLUSTER, { k8s_service_token: 'sa-token-1' });
  await cp.waitForCluster(STACK_CLUSTER, 2000);
  return { cp, agent };
}

/** A kubectl channel frame as it travels in `proxy_websocket_data`: `[type][payload]` in base64, built by hand. */
export function framed(type: number, payload: Buffer | string): string {
  return Buffer.concat([Buffer.from([type]), Buffer.from(payload)]).toString('base64');
}
