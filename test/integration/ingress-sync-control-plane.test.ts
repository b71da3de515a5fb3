// The local control plane's ingress route endpoints (PROTOCOL.md §17.2): Bearer auth, register /
// unregister / sync kept per cluster, the GET listing, 400 on bad bodies and injected 500s.

import test from 'ava';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';

async function post(plane: ControlPlane, call: string, body: unknown, token: string | undefined): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${plane.url}/api/v1/gateway/routes/${call}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as unknown };
}

const REGISTER = {
  hostname: 'shop.example.com',
  cluster_uuid: 'uuid-1',
  namespace: 'ingress-nginx',
  service_name: 'ingress-nginx-controller',
  service_port: 80,
  ingress_name: 'shop',
  path: '/',
  path_type: 'Prefix',
  tls: true,
  routing_mode: 'tunnel',
  deployment_id: 'dep-1',
};

test('route calls need the agent token; register, sync and unregister are kept per cluster and listed', async (t) => {
  const plane = await startControlPlane({ agentToken: 'agent-token', logger: silentLogger() });
  t.teardown(() => plane.close());
  t.is((await post(plane, 'register', REGISTER, undefined)).status, 401);
  t.is((await post(plane, 'register', REGISTER, 'wrong-token')).status, 401);
  t.deepEqual(plane.gatewayRoutes.list(), [], 'refused calls change nothing');

  t.is((await post(plane, 'register', REGISTER, 'agent-token')).status, 200);
  t.is((await post(plane, 'register', { ...REGISTER, path: '/api', tls: false }, 'agent-token')).status, 200);
  t.is((await post(plane, 'register', { ...REGISTER, hostname: 'blog.example.com', cluster_uuid: 'uuid-2' }, 'agent-token')).status, 200);
  const listing = (await (await fetch(`${plane.url}/api/v1/gateway/routes`)).json()) as { clusters: { cluster_uuid: string; routes: { hostname: string; path: string; tls: boolean; deployment_id?: string }[] }[] };
  t.deepEqual(
    listing.clusters.map((cluster) => [cluster.cluster_uuid, cluster.routes.map((route) => `${route.hostname}${route.path}`)]),
    [
      ['uuid-1', ['shop.example.com/', 'shop.example.com/api']],
      ['uuid-2', ['blog.example.com/']],
    ],
  );
  t.like(listing.clusters[0]?.routes[0], { tls: true, deployment_id: 'dep-1' });

  // A sync replaces the cluster's routes (and only that cluster's); an empty one clears them.
  const sync = {
    cluster_uuid: 'uuid-1',
    routing_mode: 'direct',
    public_endpoint: '203.0.113.7:443',
    ingress_controller: { name: 'traefik', namespace: 'kube-system', port: 80, type: 'traefik' },
    ingresses: [{ namespace: 'apps', ingress_name: 'docs', rules: [{ host: 'docs.example.com', tls: false, paths: [{ path: '/', path_type: 'Prefix', service_name: 'traefik', service_port: 80 }] }] }],
  };
  t.is((await post(plane, 'sync', sync, 'agent-token')).status, 200);
  const [first, second] = plane.gatewayRoutes.list();
  t.like(first, { cluster_uuid: 'uuid-1', routing_mode: 'direct', public_endpoint: '203.0.113.7:443' });
  t.like(first?.routes[0], { hostname: 'docs.example.com', namespace: 'kube-system', service_name: 'traefik', source: 'sync', routing_mode: 'direct' });
  t.is(first?.routes.length, 1);
  t.is(second?.routes.length, 1);

  t.is((await post(plane, 'unregister', { hostname: 'blog.example.com' }, 'agent-token')).status, 200);
  t.is(plane.gatewayRoutes.list()[1]?.routes.length, 0);
  t.is((await post(plane, 'sync', { cluster_uuid: 'uuid-1', routing_mode: 'tunnel', ingresses: [] }, 'agent-token')).status, 200);
  t.is(plane.gatewayRoutes.list()[0]?.routes.length, 0);
  t.deepEqual(
    plane.gatewayRoutes.calls().map((call) => `${call.kind} ${call.status}`),
    ['register 401', 'register 401', 'register 200', 'register 200', 'register 200', 'sync 200', 'unregister 200', 'sync 200'],
  );
});

test('bad bodies get 400 with the reason; failNext answers 500 that many times', async (t) => {
  const plane = await startControlPlane({ logger: silentLogger() });
  t.teardown(() => plane.close());
  t.is((await post(plane, 'register', REGISTER, undefined)).status, 401, 'a Bearer token is needed even without agentToken');
  t.deepEqual(await post(plane, 'register', { ...REGISTER, service_port: '80' }, 'any-token'), { status: 400, json: { success: false, error: 'service_port must be an integer' } });
  t.deepEqual(await post(plane, 'unregister', 'not json', 'any-token'), { status: 400, json: { success: false, error: 'body is not JSON' } });
  t.is((await post(plane, 'sync', { cluster_uuid: 'uuid-1', routing_mode: 'sideways', ingresses: [] }, 'any-token')).status, 400);
  plane.gatewayRoutes.failNext(2);
  t.is((await post(plane, 'unregister', { hostname: 'a.example.com' }, 'any-token')).status, 500);
  t.is((await post(plane, 'unregister', { hostname: 'a.example.com' }, 'any-token')).status, 500);
  t.is((await post(plane, 'unregister', { hostname: 'a.example.com' }, 'any-token')).status, 200);
  t.is((await fetch(`${plane.url}/api/v1/gateway/routes/register`)).status, 405);
  t.is((await fetch(`${plane.url}/api/v1/gateway/routes/other`, { method: 'POST' })).status, 404);
});
