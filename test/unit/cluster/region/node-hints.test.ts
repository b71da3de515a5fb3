// Cloud provider and region from node fixtures (CLUSTER.md §5 signal 1): providerID schemes, topology
// labels, zone-to-region, and the local-distribution hints.

import test from 'ava';
import type { V1Node, V1NodeSystemInfo } from '@kubernetes/client-node';
import { NO_HINTS, nodeHints, regionOfZone, type NodeHints } from '../../../../src/cluster/region/node-hints.js';

interface NodeFixture {
  readonly name?: string;
  readonly providerID?: string;
  readonly labels?: Record<string, string>;
  readonly kubeletVersion?: string;
}

function node(fixture: NodeFixture): V1Node {
  return {
    metadata: { name: fixture.name ?? 'node-1', labels: fixture.labels ?? {} },
    spec: fixture.providerID === undefined ? {} : { providerID: fixture.providerID },
    // Only the field the hints read; the rest of the system info is irrelevant here.
    status: { nodeInfo: { kubeletVersion: fixture.kubeletVersion ?? 'v1.31.2' } as V1NodeSystemInfo },
  };
}

const REGION = 'topology.kubernetes.io/region';
const ZONE = 'topology.kubernetes.io/zone';

const CASES: readonly { title: string; nodes: NodeFixture[]; expected: NodeHints }[] = [
  {
    title: 'EKS: aws providerID with the region label',
    nodes: [{ providerID: 'aws:///us-east-1a/i-0abc', labels: { [REGION]: 'us-east-1', [ZONE]: 'us-east-1a' } }],
    expected: { cloudProvider: 'aws', region: 'us-east-1', isLocalHint: false },
  },
  {
    title: 'aws providerID without labels: region from the zone inside it',
    nodes: [{ providerID: 'aws:///eu-west-2b/i-0abc' }],
    expected: { cloudProvider: 'aws', region: 'eu-west-2', isLocalHint: false },
  },
  {
    title: 'GKE: gce providerID, zone label only',
    nodes: [{ providerID: 'gce://my-project/us-central1-a/gke-node-1', labels: { [ZONE]: 'us-central1-a' } }],
    expected: { cloudProvider: 'gcp', region: 'us-central1', isLocalHint: false },
  },
  {
    title: 'gce providerID without labels: zone from the providerID',
    nodes: [{ providerID: 'gce://my-project/europe-west1-b/gke-node-1' }],
    expected: { cloudProvider: 'gcp', region: 'europe-west1', isLocalHint: false },
  },
  {
    title: 'AKS: azure providerID and the zone label eastus-1',
    nodes: [{ providerID: 'azure:///subscriptions/x/resourceGroups/y/providers/Microsoft.Compute/virtualMachines/z', labels: { [ZONE]: 'eastus-1' } }],
    expected: { cloudProvider: 'azure', region: 'eastus', isLocalHint: false },
  },
  {
    title: 'DigitalOcean with the region label',
    nodes: [{ providerID: 'digitalocean://123456', labels: { [REGION]: 'fra1' } }],
    expected: { cloudProvider: 'digitalocean', region: 'fra1', isLocalHint: false },
  },
  {
    title: 'Hetzner: hcloud scheme normalised to hetzner, zone fsn1-dc14',
    nodes: [{ providerID: 'hcloud://987654', labels: { [ZONE]: 'fsn1-dc14' } }],
    expected: { cloudProvider: 'hetzner', region: 'fsn1', isLocalHint: false },
  },
  {
    title: 'beta labels still count',
    nodes: [{ providerID: 'linode://42', labels: { 'failure-domain.beta.kubernetes.io/region': 'eu-central' } }],
    expected: { cloudProvider: 'linode', region: 'eu-central', isLocalHint: false },
  },
  {
    title: 'OCI and Vultr schemes',
    nodes: [{ providerID: 'oci://ocid1.instance.oc1', labels: { [REGION]: 'us-ashburn-1' } }],
    expected: { cloudProvider: 'oracle', region: 'us-ashburn-1', isLocalHint: false },
  },
  {
    title: 'kind: node name kind-control-plane',
    nodes: [{ name: 'kind-control-plane', providerID: 'kind://docker/kind/kind-control-plane' }],
    expected: { cloudProvider: 'on-premises', region: 'local-dev', isLocalHint: true },
  },
  {
    title: 'minikube: its label',
    nodes: [{ name: 'minikube', labels: { 'minikube.k8s.io/name': 'minikube' } }],
    expected: { cloudProvider: 'on-premises', region: 'local-dev', isLocalHint: true },
  },
  {
    title: 'docker-desktop',
    nodes: [{ name: 'docker-desktop' }],
    expected: { cloudProvider: 'on-premises', region: 'local-dev', isLocalHint: true },
  },
  {
    title: 'k3s on bare metal: on-premises without a region',
    nodes: [{ name: 'edge-1', providerID: 'k3s://edge-1', kubeletVersion: 'v1.31.2+k3s1' }],
    expected: { cloudProvider: 'on-premises', region: undefined, isLocalHint: true },
  },
  {
    title: 'k3s on a cloud VM: the cloud providerID wins over the k3s hint',
    nodes: [{ name: 'k3s-1', providerID: 'hcloud://1', kubeletVersion: 'v1.31.2+k3s1', labels: { [REGION]: 'nbg1' } }],
    expected: { cloudProvider: 'hetzner', region: 'nbg1', isLocalHint: false },
  },
  {
    title: 'bare metal with an admin-set region label and no providerID',
    nodes: [{ name: 'rack-7', labels: { [REGION]: 'lagos-dc1' } }],
    expected: { cloudProvider: undefined, region: 'lagos-dc1', isLocalHint: false },
  },
  {
    title: 'nothing to go on',
    nodes: [{ name: 'server-1' }],
    expected: NO_HINTS,
  },
  { title: 'no nodes listed', nodes: [], expected: NO_HINTS },
];

for (const { title, nodes, expected } of CASES) {
  test(`node hints: ${title}`, (t) => {
    t.deepEqual(nodeHints(nodes.map(node)), expected);
  });
}

test('zone minus its last dash segment; AWS zones lose their letter', (t) => {
  t.is(regionOfZone('us-central1-a', 'gcp'), 'us-central1');
  t.is(regionOfZone('eastus-2', 'azure'), 'eastus');
  t.is(regionOfZone('us-east-1a', 'aws'), 'us-east-1');
  t.is(regionOfZone('ap-southeast-2c', 'aws'), 'ap-southeast-2');
  t.is(regionOfZone('zone1', undefined), undefined);
});
