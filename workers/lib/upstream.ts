// An HTTP(S) upstream the actors call: the Kubernetes API (trusting the cluster CA) or in-cluster
// services (certificates not verified, §9.6). Keep-alive agents are per thread; nothing here adds
// credentials or Accept-Encoding, and bodies are never decoded.

import http from 'node:http';
import https from 'node:https';
import tls, { type SecureContext } from 'node:tls';
import type { HeaderMap } from '../../src/protocol/headers.js';
import { readFileSync } from 'node:fs';
import type { KubeTarget } from '../../src/kube/kube-target.js';
import type { LookupFunction } from 'node:net';
import { H2Upstream } from './h2-upstream.js';

export interface UpstreamCall {
  readonly method: string;
  /** Path plus `?query`, exactly as sent. */
  readonly target: string;
  readonly headers: HeaderMap;
  /** Inline body length; undefined for a streamed body (sent chunked). */
  readonly bodyLength: number | undefined;
  /** Host header for service calls (the original Host), when given. */
  readonly host?: string | undefined;
}

/** How to trust the upstream's certificate; WebSocket dials use it without the keep-alive agent. */
export interface UpstreamTls {
  readonly ca: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly servername: string | undefined;
  /**
   * The trust (`ca`, minimum version) built once and shared by every connection and WebSocket dial to
   * this upstream: without it Node builds an OpenSSL context per connection, about 18 KiB each, which
   * 10,000 watches or 1,000 exec sessions pay over and over (docs/performance.md, Per session).
   */
  readonly secureContext?: SecureContext | undefined;
}

export class Upstream {
  readonly origin: URL;
  readonly tls: UpstreamTls;
  readonly #agentToken: () => string | undefined;
  readonly #agent: http.Agent;
  readonly #servername: string | undefined;
  readonly #lookup: LookupFunction | undefined;
  /** Long-lived GETs over HTTP/2 (h2-upstream.ts), when enabled for this upstream; built at first use. */
  readonly #isHttp2Enabled: boolean;
  #h2: H2Upstream | undefined;

  constructor(
    origin: URL,
    agent: http.Agent,
    tls: UpstreamTls,
    agentToken: () => string | undefined = () => undefined,
    lookup?: LookupFunction,
    isHttp2Enabled = false,
  ) {
    this.#lookup = lookup;
    this.#isHttp2Enabled = isHttp2Enabled && origin.protocol === 'https:';
    this.origin = origin;
    this.#agent = agent;
    this.#servername = tls.servername;
    this.tls = tls;
    this.#agentToken = agentToken;
  }

  /** The agent's own bearer token, read at use (a projected token rotates); only for sessions without one (§13.4). */
  get agentToken(): string | undefined {
    return this.#agentToken();
  }

  get isHttps(): boolean {
    return this.origin.protocol === 'https:';
  }

  request(call: UpstreamCall): http.ClientRequest {
    const headers: Record<string, string | string[]> = {};
    for (const [name, values] of Object.entries(call.headers)) headers[name] = values.length === 1 ? values[0]! : values;
    if (call.bodyLength !== undefined && (call.bodyLength > 0 || !['GET', 'HEAD', 'DELETE', 'OPTIONS'].includes(call.method))) {
      headers['Content-Length'] = String(call.bodyLength);
    }
    if (call.host !== undefined) headers['Host'] = call.host;
    const options: https.RequestOptions = {
      agent: this.#agent,
      method: call.method,
      protocol: this.origin.protocol,
      hostname: this.origin.hostname.replace(/^\[|\]$/g, ''),
      port: this.origin.port === '' ? (this.isHttps ? 443 : 80) : Number(this.origin.port),
      path: call.target,
      headers,
      // Node would otherwise add `Connection: keep-alive`/`Host` only; no Accept-Encoding is ever added.
    };
    if (this.#servername !== undefined) options.servername = this.#servername;
    if (this.#lookup !== undefined) options.lookup = this.#lookup;
    return this.isHttps ? https.request(options) : http.request(options);
  }

  /** The HTTP/2 side for long-lived GETs, unless disabled or the server declined h2 (ALPN) before. */
  get h2(): H2Upstream | undefined {
    if (!this.#isHttp2Enabled) return undefined;
    this.#h2 ??= new H2Upstream(this.origin, this.tls, this.#lookup);
    return this.#h2.isHttp1Only ? undefined : this.#h2;
  }

  close(): void {
    this.#agent.destroy();
    this.#h2?.close();
  }

  /** Stops reusing idle connections; requests in flight finish, then their sockets close. */
  retire(): void {
    const agent = this.#agent as http.Agent & { keepAlive?: boolean };
    agent.keepAlive = false;
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
    this.#h2?.retire();
  }
}

// LIFO reuses the most recently active socket, the one least likely to have been closed by the server's
// keep-alive timer (commonly 5 s) while it sat idle.
const AGENT_OPTIONS = { keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64, scheduling: 'lifo' } as const;

/** `isHttp2Enabled`: watches and follows go over HTTP/2 when the API server offers it (ALPN h2). */
export function createKubeUpstream(target: KubeTarget, isHttp2Enabled = false): Upstream {
  const ca = target.caFile === undefined ? target.ca : readFileSync(target.caFile, 'utf8');
  const endpoint = { ca, rejectUnauthorized: target.rejectUnauthorized, tlsServerName: target.tlsServerName };
  const origin = new URL(target.server);
  const isHttps = origin.protocol === 'https:';
  const secureContext = isHttps ? tls.createSecureContext({ ...(endpoint.ca === undefined ? {} : { ca: endpoint.ca }), minVersion: 'TLSv1.2' }) : undefined;
  const agent = isHttps
    ? new https.Agent({ ...AGENT_OPTIONS, secureContext, rejectUnauthorized: endpoint.rejectUnauthorized, minVersion: 'TLSv1.2' })
    : new http.Agent(AGENT_OPTIONS);
  const trust: UpstreamTls = { ca: endpoint.ca, rejectUnauthorized: endpoint.rejectUnauthorized, servername: endpoint.tlsServerName, secureContext };
  return new Upstream(origin, agent, trust, () => agentBearerToken(target), undefined, isHttp2Enabled);
}

const SERVICE_TLS: UpstreamTls = { ca: undefined, rejectUnauthorized: false, servername: undefined };
/** The kubeconfig user's token, or the pod's service-account token (read now: it rotates). */
function agentBearerToken(target: KubeTarget): string | undefined {
  if (target.agentToken !== undefined) return target.agentToken;
  if (target.agentTokenFile === undefined) return undefined;
  try {
    const token = readFileSync(target.agentTokenFile, 'utf8').trim();
    return token === '' ? undefined : token;
  } catch {
    return undefined;
  }
}

let serviceHttp: http.Agent | undefined;
let serviceHttps: https.Agent | undefined;

/** An in-cluster service; its certificate is not verified (§9.6). */
export function serviceUpstream(origin: URL, lookup?: LookupFunction): Upstream {
  if (origin.protocol === 'https:') {
    serviceHttps ??= new https.Agent({ ...AGENT_OPTIONS, rejectUnauthorized: false });
    return new Upstream(origin, serviceHttps, SERVICE_TLS, undefined, lookup);
  }
  serviceHttp ??= new http.Agent(AGENT_OPTIONS);
  return new Upstream(origin, serviceHttp, SERVICE_TLS, undefined, lookup);
}
