// The actors' HTTP(S) upstream (workers/lib/upstream.ts) against loopback servers: the request goes out as
// described (headers, Content-Length rule, Host, nothing added), the Kubernetes upstream trusts only its
// CA under its server name, a service upstream does not verify, the agent token is read at use, and
// retire() drops idle keep-alive sockets.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import https from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { createKubeUpstream, serviceUpstream, type Upstream, type UpstreamCall } from '../../workers/lib/upstream.js';
import { aliasLookup } from '../../workers/lib/host-aliases.js';
import { loopbackTlsFor } from '../../src/local/tls/local-ca.js';
import type { KubeTarget } from '../../src/kube/kube-target.js';
import { eventually } from '../helpers/eventually.js';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly body: string;
  readonly socketPort: number;
}

interface Server {
  readonly port: number;
  readonly seen: Seen[];
  readonly sockets: Set<Socket>;
  readonly closedSockets: () => number;
}

/** An HTTP(S) server on loopback recording each request and answering 200 `ok`. */
async function server(t: ExecutionContext, isTls = false): Promise<Server> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  let closed = 0;
  const handler = (request: IncomingMessage, response: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', rawHeaders: request.rawHeaders, body: Buffer.concat(chunks).toString(), socketPort: request.socket.remotePort ?? 0 });
      response.end('ok');
    });
  };
  const tls = loopbackTlsFor('upstream-test');
  const listener = isTls ? https.createServer({ key: tls.server.keyPem, cert: tls.server.certPem }, handler) : http.createServer(handler);
  // Idle sockets stay open on the server's side: only the client closes them in these tests.
  listener.keepAliveTimeout = 120_000;
  listener.on(isTls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => closed++);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        listener.closeAllConnections();
        listener.close(() => resolve());
      }),
  );
  return { port: (listener.address() as AddressInfo).port, seen, sockets, closedSockets: () => closed };
}

/** Sends `call` (with `body` when given) and reads the whole answer. */
function send(upstream: Upstream, call: Partial<UpstreamCall> = {}, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = upstream.request({ method: 'GET', target: '/', headers: {}, bodyLength: 0, ...call });
    request.on('error', reject);
    request.setTimeout(15_000, () => request.destroy(new Error('no answer within 15 s')));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    // A streamed body (no length) is written before the end, as the relay does: Node then sends it chunked.
    if (call.bodyLength === undefined && 'bodyLength' in call && body !== undefined) {
      request.write(body);
      request.end();
    } else request.end(body);
  });
}

/** Header lines as sent, names lowercased, in order. */
const lines = (seen: Seen): string[][] => {
  const out: string[][] = [];
  for (let i = 0; i + 1 < seen.rawHeaders.length; i += 2) out.push([seen.rawHeaders[i]!.toLowerCase(), seen.rawHeaders[i + 1]!]);
  return out;
};

function kubeTarget(port: number, overrides: Partial<KubeTarget> = {}): KubeTarget {
  return {
    server: `https://127.0.0.1:${port}`,
    ca: loopbackTlsFor('upstream-test').caPem,
    caFile: undefined,
    rejectUnauthorized: true,
    tlsServerName: undefined,
    agentToken: undefined,
    agentTokenFile: undefined,
    ...overrides,
  };
}

test('the call goes out as given: path and query, repeated headers, the given Host; nothing like Accept-Encoding is added', async (t) => {
  const remote = await server(t);
  const upstream = serviceUpstream(new URL(`http://127.0.0.1:${remote.port}`));
  const answer = await send(upstream, {
    target: '/a/b?x=1&y=%2F',
    headers: { 'X-Trace': ['one', 'two'], Accept: ['text/plain'] },
    host: 'web.example.com',
  });
  t.deepEqual(answer, { status: 200, text: 'ok' });
  const [seen] = remote.seen;
  t.is(seen!.url, '/a/b?x=1&y=%2F');
  const sent = lines(seen!);
  t.deepEqual(sent.filter(([name]) => name === 'x-trace'), [['x-trace', 'one'], ['x-trace', 'two']]);
  t.deepEqual(sent.find(([name]) => name === 'host'), ['host', 'web.example.com']);
  t.false(sent.some(([name]) => name === 'accept-encoding' || name === 'authorization'));
});

test('Content-Length: sent for a body or a method that carries one, never on an empty GET, absent for a streamed body', async (t) => {
  const remote = await server(t);
  const upstream = serviceUpstream(new URL(`http://127.0.0.1:${remote.port}`));
  await send(upstream, { method: 'GET', bodyLength: 0 });
  await send(upstream, { method: 'POST', bodyLength: 0 });
  await send(upstream, { method: 'PUT', bodyLength: 5 }, 'hello');
  await send(upstream, { method: 'POST', bodyLength: undefined }, 'streamed');
  const header = (index: number, name: string): string | undefined => lines(remote.seen[index]!).find(([line]) => line === name)?.[1];
  t.is(header(0, 'content-length'), undefined);
  t.is(header(1, 'content-length'), '0');
  t.is(header(2, 'content-length'), '5');
  t.is(remote.seen[2]!.body, 'hello');
  t.is(header(3, 'content-length'), undefined);
  t.is(header(3, 'transfer-encoding'), 'chunked');
  t.is(remote.seen[3]!.body, 'streamed');
});

test('a service upstream resolves through its lookup and does not verify an HTTPS certificate', async (t) => {
  const remote = await server(t, true);
  const lookup = aliasLookup({ 'web.apps.svc.cluster.local': '127.0.0.1' });
  const upstream = serviceUpstream(new URL(`https://web.apps.svc.cluster.local:${remote.port}`), lookup);
  t.true(upstream.isHttps);
  t.deepEqual(await send(upstream, { target: '/secure' }), { status: 200, text: 'ok' });
  t.is(remote.seen[0]!.url, '/secure');
  t.is(upstream.agentToken, undefined, 'a service call never carries the agent token');
});

test('the Kubernetes upstream trusts its CA under its server name and refuses any other', async (t) => {
  const remote = await server(t, true);
  const trusted = createKubeUpstream(kubeTarget(remote.port, { tlsServerName: 'localhost' }));
  t.teardown(() => trusted.close());
  t.deepEqual(await send(trusted, { target: '/version' }), { status: 200, text: 'ok' });
  const wrongName = createKubeUpstream(kubeTarget(remote.port, { tlsServerName: 'other.example' }));
  t.teardown(() => wrongName.close());
  await t.throwsAsync(send(wrongName), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  const systemStore = createKubeUpstream(kubeTarget(remote.port, { ca: undefined }));
  t.teardown(() => systemStore.close());
  await t.throwsAsync(send(systemStore), { message: /self-signed|unable to verify|issuer/i });
  t.is(remote.seen.length, 1, 'an untrusted server never saw a request');
});

test('the CA may come from a file; the agent token comes from the config or its file, read at every use', async (t) => {
  const remote = await server(t, true);
  const dir = mkdtempSync(join(tmpdir(), 'upstream-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.crt');
  const tokenFile = join(dir, 'token');
  writeFileSync(caFile, loopbackTlsFor('upstream-test').caPem);
  writeFileSync(tokenFile, 'first-token\n');
  const upstream = createKubeUpstream(kubeTarget(remote.port, { ca: undefined, caFile, agentTokenFile: tokenFile }));
  t.teardown(() => upstream.close());
  t.deepEqual(await send(upstream), { status: 200, text: 'ok' });
  t.is(upstream.agentToken, 'first-token');
  writeFileSync(tokenFile, 'rotated-token');
  t.is(upstream.agentToken, 'rotated-token');
  writeFileSync(tokenFile, '  \n');
  t.is(upstream.agentToken, undefined, 'an empty file is no token');
  rmSync(tokenFile);
  t.is(upstream.agentToken, undefined, 'a missing file is no token');
  const configured = createKubeUpstream(kubeTarget(remote.port, { agentToken: 'configured', agentTokenFile: tokenFile }));
  t.teardown(() => configured.close());
  t.is(configured.agentToken, 'configured');
});

test('keep-alive reuses the socket; retire() closes the idle one and the next call opens another', async (t) => {
  const remote = await server(t, true);
  const upstream = createKubeUpstream(kubeTarget(remote.port));
  t.teardown(() => upstream.close());
  await send(upstream);
  await send(upstream);
  t.is(remote.seen[0]!.socketPort, remote.seen[1]!.socketPort, 'the second call reused the socket');
  upstream.retire();
  await eventually(() => remote.closedSockets() === 1, 'the idle socket closed');
  await send(upstream);
  t.not(remote.seen[2]!.socketPort, remote.seen[0]!.socketPort);
});

test('a refused connection fails the request with ECONNREFUSED', async (t) => {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const freePort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const upstream = serviceUpstream(new URL(`http://127.0.0.1:${freePort}`));
  await t.throwsAsync(send(upstream), { code: 'ECONNREFUSED' });
});
