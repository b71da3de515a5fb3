// Local control plane, agent side: handshake checks, register round trip, gateway mode, session
// replacement, heartbeats. A scripted agent (a bare ws client) plays the agent.

import test, { type ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import { CONTROLLER_PATH } from '../../src/protocol/constants.js';
import {
  ControlPlaneEvent,
  startControlPlane,
  type AgentDisconnectedEvent,
  type ControlPlane,
  type ControlPlaneOptions,
  type HandshakeEvent,
} from '../../src/local/control-plane/control-plane-server.js';
import { DEFAULT_AGENT_TOKEN, ScriptedAgent, handshakeStatus, type ScriptedAgentOptions } from '../helpers/scripted-agent.js';

async function plane(t: ExecutionContext, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const cp = await startControlPlane({ agentToken: DEFAULT_AGENT_TOKEN, ...options });
  t.teardown(() => cp.close());
  return cp;
}

async function agent(t: ExecutionContext, options: ScriptedAgentOptions): Promise<ScriptedAgent> {
  const scripted = await ScriptedAgent.connect(options);
  t.teardown(() => scripted.terminate());
  return scripted;
}

/** The documented derivation, recomputed here rather than imported. */
function expectedClusterId(name: string): string {
  return `c-${createHash('sha256').update(`cluster-id:${name}`).digest('hex').slice(0, 12)}`;
}

test('register gets register_success with the same request_id, a stable cluster_id and the documented payload', async (t) => {
  const cp = await plane(t);
  const first = await agent(t, { url: cp.url });
  const reply = await first.register('edge-lab', { k8s_service_token: 'sa-token-1' }, 'req_1767323045123000000_agent-0a1b2c3d4e5f6071');
  t.is(reply.type, 'register_success');
  t.is(reply.requestId, 'req_1767323045123000000_agent-0a1b2c3d4e5f6071');
  const clusterId = expectedClusterId('edge-lab');
  t.regex(clusterId, /^c-[0-9a-f]{12}$/);
  const clusterUuid = reply.payload['cluster_uuid'];
  t.regex(String(clusterUuid), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.deepEqual(reply.payload, { cluster_id: clusterId, cluster_uuid: clusterUuid, name: 'edge-lab', status: 'active', workspace_id: 1 });

  const info = await cp.waitForCluster('edge-lab', 2000);
  t.is(info.clusterId, clusterId);
  t.is(info.agentId, 'agent-0a1b2c3d4e5f6071');
  t.is(info.registerPayload['k8s_service_token'], 'sa-token-1');
  t.is(info.registrations, 1);
  t.is(info.connections, 1);

  // a second control plane (a restart) hands out the same id for the same name
  const other = await plane(t);
  const again = await agent(t, { url: other.url });
  t.is((await again.register('edge-lab')).payload['cluster_id'], clusterId);
});

test('re-registering with a cluster_id keeps that id', async (t) => {
  const cp = await plane(t);
  const scripted = await agent(t, { url: cp.url });
  const reply = await scripted.register('edge-lab', { cluster_id: 'c-7788', metadata: { registration_mode: 'resume' } });
  t.is(reply.payload['cluster_id'], 'c-7788');
  t.is(cp.cluster('edge-lab')?.clusterId, 'c-7788');
});

test('a register without name or agent_id gets an error naming the field', async (t) => {
  const cp = await plane(t);
  const scripted = await agent(t, { url: cp.url });
  scripted.send('register', { agent_id: 'agent-0a1b2c3d4e5f6071' }, 'req_1_a');
  const noName = await scripted.next('error');
  t.deepEqual(noName.payload, { error: 'invalid register: missing name' });
  scripted.send('register', { name: 'edge-lab', agent_id: '' }, 'req_2_a');
  const noAgent = await scripted.next('error');
  t.deepEqual(noAgent.payload, { error: 'invalid register: missing agent_id' });
  t.is(cp.cluster('edge-lab'), undefined);
});

test('the handshake needs exactly the configured bearer token (401 otherwise)', async (t) => {
  const cp = await plane(t);
  const seen: HandshakeEvent[] = [];
  cp.events.on(ControlPlaneEvent.handshake, (event: HandshakeEvent) => seen.push(event));
  t.is(await handshakeStatus({ url: cp.url, token: 'wrong-token' }), 401);
  t.is(await handshakeStatus({ url: cp.url, token: null }), 401);
  t.is(await handshakeStatus({ url: cp.url }), 101);
  t.deepEqual(
    seen.map((event) => [event.path, event.status, event.headers.authorization]),
    [
      [CONTROLLER_PATH, 401, 'Bearer wrong-token'],
      [CONTROLLER_PATH, 401, undefined],
      [CONTROLLER_PATH, 101, `Bearer ${DEFAULT_AGENT_TOKEN}`],
    ],
  );
});

test('without a configured agent token any non-empty bearer token is accepted', async (t) => {
  const cp = await startControlPlane();
  t.teardown(() => cp.close());
  t.is(await handshakeStatus({ url: cp.url, token: 'anything' }), 101);
  t.is(await handshakeStatus({ url: cp.url, token: '' }), 401);
  t.is(await handshakeStatus({ url: cp.url, token: null }), 401);
});

test('a token in the handshake query is refused with 400, even with a valid header', async (t) => {
  const cp = await plane(t);
  t.is(await handshakeStatus({ url: cp.url, query: `token=${DEFAULT_AGENT_TOKEN}` }), 400);
  t.is(await handshakeStatus({ url: cp.url, query: 'agent_version=1&Token=x' }), 400);
  t.is(await handshakeStatus({ url: cp.url, query: 'agent_version=1' }), 101);
});

test('other paths are 404; /ws is served only in gateway mode', async (t) => {
  const cp = await plane(t);
  t.is(await handshakeStatus({ url: cp.url, path: '/ws', query: 'cluster_uuid=x' }), 404);
  t.is(await handshakeStatus({ url: cp.url, path: '/api/v1/other' }), 404);
});

test('gateway mode: register_success names the gateway, the agent resumes on /ws by cluster_uuid', async (t) => {
  const cp = await plane(t, { gateway: true });
  const port = new URL(cp.url).port;
  const controller = await agent(t, { url: cp.url });
  const reply = await controller.register('edge-lab');
  t.is(reply.payload['gateway_ws_url'], `ws://127.0.0.1:${port}/ws`);
  // the controller socket only registers; it is not a session
  t.is(cp.cluster('edge-lab')?.isConnected, false);
  t.is(cp.cluster('edge-lab')?.connections, 0);
  await controller.close();

  const clusterUuid = String(reply.payload['cluster_uuid']);
  t.is(await handshakeStatus({ url: cp.url, path: '/ws', query: 'agent_version=0.3.0&cluster_uuid=ffffffff-0000-5000-8000-000000000000' }), 401);
  t.is(await handshakeStatus({ url: cp.url, path: '/ws', query: 'agent_version=0.3.0' }), 401);
  t.is(await handshakeStatus({ url: cp.url, path: '/ws', token: 'wrong', query: `cluster_uuid=${clusterUuid}` }), 401);

  const waiting = cp.waitForCluster('edge-lab', 2000);
  const query = `agent_version=0.3.0&cluster_uuid=${clusterUuid}&supports_binary=true&supports_response_streaming=true&supports_streaming=true&supports_websocket=true`;
  const gateway = await agent(t, { url: cp.url, path: '/ws', query });
  const info = await waiting;
  t.is(info.connections, 1);
  t.is(info.registrations, 1);
  gateway.send('heartbeat', { cluster_id: info.clusterId, agent_id: info.agentId, status: 'healthy', tunnel_status: 'connected', metadata: {} });
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(cp.cluster('edge-lab')?.heartbeats, 1);

  // resumption with the stored cluster_id as cluster_uuid (§5.7) is accepted as well
  const resumed = await agent(t, { url: cp.url, path: '/ws', query: `cluster_uuid=${info.clusterId}` });
  t.deepEqual(await gateway.closed, { code: 1000, reason: 'replaced by a newer session' });
  t.is(cp.cluster('edge-lab')?.connections, 2);
  t.is(resumed.ws.readyState, resumed.ws.OPEN);
});

test('a newer session replaces the older one, which is closed with 1000', async (t) => {
  const cp = await plane(t);
  const older = await agent(t, { url: cp.url });
  await older.register('edge-lab');
  const newer = await agent(t, { url: cp.url });
  await newer.register('edge-lab');
  t.deepEqual(await older.closed, { code: 1000, reason: 'replaced by a newer session' });
  const info = cp.cluster('edge-lab');
  t.is(info?.connections, 2);
  t.is(info?.registrations, 2);
  t.is(info?.isConnected, true);
});

test('heartbeats are recorded and get no answer', async (t) => {
  const cp = await plane(t);
  const scripted = await agent(t, { url: cp.url });
  await scripted.register('edge-lab');
  const heartbeat = { cluster_id: 'c-1', agent_id: 'agent-0a1b2c3d4e5f6071', status: 'healthy', tunnel_status: 'connected', metadata: { k8s_pods: 3 } };
  scripted.send('heartbeat', heartbeat);
  scripted.send('heartbeat', { ...heartbeat, metadata: { k8s_pods: 4 } });
  scripted.send('ping', {}, 'probe');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const info = cp.cluster('edge-lab');
  t.is(info?.heartbeats, 2);
  t.deepEqual(info?.lastHeartbeat, { ...heartbeat, metadata: { k8s_pods: 4 } });
  // only register_success ever came back, and the session's opt-in to binary stream frames (docs/protocol.md)
  t.deepEqual(scripted.received.map((frame) => frame.envelope?.type), ['register_success', 'stream_frames_hello']);
});

test('dropAgent closes the session socket with the given code and reports the disconnect', async (t) => {
  const cp = await plane(t);
  const scripted = await agent(t, { url: cp.url });
  await scripted.register('edge-lab');
  const disconnected = new Promise<AgentDisconnectedEvent>((resolve) => cp.events.once(ControlPlaneEvent.agentDisconnected, resolve));
  cp.dropAgent('edge-lab', 4001);
  t.is((await scripted.closed).code, 4001);
  t.is((await disconnected).cluster, 'edge-lab');
  t.is(cp.cluster('edge-lab')?.isConnected, false);
  await t.throwsAsync(cp.waitForCluster('edge-lab', 50), { message: 'cluster "edge-lab" did not connect within 50 ms' });
});

test('close() ends agent sockets with 1001 and stops listening', async (t) => {
  const cp = await startControlPlane({ agentToken: DEFAULT_AGENT_TOKEN });
  const scripted = await agent(t, { url: cp.url });
  await scripted.register('edge-lab');
  await cp.close();
  t.is((await scripted.closed).code, 1001);
  await t.throwsAsync(handshakeStatus({ url: cp.url }), { code: 'ECONNREFUSED' });
});
