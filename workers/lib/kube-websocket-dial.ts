// Dials a WebSocket on the Kubernetes API with the exact subprotocol offer the session needs. The `ws`
// client refuses offers such as `SPDY/3.1+portforward.k8s.io` (the `/` is not a token character), so the
// upgrade is done here with node:https and the socket is handed to `ws` afterwards, as ws's own client
// does after its handshake.
//
//   GET path?query  Upgrade: websocket, Sec-WebSocket-Key, -Version: 13, -Protocol: <offer>
//   ◄── 101 + Sec-WebSocket-Accept = base64(sha1(key + GUID)), Sec-WebSocket-Protocol ∈ offer   → WebSocket
//   ◄── any other status                                                                      → DialError(status)

import https from 'node:https';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { Socket, type LookupFunction } from 'node:net';
import type { SecureContext } from 'node:tls';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/**
 * Idle time before TCP keepalive probes start on a relay's upstream socket: a session that is quiet for
 * hours (an idle `kubectl exec` shell) must still notice a peer that vanished without a FIN, and idle
 * NAT/conntrack entries between the agent and the upstream are refreshed.
 */
export const TCP_KEEPALIVE_DELAY_MS = 30_000;

export interface DialOptions {
  readonly origin: URL;
  /** Path plus `?query`. */
  readonly target: string;
  readonly headers: Record<string, string | string[]>;
  readonly offer: readonly string[];
  readonly tls: {
    readonly ca?: string | undefined;
    readonly rejectUnauthorized: boolean;
    readonly servername?: string | undefined;
    /** Shared across dials when given (it already holds `ca`): one OpenSSL context per upstream, not per session. */
    readonly secureContext?: SecureContext | undefined;
  };
  readonly timeoutMs: number;
  readonly maxPayload: number;
  /** Resolves host names itself (test host aliases); the system resolver otherwise. */
  readonly lookup?: LookupFunction | undefined;
  /** Ends the dial at once (the stream was cancelled, the drain limit passed): nothing may outlive its stream. */
  readonly signal?: AbortSignal | undefined;
}

export class DialError extends Error {
  /** The HTTP status when the API server answered, e.g. 403. */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.status = status;
  }
}

interface WsInternals {
  _isServer: boolean;
  _protocol: string;
  _bufferedAmount: number;
  setSocket(socket: Duplex, head: Buffer, options: { allowSynchronousEvents: boolean; maxPayload: number; skipUTF8Validation: boolean }): void;
}

export interface DialedSocket {
  readonly socket: WebSocket;
  /** The subprotocol the API server selected ('' when none). */
  readonly protocol: string;
  /** The 101 response's raw header list (name, value, …). */
  readonly rawHeaders: readonly string[];
}

/** Wraps an upgraded socket in a client-side `ws` WebSocket (frames masked, server frames unmasked). */
function clientWebSocket(socket: Duplex, head: Buffer, protocol: string, maxPayload: number): WebSocket {
  // `null` is ws's server-side construction (typed out of its public API); ws's own client path sets the
  // three fields below before the same setSocket call. Pinned by test/workers/kube-websocket-dial.test.ts.
  const ws = new (WebSocket as unknown as new (address: null, protocols: undefined, options: { autoPong: boolean }) => WebSocket)(null, undefined, {
    autoPong: true,
  });
  const internals = ws as unknown as WsInternals;
  internals._isServer = false;
  internals._protocol = protocol;
  internals._bufferedAmount = 0;
  internals.setSocket(socket, head, { allowSynchronousEvents: true, maxPayload, skipUTF8Validation: false });
  return ws;
}

export function dialKubeWebSocket(options: DialOptions): Promise<DialedSocket> {
  const key = randomBytes(16).toString('base64');
  const isHttps = options.origin.protocol === 'https:' || options.origin.protocol === 'wss:';
  const headers: Record<string, string | string[]> = {
    ...options.headers,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key,
  };
  if (options.offer.length > 0) headers['Sec-WebSocket-Protocol'] = options.offer.join(', ');
  const requestOptions: https.RequestOptions = {
    method: 'GET',
    hostname: options.origin.hostname.replace(/^\[|\]$/g, ''),
    port: options.origin.port === '' ? (isHttps ? 443 : 80) : Number(options.origin.port),
    path: options.target,
    headers,
    agent: false,
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    ...(isHttps
      ? {
          rejectUnauthorized: options.tls.rejectUnauthorized,
          minVersion: 'TLSv1.2' as const,
          ...(options.tls.secureContext !== undefined
            ? { secureContext: options.tls.secureContext }
            : options.tls.ca === undefined
              ? {}
              : { ca: options.tls.ca }),
          ...(options.tls.servername === undefined ? {} : { servername: options.tls.servername }),
        }
      : {}),
  };
  return new Promise((resolve, rejectOnce) => {
    const request = isHttps ? https.request(requestOptions) : http.request(requestOptions);
    let isSettled = false;
    const signal = options.signal;
    const reject = (error: DialError): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      rejectOnce(error);
    };
    function onAbort(): void {
      request.destroy();
      reject(new DialError('dial canceled', undefined));
    }
    // The limit covers the whole answer: a refusal whose body never ends must not hold the dial open (§7.7).
    const timer = setTimeout(() => {
      request.destroy();
      reject(new DialError(`handshake timed out after ${options.timeoutMs} ms`, undefined));
    }, options.timeoutMs);
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error: Error) => {
      reject(error instanceof DialError ? error : new DialError(error.message, undefined));
    });
    request.on('response', (response: http.IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        if (size < 4096) chunks.push(chunk);
        size += chunk.length;
      });
      response.on('error', () => reject(new DialError(`unexpected status ${status}`, status)));
      response.on('aborted', () => reject(new DialError(`unexpected status ${status}`, status)));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8').slice(0, 300);
        let detail = `unexpected status ${status}`;
        try {
          const parsed = JSON.parse(body) as { message?: unknown };
          if (typeof parsed.message === 'string') detail = parsed.message;
        } catch {
          if (body.trim() !== '') detail = body.trim();
        }
        reject(new DialError(detail, status));
      });
    });
    request.on('upgrade', (response: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (isSettled) {
        socket.destroy(); // canceled or timed out while the answer was on its way
        return;
      }
      const expected = createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
      const protocol = response.headers['sec-websocket-protocol'] ?? '';
      const fail = (message: string): void => {
        socket.destroy();
        reject(new DialError(message, response.statusCode));
      };
      if (response.headers['sec-websocket-accept'] !== expected) return fail('invalid Sec-WebSocket-Accept header');
      if (protocol !== '' && !options.offer.includes(protocol)) return fail(`server selected a subprotocol that was not offered: ${protocol}`);
      if (protocol === '' && options.offer.length > 0) return fail('server selected no subprotocol');
      if (socket instanceof Socket) socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
      isSettled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ socket: clientWebSocket(socket, head, protocol, options.maxPayload), protocol, rawHeaders: response.rawHeaders });
    });
    request.end();
  });
}
