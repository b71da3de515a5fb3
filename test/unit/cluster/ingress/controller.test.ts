// Ingress controller detection (CLUSTER.md §4): the documented candidate order, then labels; the port
// rule; and the routing mode (direct only behind a public LoadBalancer address).

import test from 'ava';
import type { V1Service } from '@kubernetes/client-node';
import {
  controllerOf,
  controllerPortOf,
  detectIngressController,
  isPrivateAddress,
  type ServiceReader,
} from '../../../../src/cluster/ingress/controller.js';

interface ServiceSpec {
  readonly type?: string;
  readonly ports?: { name?: string; port: number }[];
  readonly lb?: { ip?: string; hostname?: string }[];
  readonly labels?: Record<string, string>;
}

function service(namespace: string, name: string, spec: ServiceSpec = {}): V1Service {
  return {
    metadata: { namespace, name, ...(spec.labels === undefined ? {} : { labels: spec.labels }) },
    spec: { type: spec.type ?? 'ClusterIP', ports: spec.ports ?? [{ name: 'web', port: 80 }, { name: 'websecure', port: 443 }] },
    ...(spec.lb === undefined ? {} : { status: { loadBalancer: { ingress: spec.lb } } }),
  };
}

/** Serves a fixed set of Services; `failing` names reads that reject like an unreachable API. */
class FakeServices implements ServiceReader {
  readonly #services: readonly V1Service[];
  readonly #failing: ReadonlySet<string>;

  constructor(services: readonly V1Service[], failing: readonly string[] = []) {
    this.#services = services;
    this.#failing = new Set(failing);
  }

  async read(namespace: string, name: string): Promise<V1Service | undefined> {
    if (this.#failing.has(`${namespace}/${name}`)) throw new Error('connect ECONNREFUSED');
    return this.#services.find((entry) => entry.metadata?.namespace === namespace && entry.metadata.name === name);
  }

  async list(labelSelector: string): Promise<V1Service[]> {
    const [key, value] = labelSelector.split('=');
    return this.#services.filter((entry) => entry.metadata?.labels?.[key!] === value);
  }
}

const DETECTION_CASES: readonly [string, readonly V1Service[], string | undefined][] = [
  ['nothing installed', [], undefined],
  [
    'pipeops-system/traefik comes first',
    [service('ingress-nginx', 'ingress-nginx-controller'), service('pipeops-system', 'traefik'), service('kube-system', 'traefik')],
    'pipeops-system/traefik',
  ],
  [
    'ingress-nginx before the RKE2 and k3s controllers',
    [service('kube-system', 'traefik'), service('kube-system', 'rke2-ingress-nginx-controller'), service('ingress-nginx', 'ingress-nginx-controller')],
    'ingress-nginx/ingress-nginx-controller',
  ],
  ['RKE2 before k3s', [service('kube-system', 'traefik'), service('kube-system', 'rke2-ingress-nginx-controller')], 'kube-system/rke2-ingress-nginx-controller'],
  ['k3s traefik before traefik/traefik', [service('traefik', 'traefik'), service('kube-system', 'traefik')], 'kube-system/traefik'],
  ['traefik/traefik', [service('traefik', 'traefik')], 'traefik/traefik'],
  [
    'a candidate without an HTTP(S) port is passed over',
    [service('pipeops-system', 'traefik', { ports: [{ name: 'metrics', port: 9100 }] }), service('traefik', 'traefik')],
    'traefik/traefik',
  ],
  [
    'by label when no candidate exists: traefik before ingress-nginx',
    [
      service('edge', 'nginx-edge', { labels: { 'app.kubernetes.io/name': 'ingress-nginx' } }),
      service('edge', 'proxy', { labels: { 'app.kubernetes.io/name': 'traefik' } }),
    ],
    'edge/proxy',
  ],
  ['other labels are not controllers', [service('edge', 'haproxy', { labels: { 'app.kubernetes.io/name': 'haproxy' } })], undefined],
];

for (const [name, services, expected] of DETECTION_CASES) {
  test(`detectIngressController: ${name}`, async (t) => {
    const controller = await detectIngressController(new FakeServices(services));
    t.is(controller === undefined ? undefined : `${controller.namespace}/${controller.name}`, expected);
  });
}

test('detectIngressController: a failed read the answer depends on rejects, so the caller keeps the last result', async (t) => {
  await t.throwsAsync(detectIngressController(new FakeServices([service('traefik', 'traefik')], ['ingress-nginx/ingress-nginx-controller'])));
  // A failure below an existing higher-priority candidate does not matter.
  const controller = await detectIngressController(new FakeServices([service('pipeops-system', 'traefik')], ['traefik/traefik']));
  t.is(controller?.name, 'traefik');
});

const PORT_CASES: readonly [string, { name?: string; port: number }[], number | undefined][] = [
  ['named http', [{ name: 'https', port: 443 }, { name: 'http', port: 8000 }], 8000],
  ['named web (traefik)', [{ name: 'websecure', port: 8443 }, { name: 'web', port: 8080 }], 8080],
  ['numbered 80', [{ name: 'admin', port: 9000 }, { name: 'plain', port: 80 }], 80],
  ['https only', [{ name: 'https', port: 8443 }], 8443],
  ['websecure only', [{ name: 'websecure', port: 9443 }], 9443],
  ['443 only', [{ name: 'tls', port: 443 }], 443],
  ['none of them', [{ name: 'metrics', port: 9100 }], undefined],
];

for (const [name, ports, expected] of PORT_CASES) {
  test(`controllerPortOf: ${name}`, (t) => {
    t.is(controllerPortOf(service('ns', 'ctl', { ports })), expected);
  });
}

const ROUTING_CASES: readonly [string, ServiceSpec, { mode: string; endpoint: string | undefined }][] = [
  ['ClusterIP: tunnel', {}, { mode: 'tunnel', endpoint: undefined }],
  ['NodePort: tunnel', { type: 'NodePort' }, { mode: 'tunnel', endpoint: undefined }],
  ['LoadBalancer still pending: tunnel', { type: 'LoadBalancer' }, { mode: 'tunnel', endpoint: undefined }],
  ['LoadBalancer with a private IP (MetalLB, klipper): tunnel', { type: 'LoadBalancer', lb: [{ ip: '192.168.1.240' }] }, { mode: 'tunnel', endpoint: undefined }],
  ['LoadBalancer with a CGNAT IP: tunnel', { type: 'LoadBalancer', lb: [{ ip: '100.72.0.9' }] }, { mode: 'tunnel', endpoint: undefined }],
  ['LoadBalancer with a public IP and HTTPS: direct on 443', { type: 'LoadBalancer', lb: [{ ip: '203.0.113.7' }] }, { mode: 'direct', endpoint: '203.0.113.7:443' }],
  [
    'LoadBalancer with a public IP, HTTP only: direct on 80',
    { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }], lb: [{ ip: '203.0.113.7' }] },
    { mode: 'direct', endpoint: '203.0.113.7:80' },
  ],
  [
    'LoadBalancer host name (cloud LB): direct',
    { type: 'LoadBalancer', lb: [{ hostname: 'a1b2.elb.us-east-1.amazonaws.com' }] },
    { mode: 'direct', endpoint: 'a1b2.elb.us-east-1.amazonaws.com:443' },
  ],
  [
    'the first public address wins over private ones',
    { type: 'LoadBalancer', lb: [{ ip: '10.0.0.5' }, { ip: '2001:db8:1::5' }] },
    { mode: 'direct', endpoint: '[2001:db8:1::5]:443' },
  ],
  ['LoadBalancer on localhost: tunnel', { type: 'LoadBalancer', lb: [{ hostname: 'localhost' }] }, { mode: 'tunnel', endpoint: undefined }],
];

for (const [name, spec, expected] of ROUTING_CASES) {
  test(`controllerOf routing: ${name}`, (t) => {
    const controller = controllerOf(service('kube-system', 'traefik', spec));
    t.deepEqual({ mode: controller?.routingMode, endpoint: controller?.publicEndpoint }, expected);
    t.is(controller?.type, 'traefik');
  });
}

test('controllerOf: the type comes from the name label or the Service name', (t) => {
  t.is(controllerOf(service('ingress-nginx', 'ingress-nginx-controller'))?.type, 'nginx');
  t.is(controllerOf(service('edge', 'proxy', { labels: { 'app.kubernetes.io/name': 'traefik' } }))?.type, 'traefik');
  t.is(controllerOf(service('edge', 'gateway'))?.type, 'unknown');
});

test('isPrivateAddress', (t) => {
  for (const address of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.0.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', 'fd00::1', 'fe80::1', '::1', 'localhost', 'lb.cluster.local', 'ingress.internal']) {
    t.true(isPrivateAddress(address), address);
  }
  for (const address of ['203.0.113.7', '8.8.8.8', '172.32.0.1', '2001:db8::1', 'a1b2.elb.amazonaws.com']) {
    t.false(isPrivateAddress(address), address);
  }
});
