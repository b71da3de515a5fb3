// From Gateway API objects to tunnels: listener matching (sectionName, port, protocol, allowedRoutes),
// backend defaults and the managed rule.

import test from 'ava';
import { tunnelsOfGatewayApi, type GatewayObject, type RouteObject } from '../../../src/tunnel/discovery/gateway-tunnels.js';
import { tunnelIdOf } from '../../../src/tunnel/discovery/tunnel-entry.js';

const GATEWAY: GatewayObject = {
  metadata: { namespace: 'net', name: 'edge', labels: { 'pipeops.io/managed': 'true' } },
  spec: {
    listeners: [
      { name: 'pg', protocol: 'TCP', port: 5432 },
      { name: 'redis', protocol: 'TCP', port: 6379, allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'dns', protocol: 'UDP', port: 53 },
    ],
  },
};

function tcpRoute(namespace: string, parent: Record<string, unknown>, backends: readonly Record<string, unknown>[]): RouteObject {
  return { metadata: { namespace, name: `r-${namespace}` }, spec: { parentRefs: [parent], rules: [{ backendRefs: backends }] } };
}

function summary(gateways: readonly GatewayObject[], tcp: readonly RouteObject[], udp: readonly RouteObject[] = []): string[] {
  return tunnelsOfGatewayApi(gateways, tcp, udp).map((entry) => `${entry.protocol} ${entry.gatewayPort} ${entry.serviceNamespace}/${entry.serviceName}:${entry.servicePort} ${entry.routingMode}`).sort();
}

test('sectionName and port pick listeners; none means every listener of the protocol; allowedRoutes Same by default', (t) => {
  const sameNamespace = tcpRoute('net', { name: 'edge' }, [{ name: 'db', port: 5432 }]);
  t.deepEqual(summary([GATEWAY], [sameNamespace]), ['tcp 5432 net/db:5432 tunnel', 'tcp 6379 net/db:5432 tunnel']);
  t.deepEqual(summary([GATEWAY], [tcpRoute('net', { name: 'edge', sectionName: 'pg' }, [{ name: 'db', port: 5432 }])]), ['tcp 5432 net/db:5432 tunnel']);
  t.deepEqual(summary([GATEWAY], [tcpRoute('net', { name: 'edge', port: 6379 }, [{ name: 'cache', port: 6379 }])]), ['tcp 6379 net/cache:6379 tunnel']);
  // From another namespace only the listener that allows All accepts it; the backend namespace defaults to the route's.
  t.deepEqual(summary([GATEWAY], [tcpRoute('apps', { name: 'edge', namespace: 'net' }, [{ name: 'db', port: 5432 }])]), ['tcp 6379 apps/db:5432 tunnel']);
  t.deepEqual(summary([GATEWAY], [tcpRoute('apps', { name: 'edge' }, [{ name: 'db', port: 5432 }])]), [], 'parent namespace defaults to the route namespace');
  t.deepEqual(summary([GATEWAY], [], [tcpRoute('net', { name: 'edge' }, [{ name: 'dns', namespace: 'kube-dns', port: 5353 }])]), ['udp 53 kube-dns/dns:5353 tunnel']);
});

test('unmanaged Gateways, non-Service backends, backends without a port and other parent kinds give nothing; routing mode by annotation', (t) => {
  const unmanaged: GatewayObject = { ...GATEWAY, metadata: { namespace: 'net', name: 'edge' } };
  const route = tcpRoute('net', { name: 'edge', sectionName: 'pg' }, [{ name: 'db', port: 5432 }]);
  t.deepEqual(summary([unmanaged], [route]), []);
  t.deepEqual(summary([GATEWAY], [tcpRoute('net', { name: 'edge', sectionName: 'pg' }, [{ name: 'db' }, { name: 'x', kind: 'Other', port: 1 }, { name: 'y', group: 'example.com', port: 1 }])]), []);
  t.deepEqual(summary([GATEWAY], [tcpRoute('net', { name: 'edge', kind: 'Service' }, [{ name: 'db', port: 5432 }])]), []);
  const byAnnotation: GatewayObject = { ...GATEWAY, metadata: { namespace: 'net', name: 'edge', annotations: { 'pipeops.io/managed-by': 'pipeops', 'pipeops.io/routing-mode': 'dual' } } };
  t.deepEqual(summary([byAnnotation], [route]), ['tcp 5432 net/db:5432 dual']);
  const [entry] = tunnelsOfGatewayApi([GATEWAY], [route], []);
  t.is(entry?.tunnelId, tunnelIdOf({ protocol: 'tcp', gatewayNamespace: 'net', gatewayName: 'edge', gatewayPort: 5432, serviceNamespace: 'net', serviceName: 'db' }));
  t.regex(entry?.tunnelId ?? '', /^tun-[0-9a-f]{20}$/);
});
