// The corpus served over HTTPS on 127.0.0.1:0 in its own process, so the benchmark does not measure its
// own load. Prints one JSON line {port, caPem, token} on stdout, then serves until stdin closes.

import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';
import { WATCH_PATH, buildCorpus, buildPodWatchEvents } from '../corpus.js';

const TOKEN = 'bench-token';
const corpus = new Map(buildCorpus().map((item) => [item.path, item]));
const watchEvents = buildPodWatchEvents();
/** Between two watch events: each leaves as its own chunk, as an API server writes a busy namespace's events. */
const WATCH_EVENT_GAP_MS = 2;
const tls = loopbackTlsFor('corpus-api');
const server = https.createServer({ key: tls.server.keyPem, cert: tls.server.certPem }, (request, response) => {
  request.resume();
  const url = request.url ?? '/';
  if (url.startsWith('/version')) {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end('{"major":"1","minor":"32","gitVersion":"v1.32.0-bench"}');
    return;
  }
  if (url === WATCH_PATH) {
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Audit-Id': 'bench' });
    let index = 0;
    const next = (): void => {
      if (index >= watchEvents.length) response.end();
      else {
        response.write(watchEvents[index++]);
        setTimeout(next, WATCH_EVENT_GAP_MS);
      }
    };
    next();
    return;
  }
  const item = corpus.get(url);
  if (item === undefined) {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end('{"kind":"List","items":[]}');
    return;
  }
  response.writeHead(200, { 'Content-Type': item.contentType, 'Content-Length': String(item.body.length), 'Audit-Id': 'bench' });
  response.end(item.body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port, caPem: tls.caPem, token: TOKEN })}\n`);
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
