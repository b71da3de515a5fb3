// Watches and followed logs go to the Kubernetes API over HTTP/2 when it offers h2 (ALPN), many streams on
// one connection as client-go sends them (docs/performance.md, Per session); HTTP/1.1 when it does not.
// Each test runs the HTTP relay actor against a local HTTP/2 server that also speaks HTTP/1.1.

import test from 'ava';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import httpRelay, { ActorContext } from '../../workers/http-relay.js';
import { DEFAULT_WORKER_TUNING, workerConfigOf } from '../../src/config/agent-config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createLoopbackTls } from '../../src/local/tls/local-ca.js';
import type { ActorOutbound } from '../../src/messages/actor-messages.js';
import { isLongLivedGet } from '../../workers/lib/upstream-exchange.js';
import { Upstream } from '../../workers/lib/upstream.js';
import { eventually } from '../helpers/eventually.js';

const CREDIT_BYTES = 256 * 1024;

interface Seen {
  readonly url: string;
  readonly httpVersion: string;
  readonly stream: http2.ServerHttp2Stream | undefined;
  readonly response: http2.Http2ServerResponse;
}

interface Api {
  port: number;
  readonly caPem: string;
  readonly seen: Seen[];
  readonly sessions: Set<http2.ServerHttp2Session>;
  /** TLS connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A watch answers its head and one event, then holds; anything else answers `ok`. `refuseFirst`: the first
 * request's stream is refused and its session told to go away, as kube-apiserver's `--goaway-chance` does. `isHttp2` false is an
 * HTTP/1.1-only server (its ALPN selects http/1.1), as an API server behind an HTTP/1.1 proxy would be.
 */
async function startApi(isHttp2: boolean, maxConcurrentStreams = 1000, refuseFirst = false): Promise<Api> {
  const tls = createLoopbackTls('kube-http2');
  const seen: Seen[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  const sockets = new Set<Socket>();
  let isRefusing = refuseFirst;
  const handler = (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse): void => {
    request.resume();
    if (isRefusing) {
      isRefusing = false;
      seen.push({ url: request.url, httpVersion: request.httpVersion, stream: request.stream, response });
      request.stream.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, 0);
      request.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    seen.push({ url: request.url, httpVersion: request.httpVersion, stream: request.httpVersion === '2.0' ? request.stream : undefined, response });
    response.writeHead(200, { 'content-type': 'application/json' });
    if (isLongLivedGet(request.method, request.url.split('?')[0]!, request.url.split('?')[1] ?? '')) response.write('{"type":"ADDED"}\n');
    else response.end('ok');
  };
  const options = { key: tls.server.keyPem, cert: tls.server.certPem };
  // the calls the handler makes mean the same on an HTTP/1.1 request and response
  const server = isHttp2
    ? http2.createSecureServer({ ...options, allowHTTP1: true, settings: { maxConcurrentStreams } }, handler)
    : https.createServer(options, handler as unknown as (request: http.IncomingMessage, response: http.ServerResponse) => void);
  const api: Api = {
    port: 0,
    caPem: tls.caPem,
    seen,
    sessions,
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('secureConnection', (socket: Socket) => {
    api.connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  api.port = (server.address() as AddressInfo).port;
  return api;
}

function contextFor(api: Api, isKubeHttp2Enabled = true): ActorContext {
  return new ActorContext({
    logLevel: 'silent',
    kubeconfig: undefined,
    kube: { server: `https://127.0.0.1:${api.port}`, ca: api.caPem, caFile: undefined, rejectUnauthorized: true, tlsServerName: undefined, agentToken: undefined, agentTokenFile: undefined },
    compression: 'zlib',
    requestTimeoutMs: 60_000,
    dropAcceptEncoding: true,
    tuning: { ...DEFAULT_WORKER_TUNING, isKubeHttp2Enabled },
  });
}

interface Running {
  readonly messages: { type: string; payload: Record<string, unknown> }[];
  /** Credit granted back so far (the router's part). */
  grant(bytes: number): void;
  cancel(): void;
  readonly finished: Promise<void>;
  /** Bytes of `proxy_response_chunk` data received. */
  readonly chunkBytes: () => number;
}

/** Runs one relay as the router would; credit is never granted unless the test does. */
function relay(context: ActorContext, id: string, path: string, query: string): Running {
  const channel = new MessageChannel();
  const messages: Running['messages'] = [];
  let chunkBytes = 0;
  channel.port1.on('message', (message: ActorOutbound) => {
    if (message.type !== 'send') return;
    const decoded = JSON.parse(Buffer.from(message.data).toString('utf8')) as { type: string; payload: Record<string, unknown> };
    if (decoded.type === 'proxy_response_chunk') chunkBytes += Number(decoded.payload['size']);
    messages.push(decoded);
  });
  const frame = new Uint8Array(
    Buffer.from(JSON.stringify({ type: 'proxy_request', request_id: id, payload: { method: 'GET', path, query, supports_response_streaming: true } })),
  );
  const finished = httpRelay({ kind: 'http-relay', requestId: id, frame, port: channel.port2 }, context).then(async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    channel.port1.close();
  });
  return {
    messages,
    grant: (bytes) => channel.port1.postMessage({ type: 'credit', bytes }),
    cancel: () => channel.port1.postMessage({ type: 'cancel', reason: 'proxy_cancel' }),
    finished,
    chunkBytes: () => chunkBytes,
  };
}

const types = (running: Running): string[] => running.messages.map((message) => message.type);

test('only watches and followed logs are long-lived GETs', (t) => {
  t.true(isLongLivedGet('GET', '/api/v1/pods', 'watch=true'));
  t.true(isLongLivedGet('GET', '/api/v1/pods', 'watch=1&resourceVersion=5'));
  t.true(isLongLivedGet('GET', '/api/v1/namespaces/a/pods/p/log', 'follow=true&container=c'));
  t.true(isLongLivedGet('GET', '/apis/apps/v1/watch/namespaces/a/deployments', ''));
  t.false(isLongLivedGet('GET', '/api/v1/pods', 'watch=false'));
  t.false(isLongLivedGet('GET', '/api/v1/pods', 'limit=500'));
  t.false(isLongLivedGet('POST', '/api/v1/pods', 'watch=true'));
});

test('AGENT_KUBE_HTTP2 reaches the actors: on by default, false turns HTTP/2 off', (t) => {
  const env = { PIPEOPS_API_URL: 'https://cp.example.test', PIPEOPS_TOKEN: 'tok', PIPEOPS_CLUSTER_NAME: 'c' };
  const tuningOf = (extra: Record<string, string>): boolean => {
    const loaded = loadConfig({ argv: [], env: { ...env, ...extra }, readFile: () => '' });
    return workerConfigOf(loaded.config).tuning.isKubeHttp2Enabled;
  };
  t.true(tuningOf({}));
  t.false(tuningOf({ AGENT_KUBE_HTTP2: 'false' }));
});

test('watches go over HTTP/2 when the API server offers h2: many streams, one connection; short calls stay HTTP/1.1', async (t) => {
  const api = await startApi(true);
  t.teardown(() => api.close());
  const context = contextFor(api);
  t.teardown(() => context.close());
  const watches = Array.from({ length: 20 }, (_, i) => relay(context, `w${i}`, '/api/v1/pods', 'watch=true'));
  await eventually(() => watches.every((w) => w.chunkBytes() > 0), 'every watch delivers its first event');
  const watchRequests = api.seen.filter((s) => s.url.includes('watch=true'));
  t.is(watchRequests.length, 20);
  t.true(watchRequests.every((s) => s.httpVersion === '2.0'));
  t.is(api.connections, 1);
  const get = relay(context, 'get', '/api/v1/namespaces', '');
  await get.finished;
  t.is(api.seen.find((s) => s.url === '/api/v1/namespaces')?.httpVersion, '1.1');
  for (const w of watches) w.cancel();
  await Promise.all(watches.map((w) => w.finished));
});

test('watches go over HTTP/1.1 when the API server does not negotiate h2, and when HTTP/2 is turned off', async (t) => {
  const api = await startApi(false);
  t.teardown(() => api.close());
  const context = contextFor(api);
  t.teardown(() => context.close());
  const upstream = context.kubeUpstream();
  t.true(upstream instanceof Upstream && upstream.h2 !== undefined, 'HTTP/2 is tried first');
  const first = relay(context, 'w1', '/api/v1/pods', 'watch=true');
  const second = relay(context, 'w2', '/api/v1/pods', 'watch=true');
  await eventually(() => first.chunkBytes() > 0 && second.chunkBytes() > 0, 'both watches deliver');
  t.deepEqual(api.seen.map((s) => s.httpVersion), ['1.1', '1.1']);
  // the ALPN answer is remembered for this upstream: later calls go straight to HTTP/1.1
  t.true(upstream instanceof Upstream && upstream.h2 === undefined);
  first.cancel();
  second.cancel();
  await Promise.all([first.finished, second.finished]);

  const h2Api = await startApi(true);
  t.teardown(() => h2Api.close());
  const off = contextFor(h2Api, false);
  t.teardown(() => off.close());
  const third = relay(off, 'w3', '/api/v1/pods', 'watch=true');
  await eventually(() => third.chunkBytes() > 0, 'the watch delivers');
  t.is(h2Api.seen[0]?.httpVersion, '1.1');
  third.cancel();
  await third.finished;
});

test('cancelling a watch resets only its own stream; the others on the session go on', async (t) => {
  const api = await startApi(true);
  t.teardown(() => api.close());
  const context = contextFor(api);
  t.teardown(() => context.close());
  const kept = relay(context, 'kept', '/api/v1/pods', 'watch=true');
  const cancelled = relay(context, 'cancelled', '/api/v1/pods', 'watch=true&x=1');
  await eventually(() => kept.chunkBytes() > 0 && cancelled.chunkBytes() > 0, 'both deliver');
  const cancelledStream = api.seen.find((s) => s.url.includes('x=1'))!.stream!;
  const keptSeen = api.seen.find((s) => !s.url.includes('x=1'))!;
  const resetCode = new Promise<number>((resolve) => cancelledStream.once('close', () => resolve(cancelledStream.rstCode)));
  cancelled.cancel();
  await cancelled.finished;
  t.is(await resetCode, http2.constants.NGHTTP2_CANCEL);
  t.deepEqual(types(cancelled), ['proxy_response_header', 'proxy_response_chunk', 'proxy_response_abort']);
  t.is(cancelled.messages.at(-1)!.payload['error'], 'canceled');
  // the kept watch still receives events on the same session
  t.false(keptSeen.stream!.closed);
  keptSeen.response.write('{"type":"MODIFIED"}\n');
  await eventually(() => kept.messages.filter((m) => m.type === 'proxy_response_chunk').length === 2, 'the kept watch gets its next event');
  t.is(api.sessions.size, 1);
  kept.cancel();
  await kept.finished;
});

test('a session that fails ends the watches on it with proxy_response_abort; watches on other sessions go on', async (t) => {
  // two streams per session: four watches take two sessions
  const api = await startApi(true, 2);
  t.teardown(() => api.close());
  const context = contextFor(api);
  t.teardown(() => context.close());
  const watches = Array.from({ length: 4 }, (_, i) => relay(context, `w${i}`, '/api/v1/pods', `watch=true&n=${i}`));
  await eventually(() => watches.every((w) => w.chunkBytes() > 0), 'every watch delivers');
  t.is(api.sessions.size, 2);
  const [failing] = [...api.sessions];
  const onFailing = api.seen.filter((s) => s.stream?.session === failing).map((s) => new URLSearchParams(s.url.split('?')[1]).get('n'));
  t.is(onFailing.length, 2);
  failing!.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, 0);
  failing!.destroy();
  const ended = watches.filter((_, i) => onFailing.includes(String(i)));
  const others = watches.filter((_, i) => !onFailing.includes(String(i)));
  await Promise.all(ended.map((w) => w.finished));
  for (const w of ended) {
    t.deepEqual(types(w), ['proxy_response_header', 'proxy_response_chunk', 'proxy_response_abort']);
    t.regex(String(w.messages.at(-1)!.payload['error']), /^kubernetes API request failed: /);
  }
  // the other session's watches still relay, and a new watch opens a new session
  for (const s of api.seen.filter((seen) => seen.stream?.session !== failing)) s.response.write('{"type":"MODIFIED"}\n');
  await eventually(() => others.every((w) => w.chunkBytes() > 17), 'the other watches get their next event');
  const later = relay(context, 'later', '/api/v1/pods', 'watch=true');
  await eventually(() => later.chunkBytes() > 0, 'a new watch is served');
  for (const w of [...others, later]) w.cancel();
  await Promise.all([...others, later].map((w) => w.finished));
});

test('a watch whose stream is refused as its session goes away is sent again on a new session', async (t) => {
  const api = await startApi(true, 1000, true);
  t.teardown(() => api.close());
  const context = contextFor(api);
  t.teardown(() => context.close());
  const watch = relay(context, 'w', '/api/v1/pods', 'watch=true');
  await eventually(() => watch.chunkBytes() > 0, 'the watch delivers');
  t.deepEqual(types(watch), ['proxy_response_header', 'proxy_response_chunk']);
  t.is(api.seen.length, 2);
  t.not(api.seen[0]!.stream!.session, api.seen[1]!.stream!.session);
  watch.cancel();
  await watch.finished;
});

test('HTTP/2 flow control bounds what a watch holds while the control plane does not take its data', async (t) => {
  const api = await startApi(true);
  t.teardown(() => api.close());
  const context = contextFor(api);
  t.teardown(() => context.close());
  const slow = relay(context, 'slow', '/api/v1/pods', 'watch=true&flood=1');
  const other = relay(context, 'other', '/api/v1/pods', 'watch=true');
  await eventually(() => slow.chunkBytes() > 0 && other.chunkBytes() > 0, 'both deliver');
  const flood = api.seen.find((s) => s.url.includes('flood=1'))!;
  const event = Buffer.alloc(16 * 1024, 0x61);
  let written = 0;
  let isBlocked = false;
  const pump = (): void => {
    while (written < 32 * 1024 * 1024) {
      written += event.length;
      if (!flood.response.write(event)) {
        isBlocked = true;
        flood.response.once('drain', () => {
          isBlocked = false;
          pump();
        });
        return;
      }
    }
  };
  pump();
  // no credit is granted back: the actor stops reading, the stream's window closes, the server is held back
  let last = -1;
  let stableSince = Date.now();
  await eventually(
    () => {
      if (slow.chunkBytes() !== last) {
        last = slow.chunkBytes();
        stableSince = Date.now();
      }
      return isBlocked && Date.now() - stableSince > 500;
    },
    'the server is pushed back',
    30_000,
  );
  // what left the server but not yet the actor: the stream's window, the socket buffers, one paused chunk
  const inFlight = written - flood.stream!.bufferSize - slow.chunkBytes();
  t.true(slow.chunkBytes() <= CREDIT_BYTES + event.length, `sent ${slow.chunkBytes()}`);
  t.true(inFlight < 1024 * 1024, `held between server and control plane: ${inFlight}`);
  t.true(written < 32 * 1024 * 1024);
  // the session's other stream is not blocked by the stalled one
  api.seen.find((s) => !s.url.includes('flood=1'))!.response.write('{"type":"MODIFIED"}\n');
  await eventually(() => other.messages.filter((m) => m.type === 'proxy_response_chunk').length === 2, 'the other watch still flows');
  // credit back: the stalled watch resumes
  slow.grant(4 * 1024 * 1024);
  await eventually(() => slow.chunkBytes() > last, 'the stalled watch resumes');
  slow.cancel();
  other.cancel();
  await Promise.all([slow.finished, other.finished]);
});
