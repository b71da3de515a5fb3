// The agent's own Kubernetes client: JSON calls and watches over node:http(s) with one keep-alive agent per
// access, an optional AbortSignal per call, and every non-2xx answer turned into a KubeStatusError that names
// the status and reason only. Main thread only (it is what the agent's own calls use; proxied traffic goes
// through the actor threads with the control plane's identity).

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { accessWithToken, currentToken, type KubeAccess, type KubeRequestAuth } from './kubeconfig.js';
import { AgentError, ErrorCode } from '../errors.js';
import { KubeStatusError } from './kube-failure.js';

export type KubeQuery = Readonly<Record<string, string | number | boolean | undefined>>;

export const KubeMethod = { get: 'GET', post: 'POST', put: 'PUT', patch: 'PATCH', delete: 'DELETE' } as const;
export type KubeMethod = (typeof KubeMethod)[keyof typeof KubeMethod];

/** The patch types the API server accepts; the body's Content-Type says which one it is. */
export const PatchType = {
  merge: 'application/merge-patch+json',
  strategicMerge: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
} as const;
export type PatchType = (typeof PatchType)[keyof typeof PatchType];

export interface KubeRequest {
  readonly method: KubeMethod;
  readonly path: string;
  readonly query?: KubeQuery | undefined;
  readonly body?: unknown;
  readonly contentType?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** One event of a watch stream (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR). */
export interface WatchEvent {
  readonly type: string;
  readonly object: Record<string, unknown>;
}

/** An open watch: `done` settles when the stream ends (resolves) or breaks (rejects); `abort` ends it. */
export interface KubeWatch {
  readonly done: Promise<void>;
  abort(): void;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

function pathWithQuery(path: string, query: KubeQuery | undefined): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const encoded = params.toString();
  return encoded === '' ? path : `${path}?${encoded}`;
}

/** The Status object's reason, if the body is one; nothing else of the body is kept. */
function statusReasonOf(body: Buffer): string | undefined {
  try {
    const status = JSON.parse(body.toString('utf8')) as { kind?: unknown; reason?: unknown };
    return status.kind === 'Status' && typeof status.reason === 'string' && status.reason !== '' ? status.reason : undefined;
  } catch {
    return undefined;
  }
}

function readBody(response: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks)));
    response.on('error', reject);
    response.on('aborted', () => reject(new AgentError(ErrorCode.upstreamFailed, 'the Kubernetes API closed the response early')));
  });
}

export class KubeClient {
  readonly access: KubeAccess;
  readonly #server: URL;
  readonly #isHttps: boolean;
  readonly #agent: HttpAgent | HttpsAgent;

  constructor(access: KubeAccess) {
    this.access = access;
    this.#server = new URL(access.server);
    this.#isHttps = this.#server.protocol === 'https:';
    this.#agent = this.#isHttps
      ? new HttpsAgent({
          keepAlive: true,
          ...(access.ca === undefined ? {} : { ca: access.ca }),
          ...(access.clientCert === undefined ? {} : { cert: access.clientCert }),
          ...(access.clientKey === undefined ? {} : { key: access.clientKey }),
          rejectUnauthorized: access.rejectUnauthorized,
          ...(access.tlsServerName === undefined ? {} : { servername: access.tlsServerName }),
        })
      : new HttpAgent({ keepAlive: true });
  }

  /** A client for the same cluster and trust that authenticates with `token` only. */
  withToken(token: string): KubeClient {
    return new KubeClient(accessWithToken(this.access, token));
  }

  get<T>(path: string, query?: KubeQuery, signal?: AbortSignal): Promise<T> {
    return this.request<T>({ method: KubeMethod.get, path, query, signal });
  }

  create<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>({ method: KubeMethod.post, path, body, signal });
  }

  replace<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    return this.request<T>({ method: KubeMethod.put, path, body, signal });
  }

  patch<T>(path: string, body: unknown, patchType: PatchType, signal?: AbortSignal): Promise<T> {
    return this.request<T>({ method: KubeMethod.patch, path, body, contentType: patchType, signal });
  }

  delete<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>({ method: KubeMethod.delete, path, signal });
  }

  /** One JSON call: the parsed body of a 2xx answer (undefined when empty), else a KubeStatusError. */
  async request<T>(call: KubeRequest): Promise<T> {
    const response = await this.#send(call);
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) {
      throw new KubeStatusError(status, statusReasonOf(await readBody(response, MAX_ERROR_BODY_BYTES)));
    }
    const body = await readBody(response, Number.POSITIVE_INFINITY);
    if (body.length === 0) return undefined as T;
    try {
      return JSON.parse(body.toString('utf8')) as T;
    } catch {
      // JSON.parse's message quotes the body, which may be object data: never let it reach a log.
      throw new AgentError(ErrorCode.upstreamFailed, `the Kubernetes API answered ${status} with a body that is not JSON`);
    }
  }

  /**
   * Opens a watch (`watch=true` is added to `query`) and resolves once the API server accepted it; each
   * complete line of the stream goes to `onEvent` in order. A refused watch rejects with KubeStatusError.
   */
  async watch(path: string, query: KubeQuery, onEvent: (event: WatchEvent) => void): Promise<KubeWatch> {
    const controller = new AbortController();
    const response = await this.#send({ method: KubeMethod.get, path, query: { ...query, watch: true }, signal: controller.signal });
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      const reason = statusReasonOf(await readBody(response, MAX_ERROR_BODY_BYTES));
      throw new KubeStatusError(status, reason);
    }
    const done = new Promise<void>((resolve, reject) => {
      let pending = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (line === '') continue;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch {
            controller.abort();
            reject(new AgentError(ErrorCode.upstreamFailed, 'the Kubernetes API sent a watch line that is not JSON'));
            return;
          }
          if (controller.signal.aborted) return;
          onEvent(event);
        }
      });
      response.on('end', () => resolve());
      response.on('error', reject);
      response.on('aborted', () => reject(new AgentError(ErrorCode.upstreamFailed, 'the Kubernetes API closed the watch early')));
      response.on('close', () => (controller.signal.aborted ? reject(controller.signal.reason) : resolve()));
    });
    return { done, abort: () => controller.abort() };
  }

  /** Ends idle keep-alive sockets; open watches end with their own abort. */
  close(): void {
    this.#agent.destroy();
  }

  async #send(call: KubeRequest): Promise<IncomingMessage> {
    const auth: KubeRequestAuth = { headers: { Accept: 'application/json', 'User-Agent': 'pipeops-agent' } };
    const token = currentToken(this.access);
    if (token !== undefined) auth.headers['Authorization'] = `Bearer ${token}`;
    await this.access.authorize?.(auth);
    const body = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body), 'utf8');
    const headers: OutgoingHttpHeaders = { ...auth.headers };
    if (body !== undefined) {
      headers['Content-Type'] = call.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    const prefix = this.#server.pathname.replace(/\/$/, '');
    const options: RequestOptions = {
      method: call.method,
      protocol: this.#server.protocol,
      hostname: this.#server.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: this.#server.port === '' ? (this.#isHttps ? 443 : 80) : Number(this.#server.port),
      path: pathWithQuery(`${prefix}${call.path}`, call.query),
      headers,
      agent: this.#agent,
      ...(call.signal === undefined ? {} : { signal: call.signal }),
      ...(auth.cert === undefined ? {} : { cert: auth.cert }),
      ...(auth.key === undefined ? {} : { key: auth.key }),
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = (this.#isHttps ? httpsRequest : httpRequest)(options, resolve);
      request.on('error', reject);
      request.end(body);
    });
  }
}
