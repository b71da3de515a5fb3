// The objects a fresh sandbox holds, shaped like a one-node kubeadm cluster: the four system namespaces,
// node sandbox-node-1, the kubernetes and kube-dns services, CoreDNS, and a Running pod `demo` in default
// serving on containerPort 8080.

import { cloneJson, type JsonObject } from './json-value.js';
import { defaultPodSpec } from './object-defaults.js';
import { formatTimestamp, type ObjectStore } from './object-store.js';
import { findResource } from './resource-catalog.js';

export const SEED_NODE_NAME = 'sandbox-node-1';
export const SEED_NODE_IP = '10.0.0.10';
export const DEMO_POD_NAMESPACE = 'default';
/** also the name of its one container, whose main process writes `<n> demo tick` every second */
export const DEMO_POD_NAME = 'demo';
export const DEMO_POD_IP = '10.244.0.10';
export const DEMO_CONTAINER_PORT = 8080;
export const SEED_NAMESPACES = ['default', 'kube-node-lease', 'kube-public', 'kube-system'] as const;

function resourceKey(resource: string, group = ''): { group: string; version: string; resource: string } {
  const definition = findResource(group, 'v1', resource);
  if (definition === undefined) throw new TypeError(`seed names an unknown resource ${resource}`);
  return { group: definition.group, version: definition.version, resource: definition.resource };
}

function namespace(name: string): JsonObject {
  return {
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function node(minorVersion: number, now: string): JsonObject {
  const conditions = [
    ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
    ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
  ].map(([type, status, reason, message]) => ({
    type: type ?? '', status: status ?? '', lastHeartbeatTime: now, lastTransitionTime: now, reason: reason ?? '', message: message ?? '',
  }));
  const resources = { cpu: '2', 'ephemeral-storage': '61202244Ki', 'hugepages-2Mi': '0', memory: '4025836Ki', pods: '110' };
  return {
    metadata: {
      name: SEED_NODE_NAME,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': SEED_NODE_NAME,
        'kubernetes.io/os': 'linux',
        'node-role.kubernetes.io/control-plane': '',
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
    status: {
      capacity: resources,
      allocatable: resources,
      conditions,
      addresses: [{ type: 'InternalIP', address: SEED_NODE_IP }, { type: 'Hostname', address: SEED_NODE_NAME }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: 'f4c1d2a9b8e7465d9c3b2a1f0e9d8c7b',
        systemUUID: 'f4c1d2a9-b8e7-465d-9c3b-2a1f0e9d8c7b',
        bootID: '0b8f7e6d-5c4b-4a39-8281-7f6e5d4c3b2a',
        kernelVersion: '6.1.0-sandbox',
        osImage: 'Debian GNU/Linux 12 (bookworm)',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion: `v1.${minorVersion}.0`,
        kubeProxyVersion: `v1.${minorVersion}.0`,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

function service(name: string, namespaceName: string, clusterIp: string, ports: JsonObject[], labels: JsonObject, selector?: JsonObject): JsonObject {
  return {
    metadata: { name, namespace: namespaceName, labels },
    spec: {
      ports,
      ...(selector === undefined ? {} : { selector }),
      clusterIP: clusterIp,
      clusterIPs: [clusterIp],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

interface RunningPod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: JsonObject;
  readonly containers: JsonObject[];
  readonly podIp: string;
}

function runningPod(pod: RunningPod, now: string): JsonObject {
  const spec: JsonObject = { containers: cloneJson(pod.containers), nodeName: SEED_NODE_NAME };
  defaultPodSpec(spec, true);
  const conditions = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({
    type, status: 'True', lastProbeTime: null, lastTransitionTime: now,
  }));
  return {
    metadata: { name: pod.name, namespace: pod.namespace, labels: pod.labels },
    spec,
    status: {
      phase: 'Running',
      conditions,
      hostIP: SEED_NODE_IP,
      hostIPs: [{ ip: SEED_NODE_IP }],
      podIP: pod.podIp,
      podIPs: [{ ip: pod.podIp }],
      startTime: now,
      containerStatuses: pod.containers.map((container) => ({
        name: container['name'] ?? '',
        state: { running: { startedAt: now } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: container['image'] ?? '',
        imageID: '',
        containerID: `containerd://${String(container['name'] ?? '')}`,
        started: true,
      })),
      qosClass: 'BestEffort',
    },
  };
}

const COREDNS_CONTAINER: JsonObject = {
  name: 'coredns',
  image: 'registry.k8s.io/coredns/coredns:v1.11.3',
  args: ['-conf', '/etc/coredns/Corefile'],
  ports: [
    { name: 'dns', containerPort: 53, protocol: 'UDP' },
    { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
    { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
  ],
};

/** Fills a store with the sandbox's starting state. */
export function seedSandbox(store: ObjectStore, minorVersion: number): void {
  const now = formatTimestamp(store.now());
  for (const name of SEED_NAMESPACES) store.put(resourceKey('namespaces'), namespace(name));
  store.put(resourceKey('nodes'), node(minorVersion, now));
  store.put(
    resourceKey('services'),
    service('kubernetes', 'default', '10.96.0.1', [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 6443 }], { component: 'apiserver', provider: 'kubernetes' }),
  );
  store.put(resourceKey('endpoints'), {
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
    subsets: [{ addresses: [{ ip: SEED_NODE_IP }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }],
  });
  store.put(
    resourceKey('services'),
    service(
      'kube-dns',
      'kube-system',
      '10.96.0.10',
      [
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
        { name: 'metrics', protocol: 'TCP', port: 9153, targetPort: 9153 },
      ],
      { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' },
      { 'k8s-app': 'kube-dns' },
    ),
  );
  const corednsLabels = { 'k8s-app': 'kube-dns', 'pod-template-hash': '668d6bf9bc' };
  for (const [suffix, ip] of [['7xk2p', '10.244.0.2'], ['m4qzt', '10.244.0.3']] as const) {
    store.put(resourceKey('pods'), runningPod({ name: `coredns-668d6bf9bc-${suffix}`, namespace: 'kube-system', labels: corednsLabels, containers: [COREDNS_CONTAINER], podIp: ip }, now));
  }
  const deploymentSpec: JsonObject = { containers: [cloneJson(COREDNS_CONTAINER)] };
  defaultPodSpec(deploymentSpec, false);
  store.put({ group: 'apps', version: 'v1', resource: 'deployments' }, {
    metadata: { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, annotations: { 'deployment.kubernetes.io/revision': '1' }, generation: 1 },
    spec: {
      replicas: 2,
      selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      template: { metadata: { labels: { 'k8s-app': 'kube-dns' } }, spec: deploymentSpec },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2 },
  });
  store.put(
    resourceKey('pods'),
    runningPod(
      {
        name: DEMO_POD_NAME,
        namespace: DEMO_POD_NAMESPACE,
        labels: { app: 'demo' },
        containers: [{ name: DEMO_POD_NAME, image: 'registry.k8s.io/e2e-test-images/agnhost:2.53', args: ['netexec', `--http-port=${DEMO_CONTAINER_PORT}`], ports: [{ containerPort: DEMO_CONTAINER_PORT, protocol: 'TCP' }] }],
        podIp: DEMO_POD_IP,
      },
      now,
    ),
  );
}
