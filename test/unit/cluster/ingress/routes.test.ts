// Route extraction (CLUSTER.md §4): which Ingresses are managed, and the host + path routes each yields,
// table-driven over Ingress and Service fixtures.

import test from 'ava';
import type { V1HTTPIngressPath, V1Ingress, V1Service } from '@kubernetes/client-node';
import { backendServiceKeys, extractRoutes, isManagedIngress, serviceKey, type IngressRoute, type SkipReason } from '../../../../src/cluster/ingress/routes.js';

function service(namespace: string, name: string, options: { type?: string; ports?: { name?: string; port: number }[] } = {}): V1Service {
  return {
    metadata: { namespace, name },
    spec: { type: options.type ?? 'ClusterIP', ports: options.ports ?? [{ name: 'http', port: 8080 }] },
  };
}

function backend(serviceName: string, port: { name?: string; number?: number } | undefined): V1HTTPIngressPath['backend'] {
  return { service: { name: serviceName, ...(port === undefined ? {} : { port }) } };
}

function ingress(
  namespace: string,
  rules: { host?: string; paths: { path?: string; pathType?: string; backend: V1HTTPIngressPath['backend'] }[] }[],
  extra: { tls?: boolean; annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): V1Ingress {
  return {
    metadata: { namespace, name: 'shop', labels: extra.labels ?? { 'pipeops.io/managed': 'true' }, ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }) },
    spec: {
      ...(extra.tls === true ? { tls: [{ hosts: ['shop.example.com'], secretName: 'shop-tls' }] } : {}),
      rules: rules.map((rule) => ({
        ...(rule.host === undefined ? {} : { host: rule.host }),
        http: { paths: rule.paths.map((path) => ({ backend: path.backend, ...(path.path === undefined ? {} : { path: path.path }), pathType: path.pathType ?? '' })) },
      })),
    },
  };
}

const SERVICES: readonly V1Service[] = [
  service('apps', 'web', { ports: [{ name: 'http', port: 8080 }, { name: 'metrics', port: 9100 }] }),
  service('apps', 'api', { ports: [{ port: 3000 }] }),
  service('apps', 'public-lb', { type: 'LoadBalancer' }),
  service('apps', 'elsewhere', { type: 'ExternalName', ports: [] }),
  service('default', 'kubernetes', { ports: [{ name: 'https', port: 443 }] }),
  service('kube-system', 'traefik', { ports: [{ name: 'web', port: 80 }] }),
  service('default', 'site'),
];
const INDEX = new Map(SERVICES.map((entry) => [serviceKey(entry.metadata!.namespace!, entry.metadata!.name!), entry]));

function route(overrides: Partial<IngressRoute>): IngressRoute {
  return {
    host: 'shop.example.com',
    path: '/',
    pathType: 'Prefix',
    namespace: 'apps',
    ingressName: 'shop',
    serviceName: 'web',
    servicePort: 8080,
    isTls: false,
    annotations: {},
    deploymentId: undefined,
    deploymentName: undefined,
    ...overrides,
  };
}

interface Case {
  readonly name: string;
  readonly ingress: V1Ingress;
  readonly routes: readonly IngressRoute[];
  readonly skipped?: readonly SkipReason[];
}

const CASES: readonly Case[] = [
  {
    name: 'numbered port, explicit path type',
    ingress: ingress('apps', [{ host: 'shop.example.com', paths: [{ path: '/', pathType: 'Exact', backend: backend('api', { number: 3000 }) }] }]),
    routes: [route({ pathType: 'Exact', serviceName: 'api', servicePort: 3000 })],
  },
  {
    name: 'path type defaults to Prefix, empty path to /',
    ingress: ingress('apps', [{ host: 'shop.example.com', paths: [{ backend: backend('web', { number: 8080 }) }] }]),
    routes: [route({})],
  },
  {
    name: 'named port resolved through the Service',
    ingress: ingress('apps', [{ host: 'shop.example.com', paths: [{ path: '/metrics', backend: backend('web', { name: 'metrics' }) }] }]),
    routes: [route({ path: '/metrics', servicePort: 9100 })],
  },
  {
    name: 'unknown port name or no port: skipped',
    ingress: ingress('apps', [
      { host: 'shop.example.com', paths: [{ path: '/a', backend: backend('web', { name: 'grpc' }) }, { path: '/b', backend: backend('web', undefined) }] },
    ]),
    routes: [],
    skipped: ['port-unresolved', 'port-unresolved'],
  },
  {
    name: 'one route per host + path, in order; the first backend of a repeated host + path wins',
    ingress: ingress('apps', [
      { host: 'shop.example.com', paths: [{ path: '/', backend: backend('web', { number: 8080 }) }, { path: '/api', backend: backend('api', { number: 3000 }) }] },
      { host: 'admin.example.com', paths: [{ path: '/', backend: backend('web', { name: 'http' }) }] },
      { host: 'shop.example.com', paths: [{ path: '/', backend: backend('api', { number: 3000 }) }] },
    ]),
    routes: [route({}), route({ path: '/api', serviceName: 'api', servicePort: 3000 }), route({ host: 'admin.example.com' })],
    skipped: ['duplicate'],
  },
  {
    name: 'TLS when the Ingress has any tls entry, for every host',
    ingress: ingress(
      'apps',
      [
        { host: 'shop.example.com', paths: [{ path: '/', backend: backend('web', { number: 8080 }) }] },
        { host: 'other.example.com', paths: [{ path: '/', backend: backend('web', { number: 8080 }) }] },
      ],
      { tls: true },
    ),
    routes: [route({ isTls: true }), route({ host: 'other.example.com', isTls: true })],
  },
  {
    name: 'deployment attribution and annotations (without kubectl last-applied)',
    ingress: ingress('apps', [{ host: 'shop.example.com', paths: [{ path: '/', backend: backend('web', { number: 8080 }) }] }], {
      annotations: {
        'pipeops.io/deployment-id': 'dep-42',
        'pipeops.io/deployment-name': 'shop-frontend',
        'traefik.ingress.kubernetes.io/router.entrypoints': 'web',
        'kubectl.kubernetes.io/last-applied-configuration': '{"huge":true}',
      },
    }),
    routes: [
      route({
        deploymentId: 'dep-42',
        deploymentName: 'shop-frontend',
        annotations: {
          'pipeops.io/deployment-id': 'dep-42',
          'pipeops.io/deployment-name': 'shop-frontend',
          'traefik.ingress.kubernetes.io/router.entrypoints': 'web',
        },
      }),
    ],
  },
  {
    name: 'a rule without host is not routable',
    ingress: ingress('apps', [{ paths: [{ path: '/', backend: backend('web', { number: 8080 }) }] }]),
    routes: [],
    skipped: ['no-host'],
  },
  {
    name: 'a resource backend is not a Service',
    ingress: ingress('apps', [{ host: 'shop.example.com', paths: [{ path: '/', backend: { resource: { apiGroup: 'k8s.example.com', kind: 'Bucket', name: 'b' } } }] }]),
    routes: [],
    skipped: ['no-service-backend'],
  },
  {
    name: 'Services that do not exist, LoadBalancers and ExternalNames are skipped',
    ingress: ingress('apps', [
      {
        host: 'shop.example.com',
        paths: [
          { path: '/gone', backend: backend('gone', { number: 80 }) },
          { path: '/lb', backend: backend('public-lb', { number: 8080 }) },
          { path: '/ext', backend: backend('elsewhere', { number: 80 }) },
          { path: '/', backend: backend('web', { number: 8080 }) },
        ],
      },
    ]),
    routes: [route({})],
    skipped: ['service-missing', 'load-balancer-service', 'external-name-service'],
  },
  {
    name: 'the API server Service is never exposed',
    ingress: ingress('default', [
      { host: 'api.example.com', paths: [{ path: '/', backend: backend('kubernetes', { number: 443 }) }, { path: '/site', backend: backend('site', { number: 8080 }) }] },
    ]),
    routes: [route({ host: 'api.example.com', path: '/site', namespace: 'default', serviceName: 'site' })],
    skipped: ['kubernetes-api'],
  },
  {
    name: 'system namespaces are never exposed',
    ingress: ingress('kube-system', [{ host: 'dash.example.com', paths: [{ path: '/', backend: backend('traefik', { number: 80 }) }] }]),
    routes: [],
    skipped: ['system-namespace'],
  },
];

for (const fixture of CASES) {
  test(`extractRoutes: ${fixture.name}`, (t) => {
    const extracted = extractRoutes(fixture.ingress, INDEX);
    t.deepEqual(extracted.routes, fixture.routes);
    t.deepEqual(extracted.skipped.map((skip) => skip.reason), fixture.skipped ?? []);
  });
}

test('backendServiceKeys: each Service once, system namespaces and the API server left out', (t) => {
  const shop = ingress('apps', [
    { host: 'a.example.com', paths: [{ path: '/', backend: backend('web', { number: 8080 }) }, { path: '/x', backend: backend('api', { number: 3000 }) }] },
    { host: 'b.example.com', paths: [{ path: '/', backend: backend('web', { name: 'http' }) }] },
  ]);
  t.deepEqual(backendServiceKeys(shop), ['apps/web', 'apps/api']);
  const system = ingress('kube-system', [{ host: 'a.example.com', paths: [{ path: '/', backend: backend('traefik', { number: 80 }) }] }]);
  t.deepEqual(backendServiceKeys(system), []);
  const apiServer = ingress('default', [{ host: 'a.example.com', paths: [{ path: '/', backend: backend('kubernetes', { number: 443 }) }] }]);
  t.deepEqual(backendServiceKeys(apiServer), []);
});

const MANAGED_CASES: readonly [string, { labels?: Record<string, string>; annotations?: Record<string, string> }, boolean][] = [
  ['label pipeops.io/managed=true', { labels: { 'pipeops.io/managed': 'true' } }, true],
  ['annotation pipeops.io/managed-by=pipeops', { labels: {}, annotations: { 'pipeops.io/managed-by': 'pipeops' } }, true],
  ['label with another value', { labels: { 'pipeops.io/managed': 'false' } }, false],
  ['annotation naming another manager', { labels: {}, annotations: { 'pipeops.io/managed-by': 'helm' } }, false],
  ['the marker as an annotation instead of a label', { labels: {}, annotations: { 'pipeops.io/managed': 'true' } }, false],
  ['no marker', { labels: {} }, false],
];

for (const [name, marks, expected] of MANAGED_CASES) {
  test(`isManagedIngress: ${name}`, (t) => {
    t.is(isManagedIngress(ingress('apps', [], marks)), expected);
  });
}
