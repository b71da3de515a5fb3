// The local control plane's tunnel registry (PROTOCOL.md §17.3), in memory, per cluster: what agents
// registered and synced, the calls that did it, and a change feed for whatever opens the gateway's local
// listeners. Validates each registration as the platform would and answers with `tunnel_port` and
// `tunnel_endpoint` (by default the gateway port on 127.0.0.1, or what setEndpointResolver says).

import { isJsonObject, type JsonObject } from '../../protocol/envelope.js';

export class TunnelBodyError extends Error {}

export interface RegisteredTunnel {
  readonly cluster_uuid: string;
  readonly protocol: 'tcp' | 'udp';
  readonly tunnel_id: string;
  readonly gateway_name: string;
  readonly gateway_namespace: string;
  readonly gateway_port: number;
  readonly service_name: string;
  readonly service_namespace: string;
  readonly service_port: number;
  readonly routing_mode: 'direct' | 'tunnel' | 'dual';
  readonly public_endpoint?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly tunnel_port: number;
  readonly tunnel_endpoint: string;
}

export const TunnelCallKind = { register: 'register', sync: 'sync', list: 'list', delete: 'delete' } as const;
export type TunnelCallKind = (typeof TunnelCallKind)[keyof typeof TunnelCallKind];

export interface TunnelCall {
  readonly kind: TunnelCallKind;
  readonly clusterUuid: string;
  readonly status: number;
  /** The tunnel a register or delete named; undefined for sync and list. */
  readonly tunnelId: string | undefined;
  readonly body: JsonObject | undefined;
  readonly atMs: number;
}

/** Where a tunnel is reached on the gateway; undefined keeps the default (its gateway port on 127.0.0.1). */
export type TunnelEndpointResolver = (clusterUuid: string, tunnel: Omit<RegisteredTunnel, 'tunnel_port' | 'tunnel_endpoint'>) => { readonly port: number; readonly endpoint: string } | undefined;

/** Told the full tunnel list of a cluster after every change (register, sync, delete), in tunnel id order. */
export type TunnelsChangedListener = (clusterUuid: string, tunnels: readonly RegisteredTunnel[]) => void;

const MAX_CALLS = 1000;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const TUNNEL_ID = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$/;

function text(body: JsonObject, key: string, pattern: RegExp, max: number): string {
  const value = body[key];
  if (typeof value !== 'string' || value.length > max || !pattern.test(value)) throw new TunnelBodyError(`${key} is missing or invalid`);
  return value;
}

function port(body: JsonObject, key: string): number {
  const value = body[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) throw new TunnelBodyError(`${key} must be an integer from 1 to 65535`);
  return value;
}

function stringMap(body: JsonObject, key: string): Readonly<Record<string, string>> | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value) || Object.values(value).some((item) => typeof item !== 'string')) throw new TunnelBodyError(`${key} must map strings to strings`);
  return value as Record<string, string>;
}

/** A registration body as the platform checks it; throws TunnelBodyError naming the first bad field. */
export function readRegistration(body: JsonObject, clusterUuid: string): Omit<RegisteredTunnel, 'tunnel_port' | 'tunnel_endpoint'> {
  const protocol = body['protocol'];
  if (protocol !== 'tcp' && protocol !== 'udp') throw new TunnelBodyError('protocol must be tcp or udp');
  const routingMode = body['routing_mode'] ?? 'tunnel';
  if (routingMode !== 'direct' && routingMode !== 'tunnel' && routingMode !== 'dual') throw new TunnelBodyError('routing_mode must be direct, tunnel or dual');
  if (body['cluster_uuid'] !== undefined && body['cluster_uuid'] !== clusterUuid) throw new TunnelBodyError('cluster_uuid does not match the path');
  const publicEndpoint = body['public_endpoint'];
  if (publicEndpoint !== undefined && typeof publicEndpoint !== 'string') throw new TunnelBodyError('public_endpoint must be a string');
  const labels = stringMap(body, 'labels');
  const annotations = stringMap(body, 'annotations');
  return {
    cluster_uuid: clusterUuid,
    protocol,
    tunnel_id: text(body, 'tunnel_id', TUNNEL_ID, 128),
    gateway_name: text(body, 'gateway_name', DNS_SUBDOMAIN, 253),
    gateway_namespace: text(body, 'gateway_namespace', DNS_LABEL, 63),
    gateway_port: port(body, 'gateway_port'),
    service_name: text(body, 'service_name', DNS_LABEL, 63),
    service_namespace: text(body, 'service_namespace', DNS_LABEL, 63),
    service_port: port(body, 'service_port'),
    routing_mode: routingMode,
    ...(publicEndpoint === undefined ? {} : { public_endpoint: publicEndpoint }),
    ...(labels === undefined ? {} : { labels }),
    ...(annotations === undefined ? {} : { annotations }),
  };
}

export class TunnelTable {
  readonly #byCluster = new Map<string, Map<string, RegisteredTunnel>>();
  readonly #calls: TunnelCall[] = [];
  readonly #listeners = new Set<TunnelsChangedListener>();
  #resolver: TunnelEndpointResolver | undefined;
  /** Endpoints the gateway reported (setEndpoint), kept across re-registrations of the same tunnel. */
  readonly #endpoints = new Map<string, { readonly port: number; readonly endpoint: string }>();
  /** What listeners were last told per cluster, so a sync that changes nothing tells nobody. */
  readonly #lastTold = new Map<string, string>();
  /** Tunnel ids a sync answers as rejected (tests of the agent's rejection handling). */
  readonly #refusedIds = new Map<string, string>();

  get calls(): readonly TunnelCall[] {
    return this.#calls;
  }

  record(call: TunnelCall): void {
    this.#calls.push(call);
    if (this.#calls.length > MAX_CALLS) this.#calls.splice(0, this.#calls.length - MAX_CALLS);
  }

  list(clusterUuid: string): RegisteredTunnel[] {
    return [...(this.#byCluster.get(clusterUuid)?.values() ?? [])].sort((a, b) => a.tunnel_id.localeCompare(b.tunnel_id));
  }

  clusters(): string[] {
    return [...this.#byCluster.keys()].filter((uuid) => (this.#byCluster.get(uuid)?.size ?? 0) > 0).sort();
  }

  onTunnelsChanged(listener: TunnelsChangedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  setEndpointResolver(resolver: TunnelEndpointResolver | undefined): void {
    this.#resolver = resolver;
  }

  /** Registrations of this id are refused (register 422, listed under `rejected` by a sync), with `reason`. */
  refuse(tunnelId: string, reason: string): void {
    this.#refusedIds.set(tunnelId, reason);
  }

  register(clusterUuid: string, body: JsonObject): RegisteredTunnel {
    const registration = readRegistration(body, clusterUuid);
    const refusal = this.#refusedIds.get(registration.tunnel_id);
    if (refusal !== undefined) throw new TunnelBodyError(refusal);
    const tunnel = this.#withEndpoint(clusterUuid, registration);
    this.#clusterMap(clusterUuid).set(tunnel.tunnel_id, tunnel);
    this.#changed(clusterUuid);
    return tunnel;
  }

  /** Replaces the cluster's tunnels with the valid entries; the others are answered as rejected. */
  sync(clusterUuid: string, body: JsonObject): { accepted: RegisteredTunnel[]; rejected: { tunnel_id: string; reason: string }[] } {
    const entries = body['tunnels'];
    if (!Array.isArray(entries)) throw new TunnelBodyError('tunnels must be a list');
    const next = new Map<string, RegisteredTunnel>();
    const rejected: { tunnel_id: string; reason: string }[] = [];
    for (const entry of entries) {
      const tunnelId = isJsonObject(entry) && typeof entry['tunnel_id'] === 'string' ? entry['tunnel_id'] : '';
      try {
        if (!isJsonObject(entry)) throw new TunnelBodyError('entry must be an object');
        const registration = readRegistration(entry, clusterUuid);
        const refusal = this.#refusedIds.get(registration.tunnel_id);
        if (refusal !== undefined) throw new TunnelBodyError(refusal);
        if (next.has(registration.tunnel_id)) throw new TunnelBodyError('duplicate tunnel_id');
        next.set(registration.tunnel_id, this.#withEndpoint(clusterUuid, registration));
      } catch (error) {
        if (!(error instanceof TunnelBodyError)) throw error;
        rejected.push({ tunnel_id: tunnelId, reason: error.message });
      }
    }
    this.#byCluster.set(clusterUuid, next);
    this.#changed(clusterUuid);
    return { accepted: this.list(clusterUuid), rejected };
  }

  /**
   * Records where the gateway really listens for a tunnel (after it bound its port). Listeners are not told:
   * the change is the gateway's own; the next register or sync answer and the listing carry it.
   */
  setEndpoint(clusterUuid: string, tunnelId: string, endpoint: { readonly port: number; readonly endpoint: string }): boolean {
    const tunnels = this.#byCluster.get(clusterUuid);
    const tunnel = tunnels?.get(tunnelId);
    if (tunnels === undefined || tunnel === undefined) return false;
    tunnels.set(tunnelId, { ...tunnel, tunnel_port: endpoint.port, tunnel_endpoint: endpoint.endpoint });
    this.#endpoints.set(`${clusterUuid}\n${tunnelId}`, endpoint);
    return true;
  }

  remove(clusterUuid: string, tunnelId: string): boolean {
    const isRemoved = this.#byCluster.get(clusterUuid)?.delete(tunnelId) ?? false;
    if (isRemoved) this.#changed(clusterUuid);
    return isRemoved;
  }

  #clusterMap(clusterUuid: string): Map<string, RegisteredTunnel> {
    let tunnels = this.#byCluster.get(clusterUuid);
    if (tunnels === undefined) this.#byCluster.set(clusterUuid, (tunnels = new Map()));
    return tunnels;
  }

  #withEndpoint(clusterUuid: string, registration: Omit<RegisteredTunnel, 'tunnel_port' | 'tunnel_endpoint'>): RegisteredTunnel {
    const resolved = this.#endpoints.get(`${clusterUuid}\n${registration.tunnel_id}`) ?? this.#resolver?.(clusterUuid, registration);
    const tunnelPort = resolved?.port ?? registration.gateway_port;
    return { ...registration, tunnel_port: tunnelPort, tunnel_endpoint: resolved?.endpoint ?? `127.0.0.1:${tunnelPort}` };
  }

  #changed(clusterUuid: string): void {
    const tunnels = this.list(clusterUuid);
    const json = JSON.stringify(tunnels);
    if (this.#lastTold.get(clusterUuid) === json) return;
    this.#lastTold.set(clusterUuid, json);
    // A listener that throws must not cost the agent its answer, nor the other listeners their news.
    for (const listener of [...this.#listeners]) {
      try {
        listener(clusterUuid, tunnels);
      } catch {
        // the listener's owner logs its own failures
      }
    }
  }
}
