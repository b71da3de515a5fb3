// Finds the ingress controller Service the gateway proxy advertises as every route's target, and decides the
// routing mode from it (CLUSTER.md §4): `direct` to a public LoadBalancer address, else `tunnel` through the
// agent. Reads Services through a ServiceReader; never changes the controller or its configuration.

import { isIP } from 'node:net';
import { isPublicIp } from '../region/public-ip.js';
import type { V1Service } from '@kubernetes/client-node';

/** Read access to Services; `read` resolves undefined for a Service that does not exist and rejects on other failures. */
export interface ServiceReader {
  read(namespace: string, name: string): Promise<V1Service | undefined>;
  /** Services of every namespace matching one label selector. */
  list(labelSelector: string): Promise<V1Service[]>;
}

/** Tried in this order; the first that exists and has a usable port wins. */
export const CONTROLLER_CANDIDATES: readonly { readonly namespace: string; readonly name: string }[] = [
  { namespace: 'pipeops-system', name: 'traefik' },
  { namespace: 'ingress-nginx', name: 'ingress-nginx-controller' },
  { namespace: 'kube-system', name: 'rke2-ingress-nginx-controller' },
  { namespace: 'kube-system', name: 'traefik' },
  { namespace: 'traefik', name: 'traefik' },
];
/** After the named candidates, in this order, across all namespaces. */
export const CONTROLLER_LABEL_SELECTORS: readonly string[] = ['app.kubernetes.io/name=traefik', 'app.kubernetes.io/name=ingress-nginx'];

export const RoutingMode = { direct: 'direct', tunnel: 'tunnel' } as const;
export type RoutingMode = (typeof RoutingMode)[keyof typeof RoutingMode];

export const ControllerType = { traefik: 'traefik', nginx: 'nginx', unknown: 'unknown' } as const;
export type ControllerType = (typeof ControllerType)[keyof typeof ControllerType];

export interface IngressController {
  readonly name: string;
  readonly namespace: string;
  /** The Service port the platform's traffic enters by (HTTP preferred). */
  readonly port: number;
  readonly type: ControllerType;
  readonly routingMode: RoutingMode;
  /** `<address>:443|80`, only in direct mode. */
  readonly publicEndpoint: string | undefined;
}

const HTTP_PORT_PREFERENCE = [{ name: 'http' }, { name: 'web' }, { number: 80 }] as const;
const HTTPS_PORT_PREFERENCE = [{ name: 'https' }, { name: 'websecure' }, { number: 443 }] as const;

type PortChoice = { readonly name: string } | { readonly number: number };

function pickPort(service: V1Service, preference: readonly PortChoice[]): number | undefined {
  const ports = service.spec?.ports ?? [];
  for (const choice of preference) {
    const match = ports.find((port) => ('name' in choice ? port.name === choice.name : port.port === choice.number));
    if (match !== undefined && match.port > 0) return match.port;
  }
  return undefined;
}

/** Port named `http`/`web` or numbered 80, else `https`/`websecure`/443; undefined when it has none of them. */
export function controllerPortOf(service: V1Service): number | undefined {
  return pickPort(service, HTTP_PORT_PREFERENCE) ?? pickPort(service, HTTPS_PORT_PREFERENCE);
}

const PRIVATE_HOST_SUFFIXES = ['.local', '.localhost', '.internal'];

/**
 * True when the platform could not reach the address from the internet: private, loopback, link-local and
 * CGNAT IPs, and host names that only resolve inside a network. Other host names (cloud LB names) count as public.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family !== 0) return !isPublicIp(address);
  const host = address.toLowerCase().replace(/\.$/, '');
  return host === '' || host === 'localhost' || PRIVATE_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** The first public LoadBalancer address of the Service, when it is a LoadBalancer and has one. */
export function publicAddressOf(service: V1Service): string | undefined {
  if (service.spec?.type !== 'LoadBalancer') return undefined;
  for (const entry of service.status?.loadBalancer?.ingress ?? []) {
    const address = entry.ip !== undefined && entry.ip !== '' ? entry.ip : entry.hostname;
    if (address !== undefined && address !== '' && !isPrivateAddress(address)) return address;
  }
  return undefined;
}

function controllerTypeOf(service: V1Service): ControllerType {
  const text = `${service.metadata?.labels?.['app.kubernetes.io/name'] ?? ''} ${service.metadata?.name ?? ''}`;
  if (text.includes('traefik')) return ControllerType.traefik;
  if (text.includes('nginx')) return ControllerType.nginx;
  return ControllerType.unknown;
}

/** The controller a Service describes, or undefined when it has no HTTP(S) port to send traffic to. */
export function controllerOf(service: V1Service): IngressController | undefined {
  const port = controllerPortOf(service);
  const name = service.metadata?.name;
  const namespace = service.metadata?.namespace;
  if (port === undefined || name === undefined || namespace === undefined) return undefined;
  const address = publicAddressOf(service);
  // 443 when the LoadBalancer terminates HTTPS, so the platform reaches it without a plain-HTTP hop.
  const endpointPort = pickPort(service, HTTPS_PORT_PREFERENCE) === undefined ? 80 : 443;
  const host = address !== undefined && isIP(address) === 6 ? `[${address}]` : address;
  return {
    name,
    namespace,
    port,
    type: controllerTypeOf(service),
    routingMode: address === undefined ? RoutingMode.tunnel : RoutingMode.direct,
    publicEndpoint: host === undefined ? undefined : `${host}:${endpointPort}`,
  };
}

/**
 * The ingress controller, or undefined when the cluster has none the agent recognises. Rejects when a read
 * the answer depends on failed, so the caller can keep what it knew instead of flipping to "none".
 */
export async function detectIngressController(reader: ServiceReader): Promise<IngressController | undefined> {
  // In parallel, so detection costs one read's latency; the order is applied to the answers.
  const answers = await Promise.allSettled(CONTROLLER_CANDIDATES.map((candidate) => reader.read(candidate.namespace, candidate.name)));
  for (const answer of answers) {
    if (answer.status === 'rejected') throw answer.reason;
    const controller = answer.value === undefined ? undefined : controllerOf(answer.value);
    if (controller !== undefined) return controller;
  }
  for (const selector of CONTROLLER_LABEL_SELECTORS) {
    for (const service of await reader.list(selector)) {
      const controller = controllerOf(service);
      if (controller !== undefined) return controller;
    }
  }
  return undefined;
}

/** Whether two detections advertise the same target the same way (a change means every route changes). */
export function isSameController(a: IngressController | undefined, b: IngressController | undefined): boolean {
  return (
    a?.name === b?.name &&
    a?.namespace === b?.namespace &&
    a?.port === b?.port &&
    a?.type === b?.type &&
    a?.routingMode === b?.routingMode &&
    a?.publicEndpoint === b?.publicEndpoint
  );
}
