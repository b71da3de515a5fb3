// §9.5 steps 1 and 4 as the router decides them from the ingress route cache (C44).

import test from 'ava';
import { ControllerType, RoutingMode, type IngressController } from '../../../src/cluster/ingress/controller.js';
import { IngressRouteCache } from '../../../src/cluster/ingress/route-cache.js';
import type { IngressRoute } from '../../../src/cluster/ingress/routes.js';
import { peekEnvelope } from '../../../src/protocol/envelope-peek.js';
import { resolveHostRoute } from '../../../src/router/host-routing.js';

const CONTROLLER: IngressController = { name: 'traefik', namespace: 'kube-system', port: 80, type: ControllerType.traefik, routingMode: RoutingMode.tunnel, publicEndpoint: undefined };

function route(host: string, serviceName: string, servicePort: number): IngressRoute {
  return { host, path: '/', pathType: 'Prefix', namespace: 'apps', ingressName: 'i', serviceName, servicePort, isTls: false, annotations: {}, deploymentId: undefined, deploymentName: undefined };
}

function cache(controller: IngressController | undefined): IngressRouteCache {
  const routes = new IngressRouteCache();
  routes.replace([route('shop.example.com', 'web', 8080), route('api.example.com', 'api', 3000)], controller);
  return routes;
}

function traitsOf(payload: Record<string, unknown>) {
  return peekEnvelope(Buffer.from(JSON.stringify({ type: 'proxy_request', request_id: 'r', payload })))?.request;
}

test('step 1: a Host with a route goes to the controller when known, else to the route backend; exact, then without :port', (t) => {
  const toController = { name: 'traefik', namespace: 'kube-system', port: 80 };
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/x', headers: { Host: 'shop.example.com' } }), cache(CONTROLLER)), toController);
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/api/v1/pods', headers: { Host: 'SHOP.example.com:8443' } }), cache(CONTROLLER)), toController, 'even on a K8s-looking path');
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/x', headers: { Host: 'api.example.com' } }), cache(undefined)), { name: 'api', namespace: 'apps', port: 3000 });
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/x', headers: { 'X-Forwarded-Host': 'api.example.com' } }), cache(undefined)), { name: 'api', namespace: 'apps', port: 3000 });
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/x', namespace: 'other', headers: { Host: 'shop.example.com' } }), cache(CONTROLLER)), toController, 'a partial service without a name');
});

test('no lookup when service_name is set or there is no cache; step 4 only without service fields, off K8s paths, not for upgrades', (t) => {
  t.is(resolveHostRoute(traitsOf({ path: '/x', service_name: 'web', headers: { Host: 'shop.example.com' } }), cache(CONTROLLER)), undefined);
  t.is(resolveHostRoute(traitsOf({ path: '/x', headers: { Host: 'shop.example.com' } }), undefined), undefined);
  // Step 4.
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/landing', headers: { Host: 'nobody.example.com' } }), cache(CONTROLLER)), { name: 'traefik', namespace: 'kube-system', port: 80 });
  t.deepEqual(resolveHostRoute(traitsOf({ path: '/landing' }), cache(CONTROLLER)), { name: 'traefik', namespace: 'kube-system', port: 80 });
  t.is(resolveHostRoute(traitsOf({ path: '/landing' }), cache(undefined)), undefined, 'no controller known');
  t.is(resolveHostRoute(traitsOf({ path: '/apis/apps/v1' }), cache(CONTROLLER)), undefined, 'K8s API path');
  t.is(resolveHostRoute(traitsOf({ path: '/landing', service_port: 80 }), cache(CONTROLLER)), undefined, 'a service field is set');
  t.is(resolveHostRoute(traitsOf({ path: '/chat', is_websocket: true }), cache(CONTROLLER)), undefined, 'step 2 comes first for upgrades');
  t.is(resolveHostRoute(traitsOf({ path: '/x', headers: { Host: 'nobody.example.com', 'X-Forwarded-Host': 'shop.example.com' } }), cache(undefined)), undefined, 'Host present: X-Forwarded-Host is not used');
});
