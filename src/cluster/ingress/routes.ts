// Which Ingresses the gateway proxy advertises and the routes it reads out of them (CLUSTER.md §4). Pure:
// the Services a route needs are looked up by the caller and handed in, so every rule here is a table test.
// Never decides where traffic goes (that is the controller's job) and never writes to the cluster.

import type { V1Ingress, V1Service, V1ServiceBackendPort } from '@kubernetes/client-node';

export const MANAGED_LABEL = 'pipeops.io/managed';
export const MANAGED_BY_ANNOTATION = 'pipeops.io/managed-by';
export const DEPLOYMENT_ID_ANNOTATION = 'pipeops.io/deployment-id';
export const DEPLOYMENT_NAME_ANNOTATION = 'pipeops.io/deployment-name';
/** kubectl's copy of the whole object: large, and it repeats the spec the routes already carry. */
const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** Namespaces whose Services are never exposed, whatever an Ingress there says. */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];
const DEFAULT_PATH_TYPE = 'Prefix';

/** One host + path of a managed Ingress and the Service behind it. */
export interface IngressRoute {
  readonly host: string;
  readonly path: string;
  readonly pathType: string;
  /** The Ingress's namespace, which is also its backend Service's. */
  readonly namespace: string;
  readonly ingressName: string;
  readonly serviceName: string;
  readonly servicePort: number;
  /** The Ingress has at least one `tls` entry. */
  readonly isTls: boolean;
  readonly annotations: Readonly<Record<string, string>>;
  readonly deploymentId: string | undefined;
  readonly deploymentName: string | undefined;
}

export const SkipReason = {
  noHost: 'no-host',
  noServiceBackend: 'no-service-backend',
  systemNamespace: 'system-namespace',
  kubernetesApi: 'kubernetes-api',
  serviceMissing: 'service-missing',
  loadBalancerService: 'load-balancer-service',
  externalNameService: 'external-name-service',
  portUnresolved: 'port-unresolved',
  duplicate: 'duplicate',
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

export interface SkippedPath {
  readonly host: string;
  readonly path: string;
  readonly serviceName: string | undefined;
  readonly reason: SkipReason;
}

export interface ExtractedRoutes {
  readonly routes: readonly IngressRoute[];
  readonly skipped: readonly SkippedPath[];
}

/** Existing Services by `namespace/name`; a key that is absent means the Service does not exist. */
export type ServiceIndex = ReadonlyMap<string, V1Service>;

export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** `namespace/name` of an Ingress: the identity its routes are remembered by, also after deletion. */
export function ingressKey(ingress: V1Ingress): string {
  return serviceKey(ingress.metadata?.namespace ?? '', ingress.metadata?.name ?? '');
}

/** Label `pipeops.io/managed=true` or annotation `pipeops.io/managed-by=pipeops`; nothing else counts. */
export function isManagedIngress(ingress: V1Ingress): boolean {
  return ingress.metadata?.labels?.[MANAGED_LABEL] === 'true' || ingress.metadata?.annotations?.[MANAGED_BY_ANNOTATION] === 'pipeops';
}

/** A backend the namespace rules alone rule out, before any Service is read. */
function namespaceSkip(namespace: string, serviceName: string): SkipReason | undefined {
  if (SYSTEM_NAMESPACES.includes(namespace)) return SkipReason.systemNamespace;
  // The API server's own Service: exposing it would publish the cluster's control plane.
  if (namespace === 'default' && serviceName === 'kubernetes') return SkipReason.kubernetesApi;
  return undefined;
}

/** The Services extraction must see, so the caller can read exactly those (and no system ones). */
export function backendServiceKeys(ingress: V1Ingress): string[] {
  const namespace = ingress.metadata?.namespace ?? '';
  const keys = new Set<string>();
  for (const rule of ingress.spec?.rules ?? []) {
    for (const path of rule.http?.paths ?? []) {
      const name = path.backend?.service?.name;
      if (name === undefined || name === '' || namespaceSkip(namespace, name) !== undefined) continue;
      keys.add(serviceKey(namespace, name));
    }
  }
  return [...keys];
}

function advertisedAnnotations(ingress: V1Ingress): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(ingress.metadata?.annotations ?? {})) {
    if (key !== LAST_APPLIED_ANNOTATION) annotations[key] = value;
  }
  return annotations;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Why a Service may not be advertised: LoadBalancers are public already, ExternalName would proxy off-cluster. */
function serviceSkip(service: V1Service): SkipReason | undefined {
  if (service.spec?.type === 'LoadBalancer') return SkipReason.loadBalancerService;
  if (service.spec?.type === 'ExternalName') return SkipReason.externalNameService;
  return undefined;
}

function resolvePort(service: V1Service, port: V1ServiceBackendPort | undefined): number | undefined {
  if (port?.number !== undefined && port.number > 0) return port.number;
  const name = nonEmpty(port?.name);
  if (name === undefined) return undefined;
  const named = service.spec?.ports?.find((candidate) => candidate.name === name)?.port;
  return named !== undefined && named > 0 ? named : undefined;
}

/**
 * One route per rule host + path with a Service backend, in the order the Ingress lists them; a host + path
 * seen twice keeps its first backend. Path type defaults to Prefix, an empty path means `/`.
 */
export function extractRoutes(ingress: V1Ingress, services: ServiceIndex): ExtractedRoutes {
  const namespace = ingress.metadata?.namespace ?? '';
  const ingressName = ingress.metadata?.name ?? '';
  const isTls = (ingress.spec?.tls ?? []).length > 0;
  const annotations = advertisedAnnotations(ingress);
  const deploymentId = nonEmpty(ingress.metadata?.annotations?.[DEPLOYMENT_ID_ANNOTATION]);
  const deploymentName = nonEmpty(ingress.metadata?.annotations?.[DEPLOYMENT_NAME_ANNOTATION]);
  const routes: IngressRoute[] = [];
  const skipped: SkippedPath[] = [];
  const seen = new Set<string>();
  for (const rule of ingress.spec?.rules ?? []) {
    const host = rule.host ?? '';
    for (const entry of rule.http?.paths ?? []) {
      const path = nonEmpty(entry.path) ?? '/';
      // Objects from the watch are raw JSON: a malformed one may lack what the types promise.
      const backend = entry.backend?.service;
      const serviceName = nonEmpty(backend?.name);
      const skip = (reason: SkipReason): void => {
        skipped.push({ host, path, serviceName, reason });
      };
      // A rule without a host matches every host: there is no name the platform could route by.
      if (host === '') {
        skip(SkipReason.noHost);
        continue;
      }
      if (serviceName === undefined) {
        skip(SkipReason.noServiceBackend);
        continue;
      }
      const ruledOut = namespaceSkip(namespace, serviceName);
      if (ruledOut !== undefined) {
        skip(ruledOut);
        continue;
      }
      const service = services.get(serviceKey(namespace, serviceName));
      if (service === undefined) {
        skip(SkipReason.serviceMissing);
        continue;
      }
      const typeSkip = serviceSkip(service);
      if (typeSkip !== undefined) {
        skip(typeSkip);
        continue;
      }
      const servicePort = resolvePort(service, backend?.port);
      if (servicePort === undefined) {
        skip(SkipReason.portUnresolved);
        continue;
      }
      const routeId = `${host}\n${path}`;
      if (seen.has(routeId)) {
        skip(SkipReason.duplicate);
        continue;
      }
      seen.add(routeId);
      routes.push({
        host,
        path,
        pathType: nonEmpty(entry.pathType) ?? DEFAULT_PATH_TYPE,
        namespace,
        ingressName,
        serviceName,
        servicePort,
        isTls,
        annotations,
        deploymentId,
        deploymentName,
      });
    }
  }
  return { routes, skipped };
}
