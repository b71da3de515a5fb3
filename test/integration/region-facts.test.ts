// Registration facts end to end (CLUSTER.md §5, PROTOCOL.md §5.1, §17.1): the public-IP echo, the control
// plane's ip-intel endpoint and a GeoIP service are loopback fakes that answer, fail (500) or hang; the
// register message carries what answered, and registration never waits longer than the facts deadline.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { RegistrationSettings } from '../../src/config/agent-config.js';
import { startHarness } from '../helpers/agent-harness.js';

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

interface Fake {
  readonly url: string;
  readonly paths: string[];
}

async function fakeService(t: ExecutionContext, handler: Handler): Promise<Fake> {
  const paths: string[] = [];
  const server = http.createServer((request, response) => {
    paths.push(request.url ?? '');
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

const json =
  (status: number, body: unknown): Handler =>
  (_request, response) => {
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(body));
  };
const hang: Handler = () => undefined;
const PUBLIC_IP = '198.51.100.23';
const BASE_METADATA_KEYS = ['agent_mode', 'registration_mode', 'registration_timestamp'];

function registration(overrides: Partial<RegistrationSettings>): RegistrationSettings {
  return { factsTimeoutMs: 5_000, publicIpUrl: undefined, geoipUrl: undefined, skipGeoip: false, skipMetadata: true, ...overrides };
}

test('every lookup answers: ip-intel decides region and provider, metadata carries its keys', async (t) => {
  const intelPaths: string[] = [];
  const echo = await fakeService(t, (_request, response) => response.end(`${PUBLIC_IP}\n`));
  const geo = await fakeService(t, json(200, { country_code: 'GH' }));
  const { plane } = await startHarness(t, {
    config: { registration: registration({ publicIpUrl: `${echo.url}/`, geoipUrl: `${geo.url}/json/` }) },
    plane: {
      requestHandler: (request, response) => {
        intelPaths.push(`${request.method ?? ''} ${request.url ?? ''} ${request.headers.authorization ?? 'no-auth'}`);
        json(200, {
          success: true,
          data: { ip: PUBLIC_IP, country_code: 'ng', country: 'Nigeria', region: 'Lagos', asn: 'AS37148', org: 'Globacom', cloud_provider: 'on-premise', detection_method: 'asn' },
        })(request, response);
      },
    },
  });
  const register = await (await plane.nextSocket()).next('register');
  t.deepEqual(intelPaths, [`GET /api/v1/public/ip-intel/${PUBLIC_IP} no-auth`]);
  t.is(register.payload['server_ip'], PUBLIC_IP);
  t.is(register.payload['region'], 'NG');
  t.is(register.payload['cloud_provider'], 'bare-metal');
  const metadata = register.payload['metadata'] as Record<string, string>;
  t.like(metadata, {
    agent_mode: 'vm-agent',
    registration_mode: 'fresh',
    country_code: 'NG',
    region_name: 'Lagos',
    country_name: 'Nigeria',
    network_org: 'Globacom',
    network_asn: 'AS37148',
    ip_intel_method: 'asn',
  });
  t.is(geo.paths.length, 1, 'GeoIP ran in parallel, its answer outranked');
});

test('ip-intel fails with 500: the GeoIP country stands in; no ip-intel metadata keys', async (t) => {
  const echo = await fakeService(t, (_request, response) => response.end(JSON.stringify({ ip: PUBLIC_IP })));
  const geo = await fakeService(t, json(200, { ip: PUBLIC_IP, country_code: 'gh', country_name: 'Ghana' }));
  const { plane } = await startHarness(t, {
    config: { registration: registration({ publicIpUrl: echo.url, geoipUrl: geo.url }) },
    plane: { requestHandler: json(500, { error: 'intel down' }) },
  });
  const register = await (await plane.nextSocket()).next('register');
  t.is(register.payload['server_ip'], PUBLIC_IP);
  t.is(register.payload['region'], 'GH');
  t.is(register.payload['cloud_provider'], 'agent');
  t.deepEqual(Object.keys(register.payload['metadata'] as object).sort(), BASE_METADATA_KEYS);
});

test('every lookup hangs: register goes out once the facts deadline passes, with the defaults', async (t) => {
  const deadlineMs = 400;
  const echo = await fakeService(t, hang);
  const geo = await fakeService(t, hang);
  const { plane } = await startHarness(t, {
    config: { registration: registration({ factsTimeoutMs: deadlineMs, publicIpUrl: echo.url, geoipUrl: geo.url }) },
    plane: { requestHandler: hang },
  });
  const socket = await plane.nextSocket();
  const openedAt = Date.now();
  const register = await socket.next('register');
  const waitedMs = Date.now() - openedAt;
  // The fakes never answer and have no timeout of their own: only the facts deadline can have released
  // the register. The upper bound is loose because the version read runs beside it on a loaded machine.
  t.true(waitedMs >= deadlineMs - 50, `waited for the deadline (${waitedMs} ms)`);
  t.true(waitedMs < 10_000, `and went ahead without the hung lookups (${waitedMs} ms)`);
  t.is(echo.paths.length, 1);
  t.is(geo.paths.length, 1);
  t.is(register.payload['region'], 'unknown-country');
  t.is(register.payload['cloud_provider'], 'agent');
  t.regex(String(register.payload['server_ip']), /^\d+\.\d+\.\d+\.\d+$/, 'the primary interface IP');
  t.deepEqual(Object.keys(register.payload['metadata'] as object).sort(), BASE_METADATA_KEYS);
});

test('SKIP_GEOIP: the GeoIP service is never asked', async (t) => {
  const echo = await fakeService(t, (_request, response) => response.end(PUBLIC_IP));
  const geo = await fakeService(t, json(200, { country_code: 'GH' }));
  const { plane } = await startHarness(t, {
    config: { registration: registration({ publicIpUrl: echo.url, geoipUrl: geo.url, skipGeoip: true }) },
    plane: { requestHandler: json(500, {}) },
  });
  const register = await (await plane.nextSocket()).next('register');
  t.is(register.payload['region'], 'unknown-country');
  t.deepEqual(geo.paths, []);
});
