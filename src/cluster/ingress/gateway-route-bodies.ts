// The bodies of the ingress route calls (PROTOCOL.md §17.2), built from extracted routes and the detected
// controller. Pure. The advertised target is the ingress controller when one is known (the platform then
// sends every host through it), else the route's own backend Service.

import { RoutingMode, type IngressController } from './controller.js';
import type { IngressRoute } from './routes.js';

export interface RegisterRouteBody {
  readonly hostname: string;
  readonly cluster_uuid: string;
  readonly namespace: string;
  readonly service_name: string;
  readonly service_port: number;
  readonly ingress_name: string;
  readonly path: string;
  readonly path_type: string;
  readonly tls: boolean;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly public_endpoint?: string;
  readonly routing_mode: RoutingMode;
  readonly deployment_id?: string;
  readonly deployment_name?: string;
}

export interface SyncPath {
  readonly path: string;
  readonly path_type: string;
  readonly service_name: string;
  readonly service_port: number;
}

export interface SyncRule {
  readonly host: string;
  readonly tls: boolean;
  readonly paths: SyncPath[];
}

export interface SyncIngress {
  readonly namespace: string;
  readonly ingress_name: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly rules: SyncRule[];
}

export interface SyncRoutesBody {
  readonly cluster_uuid: string;
  readonly public_endpoint?: string;
  readonly routing_mode: RoutingMode;
  readonly ingress_controller?: { readonly name: string; readonly namespace: string; readonly port: number; readonly type: string };
  readonly ingresses: SyncIngress[];
}

export interface RouteTarget {
  readonly namespace: string;
  readonly serviceName: string;
  readonly servicePort: number;
}

/** Where traffic for a route goes: the controller when known (§9.5 routes by it too), else the backend. */
export function routeTargetOf(route: IngressRoute, controller: IngressController | undefined): RouteTarget {
  if (controller !== undefined) return { namespace: controller.namespace, serviceName: controller.name, servicePort: controller.port };
  return { namespace: route.namespace, serviceName: route.serviceName, servicePort: route.servicePort };
}

function hasEntries(record: Readonly<Record<string, string>>): boolean {
  return Object.keys(record).length > 0;
}

/** Without a public LoadBalancer the platform can only reach the cluster through the agent. */
function routingOf(controller: IngressController | undefined): { routing_mode: RoutingMode; public_endpoint?: string } {
  const endpoint = controller?.publicEndpoint;
  if (controller?.routingMode === RoutingMode.direct && endpoint !== undefined) return { routing_mode: RoutingMode.direct, public_endpoint: endpoint };
  return { routing_mode: RoutingMode.tunnel };
}

export function registerBodyOf(route: IngressRoute, controller: IngressController | undefined, clusterUuid: string): RegisterRouteBody {
  const target = routeTargetOf(route, controller);
  const routing = routingOf(controller);
  return {
    hostname: route.host,
    cluster_uuid: clusterUuid,
    namespace: target.namespace,
    service_name: target.serviceName,
    service_port: target.servicePort,
    ingress_name: route.ingressName,
    path: route.path,
    path_type: route.pathType,
    tls: route.isTls,
    ...(hasEntries(route.annotations) ? { annotations: route.annotations } : {}),
    ...(routing.public_endpoint === undefined ? {} : { public_endpoint: routing.public_endpoint }),
    routing_mode: routing.routing_mode,
    ...(route.deploymentId === undefined ? {} : { deployment_id: route.deploymentId }),
    ...(route.deploymentName === undefined ? {} : { deployment_name: route.deploymentName }),
  };
}

/**
 * The full picture: every route grouped by Ingress (in the order given), then by host (in order of first
 * appearance). An empty list is a valid body: it tells the platform the cluster serves nothing.
 */
export function syncBodyOf(routes: readonly IngressRoute[], controller: IngressController | undefined, clusterUuid: string): SyncRoutesBody {
  const ingresses = new Map<string, { ingress: SyncIngress; rules: Map<string, SyncRule> }>();
  for (const route of routes) {
    const key = `${route.namespace}/${route.ingressName}`;
    let entry = ingresses.get(key);
    if (entry === undefined) {
      const ingress: SyncIngress = {
        namespace: route.namespace,
        ingress_name: route.ingressName,
        ...(hasEntries(route.annotations) ? { annotations: route.annotations } : {}),
        rules: [],
      };
      entry = { ingress, rules: new Map() };
      ingresses.set(key, entry);
    }
    let rule = entry.rules.get(route.host);
    if (rule === undefined) {
      rule = { host: route.host, tls: route.isTls, paths: [] };
      entry.rules.set(route.host, rule);
      entry.ingress.rules.push(rule);
    }
    const target = routeTargetOf(route, controller);
    rule.paths.push({ path: route.path, path_type: route.pathType, service_name: target.serviceName, service_port: target.servicePort });
  }
  const routing = routingOf(controller);
  return {
    cluster_uuid: clusterUuid,
    ...(routing.public_endpoint === undefined ? {} : { public_endpoint: routing.public_endpoint }),
    routing_mode: routing.routing_mode,
    ...(controller === undefined
      ? {}
      : { ingress_controller: { name: controller.name, namespace: controller.namespace, port: controller.port, type: controller.type } }),
    ingresses: [...ingresses.values()].map((entry) => entry.ingress),
  };
}
