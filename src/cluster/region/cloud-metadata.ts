// Cloud metadata probes (CLUSTER.md §5): opt-in (`SKIP_METADATA=false`), short, and never on by default,
// because 169.254.169.254 answers whoever asks and a probe from inside a pod should be a deliberate choice.
// Asks AWS (IMDSv2), GCP, Azure and DigitalOcean in parallel; the first in that order to answer wins.

import { fetchText } from './lookup-http.js';
import { regionOfZone } from './node-hints.js';

export const METADATA_PROBE_TIMEOUT_MS = 1_000;

/** Base URLs of the metadata services; tests point them at loopback. */
export interface MetadataEndpoints {
  readonly linkLocal: string;
  readonly gcp: string;
}

export const DEFAULT_METADATA_ENDPOINTS: MetadataEndpoints = {
  linkLocal: 'http://169.254.169.254',
  gcp: 'http://metadata.google.internal',
};

export interface CloudMetadata {
  readonly cloudProvider: string;
  readonly region: string;
}

function answer(cloudProvider: string, region: string): CloudMetadata | undefined {
  const trimmed = region.trim();
  return trimmed === '' || trimmed.length > 64 ? undefined : { cloudProvider, region: trimmed };
}

async function probeAws(base: string, signal: AbortSignal): Promise<CloudMetadata | undefined> {
  const token = await fetchText({ url: `${base}/latest/api/token`, method: 'PUT', signal, headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' } });
  const region = await fetchText({ url: `${base}/latest/meta-data/placement/region`, signal, headers: { 'X-aws-ec2-metadata-token': token.trim() } });
  return answer('aws', region);
}

async function probeGcp(base: string, signal: AbortSignal): Promise<CloudMetadata | undefined> {
  // `projects/123/zones/us-central1-a`
  const zone = (await fetchText({ url: `${base}/computeMetadata/v1/instance/zone`, signal, headers: { 'Metadata-Flavor': 'Google' } })).split('/').at(-1) ?? '';
  const region = regionOfZone(zone.trim(), 'gcp');
  return region === undefined ? undefined : answer('gcp', region);
}

async function probeAzure(base: string, signal: AbortSignal): Promise<CloudMetadata | undefined> {
  const url = `${base}/metadata/instance/compute/location?api-version=2021-02-01&format=text`;
  return answer('azure', await fetchText({ url, signal, headers: { Metadata: 'true' } }));
}

async function probeDigitalOcean(base: string, signal: AbortSignal): Promise<CloudMetadata | undefined> {
  return answer('digitalocean', await fetchText({ url: `${base}/metadata/v1/region`, signal }));
}

/** The first cloud (in the order above) whose metadata service answered, or undefined. */
export async function probeCloudMetadata(signal: AbortSignal, endpoints: MetadataEndpoints = DEFAULT_METADATA_ENDPOINTS): Promise<CloudMetadata | undefined> {
  const probes = [
    probeAws(endpoints.linkLocal, signal),
    probeGcp(endpoints.gcp, signal),
    probeAzure(endpoints.linkLocal, signal),
    probeDigitalOcean(endpoints.linkLocal, signal),
  ];
  const results = await Promise.allSettled(probes);
  for (const result of results) {
    if (result.status === 'fulfilled' && result.value !== undefined) return result.value;
  }
  return undefined;
}
