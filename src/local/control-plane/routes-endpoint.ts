// The control plane's ingress route endpoints (PROTOCOL.md §17.2) on the local control plane:
// `POST /api/v1/gateway/routes/register|unregister|sync` with the agent's Bearer token, answered 200, and
// `GET /api/v1/gateway/routes` listing what each cluster has. Tests can make the next N calls fail with 500.

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import { isJsonObject, type JsonObject } from '../../protocol/envelope.js';
import { RouteBodyError, RouteCallKind, RoutesTable, type ClusterRoutes, type RouteCall } from './routes-table.js';

export type { ClusterRoutes, RouteCall, StoredRoute } from './routes-table.js';

export const ROUTES_PATH = '/api/v1/gateway/routes';
/** Route bodies are a few KiB even for large clusters; anything beyond this is refused. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface GatewayRoutesOptions {
  /** Answer this many route calls (register, unregister, sync) with 500 before behaving, for retry tests. */
  readonly failNextCalls?: number;
}

/** What tests and the demo see of the routes. */
export interface GatewayRoutes {
  list(): ClusterRoutes[];
  /** Every POST received (oldest first, the last 1000), with the status it got. */
  calls(): readonly RouteCall[];
  /** The next `count` route calls are answered 500. */
  failNext(count: number): void;
}

export interface RoutesEndpointOptions extends GatewayRoutesOptions {
  /** When set the Bearer token must equal it; otherwise any Bearer token is accepted. */
  readonly agentToken: string | undefined;
  /** The name of the cluster a uuid belongs to, when known. */
  readonly clusterName: (clusterUuid: string) => string | undefined;
  readonly logger: Logger;
}

function isRoutesPath(pathname: string): boolean {
  return pathname === ROUTES_PATH || pathname.startsWith(`${ROUTES_PATH}/`);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    function reqOnData(chunk: Buffer): void {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', reqOnData);
        reject(new RouteBodyError(`body larger than ${MAX_BODY_BYTES} bytes`));
        req.resume();
        return;
      }
      chunks.push(chunk);
    }
    function reqOnEnd(): void {
      resolve(Buffer.concat(chunks));
    }
    function reqOnError(error: Error): void {
      reject(error);
    }
    req.on('data', reqOnData);
    req.once('end', reqOnEnd);
    req.once('error', reqOnError);
  });
}

export function parseJsonObject(bytes: Buffer): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RouteBodyError('body is not JSON');
  }
  if (!isJsonObject(value)) throw new RouteBodyError('body must be a JSON object');
  return value;
}

function callKindOf(pathname: string): RouteCallKind | undefined {
  const name = pathname.slice(ROUTES_PATH.length + 1);
  return Object.values(RouteCallKind).find((kind) => kind === name);
}

export class RoutesEndpoint implements GatewayRoutes {
  readonly #options: RoutesEndpointOptions;
  readonly #table = new RoutesTable();
  readonly #expectedToken: Buffer | undefined;
  #failuresLeft: number;

  constructor(options: RoutesEndpointOptions) {
    this.#options = options;
    this.#expectedToken = options.agentToken === undefined ? undefined : Buffer.from(options.agentToken);
    this.#failuresLeft = options.failNextCalls ?? 0;
  }

  /** Whether the request is for these endpoints (the rest of the server never sees it then). */
  handles(req: IncomingMessage): boolean {
    return isRoutesPath(new URL(req.url ?? '/', 'http://local').pathname);
  }

  list(): ClusterRoutes[] {
    return this.#table.list(this.#options.clusterName);
  }

  calls(): readonly RouteCall[] {
    return this.#table.calls;
  }

  failNext(count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`failNext count must be a non-negative integer (got ${String(count)})`);
    this.#failuresLeft = count;
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const pathname = new URL(req.url ?? '/', 'http://local').pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    if (pathname === ROUTES_PATH && method === 'GET') {
      req.resume();
      sendJson(res, 200, { clusters: this.list() });
      return;
    }
    const kind = callKindOf(pathname);
    if (kind === undefined) {
      req.resume();
      sendJson(res, pathname === ROUTES_PATH ? 405 : 404, { success: false, error: pathname === ROUTES_PATH ? 'method not allowed' : 'not found' });
      return;
    }
    if (method !== 'POST') {
      req.resume();
      sendJson(res, 405, { success: false, error: 'method not allowed' });
      return;
    }
    this.#serveCall(kind, req, res).catch((error: unknown) => {
      this.#options.logger.debug({ err: error, kind }, 'route call failed');
      if (!res.headersSent && !res.destroyed) sendJson(res, 400, { success: false, error: 'reading the request failed' });
    });
  }

  async #serveCall(kind: RouteCallKind, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const isAuthorized = this.#isAuthorized(req.headers.authorization);
    let body: JsonObject = {};
    let status: number;
    let answer: JsonObject;
    try {
      body = parseJsonObject(await readBody(req));
      if (!isAuthorized) {
        status = 401;
        answer = { success: false, error: 'unauthorized' };
      } else if (this.#failuresLeft > 0) {
        this.#failuresLeft--;
        status = 500;
        answer = { success: false, error: 'injected failure' };
      } else {
        status = 200;
        answer = { success: true, ...this.#apply(kind, body) };
      }
    } catch (error) {
      if (!(error instanceof RouteBodyError)) throw error;
      status = isAuthorized ? 400 : 401;
      answer = { success: false, error: isAuthorized ? error.message : 'unauthorized' };
    }
    this.#table.record({ kind, status, body, atMs: Date.now() });
    this.#options.logger.debug({ kind, status }, 'gateway route call');
    sendJson(res, status, answer);
  }

  #apply(kind: RouteCallKind, body: JsonObject): JsonObject {
    switch (kind) {
      case RouteCallKind.register:
        this.#table.register(body);
        return { message: 'route registered' };
      case RouteCallKind.unregister:
        return { message: 'route unregistered', removed: this.#table.unregister(body) };
      case RouteCallKind.sync:
        return { message: 'routes synced', routes: this.#table.sync(body, Date.now()) };
    }
  }

  #isAuthorized(header: string | undefined): boolean {
    return isBearerAuthorized(header, this.#expectedToken);
  }
}

/** A Bearer header, equal to `expected` when one is set (any Bearer token otherwise); compared in constant time. */
export function isBearerAuthorized(header: string | undefined, expected: Buffer | undefined): boolean {
  const match = /^bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (match === null) return false;
  if (expected === undefined) return true;
  const presented = Buffer.from(match[1] ?? '');
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
