// One upstream HTTP exchange: sends the request (inline, binary or streamed body), resolves with the
// response head, and fails with the protocol's texts. No credentials are added, no Accept-Encoding,
// redirects are not followed and bodies are never decoded.

import type { ClientRequest } from 'node:http';
import { firstHeader, upstreamRequestHeaders } from '../../src/protocol/headers.js';
import type { ProxyRequest } from './proxy-request.js';
import type { Upstream } from './upstream.js';
import { H2CallError, type H2Call, type H2Upstream } from './h2-upstream.js';
import { BodyIntakeError, type StreamedBody } from './request-body.js';
import { AgentError, ErrorCode } from '../../src/errors.js';

type FailureOutcome = 'invalid' | 'upstream_error' | 'timeout' | 'canceled';

const OUTCOME_CODES: Readonly<Record<FailureOutcome, ErrorCode>> = {
  invalid: ErrorCode.requestInvalid,
  upstream_error: ErrorCode.upstreamFailed,
  timeout: ErrorCode.upstreamTimeout,
  canceled: ErrorCode.requestCanceled,
};

/** How a relay failed: the protocol's text as message, the outcome for metrics, a code from src/errors.ts. */
export class RelayFailure extends AgentError {
  readonly outcome: FailureOutcome;
  constructor(outcome: FailureOutcome, message: string, code: ErrorCode = OUTCOME_CODES[outcome]) {
    super(code, message);
    this.name = 'RelayFailure';
    this.outcome = outcome;
  }
}

/** Any error as a RelayFailure: body intake keeps its code; an unexpected exception is the actor's own failure. */
export function asRelayFailure(error: unknown): RelayFailure {
  if (error instanceof RelayFailure) return error;
  if (error instanceof BodyIntakeError) return new RelayFailure('invalid', error.message, error.code);
  const detail = error instanceof Error ? error.message : String(error);
  return new RelayFailure('upstream_error', `agent error: ${detail}`, ErrorCode.actorFailed);
}

export interface ExchangeOptions {
  readonly upstream: Upstream;
  readonly request: ProxyRequest;
  readonly isKube: boolean;
  readonly shouldDropAcceptEncoding: boolean;
  /** Inline body, or a stream that writes into the request as chunks arrive. */
  readonly body: Uint8Array | StreamedBody;
}

export function failureLabel(isKube: boolean): string {
  return isKube ? 'kubernetes API request failed' : 'service request failed';
}

/** Errors of a kept-alive socket the server closed just as it was reused. */
const STALE_SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const MAX_STALE_RETRIES = 3;
/** Methods a server may see twice without harm (RFC 9110 §9.2.2), the only ones resent once written (C98). */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/** What the relay reads of a response: an HTTP/1.1 IncomingMessage or an HTTP/2 stream's (h2-upstream.ts). */
export interface UpstreamResponse {
  readonly statusCode?: number | undefined;
  readonly rawHeaders: string[];
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'aborted' | 'end', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(): unknown;
}

const TRUE_VALUES = new Set(['true', '1']);

/**
 * A call that stays open while the server streams: a watch (`watch=true`, `/watch/` paths) or a followed
 * log. These go over HTTP/2 when the upstream offers it; short calls keep HTTP/1.1 keep-alive.
 */
export function isLongLivedGet(method: string, path: string, query: string): boolean {
  if (method !== 'GET') return false;
  if (/^\/apis?\/(?:[^/]+\/)*watch\//.test(path)) return true;
  const params = new URLSearchParams(query);
  return TRUE_VALUES.has(params.get('watch') ?? '') || TRUE_VALUES.has(params.get('follow') ?? '');
}

export interface Exchange {
  readonly response: Promise<UpstreamResponse>;
  /** Aborts the call (cancel, deadline): the upstream connection is closed. */
  destroy(): void;
}

/**
 * Starts the call; `response` settles with the head, or rejects with a RelayFailure. A request with an
 * inline body that fails on a reused keep-alive socket before any response is sent once more: the server
 * most likely closed an idle connection as the agent picked it up. Most likely is not surely (a server may
 * read a request and then reset), so a POST or PATCH is resent only when none of its bytes reached the
 * socket (C98, §9.4).
 */
export function startExchange(options: ExchangeOptions): Exchange {
  const { upstream, request, isKube, body } = options;
  const target = (request.path.startsWith('/') ? request.path : `/${request.path}`) + (request.query === '' ? '' : `?${request.query}`);
  let current: ClientRequest | undefined;
  let call: H2Call | undefined;
  let isDestroyed = false;
  const isBodiless = body instanceof Uint8Array && body.length === 0;
  const h2 = isKube && isBodiless && isLongLivedGet(request.method, request.path, request.query) ? upstream.h2 : undefined;
  const send = (attempt: number): Promise<UpstreamResponse> =>
    new Promise<UpstreamResponse>((resolve, reject) => {
      const headers = upstreamRequestHeaders(request.headers, isKube && options.shouldDropAcceptEncoding);
      // §9.1 scheme: a service reached over TLS learns it from X-Forwarded-Proto.
      if (!isKube && request.service?.isHttps === true) headers['X-Forwarded-Proto'] = ['https'];
      const outgoing = upstream.request({
        method: request.method,
        target,
        headers,
        bodyLength: body instanceof Uint8Array ? body.length : undefined,
        host: isKube ? undefined : firstHeader(request.headers, 'host'),
      });
      current = outgoing;
      // A reused socket has counted earlier requests' bytes: only growth from here on is this request's.
      let bytesBefore: number | undefined;
      outgoing.once('socket', (socket) => (bytesBefore = socket.bytesWritten));
      const isUnsent = (): boolean => {
        if (bytesBefore === undefined) return outgoing.socket === null || outgoing.socket === undefined;
        const written = outgoing.socket?.bytesWritten;
        return written !== undefined && written === bytesBefore;
      };
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        const isResendable = IDEMPOTENT_METHODS.has(request.method) || isUnsent();
        const isStale = outgoing.reusedSocket && STALE_SOCKET_CODES.has(error.code ?? '') && body instanceof Uint8Array && isResendable;
        // After a burst, many idle sockets expire together: each stale one is dropped on use, so retry a few.
        if (isStale && attempt < MAX_STALE_RETRIES && !isDestroyed) {
          send(attempt + 1).then(resolve, reject);
          return;
        }
        reject(new RelayFailure('upstream_error', `${failureLabel(isKube)}: ${error.message}`));
      });
      outgoing.on('response', resolve);
      if (body instanceof Uint8Array) outgoing.end(body.length > 0 ? body : undefined);
      else {
        // §9.15: the call starts at once; without this, Node holds the head back until the first chunk.
        outgoing.flushHeaders();
        body.attach(outgoing);
      }
    });
  /** A GET whose stream got no response because its session went away is sent again, a few times (C98's rule for HTTP/2). */
  const sendH2 = async (pool: H2Upstream, attempt = 0): Promise<UpstreamResponse> => {
    const headers = upstreamRequestHeaders(request.headers, options.shouldDropAcceptEncoding);
    const fail = (error: unknown): RelayFailure =>
      new RelayFailure('upstream_error', `${failureLabel(isKube)}: ${error instanceof Error ? error.message : String(error)}`);
    let started: H2Call | 'h1';
    try {
      started = await pool.start({ method: request.method, target, headers, bodyLength: 0 });
    } catch (error) {
      throw fail(error);
    }
    // Cancelled while the session was being set up: nothing may be left open upstream.
    if (isDestroyed) {
      if (started !== 'h1') started.destroy();
      throw new RelayFailure('canceled', 'canceled');
    }
    if (started === 'h1') return send(0);
    call = started;
    try {
      return await started.response;
    } catch (error) {
      if (error instanceof H2CallError && error.isRetryable && attempt < MAX_STALE_RETRIES && !isDestroyed) return sendH2(pool, attempt + 1);
      throw fail(error);
    }
  };
  return {
    response: h2 === undefined ? send(0) : sendH2(h2),
    destroy() {
      isDestroyed = true;
      current?.destroy();
      call?.destroy();
    },
  };
}
