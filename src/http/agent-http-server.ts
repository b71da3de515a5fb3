// The agent's local HTTP server: /health, /ready, /version and /metrics for probes and Prometheus. It only
// reads state owned elsewhere (link status, registry); it never logs a request above debug, and no
// response carries configuration, so a token cannot leak through it.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentConfig } from '../config/agent-config.js';
import type { LinkStatus } from '../link/control-plane-link.js';
import type { Clock } from '../util/clock.js';
import { AGENT_VERSION, BUILD_INFO } from '../version.js';
import { readinessOf } from './readiness.js';

/** What /ready needs from the control-plane link. */
export interface LinkProbe {
  readonly status: LinkStatus;
  /** Clock time (ms) at which the last heartbeat was written, if any. */
  readonly lastHeartbeatMs: number | undefined;
  /** True from the first shutdown signal on (§7.7): /ready then answers 503 whatever the link does. */
  readonly isDraining?: boolean;
}

export interface AgentHttpServerOptions {
  readonly config: AgentConfig;
  readonly link: LinkProbe;
  readonly metrics: { readonly registry: Registry };
  /** The heartbeat's clock: readiness compares its `now()` with `lastHeartbeatMs`. */
  readonly clock: Clock;
  readonly logger: Logger;
}

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const ALLOWED_METHODS = 'GET';

/** Built once: none of it changes while the process runs. */
const VERSION_BODY = JSON.stringify({
  version: AGENT_VERSION,
  commit: BUILD_INFO.commit,
  build_date: BUILD_INFO.buildDate,
  node_version: process.version,
});

function jsonReply(status: number, value: unknown): Reply {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

class Endpoints {
  readonly #options: AgentHttpServerOptions;

  constructor(options: AgentHttpServerOptions) {
    this.#options = options;
  }

  /** Never rejects: every failure becomes a 500, so the request listener can drop the promise. */
  async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = pathOf(request.url);
    let reply: Reply;
    try {
      reply = await this.#route(request.method ?? '', path);
    } catch (error) {
      this.#options.logger.warn({ err: error, path }, 'local HTTP endpoint failed');
      reply = jsonReply(500, { error: 'internal error' });
    }
    this.#options.logger.debug({ method: request.method, path, status: reply.status }, 'local HTTP request');
    if (response.destroyed || response.writableEnded) return;
    response.writeHead(reply.status, {
      'content-type': reply.contentType,
      'content-length': Buffer.byteLength(reply.body),
      // Probes and scrapes must see the live state, never a cached copy.
      'cache-control': 'no-store',
      ...reply.headers,
    });
    response.end(reply.body);
  }

  async #route(method: string, path: string): Promise<Reply> {
    const isKnown = path === '/health' || path === '/ready' || path === '/version' || path === '/metrics';
    if (!isKnown) return jsonReply(404, { error: 'not found' });
    if (method !== 'GET') {
      return { ...jsonReply(405, { error: 'method not allowed' }), headers: { allow: ALLOWED_METHODS } };
    }
    switch (path) {
      case '/health':
        return jsonReply(200, { status: 'ok' });
      case '/ready':
        return this.#ready();
      case '/version':
        return { status: 200, contentType: JSON_TYPE, body: VERSION_BODY };
      default:
        return this.#metrics();
    }
  }

  #ready(): Reply {
    const { config, link, clock } = this.#options;
    const readiness = readinessOf({
      status: link.status,
      lastHeartbeatMs: link.lastHeartbeatMs,
      nowMs: clock.now(),
      heartbeatIntervalMs: config.agent.heartbeatIntervalMs,
      isLenient: config.agent.readyLenient,
      isDraining: link.isDraining === true,
    });
    return jsonReply(readiness.isReady ? 200 : 503, readiness.body);
  }

  async #metrics(): Promise<Reply> {
    const registry = this.#options.metrics.registry;
    return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
  }
}

/** The path alone: query strings are ignored, and an unparsable target is simply not found. */
function pathOf(target: string | undefined): string {
  const text = target ?? '/';
  return URL.canParse(text, 'http://agent.invalid') ? new URL(text, 'http://agent.invalid').pathname : '';
}

function serverOnRequest(this: Endpoints, request: IncomingMessage, response: ServerResponse): void {
  void this.answer(request, response);
}

function serverOnError(this: Logger, error: Error): void {
  this.warn({ err: error }, 'local HTTP server error');
}

export class AgentHttpServer {
  readonly #server: Server;
  readonly #port: number;
  #closing: Promise<void> | undefined;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.#port = port;
  }

  /** Listens on `config.agent.bindAddress:config.agent.port`; rejects when the port cannot be bound. */
  static async start(options: AgentHttpServerOptions): Promise<AgentHttpServer> {
    const { bindAddress, port } = options.config.agent;
    const server = createServer(serverOnRequest.bind(new Endpoints(options)));
    server.listen(port, bindAddress);
    // once() rejects on 'error' (EADDRINUSE, EACCES) before 'listening'.
    await once(server, 'listening');
    server.on('error', serverOnError.bind(options.logger));
    const bound = (server.address() as AddressInfo).port;
    options.logger.info({ address: bindAddress, port: bound }, 'health and metrics server listening');
    return new AgentHttpServer(server, bound);
  }

  /** The bound port (the chosen one when the configured port is 0). */
  get port(): number {
    return this.#port;
  }

  /** Stops listening and cuts open connections: a scraper's keep-alive socket must not delay shutdown. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const closed = once(this.#server, 'close').then(() => undefined);
      this.#server.close();
      this.#server.closeAllConnections();
      this.#closing = closed;
    }
    return this.#closing;
  }
}
