// From Gateway API objects to tunnels: which listeners of which PipeOps-managed Gateways carry which
// TCPRoute/UDPRoute backends. Pure; the watch hands in whatever its caches hold.
//
//   Gateway (managed) ── listener {name, protocol TCP|UDP, port, allowedRoutes}
//        ▲ parentRefs {name, namespace?, sectionName?, port?}
//   TCPRoute / UDPRoute ── rules[].backendRefs {name, namespace?, port}  ─► one tunnel per (listener, backend)
//
// Rules kept from the Gateway API: a parentRef names a Gateway (kind Gateway, group
// gateway.networking.k8s.io, both defaulted), its namespace defaults to the route's; `sectionName` picks
// the listener by name and `port` by port, neither means every listener of the route's protocol; a
// listener accepts routes from its own namespace unless `allowedRoutes.namespaces.from` is `All` (a
// `Selector` is accepted too: the agent does not read Namespace labels); a backendRef is a Service
// (group "" and kind Service, both defaulted) with a port; its namespace defaults to the route's.

import { isDnsLabel, isPort, isRoutingMode, tunnelIdOf, TunnelProtocol, TunnelRoutingMode, TunnelSource, type TunnelEntry } from './tunnel-entry.js';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** Same managed rule as for Ingresses (CLUSTER.md §4). */
export const MANAGED_LABEL = 'pipeops.io/managed';
export const MANAGED_BY_ANNOTATION = 'pipeops.io/managed-by';
/** A Gateway may ask for `direct` or `dual` routing of all its tunnels; default `tunnel`. */
export const ROUTING_MODE_ANNOTATION = 'pipeops.io/routing-mode';

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface GatewayObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly listeners?: readonly {
      readonly name?: string;
      readonly protocol?: string;
      readonly port?: number;
      readonly allowedRoutes?: { readonly namespaces?: { readonly from?: string } };
    }[];
  };
}

export interface RouteObject {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly parentRefs?: readonly {
      readonly group?: string;
      readonly kind?: string;
      readonly name?: string;
      readonly namespace?: string;
      readonly sectionName?: string;
      readonly port?: number;
    }[];
    readonly rules?: readonly {
      readonly backendRefs?: readonly { readonly group?: string; readonly kind?: string; readonly name?: string; readonly namespace?: string; readonly port?: number }[];
    }[];
  };
}

export function isManagedGateway(gateway: GatewayObject): boolean {
  return gateway.metadata?.labels?.[MANAGED_LABEL] === 'true' || gateway.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === 'pipeops';
}

function routingModeOf(gateway: GatewayObject): TunnelRoutingMode {
  const requested = gateway.metadata?.annotations?.[ROUTING_MODE_ANNOTATION];
  return isRoutingMode(requested) ? requested : TunnelRoutingMode.tunnel;
}

function objectKey(meta: ObjectMeta | undefined): string {
  return `${meta?.namespace ?? ''}/${meta?.name ?? ''}`;
}

/** Every tunnel the objects describe, ordered by tunnel id; one claimed twice (same listener and Service) keeps the first route's port. */
export function tunnelsOfGatewayApi(gateways: readonly GatewayObject[], tcpRoutes: readonly RouteObject[], udpRoutes: readonly RouteObject[]): TunnelEntry[] {
  const managed = new Map<string, GatewayObject>();
  for (const gateway of gateways) if (isManagedGateway(gateway)) managed.set(objectKey(gateway.metadata), gateway);
  const byId = new Map<string, TunnelEntry>();
  const routes = [
    ...[...tcpRoutes].sort((a, b) => objectKey(a.metadata).localeCompare(objectKey(b.metadata))).map((route) => ({ route, protocol: TunnelProtocol.tcp })),
    ...[...udpRoutes].sort((a, b) => objectKey(a.metadata).localeCompare(objectKey(b.metadata))).map((route) => ({ route, protocol: TunnelProtocol.udp })),
  ];
  for (const { route, protocol } of routes) {
    const routeNamespace = route.metadata?.namespace ?? 'default';
    for (const parent of route.spec?.parentRefs ?? []) {
      if ((parent.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (parent.kind ?? 'Gateway') !== 'Gateway' || parent.name === undefined) continue;
      const gatewayNamespace = parent.namespace ?? routeNamespace;
      const gateway = managed.get(`${gatewayNamespace}/${parent.name}`);
      if (gateway === undefined) continue;
      for (const listener of gateway.spec?.listeners ?? []) {
        if ((listener.protocol ?? '').toLowerCase() !== protocol || !isPort(listener.port)) continue;
        if (parent.sectionName !== undefined && listener.name !== parent.sectionName) continue;
        if (parent.port !== undefined && listener.port !== parent.port) continue;
        const from = listener.allowedRoutes?.namespaces?.from ?? 'Same';
        if (from === 'Same' && routeNamespace !== gatewayNamespace) continue;
        for (const rule of route.spec?.rules ?? []) {
          for (const backend of rule.backendRefs ?? []) {
            if ((backend.group ?? '') !== '' || (backend.kind ?? 'Service') !== 'Service') continue;
            const serviceNamespace = backend.namespace ?? routeNamespace;
            if (!isDnsLabel(backend.name) || !isDnsLabel(serviceNamespace) || !isPort(backend.port)) continue;
            const parts = { protocol, gatewayNamespace, gatewayName: parent.name, gatewayPort: listener.port, serviceNamespace, serviceName: backend.name };
            const tunnelId = tunnelIdOf(parts);
            if (byId.has(tunnelId)) continue;
            byId.set(tunnelId, { ...parts, tunnelId, servicePort: backend.port, routingMode: routingModeOf(gateway), source: TunnelSource.gatewayApi });
          }
        }
      }
    }
  }
  return [...byId.values()].sort((a, b) => a.tunnelId.localeCompare(b.tunnelId));
}
