// What the demo exposes through its tunnels (docs/tunnels.md): a TCP line-echo and a UDP echo on loopback,
// seeded into the sandbox as Services behind a PipeOps-managed Gateway with a TCPRoute and a UDPRoute, the
// way a user exposes a database. The agent finds them through its Gateway API watch, registers them with
// the local control plane, which opens a loopback port per tunnel and carries each client over yamux.

import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ObjectStore } from './sandbox-api/store/object-store.js';

export const TUNNEL_DEMO_NAMESPACE = 'tunnels';
export const LINE_ECHO_SERVICE = 'lines';
export const UDP_ECHO_SERVICE = 'echo-udp';
const GATEWAY_NAME = 'demo-gateway';

/** The cluster DNS names the agent dials for the two services; the demo points them at loopback. */
export const TUNNEL_DEMO_HOSTS = [LINE_ECHO_SERVICE, UDP_ECHO_SERVICE].map((name) => `${name}.${TUNNEL_DEMO_NAMESPACE}.svc.cluster.local`);

export interface TunnelDemoServices {
  readonly tcpPort: number;
  readonly udpPort: number;
  close(): Promise<void>;
}

/** A line-echo (`echo: <line>` per line; ends its side after the client's) and a datagram echo. */
export async function startTunnelDemoServices(): Promise<TunnelDemoServices> {
  const clients = new Set<Socket>();
  const tcp: Server = createServer({ allowHalfOpen: true }, (socket) => {
    clients.add(socket);
    socket.once('close', () => clients.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      pending += text;
      for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
        socket.write(`echo: ${pending.slice(0, newline)}\n`);
        pending = pending.slice(newline + 1);
      }
    });
    socket.on('end', () => (pending === '' ? socket.end() : socket.end(`echo: ${pending}\n`)));
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
  const udp: DgramSocket = createSocket('udp4');
  udp.on('message', (datagram, remote) => udp.send(datagram, remote.port, remote.address));
  udp.on('error', () => undefined);
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
  return {
    tcpPort: (tcp.address() as AddressInfo).port,
    udpPort: udp.address().port,
    async close() {
      for (const client of clients) client.destroy();
      await Promise.all([new Promise<void>((resolve) => tcp.close(() => resolve())), new Promise<void>((resolve) => udp.close(() => resolve()))]);
    },
  };
}

const NAMESPACES = { group: '', version: 'v1', resource: 'namespaces' } as const;
const SERVICES = { group: '', version: 'v1', resource: 'services' } as const;
const GATEWAY_API = 'gateway.networking.k8s.io';

/** The Services, the managed Gateway (one TCP and one UDP listener) and the two routes. */
export function seedTunnelDemo(store: ObjectStore, services: TunnelDemoServices): void {
  const namespace = TUNNEL_DEMO_NAMESPACE;
  if (store.get({ ...NAMESPACES, namespace: '', name: namespace }) === undefined) {
    store.put(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace }, spec: {}, status: { phase: 'Active' } });
  }
  const service = (name: string, port: number, protocol: string) =>
    store.put(SERVICES, { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec: { type: 'ClusterIP', ports: [{ name: protocol.toLowerCase(), port, protocol }] } });
  service(LINE_ECHO_SERVICE, services.tcpPort, 'TCP');
  service(UDP_ECHO_SERVICE, services.udpPort, 'UDP');
  store.put({ group: GATEWAY_API, version: 'v1', resource: 'gateways' }, {
    apiVersion: `${GATEWAY_API}/v1`,
    kind: 'Gateway',
    metadata: { namespace, name: GATEWAY_NAME, labels: { 'pipeops.io/managed': 'true' } },
    spec: {
      gatewayClassName: 'pipeops',
      listeners: [
        { name: 'lines', protocol: 'TCP', port: 7000 },
        { name: 'echo', protocol: 'UDP', port: 7001 },
      ],
    },
  });
  const route = (resource: string, kind: string, name: string, sectionName: string, backend: string, port: number) =>
    store.put({ group: GATEWAY_API, version: 'v1alpha2', resource }, {
      apiVersion: `${GATEWAY_API}/v1alpha2`,
      kind,
      metadata: { namespace, name },
      spec: { parentRefs: [{ name: GATEWAY_NAME, sectionName }], rules: [{ backendRefs: [{ name: backend, port }] }] },
    });
  route('tcproutes', 'TCPRoute', LINE_ECHO_SERVICE, 'lines', LINE_ECHO_SERVICE, services.tcpPort);
  route('udproutes', 'UDPRoute', UDP_ECHO_SERVICE, 'echo', UDP_ECHO_SERVICE, services.udpPort);
}
