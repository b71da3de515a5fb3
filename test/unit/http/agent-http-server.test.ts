// The agent's local HTTP server (src/http/agent-http-server.ts) on loopback port 0: /health, /ready from
// the link's live state, /version, /metrics from the registry; 404 and 405; no caching; a metrics failure
// is a 500 without its cause; close() cuts kept-alive connections; a port in use fails the start.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { Registry, Counter } from 'prom-client';
import { AgentHttpServer, type LinkProbe } from '../../../src/http/agent-http-server.js';
import { LinkStatus, type LinkStatus as Status } from '../../../src/link/control-plane-link.js';
import { AGENT_VERSION } from '../../../src/version.js';
import { silentLogger } from '../../../src/log.js';
import { testConfig } from '../../helpers/agent-config.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';
import { eventually } from '../../helpers/eventually.js';

interface Probe {
  status: Status;
  lastHeartbeatMs: number | undefined;
  isDraining: boolean;
}

interface Started {
  readonly server: AgentHttpServer;
  readonly link: Probe;
  readonly clock: SimulatedClock;
  readonly registry: Registry;
}

async function start(t: ExecutionContext, options: { registry?: Registry; port?: number } = {}): Promise<Started> {
  const clock = new SimulatedClock();
  const link: Probe = { status: LinkStatus.connected, lastHeartbeatMs: clock.now(), isDraining: false };
  const registry = options.registry ?? new Registry();
  const base = testConfig({ apiUrl: 'http://127.0.0.1:1', heartbeatIntervalMs: 30_000 });
  const config = { ...base, agent: { ...base.agent, port: options.port ?? 0 } };
  const server = await AgentHttpServer.start({ config, link: link as LinkProbe, metrics: { registry }, clock, logger: silentLogger() });
  t.teardown(() => server.close());
  return { server, link, clock, registry };
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function get(port: number, path: string, method = 'GET', agent?: http.Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method, ...(agent === undefined ? {} : { agent }) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    request.end();
  });
}

test('/health answers 200 ok, uncached; a query string is ignored', async (t) => {
  const { server } = await start(t);
  const health = await get(server.port, '/health?probe=1');
  t.is(health.status, 200);
  t.deepEqual(JSON.parse(health.body), { status: 'ok' });
  t.is(health.headers['cache-control'], 'no-store');
  t.is(health.headers['content-type'], 'application/json; charset=utf-8');
  t.is(health.headers['content-length'], String(Buffer.byteLength(health.body)));
});

test('/ready follows the link: ready when connected with a fresh heartbeat, 503 with a reason otherwise', async (t) => {
  const { server, link, clock } = await start(t);
  const ready = await get(server.port, '/ready');
  t.is(ready.status, 200);
  t.like(JSON.parse(ready.body), { status: 'ready', mode: 'strict', link: 'connected' });
  clock.advance(5 * 60_000);
  const stale = await get(server.port, '/ready');
  t.is(stale.status, 503, 'a heartbeat many intervals old');
  t.like(JSON.parse(stale.body), { status: 'not ready', last_heartbeat_age_seconds: 300 });
  link.lastHeartbeatMs = clock.now();
  link.status = LinkStatus.reconnecting;
  const reconnecting = await get(server.port, '/ready');
  t.is(reconnecting.status, 503);
  t.like(JSON.parse(reconnecting.body), { status: 'not ready', link: 'reconnecting' });
  link.status = LinkStatus.connected;
  t.is((await get(server.port, '/ready')).status, 200);
  link.isDraining = true;
  const draining = await get(server.port, '/ready');
  t.is(draining.status, 503);
  t.like(JSON.parse(draining.body), { reason: 'shutting down' });
});

test('/version names the agent version and the Node version', async (t) => {
  const { server } = await start(t);
  const version = await get(server.port, '/version');
  t.is(version.status, 200);
  const body = JSON.parse(version.body) as Record<string, unknown>;
  t.is(body['version'], AGENT_VERSION);
  t.is(body['node_version'], process.version);
  t.true('commit' in body && 'build_date' in body);
});

test('/metrics serves the registry in its own content type', async (t) => {
  const registry = new Registry();
  const counter = new Counter({ name: 'test_things_total', help: 'things', registers: [registry] });
  counter.inc(3);
  const { server } = await start(t, { registry });
  const metrics = await get(server.port, '/metrics');
  t.is(metrics.status, 200);
  t.is(metrics.headers['content-type'], registry.contentType);
  t.regex(metrics.body, /^test_things_total 3$/m);
});

test('an unknown path is 404, another method 405 with Allow: GET', async (t) => {
  const { server } = await start(t);
  const missing = await get(server.port, '/config');
  t.is(missing.status, 404);
  t.deepEqual(JSON.parse(missing.body), { error: 'not found' });
  t.is((await get(server.port, '//evil.example/%zz')).status, 404);
  const post = await get(server.port, '/health', 'POST');
  t.is(post.status, 405);
  t.is(post.headers['allow'], 'GET');
  t.deepEqual(JSON.parse(post.body), { error: 'method not allowed' });
});

test('a registry that fails is a 500 that does not carry the cause', async (t) => {
  const registry = new Registry();
  registry.metrics = () => Promise.reject(new Error('collector exploded: secret-detail'));
  const { server } = await start(t, { registry });
  const failed = await get(server.port, '/metrics');
  t.is(failed.status, 500);
  t.deepEqual(JSON.parse(failed.body), { error: 'internal error' });
  t.is((await get(server.port, '/health')).status, 200, 'the server goes on');
});

test('close() ends kept-alive connections and stops listening; close() twice is one close', async (t) => {
  const { server } = await start(t);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  await get(server.port, '/health', 'GET', agent);
  const [socket] = Object.values(agent.freeSockets).flat();
  t.truthy(socket, 'a kept-alive socket is idle');
  const socketClosed = new Promise<void>((resolve) => socket!.once('close', () => resolve()));
  await Promise.all([server.close(), server.close()]);
  await socketClosed;
  await t.throwsAsync(get(server.port, '/health'), { code: 'ECONNREFUSED' });
});

test('close() cuts a request still in progress rather than waiting for it', async (t) => {
  const registry = new Registry();
  let isCollecting = false;
  registry.metrics = () => {
    isCollecting = true;
    return new Promise<string>(() => undefined); // a scrape that never completes
  };
  const { server } = await start(t, { registry });
  const scrape = get(server.port, '/metrics');
  scrape.catch(() => undefined);
  await eventually(() => isCollecting, 'the scrape in progress');
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('close() still waiting'), 15_000)));
  t.is(await Promise.race([server.close().then(() => 'closed'), bound]), 'closed');
  clearTimeout(timer);
  await t.throwsAsync(scrape, { message: /socket hang up|ECONNRESET/ });
});

test('a port already in use fails the start', async (t) => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as AddressInfo).port;
  await t.throwsAsync(start(t, { port }), { code: 'EADDRINUSE' });
});
