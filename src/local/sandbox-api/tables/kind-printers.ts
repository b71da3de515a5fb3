// Tables of `kubectl get` for every served kind except pods (pod-printer.ts) and the Gateway API kinds
// (gateway-api-printers.ts), following kube-apiserver's printers (pkg/printers/internalversion), plus the
// default Name/Created At table for kinds without one. Each column carries the cell it prints.

import { arrayAt, isJsonObject, numberAt, objectAt, objectsAt, stringAt, type JsonObject, type JsonValue } from '../store/json-value.js';
import { GATEWAY_PRINTER, ROUTE_PRINTER } from './gateway-api-printers.js';
import { AGE_COLUMN, AGE_DESCRIPTION, NAME_COLUMN, kindPrinter, type KindPrinter } from './kind-table.js';
import { POD_PRINTER } from './pod-printer.js';

function countKeys(value: JsonValue | undefined): number {
  return isJsonObject(value) ? Object.keys(value).length : 0;
}

/** labels.FormatLabels: sorted k=v pairs, "<none>" when empty. */
function formatLabels(map: JsonObject | undefined): string {
  const keys = Object.keys(map ?? {}).sort();
  return keys.length === 0 ? '<none>' : keys.map((key) => `${key}=${String(map?.[key] ?? '')}`).join(',');
}

/** metav1.LabelSelectorAsSelector(...).String(): requirements sorted by key. */
function formatLabelSelector(selector: JsonObject | undefined): string {
  if (selector === undefined) return '<none>';
  const parts: { key: string; text: string }[] = [];
  for (const [key, value] of Object.entries(objectAt(selector, 'matchLabels') ?? {})) parts.push({ key, text: `${key}=${String(value)}` });
  for (const expression of objectsAt(selector, 'matchExpressions')) {
    const key = stringAt(expression, 'key') ?? '';
    const values = (arrayAt(expression, 'values') ?? []).map(String).sort();
    const operator = stringAt(expression, 'operator');
    const text =
      operator === 'In' ? `${key} in (${values.join(',')})`
      : operator === 'NotIn' ? `${key} notin (${values.join(',')})`
      : operator === 'Exists' ? key
      : `!${key}`;
    parts.push({ key, text });
  }
  return parts.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((part) => part.text).join(',');
}

function loadBalancerAddresses(status: JsonObject | undefined): string {
  return objectsAt(objectAt(status, 'loadBalancer'), 'ingress')
    .map((ingress) => stringAt(ingress, 'ip') || stringAt(ingress, 'hostname') || '')
    .filter((text) => text !== '')
    .join(',');
}

const CONFIG_MAP = kindPrinter({
  columns: [NAME_COLUMN, { name: 'Data', type: 'integer', description: 'Data contains the configuration data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.', cell: (object) => countKeys(object['data']) + countKeys(object['binaryData']) }, AGE_COLUMN],
});

const SECRET = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Type', type: 'string', description: 'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types', cell: (object) => stringAt(object, 'type') ?? '' },
    { name: 'Data', type: 'integer', description: 'Data contains the secret data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4', cell: (object) => countKeys(object['data']) },
    AGE_COLUMN,
  ],
});

const NAMESPACE = kindPrinter({
  columns: [NAME_COLUMN, { name: 'Status', type: 'string', description: 'The status of the namespace', cell: (object) => stringAt(objectAt(object, 'status'), 'phase') ?? '' }, AGE_COLUMN],
});

function nodeRoles(labels: JsonObject | undefined): string {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (key.startsWith('node-role.kubernetes.io/') && key.length > 'node-role.kubernetes.io/'.length) roles.add(key.slice('node-role.kubernetes.io/'.length));
    else if (key === 'kubernetes.io/role' && typeof value === 'string' && value !== '') roles.add(value);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function nodeAddress(status: JsonObject | undefined, type: string): string {
  return stringAt(objectsAt(status, 'addresses').find((address) => address['type'] === type), 'address') ?? '<none>';
}

/** Ready, NotReady or Unknown from the Ready condition, then SchedulingDisabled when cordoned. */
function nodeStates(node: JsonObject): string {
  const ready = objectsAt(objectAt(node, 'status'), 'conditions').find((condition) => condition['type'] === 'Ready');
  const states = ready === undefined ? ['Unknown'] : [ready['status'] === 'True' ? 'Ready' : 'NotReady'];
  if (objectAt(node, 'spec')?.['unschedulable'] === true) states.push('SchedulingDisabled');
  return states.join(',');
}

function nodeInfo(node: JsonObject): JsonObject | undefined {
  return objectAt(objectAt(node, 'status'), 'nodeInfo');
}

const NODE = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Status', type: 'string', description: 'The status of the node', cell: nodeStates },
    { name: 'Roles', type: 'string', description: 'The roles of the node', cell: (object) => nodeRoles(objectAt(objectAt(object, 'metadata'), 'labels')) },
    AGE_COLUMN,
    { name: 'Version', type: 'string', description: 'Kubelet Version reported by the node.', cell: (object) => stringAt(nodeInfo(object), 'kubeletVersion') ?? '' },
    { name: 'Internal-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses', cell: (object) => nodeAddress(objectAt(object, 'status'), 'InternalIP') },
    { name: 'External-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses', cell: (object) => nodeAddress(objectAt(object, 'status'), 'ExternalIP') },
    { name: 'OS-Image', type: 'string', priority: 1, description: 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', cell: (object) => stringAt(nodeInfo(object), 'osImage') || '<unknown>' },
    { name: 'Kernel-Version', type: 'string', priority: 1, description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", cell: (object) => stringAt(nodeInfo(object), 'kernelVersion') || '<unknown>' },
    { name: 'Container-Runtime', type: 'string', priority: 1, description: 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', cell: (object) => stringAt(nodeInfo(object), 'containerRuntimeVersion') || '<unknown>' },
  ],
});

function serviceExternalIp(spec: JsonObject | undefined, status: JsonObject | undefined): string {
  const externalIps = (arrayAt(spec, 'externalIPs') ?? []).map(String);
  switch (stringAt(spec, 'type')) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIps.length > 0 ? externalIps.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerAddresses(status);
      const all = [...(lb === '' ? [] : lb.split(',')), ...externalIps];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return stringAt(spec, 'externalName') ?? '';
    default:
      return '<unknown>';
  }
}

function servicePorts(spec: JsonObject | undefined): string {
  const ports = objectsAt(spec, 'ports').map((port) => {
    const nodePort = numberAt(port, 'nodePort') ?? 0;
    const protocol = stringAt(port, 'protocol') ?? '';
    return nodePort > 0 ? `${numberAt(port, 'port') ?? 0}:${nodePort}/${protocol}` : `${numberAt(port, 'port') ?? 0}/${protocol}`;
  });
  return ports.length === 0 ? '<none>' : ports.join(',');
}

const SERVICE = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Type', type: 'string', description: 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.', cell: (object) => stringAt(objectAt(object, 'spec'), 'type') ?? '' },
    { name: 'Cluster-IP', type: 'string', description: 'clusterIP is the IP address of the service and is usually assigned randomly.', cell: (object) => String((arrayAt(objectAt(object, 'spec'), 'clusterIPs') ?? [])[0] ?? '<none>') },
    { name: 'External-IP', type: 'string', description: 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.', cell: (object) => serviceExternalIp(objectAt(object, 'spec'), objectAt(object, 'status')) },
    { name: 'Port(s)', type: 'string', description: 'The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies', cell: (object) => servicePorts(objectAt(object, 'spec')) },
    AGE_COLUMN,
    { name: 'Selector', type: 'string', priority: 1, description: 'Route service traffic to pods with label keys and values matching this selector. More info: https://kubernetes.io/docs/concepts/services-networking/service/', cell: (object) => formatLabels(objectAt(objectAt(object, 'spec'), 'selector')) },
  ],
});

/** A wide column of a workload with a pod template: its containers' names or images. */
function templateContainers(workload: JsonObject, field: 'name' | 'image'): string {
  const containers = objectsAt(objectAt(objectAt(objectAt(workload, 'spec'), 'template'), 'spec'), 'containers');
  return containers.map((c) => stringAt(c, field) ?? '').join(',');
}

const DEPLOYMENT = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Ready', type: 'string', description: 'Number of the pod with ready state', cell: (object) => `${numberAt(objectAt(object, 'status'), 'readyReplicas') ?? 0}/${numberAt(objectAt(object, 'spec'), 'replicas') ?? 0}` },
    { name: 'Up-to-date', type: 'string', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', cell: (object) => numberAt(objectAt(object, 'status'), 'updatedReplicas') ?? 0 },
    { name: 'Available', type: 'string', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', cell: (object) => numberAt(objectAt(object, 'status'), 'availableReplicas') ?? 0 },
    AGE_COLUMN,
    { name: 'Containers', type: 'string', priority: 1, description: 'Names of each container in the template.', cell: (object) => templateContainers(object, 'name') },
    { name: 'Images', type: 'string', priority: 1, description: 'Images referenced by each container in the template.', cell: (object) => templateContainers(object, 'image') },
    { name: 'Selector', type: 'string', priority: 1, description: 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.', cell: (object) => formatLabelSelector(objectAt(objectAt(object, 'spec'), 'selector')) },
  ],
});

const REPLICA_SET = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Desired', type: 'integer', description: 'Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works', cell: (object) => numberAt(objectAt(object, 'spec'), 'replicas') ?? 0 },
    { name: 'Current', type: 'integer', description: 'Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works', cell: (object) => numberAt(objectAt(object, 'status'), 'replicas') ?? 0 },
    { name: 'Ready', type: 'integer', description: 'The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.', cell: (object) => numberAt(objectAt(object, 'status'), 'readyReplicas') ?? 0 },
    AGE_COLUMN,
    { name: 'Containers', type: 'string', priority: 1, description: 'Names of each container in the template.', cell: (object) => templateContainers(object, 'name') },
    { name: 'Images', type: 'string', priority: 1, description: 'Images referenced by each container in the template.', cell: (object) => templateContainers(object, 'image') },
    { name: 'Selector', type: 'string', priority: 1, description: 'Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template\'s labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors', cell: (object) => formatLabelSelector(objectAt(objectAt(object, 'spec'), 'selector')) },
  ],
});

/** The first three hosts, and how many more; `*` when no rule names one. */
function ingressHosts(spec: JsonObject | undefined): string {
  const rules = objectsAt(spec, 'rules');
  const hosts = rules.map((rule) => stringAt(rule, 'host') ?? '').filter((host) => host !== '').slice(0, 3);
  return hosts.length === 0 ? '*' : rules.length > 3 ? `${hosts.join(',')} + ${rules.length - 3} more...` : hosts.join(',');
}

const INGRESS = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Class', type: 'string', description: 'The name of the IngressClass resource that should be used for this Ingress.', cell: (object) => stringAt(objectAt(object, 'spec'), 'ingressClassName') ?? '<none>' },
    { name: 'Hosts', type: 'string', description: 'Hosts that incoming requests are matched against before the ingress rule', cell: (object) => ingressHosts(objectAt(object, 'spec')) },
    { name: 'Address', type: 'string', description: 'Address is a list containing ingress points for the load-balancer', cell: (object) => loadBalancerAddresses(objectAt(object, 'status')) },
    { name: 'Ports', type: 'string', description: 'Ports of TLS configurations that open', cell: (object) => (objectsAt(objectAt(object, 'spec'), 'tls').length > 0 ? '80, 443' : '80') },
    AGE_COLUMN,
  ],
});

function endpointsText(endpoints: JsonObject): string {
  const all: string[] = [];
  for (const subset of objectsAt(endpoints, 'subsets')) {
    for (const address of objectsAt(subset, 'addresses')) {
      const ports = objectsAt(subset, 'ports');
      if (ports.length === 0) all.push(stringAt(address, 'ip') ?? '');
      for (const port of ports) all.push(`${stringAt(address, 'ip') ?? ''}:${numberAt(port, 'port') ?? 0}`);
    }
  }
  return all.length === 0 ? '<none>' : all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
}

const ENDPOINTS = kindPrinter({
  columns: [NAME_COLUMN, { name: 'Endpoints', type: 'string', description: 'The set of all endpoints is the union of all subsets.', cell: endpointsText }, AGE_COLUMN],
});

const SERVICE_ACCOUNT = kindPrinter({
  columns: [NAME_COLUMN, { name: 'Secrets', type: 'integer', description: 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.', cell: (object) => (arrayAt(object, 'secrets') ?? []).length }, AGE_COLUMN],
});

/** The subjects of one kind, as rbac.SubjectsStrings lists them: service accounts as namespace/name. */
function subjectNames(binding: JsonObject, kind: 'User' | 'Group' | 'ServiceAccount'): string {
  return objectsAt(binding, 'subjects')
    .filter((subject) => subject['kind'] === kind)
    .map((subject) => {
      const name = stringAt(subject, 'name') ?? '';
      const namespace = stringAt(subject, 'namespace') ?? '';
      return kind === 'ServiceAccount' && namespace !== '' ? `${namespace}/${name}` : name;
    })
    .join(', ');
}

/** `Kind/name` of roleRef, then users, groups and namespace/name service accounts. */
const ROLE_BINDING = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Role', type: 'string', description: 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.', cell: (object) => `${stringAt(objectAt(object, 'roleRef'), 'kind') ?? ''}/${stringAt(objectAt(object, 'roleRef'), 'name') ?? ''}` },
    AGE_COLUMN,
    { name: 'Users', type: 'string', priority: 1, description: 'Users in the roleBinding', cell: (object) => subjectNames(object, 'User') },
    { name: 'Groups', type: 'string', priority: 1, description: 'Groups in the roleBinding', cell: (object) => subjectNames(object, 'Group') },
    { name: 'ServiceAccounts', type: 'string', priority: 1, description: 'ServiceAccounts in the roleBinding', cell: (object) => subjectNames(object, 'ServiceAccount') },
  ],
});

function intOrStringCell(value: JsonValue | undefined): string {
  return typeof value === 'number' || typeof value === 'string' ? String(value) : 'N/A';
}

const POD_DISRUPTION_BUDGET = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Min Available', type: 'string', description: 'The minimum number or percentage of available pods this budget requires.', cell: (object) => intOrStringCell(objectAt(object, 'spec')?.['minAvailable']) },
    { name: 'Max Unavailable', type: 'string', description: 'The maximum number or percentage of unavailable pods this budget requires.', cell: (object) => intOrStringCell(objectAt(object, 'spec')?.['maxUnavailable']) },
    { name: 'Allowed Disruptions', type: 'integer', description: 'Calculated number of pods that may be disrupted at this time.', cell: (object) => numberAt(objectAt(object, 'status'), 'disruptionsAllowed') ?? 0 },
    AGE_COLUMN,
  ],
});

/** The apiserver's default table for kinds without a printer. */
export const DEFAULT_PRINTER: KindPrinter = kindPrinter({
  columns: [
    NAME_COLUMN,
    { name: 'Created At', type: 'date', description: AGE_DESCRIPTION, cell: (object) => stringAt(objectAt(object, 'metadata'), 'creationTimestamp') ?? '' },
  ],
});

const PRINTERS: Readonly<Record<string, KindPrinter>> = {
  Pod: POD_PRINTER,
  ConfigMap: CONFIG_MAP,
  Secret: SECRET,
  Namespace: NAMESPACE,
  Node: NODE,
  Service: SERVICE,
  Deployment: DEPLOYMENT,
  ReplicaSet: REPLICA_SET,
  Ingress: INGRESS,
  Endpoints: ENDPOINTS,
  ServiceAccount: SERVICE_ACCOUNT,
  RoleBinding: ROLE_BINDING,
  ClusterRoleBinding: ROLE_BINDING,
  PodDisruptionBudget: POD_DISRUPTION_BUDGET,
  Gateway: GATEWAY_PRINTER,
  TCPRoute: ROUTE_PRINTER,
  UDPRoute: ROUTE_PRINTER,
  // Role and ClusterRole print Name and Created At, which is the default table
};

export function printerFor(kind: string): KindPrinter {
  return PRINTERS[kind] ?? DEFAULT_PRINTER;
}
