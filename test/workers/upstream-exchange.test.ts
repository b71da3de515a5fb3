// One upstream exchange (workers/lib/upstream-exchange.ts) against loopback servers: the request as the
// protocol wants it sent (§9.1, §9.4, §9.15), the once-more resend on a stale keep-alive socket only when it
// is safe (C98), and refusal and abort as RelayFailures with the protocol's texts.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startExchange, RelayFailure, type UpstreamResponse } from '../../workers/lib/upstream-exchange.js';
import { serviceUpstream, Upstream } from '../../workers/lib/upstream.js';
import { StreamedBody } from '../../workers/lib/request-body.js';
import type { ProxyRequest } from '../../workers/lib/proxy-request.js';
import type { HeaderMap } from '../../src/protocol/headers.js';
import { ErrorCode } from '../../src/errors.js';
import { eventually } from '../helpers/eventually.js';
import { proxyRequestOf } from '../helpers/proxy-request.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  body: string;
  isComplete: boolean;
}

type Handler = (request: http.IncomingMessage, response: http.ServerResponse, seen: Seen, socketIndex: number) => void;

const answerOk: Handler = (request, response) => request.on('end', () => response.end('ok'));

async function server(t: ExecutionContext, handler: Handler = answerOk): Promise<{ port: number; seen: Seen[]; sockets: Socket[] }> {
  const seen: Seen[] = [];
  const sockets: Socket[] = [];
  const listener = http.createServer((request, response) => {
    const record: Seen = { method: request.method ?? '', url: request.url ?? '', headers: request.headers, body: '', isComplete: false };
    seen.push(record);
    request.on('data', (chunk: Buffer) => (record.body += chunk.toString()));
    request.on('end', () => (record.isComplete = true));
    handler(request, response, record, sockets.indexOf(request.socket));
  });
  listener.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        listener.closeAllConnections();
        listener.close(() => resolve());
      }),
  );
  return { port: (listener.address() as AddressInfo).port, seen, sockets };
}

function proxyRequest(overrides: Partial<ProxyRequest> = {}): ProxyRequest {
  return proxyRequestOf({ ...overrides });
}

/** A keep-alive upstream of its own, so no other test's sockets are reused. */
function upstream(t: ExecutionContext, port: number): Upstream {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const created = new Upstream(new URL(`http://127.0.0.1:${port}`), agent, { ca: undefined, rejectUnauthorized: false, servername: undefined });
  t.teardown(() => created.close());
  return created;
}

/** The whole body, read through the exchange's own response interface (HTTP/1.1 or HTTP/2 alike). */
function text(response: UpstreamResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString()));
    response.on('error', reject);
  });
}

const SERVICE = { name: 'web', namespace: 'apps', port: 443, isHttps: true } as const;

test('§9.1: path and query, hop-by-hop headers dropped, the original Host kept and X-Forwarded-Proto set for a TLS service', async (t) => {
  const remote = await server(t);
  const headers: HeaderMap = { Host: ['web.example.com'], Connection: ['keep-alive, X-Secret-Hop'], 'X-Secret-Hop': ['1'], 'Accept-Encoding': ['gzip'], 'X-Trace': ['a'] };
  const exchange = startExchange({
    upstream: upstream(t, remote.port),
    request: proxyRequest({ path: 'items', query: 'limit=5', headers, service: SERVICE }),
    isKube: false,
    shouldDropAcceptEncoding: true,
    body: new Uint8Array(0),
  });
  const response = await exchange.response;
  t.is(response.statusCode, 200);
  t.is(await text(response), 'ok');
  const [seen] = remote.seen;
  t.is(seen!.url, '/items?limit=5');
  t.is(seen!.headers.host, 'web.example.com');
  t.is(seen!.headers['x-forwarded-proto'], 'https');
  t.is(seen!.headers['x-trace'], 'a');
  t.is(seen!.headers['x-secret-hop'], undefined, 'a header named by Connection is hop-by-hop');
  t.is(seen!.headers['accept-encoding'], 'gzip', 'only Kubernetes calls drop Accept-Encoding');
});

test('§9.4: a Kubernetes call drops Accept-Encoding when asked, uses the upstream’s own Host, and sends an inline body with its length', async (t) => {
  const remote = await server(t);
  const exchange = startExchange({
    upstream: upstream(t, remote.port),
    request: proxyRequest({ method: 'POST', path: '/api/v1/namespaces', headers: { Host: ['cluster.example'], 'Accept-Encoding': ['gzip'] } }),
    isKube: true,
    shouldDropAcceptEncoding: true,
    body: new Uint8Array(Buffer.from('{"kind":"Namespace"}')),
  });
  await text(await exchange.response);
  const [seen] = remote.seen;
  t.is(seen!.headers['accept-encoding'], undefined);
  t.is(seen!.headers.host, `127.0.0.1:${remote.port}`);
  t.is(seen!.headers['content-length'], '20');
  t.is(seen!.body, '{"kind":"Namespace"}');
  t.is(seen!.headers['x-forwarded-proto'], undefined);
});

test('§9.15: a streamed body starts the call before its first chunk and is sent chunked as chunks arrive', async (t) => {
  const remote = await server(t);
  const failures: Error[] = [];
  const body = new StreamedBody(1024 * 1024, 30_000, (error) => failures.push(error));
  const exchange = startExchange({
    upstream: upstream(t, remote.port),
    request: proxyRequest({ method: 'PUT', path: '/upload', body: { kind: 'stream' } }),
    isKube: false,
    shouldDropAcceptEncoding: false,
    body,
  });
  await eventually(() => remote.seen.length === 1, 'the request head before any chunk');
  t.is(remote.seen[0]!.headers['transfer-encoding'], 'chunked');
  const chunk = (data: string): Uint8Array =>
    new Uint8Array(Buffer.from(JSON.stringify({ type: 'proxy_request_chunk', request_id: 'r-1', payload: { data: Buffer.from(data).toString('base64') } })));
  body.accept(chunk('part one, '));
  await eventually(() => remote.seen[0]!.body === 'part one, ', 'the first chunk at the server');
  body.accept(chunk('part two'));
  body.accept(new Uint8Array(Buffer.from(JSON.stringify({ type: 'proxy_request_stream_end', request_id: 'r-1', payload: {} }))));
  t.is(await text(await exchange.response), 'ok');
  t.is(remote.seen[0]!.body, 'part one, part two');
  t.deepEqual(failures, []);
});

/** Answers each socket's first request; a second request on the first socket resets it (a stale keep-alive). */
const staleSecondRequest: Handler = (request, response, _seen, socketIndex) => {
  request.on('end', () => {
    const socket = request.socket as Socket & { served?: number };
    socket.served = (socket.served ?? 0) + 1;
    if (socketIndex === 0 && socket.served === 2) socket.resetAndDestroy();
    else response.end(`socket ${socketIndex}`);
  });
};

test('C98: a GET that meets a reset on a reused keep-alive socket is sent once more and succeeds', async (t) => {
  const remote = await server(t, staleSecondRequest);
  const shared = upstream(t, remote.port);
  const first = startExchange({ upstream: shared, request: proxyRequest(), isKube: false, shouldDropAcceptEncoding: false, body: new Uint8Array(0) });
  t.is(await text(await first.response), 'socket 0');
  const second = startExchange({ upstream: shared, request: proxyRequest(), isKube: false, shouldDropAcceptEncoding: false, body: new Uint8Array(0) });
  t.is(await text(await second.response), 'socket 1');
  t.is(remote.seen.length, 3, 'the reset request and its resend');
});

test('C98: a POST whose bytes reached a reused socket before the reset is not resent', async (t) => {
  const remote = await server(t, staleSecondRequest);
  const shared = upstream(t, remote.port);
  const first = startExchange({ upstream: shared, request: proxyRequest(), isKube: false, shouldDropAcceptEncoding: false, body: new Uint8Array(0) });
  await text(await first.response);
  const post = startExchange({
    upstream: shared,
    request: proxyRequest({ method: 'POST', path: '/orders' }),
    isKube: false,
    shouldDropAcceptEncoding: false,
    body: new Uint8Array(Buffer.from('order')),
  });
  const failure = await t.throwsAsync(post.response, { instanceOf: RelayFailure });
  t.is(failure!.outcome, 'upstream_error');
  t.is(failure!.code, ErrorCode.upstreamFailed);
  t.regex(failure!.message, /^service request failed: /);
  t.is(remote.seen.length, 2, 'the POST was sent once');
});

test('a refused connection is an upstream_error with the protocol’s text', async (t) => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const freePort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const kube = startExchange({
    upstream: serviceUpstream(new URL(`http://127.0.0.1:${freePort}`)),
    request: proxyRequest({ path: '/api' }),
    isKube: true,
    shouldDropAcceptEncoding: true,
    body: new Uint8Array(0),
  });
  const failure = await t.throwsAsync(kube.response, { instanceOf: RelayFailure });
  t.is(failure!.outcome, 'upstream_error');
  t.regex(failure!.message, /^kubernetes API request failed: connect ECONNREFUSED/);
});

test('destroy() aborts a call the upstream never answers: the response rejects and the connection closes', async (t) => {
  const remote = await server(t, () => undefined);
  const exchange = startExchange({ upstream: upstream(t, remote.port), request: proxyRequest(), isKube: false, shouldDropAcceptEncoding: false, body: new Uint8Array(0) });
  await eventually(() => remote.seen.length === 1, 'the request at the server');
  const closed = new Promise<void>((resolve) => remote.sockets[0]!.once('close', () => resolve()));
  exchange.destroy();
  const failure = await t.throwsAsync(exchange.response, { instanceOf: RelayFailure });
  t.is(failure!.outcome, 'upstream_error');
  await closed;
  t.is(remote.seen.length, 1, 'an aborted call is not resent');
});
