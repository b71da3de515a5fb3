// The local control plane's tunnel registry endpoints (PROTOCOL.md §17.3): Bearer auth, register / sync /
// list / delete kept per cluster, validation (400/422), the GET /local/tunnels listing, the endpoint
// resolver and the onTunnelsChanged feed the gateway listeners consume.

import test from 'ava';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, type ControlPlane, type RegisteredTunnel } from '../../src/local/control-plane/control-plane-server.js';

const BASE = '/api/v1/clusters/agent';

async function call(plane: ControlPlane, method: string, path: string, body: unknown, token: string | null = 'agent-token'): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${plane.url}${BASE}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(token === null ? {} : { Authorization: `Bearer ${token}` }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

const PG = {
  cluster_uuid: 'uuid-1',
  protocol: 'tcp',
  tunnel_id: 'tun-pg',
  gateway_name: 'databases',
  gateway_namespace: 'data',
  gateway_port: 5432,
  service_name: 'postgres',
  service_namespace: 'data',
  service_port: 5432,
  routing_mode: 'tunnel',
};

test('registry calls need the agent token; register, list, sync and delete are kept per cluster and fed to onTunnelsChanged', async (t) => {
  const plane = await startControlPlane({ agentToken: 'agent-token', logger: silentLogger() });
  t.teardown(() => plane.close());
  const told: [string, string[]][] = [];
  const unsubscribe = plane.tunnels.onTunnelsChanged((uuid, tunnels) => told.push([uuid, tunnels.map((tunnel) => tunnel.tunnel_id)]));

  t.is((await call(plane, 'POST', '/uuid-1/tunnels', PG, null)).status, 401);
  t.is((await call(plane, 'POST', '/uuid-1/tunnels', PG, 'wrong')).status, 401);
  t.deepEqual(plane.tunnels.list('uuid-1'), []);

  const registered = await call(plane, 'POST', '/uuid-1/tunnels', PG);
  t.is(registered.status, 201);
  t.deepEqual(registered.json, { ...PG, tunnel_port: 5432, tunnel_endpoint: '127.0.0.1:5432' });
  plane.tunnels.setEndpointResolver((_uuid, tunnel) => (tunnel.protocol === 'udp' ? { port: 40053, endpoint: 'gw.example.test:40053' } : undefined));
  const dns = { ...PG, cluster_uuid: 'uuid-2', protocol: 'udp', tunnel_id: 'tun-dns', gateway_port: 53, service_name: 'dns', service_port: 5353 };
  t.like((await call(plane, 'POST', '/uuid-2/tunnels', dns)).json, { tunnel_port: 40053, tunnel_endpoint: 'gw.example.test:40053' });
  t.deepEqual(((await call(plane, 'GET', '/uuid-1/tunnels', undefined)).json as RegisteredTunnel[]).map((tunnel) => tunnel.tunnel_id), ['tun-pg']);

  // A sync replaces the cluster's tunnels; invalid entries are answered as rejected, not stored.
  const synced = await call(plane, 'POST', '/uuid-1/tunnels/sync', { cluster_uuid: 'uuid-1', tunnels: [{ ...PG, tunnel_id: 'tun-pg2' }, { ...PG, tunnel_id: 'bad', protocol: 'sctp' }] });
  t.is(synced.status, 200);
  t.deepEqual((synced.json as { accepted: RegisteredTunnel[] }).accepted.map((tunnel) => tunnel.tunnel_id), ['tun-pg2']);
  t.deepEqual((synced.json as { rejected: unknown }).rejected, [{ tunnel_id: 'bad', reason: 'protocol must be tcp or udp' }]);
  t.is((await call(plane, 'DELETE', '/uuid-1/tunnels/tun-pg2', undefined)).status, 204);
  t.is((await call(plane, 'DELETE', '/uuid-1/tunnels/tun-pg2', undefined)).status, 404);

  // The gateway reports where it really listens; re-registrations keep it.
  t.true(plane.tunnels.setEndpoint('uuid-2', 'tun-dns', { port: 41000, endpoint: '127.0.0.1:41000' }));
  t.false(plane.tunnels.setEndpoint('uuid-2', 'nope', { port: 1, endpoint: 'x:1' }));
  t.like((await call(plane, 'POST', '/uuid-2/tunnels', dns)).json, { tunnel_port: 41000, tunnel_endpoint: '127.0.0.1:41000' });
  const listing = (await (await fetch(`${plane.url}/local/tunnels`)).json()) as { clusters: { cluster_uuid: string; tunnels: RegisteredTunnel[] }[] };
  t.deepEqual(listing.clusters.map((cluster) => [cluster.cluster_uuid, cluster.tunnels.map((tunnel) => tunnel.tunnel_endpoint)]), [['uuid-2', ['127.0.0.1:41000']]]);
  t.deepEqual(told, [
    ['uuid-1', ['tun-pg']],
    ['uuid-2', ['tun-dns']],
    ['uuid-1', ['tun-pg2']],
    ['uuid-1', []],
    ['uuid-2', ['tun-dns']],
  ]);
  unsubscribe();
  t.deepEqual(
    plane.tunnels.calls().map((entry) => `${entry.kind} ${entry.clusterUuid} ${entry.status}`),
    ['register uuid-1 401', 'register uuid-1 401', 'register uuid-1 201', 'register uuid-2 201', 'list uuid-1 200', 'sync uuid-1 200', 'delete uuid-1 204', 'delete uuid-1 404', 'register uuid-2 201'],
  );
});

test('bad registrations get 422 with the first bad field, bad JSON 400, wrong methods 405, refused ids 422', async (t) => {
  const plane = await startControlPlane({ logger: silentLogger() });
  t.teardown(() => plane.close());
  t.deepEqual(await call(plane, 'POST', '/uuid-1/tunnels', { ...PG, service_port: 70000 }), { status: 422, json: { success: false, error: 'service_port must be an integer from 1 to 65535' } });
  t.deepEqual(await call(plane, 'POST', '/uuid-1/tunnels', { ...PG, cluster_uuid: 'other' }), { status: 422, json: { success: false, error: 'cluster_uuid does not match the path' } });
  t.is((await call(plane, 'POST', '/uuid-1/tunnels', '{not json')).status, 400);
  t.is((await call(plane, 'POST', '/uuid-1/tunnels/sync', { tunnels: 'x' })).status, 400);
  t.is((await call(plane, 'PUT', '/uuid-1/tunnels', PG)).status, 405);
  plane.tunnels.refuse('tun-pg', 'port 5432 is taken');
  t.deepEqual(await call(plane, 'POST', '/uuid-1/tunnels', PG), { status: 422, json: { success: false, error: 'port 5432 is taken' } });
  t.deepEqual(plane.tunnels.list('uuid-1'), []);
});
