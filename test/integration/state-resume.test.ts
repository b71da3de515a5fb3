// Acceptance for CLUSTER.md §1 / PROTOCOL.md §5.7 against the sandbox cluster: an agent restarted keeps its
// agent id and cluster id and resumes on the gateway without a new `register`; a state written beforehand
// in the reference agent's format is taken over; a changed token makes it register instead of resuming.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Agent } from '../../src/agent.js';
import type { StateSettings } from '../../src/config/agent-config.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';
import { FakeControlPlane } from '../helpers/fake-control-plane.js';

const NAMESPACE = 'pipeops-system';
const NAMESPACES = { group: '', version: 'v1', resource: 'namespaces' };
const CONFIGMAPS = { group: '', version: 'v1', resource: 'configmaps' };
const SECRETS = { group: '', version: 'v1', resource: 'secrets' };
const B64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

interface Cluster {
  readonly sandbox: SandboxApi;
  readonly kubeconfig: string;
  readonly state: StateSettings;
}

async function sandboxCluster(t: ExecutionContext): Promise<Cluster> {
  const sandbox = await startSandboxApi();
  t.teardown(() => sandbox.close());
  const dir = mkdtempSync(join(tmpdir(), 'state-resume-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  // The installer creates the agent namespace; the agent never does.
  sandbox.store.put(NAMESPACES, { metadata: { name: NAMESPACE } });
  const state: StateSettings = {
    backend: 'auto',
    namespace: undefined,
    podNamespace: undefined,
    configMapName: 'pipeops-agent-state',
    secretName: 'pipeops-agent-secrets',
    // Only reached if the cluster objects failed; kept out of the home directory.
    file: join(dir, 'state.json'),
  };
  return { sandbox, kubeconfig, state };
}

function stateData(sandbox: SandboxApi): Record<string, string> {
  const configMap = sandbox.store.get({ ...CONFIGMAPS, namespace: NAMESPACE, name: 'pipeops-agent-state' });
  return (configMap?.['data'] ?? {}) as Record<string, string>;
}

function secretData(sandbox: SandboxApi): Record<string, string> {
  const secret = sandbox.store.get({ ...SECRETS, namespace: NAMESPACE, name: 'pipeops-agent-secrets' });
  const data = (secret?.['data'] ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

test('restarted against the same cluster: same agent id and cluster id, resumed on the gateway without a register', async (t) => {
  const { sandbox, kubeconfig, state } = await sandboxCluster(t);
  const plane = await startControlPlane({ gateway: true });
  t.teardown(() => plane.close());
  const config = testConfig({ apiUrl: plane.url, kubeconfig, clusterName: 'resume-lab', agentId: null, state });

  const first = await Agent.start({ config, logger: silentLogger() });
  const registered = await plane.waitForCluster('resume-lab', 15_000);
  t.is(registered.registrations, 1);
  t.is(registered.agentId, first.agentId);
  t.regex(first.agentId, /^agent-[0-9a-f]{16}$/, 'derived, since none is configured');
  await eventually(() => plane.cluster('resume-lab')?.isConnected === true && plane.cluster('resume-lab')?.connections === 1, 'on the gateway');
  await first.stop();
  t.like(stateData(sandbox), { agent_id: first.agentId, cluster_id: registered.clusterId });
  t.regex(stateData(sandbox)['gateway_ws_url'] ?? '', /^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
  t.is(secretData(sandbox)['cluster_token'], sandbox.token, 'the token handed over is persisted in the Secret');
  t.truthy(secretData(sandbox)['cluster_cert_data']);

  const second = await Agent.start({ config, logger: silentLogger() });
  t.teardown(() => second.stop());
  await eventually(() => plane.cluster('resume-lab')?.isConnected === true && plane.cluster('resume-lab')?.connections === 2, 'resumed');
  const resumed = plane.cluster('resume-lab');
  t.is(second.agentId, first.agentId);
  t.is(second.link.state.clusterId, registered.clusterId);
  t.is(resumed?.registrations, 1, 'no new register');
  t.is(resumed?.clusterId, registered.clusterId);
});

test('a state written by the reference agent is read: the agent resumes on its gateway with its cluster id', async (t) => {
  const { sandbox, kubeconfig, state } = await sandboxCluster(t);
  const plane = await FakeControlPlane.start();
  t.teardown(() => plane.close());
  const gatewayUrl = `${plane.url.replace('http', 'ws')}/ws`;
  // As the Go agent writes them: every key present, extras of its own, the Secret base64-encoded.
  sandbox.store.put(CONFIGMAPS, {
    metadata: { name: 'pipeops-agent-state', namespace: NAMESPACE, labels: { 'app.kubernetes.io/name': 'pipeops-agent', 'app.kubernetes.io/component': 'state' } },
    data: { agent_id: 'agent-ffeeddccbbaa9988', cluster_id: 'c-from-go', gateway_ws_url: gatewayUrl, registry_region: 'eu' },
  });
  sandbox.store.put(SECRETS, {
    metadata: { name: 'pipeops-agent-secrets', namespace: NAMESPACE },
    type: 'Opaque',
    data: { cluster_token: B64(sandbox.token), cluster_cert_data: B64(B64(sandbox.caPem)) },
  });
  const agent = await Agent.start({ config: testConfig({ apiUrl: plane.url, kubeconfig, agentId: null, state }), logger: silentLogger() });
  t.teardown(() => agent.stop());
  t.is(agent.agentId, 'agent-ffeeddccbbaa9988', 'the persisted id beats the derived one');
  const gateway = await plane.nextSocket();
  t.is(gateway.handshake.path, '/ws');
  t.is(gateway.handshake.query.get('cluster_uuid'), 'c-from-go');
  const heartbeat = await gateway.next('heartbeat');
  t.is(heartbeat.payload['cluster_id'], 'c-from-go');
  t.is(heartbeat.payload['agent_id'], 'agent-ffeeddccbbaa9988');
  t.is(gateway.messages.all.filter((message) => message.type === 'register').length, 0);
  t.is(plane.handshakes.length, 1, 'no controller socket at all');
});

test('a reference state whose token differs from the one now mounted: full registration with the stored cluster id', async (t) => {
  const { sandbox, kubeconfig, state } = await sandboxCluster(t);
  const plane = await FakeControlPlane.start();
  t.teardown(() => plane.close());
  sandbox.store.put(CONFIGMAPS, {
    metadata: { name: 'pipeops-agent-state', namespace: NAMESPACE },
    data: { agent_id: 'agent-ffeeddccbbaa9988', cluster_id: 'c-from-go', gateway_ws_url: `${plane.url.replace('http', 'ws')}/ws` },
  });
  sandbox.store.put(SECRETS, {
    metadata: { name: 'pipeops-agent-secrets', namespace: NAMESPACE },
    type: 'Opaque',
    data: { cluster_token: B64('token-before-rotation'), cluster_cert_data: B64(B64(sandbox.caPem)) },
  });
  const agent = await Agent.start({ config: testConfig({ apiUrl: plane.url, kubeconfig, agentId: null, state }), logger: silentLogger() });
  t.teardown(() => agent.stop());
  const controller = await plane.nextSocket();
  t.is(controller.handshake.path, '/api/v1/clusters/agent/ws');
  const register = await controller.acceptRegistration({ cluster_id: 'c-from-go' });
  t.is(register.payload['cluster_id'], 'c-from-go');
  t.is(register.payload['k8s_service_token'], sandbox.token, 'the rotated (mounted) token');
  t.is((register.payload['metadata'] as Record<string, string>)['registration_mode'], 'resume');
  await eventually(() => secretData(sandbox)['cluster_token'] === sandbox.token, 'new token persisted after the registration');
});
