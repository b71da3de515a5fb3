// What the apiserver does to an object between decoding and storage, for the kinds the sandbox serves:
// defaulting (k8s.io/kubernetes pkg/apis/*/v1 defaults), the registry strategies' PrepareForCreate and
// PrepareForUpdate (status resets, generation, Service cluster IPs), and Secret stringData folding.
// No controllers: nothing here invents pods, replica sets or deployment status.

import { arrayAt, ensureObject, isJsonObject, jsonEqual, objectAt, stringAt, type JsonObject, type JsonValue } from './json-value.js';
import type { ResourceDefinition } from './resource-catalog.js';

/** What a create or update may need from the server beyond the object itself. */
export interface DefaultingContext {
  /** the next free ClusterIP of the service range */
  allocateClusterIp(): string;
  /** the next free node port not in `taken` */
  allocateNodePort(taken: ReadonlySet<number>): number;
}

const GENERATION_KINDS = new Set(['Deployment', 'Ingress', 'PodDisruptionBudget', 'ReplicaSet', 'Gateway', 'TCPRoute', 'UDPRoute']);

function setDefault(target: JsonObject, key: string, value: JsonValue): void {
  if (target[key] === undefined) target[key] = value;
}

function defaultContainer(container: JsonValue): void {
  if (!isJsonObject(container)) return;
  const image = stringAt(container, 'image') ?? '';
  const lastSegment = image.split('/').pop() ?? '';
  const tag = lastSegment.includes('@') ? 'digest' : (lastSegment.split(':')[1] ?? 'latest');
  setDefault(container, 'resources', {});
  setDefault(container, 'terminationMessagePath', '/dev/termination-log');
  setDefault(container, 'terminationMessagePolicy', 'File');
  setDefault(container, 'imagePullPolicy', tag === 'latest' ? 'Always' : 'IfNotPresent');
  for (const port of arrayAt(container, 'ports') ?? []) if (isJsonObject(port)) setDefault(port, 'protocol', 'TCP');
}

const DEFAULT_TOLERATIONS: readonly JsonObject[] = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

/** SetDefaults_PodSpec and friends; `isPod` adds what admission adds to real pods (priority, tolerations). */
export function defaultPodSpec(spec: JsonObject, isPod: boolean): void {
  for (const list of ['initContainers', 'containers'] as const) for (const container of arrayAt(spec, list) ?? []) defaultContainer(container);
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'enableServiceLinks', true);
  if (isPod) {
    setDefault(spec, 'priority', 0);
    setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
    const tolerations = arrayAt(spec, 'tolerations') ?? [];
    const keys = new Set(tolerations.map((toleration) => (isJsonObject(toleration) ? toleration['key'] : undefined)));
    spec['tolerations'] = [...tolerations, ...DEFAULT_TOLERATIONS.filter((toleration) => !keys.has(toleration['key'] ?? null))];
  }
}

function defaultDeployment(object: JsonObject): void {
  const spec = ensureObject(object, 'spec');
  setDefault(spec, 'replicas', 1);
  setDefault(spec, 'revisionHistoryLimit', 10);
  setDefault(spec, 'progressDeadlineSeconds', 600);
  const strategy = ensureObject(spec, 'strategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy['type'] === 'RollingUpdate') {
    const rollingUpdate = ensureObject(strategy, 'rollingUpdate');
    setDefault(rollingUpdate, 'maxUnavailable', '25%');
    setDefault(rollingUpdate, 'maxSurge', '25%');
  }
  const template = ensureObject(spec, 'template');
  ensureObject(template, 'metadata');
  defaultPodSpec(ensureObject(template, 'spec'), false);
}

function defaultService(object: JsonObject, context: DefaultingContext, previous: JsonObject | undefined): void {
  const spec = ensureObject(object, 'spec');
  const previousSpec = objectAt(previous, 'spec');
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  const ports = (arrayAt(spec, 'ports') ?? []).filter(isJsonObject);
  const needsNodePorts = spec['type'] === 'NodePort' || spec['type'] === 'LoadBalancer';
  const previousNodePorts = new Map<JsonValue, JsonValue>();
  for (const port of (arrayAt(previousSpec, 'ports') ?? []).filter(isJsonObject)) previousNodePorts.set(port['port'] ?? null, port['nodePort'] ?? null);
  const taken = new Set(ports.map((port) => port['nodePort']).filter((value): value is number => typeof value === 'number'));
  for (const port of ports) {
    setDefault(port, 'protocol', 'TCP');
    setDefault(port, 'targetPort', port['port'] ?? null);
    if (needsNodePorts && port['nodePort'] === undefined) {
      const kept = previousNodePorts.get(port['port'] ?? null);
      const nodePort = typeof kept === 'number' ? kept : context.allocateNodePort(taken);
      taken.add(nodePort);
      port['nodePort'] = nodePort;
    }
  }
  if (needsNodePorts) setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec['type'] === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
  if (spec['type'] === 'ExternalName') return;
  // "" asks for an allocation like an absent field; "None" (headless) is kept as given
  const clusterIp = stringAt(spec, 'clusterIP') || stringAt(previousSpec, 'clusterIP') || context.allocateClusterIp();
  spec['clusterIP'] = clusterIp;
  const requestedIps = arrayAt(spec, 'clusterIPs');
  spec['clusterIPs'] = requestedIps !== undefined && requestedIps.length > 0 ? requestedIps : (arrayAt(previousSpec, 'clusterIPs') ?? [clusterIp]);
  setDefault(spec, 'ipFamilies', ['IPv4']);
  setDefault(spec, 'ipFamilyPolicy', 'SingleStack');
  setDefault(spec, 'internalTrafficPolicy', 'Cluster');
}

/** Secret.stringData is write-only: the apiserver folds it into data (base64) before storing. */
function foldStringData(object: JsonObject): void {
  const stringData = objectAt(object, 'stringData');
  delete object['stringData'];
  setDefault(object, 'type', 'Opaque');
  if (stringData === undefined) return;
  const data = ensureObject(object, 'data');
  for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(String(value ?? ''), 'utf8').toString('base64');
}

function defaultByKind(definition: ResourceDefinition, object: JsonObject, context: DefaultingContext, previous?: JsonObject): void {
  switch (definition.kind) {
    case 'Pod':
      defaultPodSpec(ensureObject(object, 'spec'), true);
      break;
    case 'Deployment':
      defaultDeployment(object);
      break;
    case 'ReplicaSet': {
      const spec = ensureObject(object, 'spec');
      setDefault(spec, 'replicas', 1);
      const template = ensureObject(spec, 'template');
      ensureObject(template, 'metadata');
      defaultPodSpec(ensureObject(template, 'spec'), false);
      break;
    }
    case 'Service':
      defaultService(object, context, previous);
      break;
    case 'Secret':
      foldStringData(object);
      break;
    default:
      break;
  }
}

/** Create-time defaulting and status reset (PrepareForCreate) before the first store write. */
export function prepareForCreate(definition: ResourceDefinition, object: JsonObject, context: DefaultingContext): void {
  const metadata = ensureObject(object, 'metadata');
  for (const key of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'generation', 'selfLink'] as const) delete metadata[key];
  defaultByKind(definition, object, context);
  if (GENERATION_KINDS.has(definition.kind)) metadata['generation'] = 1;
  // A custom resource with a status subresource starts without status (customResourceStrategy.PrepareForCreate).
  if (definition.isCustomResource === true && definition.hasStatusSubresource) delete object['status'];
  switch (definition.kind) {
    case 'Pod':
      object['status'] = { phase: 'Pending', qosClass: 'BestEffort' };
      break;
    case 'Deployment':
    case 'Ingress':
      object['status'] = {};
      break;
    case 'ReplicaSet':
      // ReplicaSetStatus.replicas has no omitempty
      object['status'] = { replicas: 0 };
      break;
    case 'Service':
      object['status'] = { loadBalancer: {} };
      break;
    case 'PodDisruptionBudget':
      // the v1 status counters have no omitempty: a fresh PDB shows them as 0
      object['status'] = { disruptionsAllowed: 0, currentHealthy: 0, desiredHealthy: 0, expectedPods: 0 };
      break;
    case 'Namespace': {
      const name = stringAt(metadata, 'name') ?? '';
      ensureObject(metadata, 'labels')['kubernetes.io/metadata.name'] = name;
      const spec = ensureObject(object, 'spec');
      setDefault(spec, 'finalizers', ['kubernetes']);
      object['status'] = { phase: 'Active' };
      break;
    }
    default:
      break;
  }
}

/**
 * Update-time rules (PrepareForUpdate): identity fields come from the stored object, status stays as stored
 * unless this is a /status write (then only status changes), and generation moves when spec changes.
 */
export function prepareForUpdate(
  definition: ResourceDefinition,
  previous: JsonObject,
  next: JsonObject,
  context: DefaultingContext,
  isStatusWrite: boolean,
): JsonObject {
  const result = isStatusWrite ? { ...previous, status: next['status'] ?? {} } : next;
  const metadata = ensureObject(result, 'metadata');
  const previousMetadata = objectAt(previous, 'metadata') ?? {};
  for (const key of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp'] as const) {
    const value = previousMetadata[key];
    if (value === undefined) delete metadata[key];
    else metadata[key] = value;
  }
  if (isStatusWrite) {
    result['metadata'] = { ...previousMetadata, ...pickMetadataForStatus(metadata) };
    return result;
  }
  if (definition.hasStatusSubresource) {
    const status = previous['status'];
    if (status === undefined) delete result['status'];
    else result['status'] = status;
  }
  defaultByKind(definition, result, context, previous);
  if (definition.kind === 'Namespace') {
    ensureObject(metadata, 'labels')['kubernetes.io/metadata.name'] = stringAt(metadata, 'name') ?? '';
  }
  const generation = previousMetadata['generation'];
  if (GENERATION_KINDS.has(definition.kind) && typeof generation === 'number' && !jsonEqual(previous['spec'], result['spec'])) {
    metadata['generation'] = generation + 1;
  }
  return result;
}

/** A /status write may only carry status; metadata changes other than resourceVersion are ignored. */
function pickMetadataForStatus(metadata: JsonObject): JsonObject {
  const resourceVersion = metadata['resourceVersion'];
  return resourceVersion === undefined ? {} : { resourceVersion };
}
