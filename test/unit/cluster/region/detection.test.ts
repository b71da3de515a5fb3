// RegionDetector against loopback fakes on a simulated clock: the overall deadline ends hung lookups
// (and aborts their sockets), ip-intel is asked about the echoed public IP only, and the cloud metadata
// probes run only when opted in.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { RegionDetector } from '../../../../src/cluster/region/detection.js';
import type { RegistrationSettings } from '../../../../src/config/agent-config.js';
import { silentLogger } from '../../../../src/log.js';
import { SimulatedClock } from '../../../helpers/simulated-clock.js';
import { eventually } from '../../../helpers/eventually.js';

type Handler = (request: http.IncomingMessage, response: http.ServerResponse) => void;

interface LookupServer {
  readonly url: string;
  readonly paths: string[];
  /** Requests whose socket closed before an answer (aborted by the agent). */
  aborted: number;
}

/** A loopback HTTP server; a handler that never answers leaves the request hanging. */
async function lookupServer(t: ExecutionContext, handler: Handler): Promise<LookupServer> {
  const state: LookupServer = { url: '', paths: [], aborted: 0 };
  const server = http.createServer((request, response) => {
    state.paths.push(`${request.method ?? ''} ${request.url ?? ''}`);
    response.on('close', () => {
      if (!response.writableEnded) state.aborted++;
    });
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return Object.assign(state, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

const hang: Handler = () => undefined;

function settings(overrides: Partial<RegistrationSettings>): RegistrationSettings {
  return { factsTimeoutMs: 5_000, publicIpUrl: undefined, geoipUrl: undefined, skipGeoip: false, skipMetadata: true, ...overrides };
}

test('every lookup hangs: the deadline on the clock ends them with the defaults and aborts their sockets', async (t) => {
  const echo = await lookupServer(t, hang);
  const geo = await lookupServer(t, hang);
  const clock = new SimulatedClock();
  const detector = new RegionDetector({
    kube: undefined,
    apiUrl: 'http://127.0.0.1:9',
    settings: settings({ publicIpUrl: `${echo.url}/ip`, geoipUrl: `${geo.url}/json/` }),
    logger: silentLogger(),
    clock,
    primaryIp: () => '10.0.0.5',
  });
  let isDone = false;
  const detected = detector.detect().finally(() => (isDone = true));
  await eventually(() => echo.paths.length === 1 && geo.paths.length === 1, 'both lookups in flight');
  clock.advance(4_999);
  await new Promise((resolve) => setImmediate(resolve));
  t.false(isDone, 'still inside the deadline');
  clock.advance(1);
  t.deepEqual(await detected, { serverIp: '10.0.0.5', region: 'unknown-country', cloudProvider: 'agent', metadata: {} });
  await eventually(() => echo.aborted === 1 && geo.aborted === 1, 'hung requests aborted');
  t.is(clock.pendingTimers, 0);
});

test('the echoed public IP goes to ip-intel under the API URL; a private fallback IP is never sent', async (t) => {
  const plane = await lookupServer(t, (request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ success: true, data: { country_code: 'ng', cloud_provider: 'onpremise', region: 'Lagos' } }));
  });
  const echo = await lookupServer(t, (_request, response) => response.end('198.51.100.23\n'));
  const detector = new RegionDetector({
    kube: undefined,
    apiUrl: `${plane.url}/base/`,
    settings: settings({ publicIpUrl: echo.url }),
    logger: silentLogger(),
    clock: new SimulatedClock(),
    primaryIp: () => '10.0.0.5',
  });
  t.deepEqual(await detector.detect(), {
    serverIp: '198.51.100.23',
    region: 'NG',
    cloudProvider: 'bare-metal',
    metadata: { country_code: 'NG', region_name: 'Lagos' },
  });
  t.deepEqual(plane.paths, ['GET /base/api/v1/public/ip-intel/198.51.100.23']);

  const offline = new RegionDetector({
    kube: undefined,
    apiUrl: plane.url,
    settings: settings({}),
    logger: silentLogger(),
    clock: new SimulatedClock(),
    primaryIp: () => '10.0.0.5',
  });
  t.is((await offline.detect()).serverIp, '10.0.0.5');
  t.is(plane.paths.length, 1, 'no ip-intel call for a private address');
});

test('cloud metadata probes run only when opted in (IMDSv2 token, then the region)', async (t) => {
  const imds = await lookupServer(t, (request, response) => {
    if (request.method === 'PUT' && request.url === '/latest/api/token') return response.end('imds-token');
    if (request.url === '/latest/meta-data/placement/region' && request.headers['x-aws-ec2-metadata-token'] === 'imds-token') return response.end('eu-north-1');
    response.writeHead(404).end();
  });
  const endpoints = { linkLocal: imds.url, gcp: imds.url };
  const make = (skipMetadata: boolean) =>
    new RegionDetector({
      kube: undefined,
      apiUrl: 'http://127.0.0.1:9',
      settings: settings({ skipMetadata }),
      logger: silentLogger(),
      clock: new SimulatedClock(),
      metadataEndpoints: endpoints,
      primaryIp: () => '10.0.0.5',
    });
  t.is((await make(true).detect()).cloudProvider, 'agent');
  t.is(imds.paths.length, 0, 'no probe unless opted in');
  const facts = await make(false).detect();
  t.is(facts.cloudProvider, 'aws');
  t.is(facts.region, 'eu-north-1');
  t.true(imds.paths.includes('PUT /latest/api/token'));
});
