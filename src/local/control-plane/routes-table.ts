// The local control plane's record of ingress routes (PROTOCOL.md §17.2): per cluster, what the agents
// registered and synced, plus a bounded log of the calls. Validates bodies; owns no sockets.

import { isJsonObject, type JsonObject } from '../../protocol/envelope.js';

export const RouteCallKind = { register: 'register', unregister: 'unregister', sync: 'sync' } as const;
export type RouteCallKind = (typeof RouteCallKind)[keyof typeof RouteCallKind];

export interface StoredRoute {
  readonly hostname: string;
  readonly namespace: string;
  readonly service_name: string;
  readonly service_port: number;
  readonly ingress_name: string;
  readonly path: string;
  readonly path_type: string;
  readonly tls: boolean;
  readonly routing_mode: string;
  readonly public_endpoint?: string;
  readonly deployment_id?: string;
  readonly deployment_name?: string;
  /** The call that last set it. */
  readonly source: 'register' | 'sync';
}

export interface ClusterRoutes {
  readonly cluster_uuid: string;
  /** The registered cluster's name, when the uuid is one this control plane handed out. */
  readonly cluster_name?: string;
  readonly routing_mode?: string;
  readonly public_endpoint?: string;
  readonly ingress_controller?: JsonObject;
  /** RFC 3339 time of the last full sync. */
  readonly synced_at?: string;
  readonly routes: StoredRoute[];
}

export interface RouteCall {
  readonly kind: RouteCallKind;
  /** What the control plane answered. */
  readonly status: number;
  /** The parsed JSON body ({} when it was not JSON). */
  readonly body: JsonObject;
  readonly atMs: number;
}

/** A body the table refuses, with the reason the 400 answer carries. */
export class RouteBodyError extends Error {}

const MAX_CALLS_KEPT = 1000;

function isAbsent(value: unknown): value is undefined | null {
  return value === undefined || value === null;
}

function optionalText(body: JsonObject, key: string): string | undefined {
  const value = body[key];
  if (isAbsent(value)) return undefined;
  if (typeof value !== 'string' || value === '') throw new RouteBodyError(`${key} must be a non-empty string`);
  return value;
}

function text(body: JsonObject, key: string): string {
  const value = optionalText(body, key);
  if (value === undefined) throw new RouteBodyError(`${key} is required`);
  return value;
}

function integer(body: JsonObject, key: string): number {
  const value = body[key];
  if (isAbsent(value)) throw new RouteBodyError(`${key} is required`);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new RouteBodyError(`${key} must be an integer`);
  return value;
}

/** An optional boolean, false when absent. */
function flag(body: JsonObject, key: string): boolean {
  const value = body[key];
  if (isAbsent(value)) return false;
  if (typeof value !== 'boolean') throw new RouteBodyError(`${key} must be a boolean`);
  return value;
}

function objects(body: JsonObject, key: string): JsonObject[] {
  const value = body[key] ?? [];
  if (!Array.isArray(value) || !value.every(isJsonObject)) throw new RouteBodyError(`${key} must be an array of objects`);
  return value;
}

function routingMode(body: JsonObject): string {
  const mode = optionalText(body, 'routing_mode') ?? 'tunnel';
  if (mode !== 'direct' && mode !== 'tunnel') throw new RouteBodyError(`routing_mode must be direct or tunnel (got "${mode}")`);
  return mode;
}

function optionalFields(publicEndpoint: string | undefined, deploymentId?: string, deploymentName?: string): Partial<StoredRoute> {
  return {
    ...(publicEndpoint === undefined ? {} : { public_endpoint: publicEndpoint }),
    ...(deploymentId === undefined ? {} : { deployment_id: deploymentId }),
    ...(deploymentName === undefined ? {} : { deployment_name: deploymentName }),
  };
}

interface ClusterEntry {
  meta: Omit<ClusterRoutes, 'cluster_uuid' | 'cluster_name' | 'routes'>;
  /** By `hostname\npath`. */
  routes: Map<string, StoredRoute>;
}

export class RoutesTable {
  readonly #clusters = new Map<string, ClusterEntry>();
  readonly #calls: RouteCall[] = [];

  record(call: RouteCall): void {
    this.#calls.push(call);
    if (this.#calls.length > MAX_CALLS_KEPT) this.#calls.shift();
  }

  get calls(): readonly RouteCall[] {
    return [...this.#calls];
  }

  #entry(clusterUuid: string): ClusterEntry {
    let entry = this.#clusters.get(clusterUuid);
    if (entry === undefined) {
      entry = { meta: {}, routes: new Map() };
      this.#clusters.set(clusterUuid, entry);
    }
    return entry;
  }

  /** One host + path; a hostname belongs to one cluster, so another cluster's claim on it ends. */
  register(body: JsonObject): void {
    const clusterUuid = text(body, 'cluster_uuid');
    const route: StoredRoute = {
      hostname: text(body, 'hostname'),
      namespace: text(body, 'namespace'),
      service_name: text(body, 'service_name'),
      service_port: integer(body, 'service_port'),
      ingress_name: text(body, 'ingress_name'),
      path: optionalText(body, 'path') ?? '/',
      path_type: optionalText(body, 'path_type') ?? 'Prefix',
      tls: flag(body, 'tls'),
      routing_mode: routingMode(body),
      ...optionalFields(optionalText(body, 'public_endpoint'), optionalText(body, 'deployment_id'), optionalText(body, 'deployment_name')),
      source: 'register',
    };
    for (const [uuid, entry] of this.#clusters) {
      if (uuid === clusterUuid) continue;
      for (const [id, stored] of entry.routes) if (stored.hostname === route.hostname) entry.routes.delete(id);
    }
    this.#entry(clusterUuid).routes.set(`${route.hostname}\n${route.path}`, route);
  }

  /** Every path of the hostname, whichever cluster had it; returns how many routes went. */
  unregister(body: JsonObject): number {
    const hostname = text(body, 'hostname');
    let removed = 0;
    for (const entry of this.#clusters.values()) {
      for (const [id, stored] of entry.routes) {
        if (stored.hostname !== hostname) continue;
        entry.routes.delete(id);
        removed++;
      }
    }
    return removed;
  }

  /** Replaces the cluster's routes with the body's (an empty list clears them). */
  sync(body: JsonObject, nowMs: number): number {
    const clusterUuid = text(body, 'cluster_uuid');
    const mode = routingMode(body);
    const publicEndpoint = optionalText(body, 'public_endpoint');
    const controller = body['ingress_controller'];
    if (controller !== undefined && !isJsonObject(controller)) throw new RouteBodyError('ingress_controller must be an object');
    const routes = new Map<string, StoredRoute>();
    for (const ingress of objects(body, 'ingresses')) {
      const namespace = text(ingress, 'namespace');
      const ingressName = text(ingress, 'ingress_name');
      for (const rule of objects(ingress, 'rules')) {
        const hostname = text(rule, 'host');
        const tls = flag(rule, 'tls');
        for (const path of objects(rule, 'paths')) {
          const route: StoredRoute = {
            hostname,
            // The sync names the controller once; its paths' services live in its namespace.
            namespace: controller === undefined ? namespace : (optionalText(controller, 'namespace') ?? namespace),
            service_name: text(path, 'service_name'),
            service_port: integer(path, 'service_port'),
            ingress_name: ingressName,
            path: optionalText(path, 'path') ?? '/',
            path_type: optionalText(path, 'path_type') ?? 'Prefix',
            tls,
            routing_mode: mode,
            ...optionalFields(publicEndpoint),
            source: 'sync',
          };
          routes.set(`${hostname}\n${route.path}`, route);
        }
      }
    }
    const entry = this.#entry(clusterUuid);
    entry.routes = routes;
    entry.meta = {
      routing_mode: mode,
      ...(publicEndpoint === undefined ? {} : { public_endpoint: publicEndpoint }),
      ...(controller === undefined ? {} : { ingress_controller: controller }),
      synced_at: new Date(nowMs).toISOString(),
    };
    return routes.size;
  }

  list(clusterName: (clusterUuid: string) => string | undefined): ClusterRoutes[] {
    return [...this.#clusters].map(([clusterUuid, entry]) => {
      const name = clusterName(clusterUuid);
      return {
        cluster_uuid: clusterUuid,
        ...(name === undefined ? {} : { cluster_name: name }),
        ...entry.meta,
        routes: [...entry.routes.values()],
      };
    });
  }
}
