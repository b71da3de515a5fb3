// One upstream HTTP exchange: sends the request (inline, binary or streamed body), resolves with the
// response head, and fails with the protocol's texts. No credentials are added, no Accept-Encoding,
// redirects are not followed and bodies are never decoded.

import type { ClientRequest, IncomingMessage } from 'node:http';
import { firstHeader, upstreamRequestHeaders } from '../../src/protocol/headers.js';
import type { ProxyRequest } from './proxy-request.js';
import type { Upstream } from './upstream.js';
import type { StreamedBody } from './request-body.js';

export class RelayFailure extends Error {
  readonly outcome: 'invalid' | 'upstream_error' | 'timeout' | 'canceled';
  constructor(outcome: RelayFailure['outcome'], message: string) {
    super(message);
    this.outcome = outcome;
  }
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

/** Starts the call; `response` settles with the head, or rejects with a RelayFailure. */
export function startExchange(options: ExchangeOptions): { outgoing: ClientRequest; response: Promise<IncomingMessage> } {
  const { upstream, request, isKube, body } = options;
  const target = (request.path.startsWith('/') ? request.path : `/${request.path}`) + (request.query === '' ? '' : `?${request.query}`);
  const outgoing = upstream.request({
    method: request.method,
    target,
    headers: upstreamRequestHeaders(request.headers, isKube && options.shouldDropAcceptEncoding),
    bodyLength: body instanceof Uint8Array ? body.length : undefined,
    host: isKube ? undefined : firstHeader(request.headers, 'host'),
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    outgoing.on('error', (error: Error) => reject(new RelayFailure('upstream_error', `${failureLabel(isKube)}: ${error.message}`)));
    outgoing.on('response', resolve);
  });
  if (body instanceof Uint8Array) outgoing.end(body.length > 0 ? body : undefined);
  else body.attach(outgoing);
  return { outgoing, response };
}
