// The cloud metadata probes on their own (CLUSTER.md §5), against loopback stand-ins: each cloud's
// request shape and answer, the order that decides between several answers, and no answer at all.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { probeCloudMetadata, type MetadataEndpoints } from '../../../../src/cluster/region/cloud-metadata.js';

type Answer = (request: http.IncomingMessage) => string | undefined;

/** A metadata stand-in on 127.0.0.1:0 that answers what `answer` returns, else 404. */
async function metadataServer(t: ExecutionContext, answer: Answer): Promise<string> {
  const server = http.createServer((request, response) => {
    const body = answer(request);
    if (body === undefined) response.writeHead(404).end();
    else response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const gcp: Answer = (request) =>
  request.url === '/computeMetadata/v1/instance/zone' && request.headers['metadata-flavor'] === 'Google' ? 'projects/123/zones/europe-west4-b\n' : undefined;
const azure: Answer = (request) =>
  request.url === '/metadata/instance/compute/location?api-version=2021-02-01&format=text' && request.headers['metadata'] === 'true' ? 'westeurope' : undefined;
const digitalOcean: Answer = (request) => (request.url === '/metadata/v1/region' ? 'ams3\n' : undefined);
const aws: Answer = (request) => {
  if (request.method === 'PUT' && request.url === '/latest/api/token' && request.headers['x-aws-ec2-metadata-token-ttl-seconds'] === '60') return 'tok\n';
  if (request.url === '/latest/meta-data/placement/region' && request.headers['x-aws-ec2-metadata-token'] === 'tok') return 'us-east-2';
  return undefined;
};
const either = (...answers: Answer[]): Answer => (request) => answers.map((one) => one(request)).find((body) => body !== undefined);

async function probe(t: ExecutionContext, linkLocal: Answer, gcpAnswer: Answer = () => undefined): Promise<unknown> {
  const endpoints: MetadataEndpoints = { linkLocal: await metadataServer(t, linkLocal), gcp: await metadataServer(t, gcpAnswer) };
  return probeCloudMetadata(new AbortController().signal, endpoints);
}

test('each cloud answers in its own shape: GCP zone to region, Azure location, DigitalOcean region', async (t) => {
  t.deepEqual(await probe(t, () => undefined, gcp), { cloudProvider: 'gcp', region: 'europe-west4' });
  t.deepEqual(await probe(t, azure), { cloudProvider: 'azure', region: 'westeurope' });
  t.deepEqual(await probe(t, digitalOcean), { cloudProvider: 'digitalocean', region: 'ams3' });
});

test('AWS asks for an IMDSv2 token first and sends it with the region read', async (t) => {
  t.deepEqual(await probe(t, aws), { cloudProvider: 'aws', region: 'us-east-2' });
});

test('when several answer, the order AWS, GCP, Azure, DigitalOcean decides', async (t) => {
  t.deepEqual(await probe(t, either(aws, azure, digitalOcean), gcp), { cloudProvider: 'aws', region: 'us-east-2' });
  t.deepEqual(await probe(t, either(azure, digitalOcean), gcp), { cloudProvider: 'gcp', region: 'europe-west4' });
  t.deepEqual(await probe(t, either(azure, digitalOcean)), { cloudProvider: 'azure', region: 'westeurope' });
});

test('no usable answer: undefined (404s, a blank region, an over-long one)', async (t) => {
  t.is(await probe(t, () => undefined), undefined);
  t.is(await probe(t, (request) => (request.url === '/metadata/v1/region' ? '  \n' : undefined)), undefined);
  t.is(await probe(t, (request) => (request.url === '/metadata/v1/region' ? 'r'.repeat(65) : undefined)), undefined);
});
