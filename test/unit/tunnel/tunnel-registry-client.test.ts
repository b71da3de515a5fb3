// The §17.3 registry client against a loopback server: paths, Bearer token, bodies, retries of 5xx,
// 401/403 as failures, other 4xx as rejections, DELETE 404 as done, sync answers read, token never logged.

import test from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { HttpTunnelRegistryClient, syncAnswerOf } from '../../../src/tunnel/discovery/tunnel-registry-client.js';
import type { TunnelRegistrationBody } from '../../../src/tunnel/discovery/tunnel-entry.js';
import { systemClock, type Clock } from '../../../src/util/clock.js';

const TOKEN = 'tok-very-secret-123';
/** Retry waits pass at once: the test is about what is sent, not when. */
const IMMEDIATE: Clock = { now: () => Date.now(), setTimer: (_ms, callback) => { const timer = setTimeout(callback, 0); return { cancel: () => clearTimeout(timer) }; } };

const BODY: TunnelRegistrationBody = {
  cluster_uuid: 'u-1', protocol: 'tcp', tunnel_id: 'tun-1', gateway_name: 'g', gateway_namespace: 'default', gateway_port: 5432,
  service_name: 'pg', service_namespace: 'default', service_port: 5432, routing_mode: 'tunnel', labels: {},
};

async function serve(t: import('ava').ExecutionContext, answers: readonly [number, string][]) {
  const seen: { method: string; url: string; auth: string; body: string }[] = [];
  let next = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '', body });
      const [status, text] = answers[Math.min(next++, answers.length - 1)]!;
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const logs: string[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => { logs.push(chunk.toString()); done(); } });
  const client = new HttpTunnelRegistryClient({
    apiUrl: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/base/`,
    token: () => TOKEN,
    tls: { rejectUnauthorized: true },
    clock: IMMEDIATE,
    callClock: systemClock,
    random: () => 0,
    logger: pino({ level: 'trace' }, sink),
  });
  t.teardown(() => client.close());
  return { seen, logs, client };
}

test('register: path under the base URL, Bearer token, JSON body; 5xx retried up to 3 attempts, then failed', async (t) => {
  const { seen, logs, client } = await serve(t, [[500, '{}'], [503, '{}'], [201, '{"tunnel_port":40000}']]);
  const answer = await client.register('u-1', BODY);
  t.like(answer, { outcome: 'ok', status: 201, body: { tunnel_port: 40000 } });
  t.deepEqual(seen.map((entry) => `${entry.method} ${entry.url}`), Array(3).fill('POST /base/api/v1/clusters/agent/u-1/tunnels'));
  t.is(seen[0]!.auth, `Bearer ${TOKEN}`);
  t.deepEqual(JSON.parse(seen[0]!.body), BODY);
  const failing = await serve(t, [[502, '{}']]);
  t.deepEqual(await failing.client.register('u-1', BODY), { outcome: 'failed', failure: 'status 502' });
  t.is(failing.seen.length, 3);
  t.false([...logs, ...failing.logs].join('').includes(TOKEN), 'the token never reaches the log');
});

test('401/403 fail without retry, other 4xx are rejections with the reason, DELETE 404 is done, sync answers are read', async (t) => {
  const refused = await serve(t, [[401, '{"error":"bad token"}']]);
  t.deepEqual(await refused.client.register('u-1', BODY), { outcome: 'failed', failure: 'status 401' });
  t.is(refused.seen.length, 1);
  const rejected = await serve(t, [[422, '{"error":"port 5432 is taken"}']]);
  t.deepEqual(await rejected.client.register('u-1', BODY), { outcome: 'rejected', status: 422, reason: 'port 5432 is taken' });
  const gone = await serve(t, [[404, '{}']]);
  t.like(await gone.client.remove('u-1', 'tun/1'), { outcome: 'ok', status: 404 });
  t.is(gone.seen[0]!.url, '/base/api/v1/clusters/agent/u-1/tunnels/tun%2F1');
  t.is(gone.seen[0]!.method, 'DELETE');
  const synced = await serve(t, [[200, '{"accepted":[{"tunnel_id":"a"}],"rejected":[{"tunnel_id":"b","reason":"no"}]}']]);
  const answer = await synced.client.sync('u-1', [BODY]);
  t.is(synced.seen[0]!.url, '/base/api/v1/clusters/agent/u-1/tunnels/sync');
  t.deepEqual(JSON.parse(synced.seen[0]!.body), { cluster_uuid: 'u-1', tunnels: [BODY] });
  t.deepEqual(answer.outcome === 'ok' ? syncAnswerOf(answer.body) : undefined, { accepted: ['a'], rejected: [{ tunnelId: 'b', reason: 'no' }] });
  t.deepEqual(syncAnswerOf({ success: true, data: { accepted: ['x'], rejected: [] } }), { accepted: ['x'], rejected: [] });
  t.deepEqual(syncAnswerOf(undefined), { accepted: undefined, rejected: [] });
});
