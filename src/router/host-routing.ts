// §9.5 steps 1 and 4 on the main thread, where the ingress route cache lives: a proxy_request without a
// service goes to the ingress controller (or the route's backend) by its Host, and a non-Kubernetes path
// without any service field goes to the controller. The actor gets the answer in its task, so workers
// never see the cache. Costs nothing when the gateway proxy is off or the request names its service.
//
//   service_name set, or no cache ─────────────────────────────► undefined (steps 2, 3, 5 as before)
//   Host (else X-Forwarded-Host) matches a route, exact then without :port ─► controller, else the route's backend
//   no service field, not a WebSocket, not a K8s API path, controller known ─► controller

import type { IngressRouteLookup } from '../cluster/ingress/route-cache.js';
import type { RoutedService } from '../messages/actor-messages.js';
import type { RequestTraits } from '../protocol/envelope-peek.js';

export function resolveHostRoute(traits: RequestTraits | undefined, routes: IngressRouteLookup | undefined): RoutedService | undefined {
  if (routes === undefined || traits === undefined || traits.hasServiceName) return undefined;
  if (traits.routingHost !== undefined) {
    const target = routes.target(traits.routingHost);
    if (target !== undefined) return { name: target.serviceName, namespace: target.namespace, port: target.servicePort };
  }
  // Step 4 comes after step 2: a WebSocket upgrade without service fields is a kubectl session or refused.
  const controller = routes.controller;
  if (controller === undefined || traits.hasAnyServiceField || traits.isWebSocket || traits.isKubeApiPath) return undefined;
  return { name: controller.name, namespace: controller.namespace, port: controller.port };
}
