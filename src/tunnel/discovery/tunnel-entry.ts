// One TCP/UDP tunnel as the agent advertises it to the platform's tunnel registry (PROTOCOL.md §17.3):
// a Gateway listener (or a config-declared equivalent) and the in-cluster Service behind it. Pure: the id
// rule, the registry body and the validation of config-declared tunnels.
//
// Tunnel id rule (stable across restarts and agents): `tun-` + the first 20 hex characters of
// sha256("<protocol>|<gateway_namespace>|<gateway_name>|<gateway_port>|<service_namespace>|<service_name>").
// The Service port is left out on purpose: a backend moving to another port is the same tunnel, changed
// (one register call), not a delete and a new tunnel. A config entry may set its own `id` instead.

import { createHash } from 'node:crypto';

export const TunnelProtocol = { tcp: 'tcp', udp: 'udp' } as const;
export type TunnelProtocol = (typeof TunnelProtocol)[keyof typeof TunnelProtocol];

export const TunnelRoutingMode = { direct: 'direct', tunnel: 'tunnel', dual: 'dual' } as const;
export type TunnelRoutingMode = (typeof TunnelRoutingMode)[keyof typeof TunnelRoutingMode];

/** Where a tunnel came from: a Gateway API listener or the `tunnel.tunnels` list of the config file. */
export const TunnelSource = { gatewayApi: 'gateway-api', config: 'config' } as const;
export type TunnelSource = (typeof TunnelSource)[keyof typeof TunnelSource];

export interface TunnelEntry {
  readonly tunnelId: string;
  readonly protocol: TunnelProtocol;
  readonly gatewayName: string;
  readonly gatewayNamespace: string;
  readonly gatewayPort: number;
  readonly serviceName: string;
  readonly serviceNamespace: string;
  readonly servicePort: number;
  readonly routingMode: TunnelRoutingMode;
  readonly source: TunnelSource;
}

/** The §17.3 registration body. */
export interface TunnelRegistrationBody {
  readonly cluster_uuid: string;
  readonly protocol: TunnelProtocol;
  readonly tunnel_id: string;
  readonly gateway_name: string;
  readonly gateway_namespace: string;
  readonly gateway_port: number;
  readonly service_name: string;
  readonly service_namespace: string;
  readonly service_port: number;
  readonly routing_mode: TunnelRoutingMode;
  readonly labels: Readonly<Record<string, string>>;
}

export const TUNNEL_SOURCE_LABEL = 'pipeops.io/tunnel-source';
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const TUNNEL_ID = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;

export function tunnelIdOf(parts: {
  readonly protocol: TunnelProtocol;
  readonly gatewayNamespace: string;
  readonly gatewayName: string;
  readonly gatewayPort: number;
  readonly serviceNamespace: string;
  readonly serviceName: string;
}): string {
  const key = [parts.protocol, parts.gatewayNamespace, parts.gatewayName, parts.gatewayPort, parts.serviceNamespace, parts.serviceName].join('|');
  return `tun-${createHash('sha256').update(key).digest('hex').slice(0, 20)}`;
}

export function registrationBodyOf(entry: TunnelEntry, clusterUuid: string): TunnelRegistrationBody {
  return {
    cluster_uuid: clusterUuid,
    protocol: entry.protocol,
    tunnel_id: entry.tunnelId,
    gateway_name: entry.gatewayName,
    gateway_namespace: entry.gatewayNamespace,
    gateway_port: entry.gatewayPort,
    service_name: entry.serviceName,
    service_namespace: entry.serviceNamespace,
    service_port: entry.servicePort,
    routing_mode: entry.routingMode,
    labels: { [TUNNEL_SOURCE_LABEL]: entry.source },
  };
}

export function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65_535;
}

export function isDnsLabel(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 63 && DNS_LABEL.test(value);
}

export function isDnsSubdomain(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 253 && DNS_SUBDOMAIN.test(value);
}

export function isRoutingMode(value: unknown): value is TunnelRoutingMode {
  return Object.values(TunnelRoutingMode).some((mode) => mode === value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** YAML numbers, or decimal strings from the JSON of an env var. */
function portOf(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  return isPort(n) ? n : undefined;
}

const CONFIG_TUNNEL_KEYS = new Set([
  'id', 'protocol', 'gateway_name', 'gateway_namespace', 'gateway_port', 'service_name', 'service_namespace', 'service_port', 'routing_mode',
]);

/** Defaults of a config entry without a Gateway: the tunnel is named after the Service. */
export const CONFIG_GATEWAY_NAMESPACE_DEFAULT = 'default';

/**
 * Reads the `tunnel.tunnels` list: each entry needs `protocol`, `service_name`, `service_port` and
 * `gateway_port`; `service_namespace` and `gateway_namespace` default to `default`, `gateway_name` to the
 * service name, `routing_mode` to `tunnel`, `id` to the id rule. Problems name the entry by index only.
 */
export function parseConfigTunnels(raw: unknown): { readonly ok: true; readonly value: readonly TunnelEntry[] } | { readonly ok: false; readonly problem: string } {
  let list: unknown = raw;
  if (typeof raw === 'string') {
    if (raw.trim() === '') return { ok: true, value: [] };
    try {
      list = JSON.parse(raw);
    } catch {
      return { ok: false, problem: 'must be a list of tunnels (YAML, or JSON in the env var)' };
    }
  }
  if (!Array.isArray(list)) return { ok: false, problem: 'must be a list of tunnels (YAML, or JSON in the env var)' };
  const entries: TunnelEntry[] = [];
  const ids = new Set<string>();
  for (const [index, item] of list.entries()) {
    const where = `entry ${index}`;
    if (!isRecord(item)) return { ok: false, problem: `${where} must be a mapping` };
    const unknown = Object.keys(item).find((key) => !CONFIG_TUNNEL_KEYS.has(key));
    if (unknown !== undefined) return { ok: false, problem: `${where}: unknown key ${unknown}` };
    const protocol = typeof item['protocol'] === 'string' ? item['protocol'].toLowerCase() : undefined;
    if (protocol !== TunnelProtocol.tcp && protocol !== TunnelProtocol.udp) return { ok: false, problem: `${where}: protocol must be tcp or udp` };
    const serviceName = item['service_name'];
    if (!isDnsLabel(serviceName)) return { ok: false, problem: `${where}: service_name must be a DNS-1123 label` };
    const serviceNamespace = item['service_namespace'] ?? CONFIG_GATEWAY_NAMESPACE_DEFAULT;
    if (!isDnsLabel(serviceNamespace)) return { ok: false, problem: `${where}: service_namespace must be a DNS-1123 label` };
    const servicePort = portOf(item['service_port']);
    if (servicePort === undefined) return { ok: false, problem: `${where}: service_port must be an integer from 1 to 65535` };
    const gatewayPort = portOf(item['gateway_port']);
    if (gatewayPort === undefined) return { ok: false, problem: `${where}: gateway_port must be an integer from 1 to 65535` };
    const gatewayName = item['gateway_name'] ?? serviceName;
    if (!isDnsSubdomain(gatewayName)) return { ok: false, problem: `${where}: gateway_name must be a DNS-1123 subdomain` };
    const gatewayNamespace = item['gateway_namespace'] ?? CONFIG_GATEWAY_NAMESPACE_DEFAULT;
    if (!isDnsLabel(gatewayNamespace)) return { ok: false, problem: `${where}: gateway_namespace must be a DNS-1123 label` };
    const routingMode = item['routing_mode'] ?? TunnelRoutingMode.tunnel;
    if (!isRoutingMode(routingMode)) return { ok: false, problem: `${where}: routing_mode must be direct, tunnel or dual` };
    const explicitId = item['id'];
    if (explicitId !== undefined && (typeof explicitId !== 'string' || !TUNNEL_ID.test(explicitId))) {
      return { ok: false, problem: `${where}: id must be 1-128 letters, digits, '.', '_' or '-'` };
    }
    const tunnelId = explicitId ?? tunnelIdOf({ protocol, gatewayNamespace, gatewayName, gatewayPort, serviceNamespace, serviceName });
    if (ids.has(tunnelId)) return { ok: false, problem: `${where}: declares the same tunnel as an earlier entry` };
    ids.add(tunnelId);
    entries.push({
      tunnelId, protocol, gatewayName, gatewayNamespace, gatewayPort, serviceName, serviceNamespace, servicePort, routingMode, source: TunnelSource.config,
    });
  }
  return { ok: true, value: entries };
}
