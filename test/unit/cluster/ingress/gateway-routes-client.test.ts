// The route calls' HTTP side (PROTOCOL.md §17, §17.2): base URL mapping, headers and body, which answers
// are retried, the retry waits on the injected clock and random, and close() ending a wait.

import test, { type ExecutionContext } from 'ava';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../../../src/log.js';
import { GatewayRoutesClient } from '../../../../src/cluster/ingress/gateway-routes-client.js';
import { controlPlaneHttpBase as routesBaseUrl } from '../../../../src/link/control-plane-http.js';
import { systemClock } from '../../../../src/util/clock.js';
import { eventually } from '../../../helpers/eventually.js';
import { SimulatedClock } from '../../../helpers/simulated-clock.js';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

/** A loopback server answering each request with the next scripted status (200 when the script is empty). */
async function scriptedServer(t: ExecutionContext, statuses: number[]): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  function serverOnRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      res.writeHead(statuses.shift() ?? 200, { 'Content-Type': 'application/json' });
      res.end('{"success":true}');
    });
  }
  const server = createServer(serverOnRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

function client(apiUrl: string, clock: SimulatedClock, token: () => string = () => 'agent-token'): GatewayRoutesClient {
  return new GatewayRoutesClient({
    apiUrl,
    token,
    tls: { rejectUnauthorized: true },
    clock,
    callClock: systemClock,
    random: () => 0.5,
    logger: silentLogger(),
  });
}

test('routesBaseUrl: ws→http, wss→https, path kept, trailing slash and query dropped', (t) => {
  t.is(routesBaseUrl('wss://api.pipeops.io/'), 'https://api.pipeops.io');
  t.is(routesBaseUrl('ws://127.0.0.1:8080/base/?x=1'), 'http://127.0.0.1:8080/base');
  t.is(routesBaseUrl('https://api.pipeops.io/v2'), 'https://api.pipeops.io/v2');
  t.throws(() => routesBaseUrl('ftp://example.com'), { message: /unsupported URL scheme "ftp:"/ });
});

test('a call is a POST under the base path with the agent token and a JSON body', async (t) => {
  const server = await scriptedServer(t, []);
  let token = 'first-token';
  const calls = client(`${server.url.replace('http', 'ws')}/cp/`, new SimulatedClock(), () => token);
  t.true(await calls.unregister('shop.example.com'));
  token = 'rotated-token';
  t.true(await calls.sync({ cluster_uuid: 'uuid-1', routing_mode: 'tunnel', ingresses: [] }));
  t.like(server.received[0], { method: 'POST', url: '/cp/api/v1/gateway/routes/unregister', body: { hostname: 'shop.example.com' } });
  t.like(server.received[0]?.headers, { authorization: 'Bearer first-token', 'content-type': 'application/json' });
  t.like(server.received[1], { url: '/cp/api/v1/gateway/routes/sync', body: { cluster_uuid: 'uuid-1', routing_mode: 'tunnel', ingresses: [] } });
  t.is(server.received[1]?.headers.authorization, 'Bearer rotated-token', 'the token is read at every call');
});

test('5xx is retried after 1 s then 2 s (+ jitter), three attempts at most', async (t) => {
  const server = await scriptedServer(t, [503, 500, 502]);
  const clock = new SimulatedClock();
  const result = client(server.url, clock).unregister('shop.example.com');
  // random() = 0.5 stretches each wait by 12.5 %.
  await eventually(() => clock.pendingDelays().includes(1_125), 'the first retry wait');
  clock.advance(1_125);
  await eventually(() => clock.pendingDelays().includes(2_250), 'the second retry wait');
  clock.advance(2_250);
  t.false(await result);
  t.is(server.received.length, 3);
  t.is(clock.pendingTimers, 0, 'no fourth attempt');
});

test('a refusal other than 408, 429 or 5xx is not retried', async (t) => {
  const server = await scriptedServer(t, [401]);
  t.false(await client(server.url, new SimulatedClock()).unregister('shop.example.com'));
  t.is(server.received.length, 1);
});

test('a refused connection is retried; close() ends a pending wait with false', async (t) => {
  // A port that was free a moment ago: nothing listens there.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const clock = new SimulatedClock();
  const calls = client(`http://127.0.0.1:${deadPort}`, clock);
  const result = calls.unregister('shop.example.com');
  await eventually(() => clock.pendingTimers === 1, 'a retry wait');
  calls.close();
  t.false(await result);
  t.false(await calls.unregister('again.example.com'), 'a closed client makes no call');
});
