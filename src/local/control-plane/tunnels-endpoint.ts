// The tunnel registry endpoints (PROTOCOL.md §17.3) on the local control plane, with the agent's Bearer
// token: `POST|GET <prefix>/<cluster_uuid>/tunnels`, `POST …/tunnels/sync`, `DELETE …/tunnels/<id>`, and
// `GET /local/tunnels` listing every cluster's tunnels as JSON (no token: the local stack's own view).
//
// The gateway side (local listeners, one yamux stream per client) subscribes with onTunnelsChanged().

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import type { JsonObject } from '../../protocol/envelope.js';
import { isBearerAuthorized, parseJsonObject, readBody, sendJson } from './routes-endpoint.js';
import { RouteBodyError } from './routes-table.js';
import {
  TunnelBodyError,
  TunnelCallKind,
  TunnelTable,
  type RegisteredTunnel,
  type TunnelCall,
  type TunnelEndpointResolver,
  type TunnelsChangedListener,
} from './tunnel-table.js';

export type { RegisteredTunnel, TunnelCall, TunnelEndpointResolver, TunnelsChangedListener } from './tunnel-table.js';

const PREFIX = '/api/v1/clusters/agent/';
export const LOCAL_TUNNELS_PATH = '/local/tunnels';
/** `/api/v1/clusters/agent/<uuid>/tunnels[/sync | /<id>]` */
const TUNNELS_PATH = /^\/api\/v1\/clusters\/agent\/([^/]+)\/tunnels(?:\/([^/]+))?\/?$/;

/** What tests, the demo and the gateway listeners see of the registry. */
export interface TunnelRegistry {
  /** The tunnels of one cluster (by cluster uuid), in tunnel id order. */
  list(clusterUuid: string): RegisteredTunnel[];
  /** Every cluster with tunnels, with its name when known. */
  clusters(): { readonly clusterUuid: string; readonly clusterName: string | undefined; readonly tunnels: RegisteredTunnel[] }[];
  /** Every registry call received (oldest first, the last 1000), with the status it got. */
  calls(): readonly TunnelCall[];
  /**
   * Called with a cluster's full tunnel list after every change (register, sync, delete) that changed it.
   * Returns the unsubscribe function. This is where the gateway opens and closes its local listeners.
   */
  onTunnelsChanged(listener: TunnelsChangedListener): () => void;
  /** Decides `tunnel_port` / `tunnel_endpoint` of new registrations (default: the gateway port on 127.0.0.1). */
  setEndpointResolver(resolver: TunnelEndpointResolver | undefined): void;
  /**
   * Records the port and `host:port` the gateway really listens on for a tunnel, once it bound it; later
   * answers and GET /local/tunnels carry them. False when the tunnel is not registered.
   */
  setEndpoint(clusterUuid: string, tunnelId: string, endpoint: { readonly port: number; readonly endpoint: string }): boolean;
  /** Registrations of this tunnel id are refused with `reason` (register 422; `rejected` in a sync answer). */
  refuse(tunnelId: string, reason: string): void;
}

export interface TunnelsEndpointOptions {
  readonly agentToken: string | undefined;
  readonly clusterName: (clusterUuid: string) => string | undefined;
  readonly logger: Logger;
}

export class TunnelsEndpoint implements TunnelRegistry {
  readonly #options: TunnelsEndpointOptions;
  readonly #table = new TunnelTable();
  readonly #expectedToken: Buffer | undefined;

  constructor(options: TunnelsEndpointOptions) {
    this.#options = options;
    this.#expectedToken = options.agentToken === undefined ? undefined : Buffer.from(options.agentToken);
  }

  handles(req: IncomingMessage): boolean {
    const pathname = new URL(req.url ?? '/', 'http://local').pathname;
    return pathname === LOCAL_TUNNELS_PATH || (pathname.startsWith(PREFIX) && TUNNELS_PATH.test(pathname));
  }

  list(clusterUuid: string): RegisteredTunnel[] {
    return this.#table.list(clusterUuid);
  }

  clusters(): { clusterUuid: string; clusterName: string | undefined; tunnels: RegisteredTunnel[] }[] {
    return this.#table.clusters().map((clusterUuid) => ({ clusterUuid, clusterName: this.#options.clusterName(clusterUuid), tunnels: this.#table.list(clusterUuid) }));
  }

  calls(): readonly TunnelCall[] {
    return this.#table.calls;
  }

  onTunnelsChanged(listener: TunnelsChangedListener): () => void {
    return this.#table.onTunnelsChanged(listener);
  }

  setEndpointResolver(resolver: TunnelEndpointResolver | undefined): void {
    this.#table.setEndpointResolver(resolver);
  }

  refuse(tunnelId: string, reason: string): void {
    this.#table.refuse(tunnelId, reason);
  }

  setEndpoint(clusterUuid: string, tunnelId: string, endpoint: { readonly port: number; readonly endpoint: string }): boolean {
    return this.#table.setEndpoint(clusterUuid, tunnelId, endpoint);
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const pathname = new URL(req.url ?? '/', 'http://local').pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    if (pathname === LOCAL_TUNNELS_PATH) {
      req.resume();
      if (method === 'GET') sendJson(res, 200, { clusters: this.clusters().map((cluster) => ({ cluster_uuid: cluster.clusterUuid, cluster_name: cluster.clusterName ?? null, tunnels: cluster.tunnels })) });
      else sendJson(res, 405, { success: false, error: 'method not allowed' });
      return;
    }
    const match = TUNNELS_PATH.exec(pathname);
    const clusterUuid = decodeURIComponent(match?.[1] ?? '');
    const tail = match?.[2] === undefined ? undefined : decodeURIComponent(match[2]);
    let kind: TunnelCallKind | undefined;
    if (tail === undefined) kind = method === 'POST' ? TunnelCallKind.register : method === 'GET' ? TunnelCallKind.list : undefined;
    else if (tail === 'sync') kind = method === 'POST' ? TunnelCallKind.sync : undefined;
    else kind = method === 'DELETE' ? TunnelCallKind.delete : undefined;
    if (kind === undefined) {
      req.resume();
      sendJson(res, 405, { success: false, error: 'method not allowed' });
      return;
    }
    this.#serve(kind, clusterUuid, kind === TunnelCallKind.delete ? tail : undefined, req, res).catch((error: unknown) => {
      this.#options.logger.debug({ err: error, kind }, 'tunnel registry call failed');
      if (!res.headersSent && !res.destroyed) sendJson(res, 400, { success: false, error: 'reading the request failed' });
    });
  }

  async #serve(kind: TunnelCallKind, clusterUuid: string, deleteId: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const isAuthorized = isBearerAuthorized(req.headers.authorization, this.#expectedToken);
    const hasBody = kind === TunnelCallKind.register || kind === TunnelCallKind.sync;
    let body: JsonObject | undefined;
    let status: number;
    let answer: unknown;
    let tunnelId = deleteId;
    try {
      if (hasBody) body = parseJsonObject(await readBody(req));
      else req.resume();
      if (typeof body?.['tunnel_id'] === 'string') tunnelId = body['tunnel_id'];
      if (!isAuthorized) {
        status = 401;
        answer = { success: false, error: 'unauthorized' };
      } else {
        ({ status, answer } = this.#apply(kind, clusterUuid, body ?? {}, deleteId));
      }
    } catch (error) {
      if (!(error instanceof TunnelBodyError || error instanceof RouteBodyError)) throw error;
      status = isAuthorized ? (error instanceof TunnelBodyError && kind === TunnelCallKind.register ? 422 : 400) : 401;
      answer = { success: false, error: isAuthorized ? error.message : 'unauthorized' };
    }
    this.#table.record({ kind, clusterUuid, status, tunnelId: kind === TunnelCallKind.sync || kind === TunnelCallKind.list ? undefined : tunnelId, body, atMs: Date.now() });
    this.#options.logger.debug({ kind, status, tunnelId }, 'tunnel registry call');
    if (status === 204) res.writeHead(204).end();
    else sendJson(res, status, answer);
  }

  #apply(kind: TunnelCallKind, clusterUuid: string, body: JsonObject, deleteId: string | undefined): { status: number; answer: unknown } {
    switch (kind) {
      case TunnelCallKind.register:
        return { status: 201, answer: this.#table.register(clusterUuid, body) };
      case TunnelCallKind.sync:
        return { status: 200, answer: this.#table.sync(clusterUuid, body) };
      case TunnelCallKind.list:
        return { status: 200, answer: this.#table.list(clusterUuid) };
      case TunnelCallKind.delete:
        return this.#table.remove(clusterUuid, deleteId ?? '')
          ? { status: 204, answer: undefined }
          : { status: 404, answer: { success: false, error: 'tunnel not found' } };
    }
  }
}
