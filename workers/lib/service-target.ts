// Validation and URL of a request routed to an in-cluster service (PROTOCOL.md §9.6).

import { readFileSync } from 'node:fs';
import type { RoutedService } from '../../src/messages/actor-messages.js';
import type { ProxyRequest, ServiceTarget } from './proxy-request.js';

const DNS_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

let clusterDomain: string | undefined;

/** The `svc.<domain>` search entry of the pod's resolver, else cluster.local. */
export function detectClusterDomain(resolvConf = '/etc/resolv.conf'): string {
  if (clusterDomain !== undefined) return clusterDomain;
  clusterDomain = DEFAULT_CLUSTER_DOMAIN;
  try {
    for (const line of readFileSync(resolvConf, 'utf8').split('\n')) {
      const [keyword, ...entries] = line.trim().split(/\s+/);
      if (keyword !== 'search') continue;
      const svc = entries.find((entry) => entry.startsWith('svc.') && entry.length > 4);
      if (svc !== undefined) clusterDomain = svc.slice(4).replace(/\.$/, '');
    }
  } catch {
    // no resolver configuration outside a pod: keep the default
  }
  return clusterDomain;
}

function isDnsName(value: string): boolean {
  return value.length >= 1 && value.length <= 253 && DNS_NAME.test(value);
}

/** The §9.16 error text for an invalid service call, or undefined when it is valid. */
export function serviceCallError(service: ServiceTarget, path: string, query: string): string | undefined {
  if (!isDnsName(service.name)) return `invalid service name: ${service.name}`;
  if (!isDnsName(service.namespace)) return `invalid namespace: ${service.namespace}`;
  if (!Number.isInteger(service.port) || service.port < 1 || service.port > 65_535) return `invalid service port: ${service.port}`;
  if (!path.startsWith('/') || path.includes('..') || path.includes('://')) return `invalid path: ${path}`;
  // eslint-disable-next-line no-control-regex
  if (/[#\s\u0000-\u001f\u007f]/.test(query) || /%(?![0-9A-Fa-f]{2})/.test(query)) return `invalid query string: ${query}`;
  return undefined;
}

export function serviceOrigin(service: ServiceTarget, domain: string): URL {
  return new URL(`${service.isHttps ? 'https' : 'http'}://${service.name}.${service.namespace}.svc.${domain}:${service.port}`);
}

/**
 * §9.5 steps 1 and 4: the service the router chose from the ingress route cache replaces the (absent or
 * partial) service fields; the Host header stays as sent, so the ingress controller routes by it. Plain
 * HTTP: the controller is reached on its HTTP port.
 */
export function withRoutedService(request: ProxyRequest, routed: RoutedService | undefined): ProxyRequest {
  if (routed === undefined || request.service !== undefined) return request;
  return { ...request, service: { name: routed.name, namespace: routed.namespace, port: routed.port, isHttps: false }, hasPartialService: false };
}
