// Cloud provider and region from what the nodes say about themselves (CLUSTER.md §5, signal 1): the
// `spec.providerID` scheme, the topology labels, and the names local distributions give their nodes.
// Pure: the caller lists the nodes.

import type { V1Node } from '@kubernetes/client-node';

/** What the nodes told; `isLocalHint` marks a guess from a distribution, weaker than a cloud's own word. */
export interface NodeHints {
  readonly cloudProvider: string | undefined;
  readonly region: string | undefined;
  readonly isLocalHint: boolean;
}

export const NO_HINTS: NodeHints = { cloudProvider: undefined, region: undefined, isLocalHint: false };

/** providerID scheme → normalised provider name (PROTOCOL.md §5.1 spells gcp, hetzner, …). */
const PROVIDER_BY_SCHEME: Readonly<Record<string, string>> = {
  aws: 'aws',
  gce: 'gcp',
  azure: 'azure',
  digitalocean: 'digitalocean',
  hcloud: 'hetzner',
  linode: 'linode',
  vultr: 'vultr',
  scaleway: 'scaleway',
  oci: 'oracle',
  ibm: 'ibm',
  alicloud: 'alibaba',
  upcloud: 'upcloud',
  exoscale: 'exoscale',
  civo: 'civo',
  openstack: 'openstack',
  equinixmetal: 'equinix',
  packet: 'equinix',
  ovhcloud: 'ovh',
};

export const LOCAL_DEV_REGION = 'local-dev';
export const ON_PREMISES = 'on-premises';

const REGION_LABELS = ['topology.kubernetes.io/region', 'failure-domain.beta.kubernetes.io/region'];
const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

/** `aws:///us-east-1a/i-0abc` → `aws`; undefined without a scheme. */
function schemeOf(providerId: string): string | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(providerId);
  return match?.[1]?.toLowerCase();
}

/**
 * Region from a zone: the zone minus its last dash segment (`us-central1-a` → `us-central1`,
 * `eastus-1` → `eastus`). AWS zones end in a letter instead (`us-east-1a` → `us-east-1`).
 */
export function regionOfZone(zone: string, provider: string | undefined): string | undefined {
  if (provider === 'aws' && /^[a-z]{2}(-[a-z]+)+-\d+[a-z]$/.test(zone)) return zone.slice(0, -1);
  const dash = zone.lastIndexOf('-');
  return dash > 0 ? zone.slice(0, dash) : undefined;
}

/** The zone inside a providerID, for the clouds that put one there (`aws:///zone/id`, `gce://project/zone/name`). */
function zoneInProviderId(providerId: string, provider: string | undefined): string | undefined {
  const parts = providerId.split('/');
  if (provider === 'aws' || provider === 'gcp') return nonEmpty(parts[3]);
  return undefined;
}

function firstLabel(labels: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = nonEmpty(labels[key]);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** kind, minikube, docker-desktop: a developer machine. */
function isLocalDevNode(node: V1Node): boolean {
  const name = node.metadata?.name ?? '';
  const labels = node.metadata?.labels ?? {};
  const providerId = node.spec?.providerID ?? '';
  return (
    providerId.startsWith('kind://') ||
    name.startsWith('kind-') ||
    name === 'minikube' ||
    labels['minikube.k8s.io/name'] !== undefined ||
    name === 'docker-desktop'
  );
}

function isK3sNode(node: V1Node): boolean {
  const labels = node.metadata?.labels ?? {};
  return (
    (node.spec?.providerID ?? '').startsWith('k3s://') ||
    (node.status?.nodeInfo?.kubeletVersion ?? '').includes('+k3s') ||
    labels['node.kubernetes.io/instance-type'] === 'k3s'
  );
}

/** Hints from the first node that gives any; a cloud's providerID or labels beat a distribution's name. */
export function nodeHints(nodes: readonly V1Node[]): NodeHints {
  for (const node of nodes) {
    const labels = node.metadata?.labels ?? {};
    const providerId = nonEmpty(node.spec?.providerID) ?? '';
    const scheme = schemeOf(providerId);
    const cloudProvider = scheme === undefined ? undefined : PROVIDER_BY_SCHEME[scheme];
    const zone = firstLabel(labels, ZONE_LABELS) ?? zoneInProviderId(providerId, cloudProvider);
    const region = firstLabel(labels, REGION_LABELS) ?? (zone === undefined ? undefined : regionOfZone(zone, cloudProvider));
    if (cloudProvider !== undefined) return { cloudProvider, region, isLocalHint: false };
    if (isLocalDevNode(node)) return { cloudProvider: ON_PREMISES, region: LOCAL_DEV_REGION, isLocalHint: true };
    if (isK3sNode(node)) return { cloudProvider: ON_PREMISES, region, isLocalHint: true };
    if (region !== undefined) return { cloudProvider: undefined, region, isLocalHint: false };
  }
  return NO_HINTS;
}
