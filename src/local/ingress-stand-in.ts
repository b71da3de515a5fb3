// A stand-in ingress controller for the local stack: a loopback HTTP server that answers by Host header,
// as ingress-nginx does, and the sandbox objects that make the agent's ingress sync find it (the
// controller Service `ingress-nginx/ingress-nginx-controller` with its `http` port on the server's port,
// a backend Service and one PipeOps-managed Ingress per host). The agent reaches it through a host alias
// of `ingress-nginx-controller.ingress-nginx.svc.<domain>` to 127.0.0.1.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ObjectStore } from './sandbox-api/store/object-store.js';

export const STAND_IN_NAMESPACE = 'ingress-nginx';
export const STAND_IN_SERVICE = 'ingress-nginx-controller';
/** The host alias the agent needs (cluster domain cluster.local). */
export const STAND_IN_HOST_NAME = `${STAND_IN_SERVICE}.${STAND_IN_NAMESPACE}.svc.cluster.local`;
const APPS_NAMESPACE = 'apps';

export interface StandInRequest {
  readonly host: string;
  readonly method: string;
  readonly url: string;
}

export interface IngressStandIn {
  readonly port: number;
  /** Requests received, oldest first. */
  readonly requests: readonly StandInRequest[];
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1:0. A request whose Host (without port) is one of `hosts` gets 200 with
 * `{"served_by":"stand-in-ingress","host":…,"method":…,"path":…}`; any other Host gets ingress-nginx's
 * default-backend 404.
 */
export async function startIngressStandIn(hosts: readonly string[]): Promise<IngressStandIn> {
  const known = new Set(hosts.map((host) => host.toLowerCase()));
  const requests: StandInRequest[] = [];
  function serverOnRequest(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    requests.push({ host, method: req.method ?? 'GET', url: req.url ?? '/' });
    if (!known.has(host)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('default backend - 404\n');
      return;
    }
    const body = JSON.stringify({ served_by: 'stand-in-ingress', host, method: req.method, path: req.url });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }
  const server: Server = createServer(serverOnRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const NAMESPACES = { group: '', version: 'v1', resource: 'namespaces' } as const;
const SERVICES = { group: '', version: 'v1', resource: 'services' } as const;
const INGRESSES = { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' } as const;

/** Seeds the controller Service (its `http` port = the stand-in's port), a backend `apps/web` and a managed Ingress per host. */
export function seedIngressStandIn(store: ObjectStore, standInPort: number, hosts: readonly string[]): void {
  for (const name of [STAND_IN_NAMESPACE, APPS_NAMESPACE]) {
    if (store.get({ ...NAMESPACES, namespace: '', name }) === undefined) store.put(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: {}, status: { phase: 'Active' } });
  }
  store.put(SERVICES, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: STAND_IN_NAMESPACE, name: STAND_IN_SERVICE, labels: { 'app.kubernetes.io/name': 'ingress-nginx' } },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: standInPort, protocol: 'TCP' }] },
  });
  store.put(SERVICES, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: APPS_NAMESPACE, name: 'web' },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
  });
  for (const host of hosts) {
    store.put(INGRESSES, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { namespace: APPS_NAMESPACE, name: host.split('.')[0] ?? 'app', labels: { 'pipeops.io/managed': 'true' } },
      spec: {
        ingressClassName: 'nginx',
        rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http' } } } }] } }],
      },
    });
  }
}
