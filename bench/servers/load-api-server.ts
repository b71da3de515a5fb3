// The upstream of the load and scale benches, in its own process so the bench does not measure its own
// load: HTTPS on 127.0.0.1:0 with bodies serialized once at start, HTTP/2 (ALPN h2) and HTTP/1.1 on the
// same port as kube-apiserver serves them (`--http1-only` offers HTTP/1.1 alone). Prints one JSON line
// {port, caPem, token}, then serves until stdin closes.
//
//   GET  /api/v1/namespaces/bench/configmaps/small        1 KiB object
//   GET  /api/v1/namespaces/bench/pods?limit=100           100-pod list (real-shaped, from the corpus)
//   GET  /api/v1/pods?limit=big                            ~1 MB pod list (compressible)
//   GET  …/pods?watch=true[&events=N]                      N watch events, then ends (N=0: held open)
//   WS   …/pods/<name>/exec (v5/v4.channel.k8s.io)         echoes stdin (channel 0) as stdout (channel 1)

import http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { createLoopbackTls } from '../../src/local/tls/local-ca.js';
import { buildCorpus } from '../corpus.js';

const TOKEN = 'bench-token';
const BIG_LIST_BYTES = 1_000_000;

function loadBodies(): Map<string, Buffer> {
  const corpus = buildCorpus();
  const pods100 = corpus.find((item) => item.name === 'pods-100')!.body;
  const pods1000 = JSON.parse(corpus.find((item) => item.name === 'pods-1000')!.body.toString('utf8')) as { items: unknown[] };
  const perPod = JSON.stringify(pods1000.items[0]).length;
  const big = Buffer.from(`${JSON.stringify({ ...pods1000, items: pods1000.items.slice(0, Math.ceil(BIG_LIST_BYTES / perPod)) })}\n`);
  const small = Buffer.from(
    JSON.stringify({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'small', namespace: 'bench', uid: '5b3c1e8a-0d4f-4c1e-9a0b-2f6d7e8c9a10', resourceVersion: '4242', creationTimestamp: '2026-11-01T00:00:00Z' },
      data: { 'settings.yaml': 'x'.repeat(760) },
    }),
  );
  return new Map([
    ['/api/v1/namespaces/bench/configmaps/small', small],
    ['/api/v1/namespaces/bench/pods?limit=100', pods100],
    ['/api/v1/pods?limit=big', big],
  ]);
}

const bodies = loadBodies();
const pods = (JSON.parse(bodies.get('/api/v1/namespaces/bench/pods?limit=100')!.toString('utf8')) as { items: unknown[] }).items;
const watchEvents = pods.slice(0, 20).map((object, i) => Buffer.from(`${JSON.stringify({ type: i % 2 === 0 ? 'MODIFIED' : 'ADDED', object })}\n`));
const tls = createLoopbackTls('load-api');
let openWatches = 0;

const isHttp1Only = process.argv.includes('--http1-only');
const sessions = new Set<http2.ServerHttp2Session>();
const connections = new Set<Socket>();

function serve(request: IncomingMessage | http2.Http2ServerRequest, either: ServerResponse | http2.Http2ServerResponse): void {
  // The calls below have the same meaning on both; only their declared overloads differ.
  const response = either as ServerResponse;
  request.resume();
  const url = new URL(request.url ?? '/', 'https://bench');
  if (url.searchParams.get('watch') === 'true') {
    const count = Number(url.searchParams.get('events') ?? '0');
    if (count > 0 || !(either instanceof http2.Http2ServerResponse)) response.writeHead(200, { 'Content-Type': 'application/json' });
    for (let i = 0; i < count; i++) response.write(watchEvents[i % watchEvents.length]!);
    if (count > 0) {
      response.end();
      return;
    }
    openWatches++;
    if (either instanceof http2.Http2ServerResponse) either.stream.respond({ ':status': 200, 'content-type': 'application/json' });
    else response.flushHeaders();
    response.once('close', () => openWatches--);
    return;
  }
  if (url.pathname === '/bench/open-watches') {
    response.end(String(openWatches));
    return;
  }
  const body = bodies.get(`${url.pathname}${url.search}`);
  if (body === undefined) {
    response.writeHead(404, { 'Content-Type': 'application/json' });
    response.end('{"kind":"Status","code":404}');
    return;
  }
  response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(body.length) });
  response.end(body);
}

// kube-apiserver allows 100 streams per HTTP/2 connection by default since the 2023 rapid-reset fix
// (`--http2-max-streams-per-connection` 0; 250 before).
const server = http2.createSecureServer(
  {
    key: tls.server.keyPem,
    cert: tls.server.certPem,
    allowHTTP1: true,
    ALPNProtocols: isHttp1Only ? ['http/1.1'] : ['h2', 'http/1.1'],
    settings: { maxConcurrentStreams: 100 },
    maxSessionMemory: 64,
  },
  serve,
);
// HTTP/1.1 keep-alive connections close after 5 s idle, as a node:http server's do (an HTTP/2 server
// leaves them open unless told).
Object.assign(server, { keepAliveTimeout: 5_000 });
server.on('session', (session: http2.ServerHttp2Session) => {
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
});
server.on('secureConnection', (socket: Socket) => {
  connections.add(socket);
  socket.once('close', () => connections.delete(socket));
});
server.setTimeout(0);
server.maxConnections = 30_000;

const sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (offered) => [...offered].find((p) => p.endsWith('channel.k8s.io')) ?? false });
server.on('upgrade', (request, socket, head) => {
  sockets.handleUpgrade(request, socket, head, (ws) => {
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) ws.send(Buffer.concat([Buffer.from([1]), data.subarray(1)]));
    });
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port, caPem: tls.caPem, token: TOKEN })}\n`);
});
process.stdin.on('end', () => {
  for (const session of sessions) session.destroy();
  for (const socket of connections) socket.destroy();
  for (const ws of sockets.clients) ws.terminate();
  server.close(() => process.exit(0));
});
process.stdin.resume();
