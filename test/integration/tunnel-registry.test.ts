// Tunnel discovery and registry acceptance (PROTOCOL.md §17.3, C92): the agent against the sandbox API and
// the local control plane. Managed Gateways with TCPRoute/UDPRoute backends created, changed and deleted
// yield exactly the expected register/delete/sync calls; unmanaged ones none; every session start and every
// 5 minutes bring a full sync; config-declared tunnels are registered; rejected entries are counted.

import test, { type ExecutionContext } from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { startControlPlane, type ControlPlane, type RegisteredTunnel, type TunnelCall } from '../../src/local/control-plane/control-plane-server.js';
import type { JsonObject as StoredObject } from '../../src/local/sandbox-api/store/json-value.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { tunnelIdOf, type TunnelEntry } from '../../src/tunnel/discovery/tunnel-entry.js';
import { TUNNEL_SYNC_INTERVAL_MS } from '../../src/tunnel/discovery/tunnel-registry-sync.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';
import { SimulatedClock } from '../helpers/simulated-clock.js';

const CLUSTER = 'tunnel-e2e';
const TOKEN = 'agent-token-secret';
const GATEWAYS = { group: 'gateway.networking.k8s.io', version: 'v1', resource: 'gateways' } as const;
const TCP_ROUTES = { group: 'gateway.networking.k8s.io', version: 'v1alpha2', resource: 'tcproutes' } as const;
const UDP_ROUTES = { group: 'gateway.networking.k8s.io', version: 'v1alpha2', resource: 'udproutes' } as const;

interface Stack {
  readonly sandbox: SandboxApi;
  readonly plane: ControlPlane;
  readonly agent: Agent;
  /** The link's clock (reconnect waits). */
  readonly clock: SimulatedClock;
  /** The tunnel registry's own clock: moving it 5 minutes must not trip the link's 60 s silence limit. */
  readonly registryClock: SimulatedClock;
}

async function startStack(t: ExecutionContext, options: { seed?: (sandbox: SandboxApi) => void; tunnels?: readonly TunnelEntry[]; isEnabled?: boolean; prepare?: (plane: ControlPlane) => void }): Promise<Stack> {
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  options.seed?.(sandbox);
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'tunnel-registry-')), 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const plane = await startControlPlane({ agentToken: TOKEN, logger: silentLogger() });
  t.teardown(() => plane.close());
  options.prepare?.(plane);
  const base = testConfig({ apiUrl: plane.url, kubeconfig, token: TOKEN, clusterName: CLUSTER, tunnels: options.tunnels ?? [] });
  const clock = new SimulatedClock();
  const registryClock = new SimulatedClock();
  const agent = await Agent.start({
    config: { ...base, tunnel: { ...base.tunnel, enabled: options.isEnabled ?? true } },
    logger: silentLogger(),
    clock,
    tunnelRegistryClock: registryClock,
    random: () => 0,
    stateStore: new MemoryStateStore(),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(CLUSTER, 20_000);
  return { sandbox, plane, agent, clock, registryClock };
}

function gateway(name: string, listeners: readonly { name: string; protocol: string; port: number }[], isManaged = true): StoredObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { namespace: 'default', name, ...(isManaged ? { labels: { 'pipeops.io/managed': 'true' } } : {}) },
    spec: { gatewayClassName: 'pipeops', listeners: listeners.map((listener) => ({ ...listener })) },
  };
}

function route(kind: 'TCPRoute' | 'UDPRoute', name: string, parent: { name: string; sectionName?: string }, backend: { name: string; port: number; namespace?: string }): StoredObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1alpha2',
    kind,
    metadata: { namespace: 'default', name },
    spec: { parentRefs: [{ ...parent }], rules: [{ backendRefs: [{ ...backend }] }] },
  };
}

const POSTGRES_ID = tunnelIdOf({ protocol: 'tcp', gatewayNamespace: 'default', gatewayName: 'databases', gatewayPort: 5432, serviceNamespace: 'default', serviceName: 'postgres' });
const DNS_ID = tunnelIdOf({ protocol: 'udp', gatewayNamespace: 'default', gatewayName: 'databases', gatewayPort: 53, serviceNamespace: 'default', serviceName: 'dns-echo' });

function seedDatabases(sandbox: SandboxApi): void {
  sandbox.store.put(GATEWAYS, gateway('databases', [{ name: 'postgres', protocol: 'TCP', port: 5432 }, { name: 'dns', protocol: 'UDP', port: 53 }]));
  sandbox.store.put(TCP_ROUTES, route('TCPRoute', 'postgres', { name: 'databases', sectionName: 'postgres' }, { name: 'postgres', port: 5432 }));
}

/** `kind id…` per call, the form the expectations are written in. */
function describe(call: TunnelCall): string {
  if (call.kind === 'sync') return `sync ${((call.body?.['tunnels'] ?? []) as { tunnel_id: string }[]).map((entry) => entry.tunnel_id).join(',')}`.trim();
  return `${call.kind} ${call.tunnelId ?? ''} ${call.status}`;
}

async function callsAfter(plane: ControlPlane, from: number, count: number): Promise<string[]> {
  await eventually(() => plane.tunnels.calls().length >= from + count, `${count} tunnel calls after the first ${from}`);
  return plane.tunnels.calls().slice(from).map(describe);
}

test('Gateway and TCPRoute/UDPRoute created, changed and deleted produce exactly the expected registry calls', async (t) => {
  const told: (readonly RegisteredTunnel[])[] = [];
  const { sandbox, plane, agent, clock, registryClock } = await startStack(t, {
    seed: seedDatabases,
    prepare: (cp) => cp.tunnels.onTunnelsChanged((_uuid, tunnels) => told.push(tunnels)),
  });
  const clusterUuid = plane.cluster(CLUSTER)!.clusterUuid;

  // Start: one full sync with the tunnel that was already there.
  t.deepEqual(await callsAfter(plane, 0, 1), [`sync ${POSTGRES_ID}`]);
  t.deepEqual(plane.tunnels.calls()[0]!.body, {
    cluster_uuid: clusterUuid,
    tunnels: [
      {
        cluster_uuid: clusterUuid,
        protocol: 'tcp',
        tunnel_id: POSTGRES_ID,
        gateway_name: 'databases',
        gateway_namespace: 'default',
        gateway_port: 5432,
        service_name: 'postgres',
        service_namespace: 'default',
        service_port: 5432,
        routing_mode: 'tunnel',
        labels: { 'pipeops.io/tunnel-source': 'gateway-api' },
      },
    ],
  });
  t.like(plane.tunnels.list(clusterUuid)[0], { tunnel_id: POSTGRES_ID, tunnel_port: 5432, tunnel_endpoint: '127.0.0.1:5432' });
  await eventually(async () => (await agent.metrics.value('tunnelsRegistered')) === 1, 'the registered gauge at 1');

  // A UDPRoute on the UDP listener: one register.
  sandbox.store.put(UDP_ROUTES, route('UDPRoute', 'dns', { name: 'databases', sectionName: 'dns' }, { name: 'dns-echo', port: 5353 }));
  t.deepEqual(await callsAfter(plane, 1, 1), [`register ${DNS_ID} 201`]);
  t.like(plane.tunnels.calls()[1]!.body, { protocol: 'udp', gateway_port: 53, service_name: 'dns-echo', service_port: 5353 });

  // Unmanaged Gateway with its route, and a route naming a listener that does not exist: no call. The
  // backend port change after them is handled in order, so its register proves they produced nothing.
  sandbox.store.put(GATEWAYS, gateway('legacy', [{ name: 'redis', protocol: 'TCP', port: 6379 }], false));
  sandbox.store.put(TCP_ROUTES, route('TCPRoute', 'redis', { name: 'legacy' }, { name: 'redis', port: 6379 }));
  sandbox.store.put(TCP_ROUTES, route('TCPRoute', 'stray', { name: 'databases', sectionName: 'nope' }, { name: 'stray', port: 1 }));
  sandbox.store.put(TCP_ROUTES, route('TCPRoute', 'postgres', { name: 'databases', sectionName: 'postgres' }, { name: 'postgres', port: 6432 }));
  t.deepEqual(await callsAfter(plane, 2, 1), [`register ${POSTGRES_ID} 201`]);
  t.like(plane.tunnels.calls()[2]!.body, { tunnel_id: POSTGRES_ID, service_port: 6432 });

  // The UDPRoute deleted: one delete.
  sandbox.store.delete({ ...UDP_ROUTES, namespace: 'default', name: 'dns' });
  t.deepEqual(await callsAfter(plane, 3, 1), [`delete ${DNS_ID} 204`]);

  // The Gateway no longer managed: its last tunnel goes.
  sandbox.store.put(GATEWAYS, gateway('databases', [{ name: 'postgres', protocol: 'TCP', port: 5432 }], false));
  t.deepEqual(await callsAfter(plane, 4, 1), [`delete ${POSTGRES_ID} 204`]);
  t.deepEqual(plane.tunnels.list(clusterUuid), []);
  await eventually(async () => (await agent.metrics.value('tunnelsRegistered')) === 0, 'the registered gauge at 0');

  // Managed again, then a session restart and the 5-minute timer: each brings one full sync.
  sandbox.store.put(GATEWAYS, gateway('databases', [{ name: 'postgres', protocol: 'TCP', port: 5432 }]));
  t.deepEqual(await callsAfter(plane, 5, 1), [`register ${POSTGRES_ID} 201`]);
  plane.dropAgent(CLUSTER);
  // §7.1: the first reconnect waits 0.5 s (no jitter with random() = 0).
  await eventually(() => clock.pendingDelays().includes(500), 'the reconnect timer');
  clock.advance(500);
  t.deepEqual(await callsAfter(plane, 6, 1), [`sync ${POSTGRES_ID}`]);
  registryClock.advance(TUNNEL_SYNC_INTERVAL_MS);
  t.deepEqual(await callsAfter(plane, 7, 1), [`sync ${POSTGRES_ID}`]);
  await agent.tunnelRegistry?.settled();
  t.is(plane.tunnels.calls().length, 8, 'no other call');
  t.deepEqual(await agent.metrics.value('tunnelRegistryCalls', { kind: 'register', outcome: 'ok' }), 3);
  t.deepEqual(await agent.metrics.value('tunnelRegistryCalls', { kind: 'delete', outcome: 'ok' }), 2);
  t.deepEqual(await agent.metrics.value('tunnelRegistryCalls', { kind: 'sync', outcome: 'ok' }), 3);

  // The gateway side heard every change, and GET /local/tunnels lists what is registered.
  t.deepEqual(told.at(-1)?.map((tunnel) => tunnel.tunnel_id), [POSTGRES_ID]);
  t.true(told.some((tunnels) => tunnels.length === 2));
  const listing = (await (await fetch(`${plane.url}/local/tunnels`)).json()) as { clusters: { cluster_uuid: string; cluster_name: string; tunnels: RegisteredTunnel[] }[] };
  t.deepEqual(listing.clusters.map((cluster) => [cluster.cluster_name, cluster.tunnels.map((tunnel) => `${tunnel.protocol} ${tunnel.tunnel_endpoint} ${tunnel.service_name}:${tunnel.service_port}`)]), [
    [CLUSTER, ['tcp 127.0.0.1:5432 postgres:6432']],
  ]);
});

test('config-declared tunnels are registered at session start; a rejected one is logged and counted, not resent until the next sync', async (t) => {
  const declared: TunnelEntry[] = [
    { tunnelId: 'pg-main', protocol: 'tcp', gatewayName: 'postgres', gatewayNamespace: 'default', gatewayPort: 15432, serviceName: 'postgres', serviceNamespace: 'data', servicePort: 5432, routingMode: 'tunnel', source: 'config' },
    { tunnelId: 'dns', protocol: 'udp', gatewayName: 'dns', gatewayNamespace: 'default', gatewayPort: 53, serviceName: 'dns-echo', serviceNamespace: 'default', servicePort: 5353, routingMode: 'dual', source: 'config' },
  ];
  const { plane, agent, registryClock } = await startStack(t, { tunnels: declared, prepare: (cp) => cp.tunnels.refuse('dns', 'udp port 53 is reserved') });
  const clusterUuid = plane.cluster(CLUSTER)!.clusterUuid;
  t.deepEqual(await callsAfter(plane, 0, 1), ['sync dns,pg-main']);
  t.like((plane.tunnels.calls()[0]!.body?.['tunnels'] as StoredObject[])[1], { tunnel_id: 'pg-main', service_namespace: 'data', gateway_port: 15432, labels: { 'pipeops.io/tunnel-source': 'config' } });
  t.deepEqual(plane.tunnels.list(clusterUuid).map((tunnel) => tunnel.tunnel_id), ['pg-main']);
  await eventually(async () => (await agent.metrics.value('tunnelRegistryRejections', { kind: 'sync' })) === 1, 'one rejection counted');
  t.is(await agent.metrics.value('tunnelsRegistered'), 1);
  // The next full sync carries it again (the platform may accept it by then).
  registryClock.advance(TUNNEL_SYNC_INTERVAL_MS);
  t.deepEqual(await callsAfter(plane, 1, 1), ['sync dns,pg-main']);
  await agent.tunnelRegistry?.settled();
  t.is(plane.tunnels.calls().length, 2);
});

test('with tunnel.enabled false no tunnel registry is built and no registry call is made', async (t) => {
  const { plane, agent } = await startStack(t, { seed: seedDatabases, isEnabled: false });
  t.is(agent.tunnelRegistry, undefined);
  t.deepEqual(plane.tunnels.calls(), []);
});
