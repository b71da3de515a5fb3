// A rotated cluster CA file (the mounted service-account ca.crt) is trusted for new Kubernetes calls
// without restarting the agent: the actor's upstream is replaced when the file changes.

import test from 'ava';
import https from 'node:https';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import httpRelay, { ActorContext } from '../../workers/http-relay.js';
import { DEFAULT_WORKER_TUNING } from '../../src/config/agent-config.js';
import { createLoopbackTls } from '../../src/local/tls/local-ca.js';
import type { ActorOutbound } from '../../src/messages/actor-messages.js';

function serve(port: number, tls: ReturnType<typeof createLoopbackTls>): Promise<https.Server> {
  const server = https.createServer({ key: tls.server.keyPem, cert: tls.server.certPem }, (request, response) => {
    request.resume();
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end('ok');
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function relay(context: ActorContext, id: string): Promise<string> {
  const channel = new MessageChannel();
  const types: string[] = [];
  channel.port1.on('message', (message: ActorOutbound) => {
    if (message.type === 'send') types.push((JSON.parse(Buffer.from(message.data).toString('utf8')) as { type: string }).type);
  });
  const frame = new Uint8Array(Buffer.from(JSON.stringify({ type: 'proxy_request', request_id: id, payload: { path: '/version' } })));
  await httpRelay({ kind: 'http-relay', requestId: id, frame, port: channel.port2 }, context);
  await new Promise((resolve) => setTimeout(resolve, 50));
  channel.port1.close();
  return types.join(',');
}

test('a rotated CA file is trusted by the next request', async (t) => {
  const first = createLoopbackTls('api-before');
  const second = createLoopbackTls('api-after');
  let server = await serve(0, first);
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => server.close());
  const caFile = join(mkdtempSync(join(tmpdir(), 'ca-rotation-')), 'ca.crt');
  writeFileSync(caFile, first.caPem);
  const context = new ActorContext({
    logLevel: 'silent',
    kubeconfig: undefined,
    kube: { server: `https://127.0.0.1:${port}`, ca: undefined, caFile, rejectUnauthorized: true, tlsServerName: undefined, agentToken: undefined, agentTokenFile: undefined },
    compression: 'zlib',
    requestTimeoutMs: 5_000,
    dropAcceptEncoding: true,
    tuning: { ...DEFAULT_WORKER_TUNING, caCheckIntervalMs: 0 },
  });
  t.teardown(() => context.close());
  t.is(await relay(context, 'before'), 'proxy_response');
  // the API server now presents a certificate from a new CA, and the mounted bundle is rotated
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server = await serve(port, second);
  writeFileSync(caFile, second.caPem);
  const later = new Date(Date.now() + 10_000);
  utimesSync(caFile, later, later);
  t.is(await relay(context, 'after'), 'proxy_response');
});
