// Rows of `kubectl get` for every served kind except pods (pod-printer.ts), following kube-apiserver's
// printers (pkg/printers/internalversion), plus the default Name/Created At table for kinds without one.

import { ageOf } from './human-duration.js';
import { arrayAt, isJsonObject, numberAt, objectAt, stringAt, type JsonObject, type JsonValue } from '../store/json-value.js';
import { GATEWAY_PRINTER, ROUTE_PRINTER } from './gateway-api-printers.js';
import { POD_PRINTER } from './pod-printer.js';
import { AGE_COLUMN, AGE_DESCRIPTION, NAME_COLUMN, NAME_DESCRIPTION, type KindPrinter } from './table-columns.js';

function objects(parent: JsonObject | undefined, key: string): JsonObject[] {
  return (arrayAt(parent, key) ?? []).filter(isJsonObject);
}

function nameOf(object: JsonObject): string {
  return stringAt(objectAt(object, 'metadata'), 'name') ?? '';
}

function ageCell(object: JsonObject, nowMs: number): string {
  return ageOf(stringAt(objectAt(object, 'metadata'), 'creationTimestamp'), nowMs);
}

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
  for (const expression of objects(selector, 'matchExpressions')) {
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
  return objects(objectAt(status, 'loadBalancer'), 'ingress')
    .map((ingress) => stringAt(ingress, 'ip') || stringAt(ingress, 'hostname') || '')
    .filter((text) => text !== '')
    .join(',');
}

const CONFIG_MAP: KindPrinter = {
  columns: [NAME_COLUMN, { name: 'Data', type: 'integer', description: 'Data contains the configuration data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.' }, AGE_COLUMN],
  row: (object, nowMs) => ({ cells: [nameOf(object), countKeys(object['data']) + countKeys(object['binaryData']), ageCell(object, nowMs)] }),
};

const SECRET: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Type', type: 'string', description: 'Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types' },
    { name: 'Data', type: 'integer', description: 'Data contains the secret data. Each key must consist of alphanumeric characters, \'-\', \'_\' or \'.\'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4' },
    AGE_COLUMN,
  ],
  row: (object, nowMs) => ({ cells: [nameOf(object), stringAt(object, 'type') ?? '', countKeys(object['data']), ageCell(object, nowMs)] }),
};

const NAMESPACE: KindPrinter = {
  columns: [NAME_COLUMN, { name: 'Status', type: 'string', description: 'The status of the namespace' }, AGE_COLUMN],
  row: (object, nowMs) => ({ cells: [nameOf(object), stringAt(objectAt(object, 'status'), 'phase') ?? '', ageCell(object, nowMs)] }),
};

function nodeRoles(labels: JsonObject | undefined): string {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (key.startsWith('node-role.kubernetes.io/') && key.length > 'node-role.kubernetes.io/'.length) roles.add(key.slice('node-role.kubernetes.io/'.length));
    else if (key === 'kubernetes.io/role' && typeof value === 'string' && value !== '') roles.add(value);
  }
  return roles.size === 0 ? '<none>' : [...roles].sort().join(',');
}

function nodeAddress(status: JsonObject | undefined, type: string): string {
  return stringAt(objects(status, 'addresses').find((address) => address['type'] === type), 'address') ?? '<none>';
}

const NODE: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Status', type: 'string', description: 'The status of the node' },
    { name: 'Roles', type: 'string', description: 'The roles of the node' },
    AGE_COLUMN,
    { name: 'Version', type: 'string', description: 'Kubelet Version reported by the node.' },
    { name: 'Internal-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses' },
    { name: 'External-IP', type: 'string', priority: 1, description: 'List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses' },
    { name: 'OS-Image', type: 'string', priority: 1, description: 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).' },
    { name: 'Kernel-Version', type: 'string', priority: 1, description: "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)." },
    { name: 'Container-Runtime', type: 'string', priority: 1, description: 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).' },
  ],
  row: (object, nowMs) => {
    const status = objectAt(object, 'status');
    const ready = objects(status, 'conditions').find((condition) => condition['type'] === 'Ready');
    const states = ready === undefined ? ['Unknown'] : [ready['status'] === 'True' ? 'Ready' : 'NotReady'];
    if (objectAt(object, 'spec')?.['unschedulable'] === true) states.push('SchedulingDisabled');
    const info = objectAt(status, 'nodeInfo');
    return {
      cells: [
        nameOf(object), states.join(','), nodeRoles(objectAt(objectAt(object, 'metadata'), 'labels')), ageCell(object, nowMs),
        stringAt(info, 'kubeletVersion') ?? '', nodeAddress(status, 'InternalIP'), nodeAddress(status, 'ExternalIP'),
        stringAt(info, 'osImage') || '<unknown>', stringAt(info, 'kernelVersion') || '<unknown>', stringAt(info, 'containerRuntimeVersion') || '<unknown>',
      ],
    };
  },
};

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

const SERVICE: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Type', type: 'string', description: 'type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.' },
    { name: 'Cluster-IP', type: 'string', description: 'clusterIP is the IP address of the service and is usually assigned randomly.' },
    { name: 'External-IP', type: 'string', description: 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.' },
    { name: 'Port(s)', type: 'string', description: 'The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies' },
    AGE_COLUMN,
    { name: 'Selector', type: 'string', priority: 1, description: 'Route service traffic to pods with label keys and values matching this selector. More info: https://kubernetes.io/docs/concepts/services-networking/service/' },
  ],
  row: (object, nowMs) => {
    const spec = objectAt(object, 'spec');
    const ports = objects(spec, 'ports').map((port) => {
      const nodePort = numberAt(port, 'nodePort') ?? 0;
      const protocol = stringAt(port, 'protocol') ?? '';
      return nodePort > 0 ? `${numberAt(port, 'port') ?? 0}:${nodePort}/${protocol}` : `${numberAt(port, 'port') ?? 0}/${protocol}`;
    });
    return {
      cells: [
        nameOf(object), stringAt(spec, 'type') ?? '', String((arrayAt(spec, 'clusterIPs') ?? [])[0] ?? '<none>'),
        serviceExternalIp(spec, objectAt(object, 'status')), ports.length === 0 ? '<none>' : ports.join(','), ageCell(object, nowMs),
        formatLabels(objectAt(spec, 'selector')),
      ],
    };
  },
};

/** The wide columns of a workload with a pod template: its containers, their images, its selector. */
function templateCells(spec: JsonObject | undefined): string[] {
  const containers = objects(objectAt(objectAt(spec, 'template'), 'spec'), 'containers');
  return [
    containers.map((c) => stringAt(c, 'name') ?? '').join(','),
    containers.map((c) => stringAt(c, 'image') ?? '').join(','),
    formatLabelSelector(objectAt(spec, 'selector')),
  ];
}

const DEPLOYMENT: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Ready', type: 'string', description: 'Number of the pod with ready state' },
    { name: 'Up-to-date', type: 'string', description: 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.' },
    { name: 'Available', type: 'string', description: 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.' },
    AGE_COLUMN,
    { name: 'Containers', type: 'string', priority: 1, description: 'Names of each container in the template.' },
    { name: 'Images', type: 'string', priority: 1, description: 'Images referenced by each container in the template.' },
    { name: 'Selector', type: 'string', priority: 1, description: 'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.' },
  ],
  row: (object, nowMs) => {
    const spec = objectAt(object, 'spec');
    const status = objectAt(object, 'status');
    return {
      cells: [
        nameOf(object), `${numberAt(status, 'readyReplicas') ?? 0}/${numberAt(spec, 'replicas') ?? 0}`,
        numberAt(status, 'updatedReplicas') ?? 0, numberAt(status, 'availableReplicas') ?? 0, ageCell(object, nowMs),
        ...templateCells(spec),
      ],
    };
  },
};

const REPLICA_SET: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Desired', type: 'integer', description: 'Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works' },
    { name: 'Current', type: 'integer', description: 'Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works' },
    { name: 'Ready', type: 'integer', description: 'The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.' },
    AGE_COLUMN,
    { name: 'Containers', type: 'string', priority: 1, description: 'Names of each container in the template.' },
    { name: 'Images', type: 'string', priority: 1, description: 'Images referenced by each container in the template.' },
    { name: 'Selector', type: 'string', priority: 1, description: 'Selector is a label query over pods that should match the replica count. Label keys and values that must match in order to be controlled by this replica set. It must match the pod template\'s labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors' },
  ],
  row: (object, nowMs) => {
    const spec = objectAt(object, 'spec');
    const status = objectAt(object, 'status');
    return {
      cells: [
        nameOf(object), numberAt(spec, 'replicas') ?? 0, numberAt(status, 'replicas') ?? 0, numberAt(status, 'readyReplicas') ?? 0, ageCell(object, nowMs),
        ...templateCells(spec),
      ],
    };
  },
};

const INGRESS: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Class', type: 'string', description: 'The name of the IngressClass resource that should be used for this Ingress.' },
    { name: 'Hosts', type: 'string', description: 'Hosts that incoming requests are matched against before the ingress rule' },
    { name: 'Address', type: 'string', description: 'Address is a list containing ingress points for the load-balancer' },
    { name: 'Ports', type: 'string', description: 'Ports of TLS configurations that open' },
    AGE_COLUMN,
  ],
  row: (object, nowMs) => {
    const spec = objectAt(object, 'spec');
    const rules = objects(spec, 'rules');
    const hosts = rules.map((rule) => stringAt(rule, 'host') ?? '').filter((host) => host !== '').slice(0, 3);
    const hostsText = hosts.length === 0 ? '*' : rules.length > 3 ? `${hosts.join(',')} + ${rules.length - 3} more...` : hosts.join(',');
    return {
      cells: [
        nameOf(object), stringAt(spec, 'ingressClassName') ?? '<none>', hostsText, loadBalancerAddresses(objectAt(object, 'status')),
        objects(spec, 'tls').length > 0 ? '80, 443' : '80', ageCell(object, nowMs),
      ],
    };
  },
};

const ENDPOINTS: KindPrinter = {
  columns: [NAME_COLUMN, { name: 'Endpoints', type: 'string', description: 'The set of all endpoints is the union of all subsets.' }, AGE_COLUMN],
  row: (object, nowMs) => {
    const all: string[] = [];
    for (const subset of objects(object, 'subsets')) {
      for (const address of objects(subset, 'addresses')) {
        const ports = objects(subset, 'ports');
        if (ports.length === 0) all.push(stringAt(address, 'ip') ?? '');
        for (const port of ports) all.push(`${stringAt(address, 'ip') ?? ''}:${numberAt(port, 'port') ?? 0}`);
      }
    }
    const text = all.length === 0 ? '<none>' : all.length > 3 ? `${all.slice(0, 3).join(',')} + ${all.length - 3} more...` : all.join(',');
    return { cells: [nameOf(object), text, ageCell(object, nowMs)] };
  },
};

const SERVICE_ACCOUNT: KindPrinter = {
  columns: [NAME_COLUMN, { name: 'Secrets', type: 'integer', description: 'Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.' }, AGE_COLUMN],
  row: (object, nowMs) => ({ cells: [nameOf(object), (arrayAt(object, 'secrets') ?? []).length, ageCell(object, nowMs)] }),
};

/** `Kind/name` of roleRef, then users, groups and namespace/name service accounts (rbac.SubjectsStrings). */
const ROLE_BINDING: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Role', type: 'string', description: 'RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.' },
    AGE_COLUMN,
    { name: 'Users', type: 'string', priority: 1, description: 'Users in the roleBinding' },
    { name: 'Groups', type: 'string', priority: 1, description: 'Groups in the roleBinding' },
    { name: 'ServiceAccounts', type: 'string', priority: 1, description: 'ServiceAccounts in the roleBinding' },
  ],
  row: (object, nowMs) => {
    const roleRef = objectAt(object, 'roleRef');
    const users: string[] = [];
    const groups: string[] = [];
    const serviceAccounts: string[] = [];
    for (const subject of objects(object, 'subjects')) {
      const name = stringAt(subject, 'name') ?? '';
      const namespace = stringAt(subject, 'namespace') ?? '';
      if (subject['kind'] === 'User') users.push(name);
      else if (subject['kind'] === 'Group') groups.push(name);
      else if (subject['kind'] === 'ServiceAccount') serviceAccounts.push(namespace === '' ? name : `${namespace}/${name}`);
    }
    return {
      cells: [
        nameOf(object), `${stringAt(roleRef, 'kind') ?? ''}/${stringAt(roleRef, 'name') ?? ''}`, ageCell(object, nowMs),
        users.join(', '), groups.join(', '), serviceAccounts.join(', '),
      ],
    };
  },
};

function intOrStringCell(value: JsonValue | undefined): string {
  return typeof value === 'number' || typeof value === 'string' ? String(value) : 'N/A';
}

const POD_DISRUPTION_BUDGET: KindPrinter = {
  columns: [
    NAME_COLUMN,
    { name: 'Min Available', type: 'string', description: 'The minimum number or percentage of available pods this budget requires.' },
    { name: 'Max Unavailable', type: 'string', description: 'The maximum number or percentage of unavailable pods this budget requires.' },
    { name: 'Allowed Disruptions', type: 'integer', description: 'Calculated number of pods that may be disrupted at this time.' },
    AGE_COLUMN,
  ],
  row: (object, nowMs) => {
    const spec = objectAt(object, 'spec');
    return {
      cells: [
        nameOf(object), intOrStringCell(spec?.['minAvailable']), intOrStringCell(spec?.['maxUnavailable']),
        numberAt(objectAt(object, 'status'), 'disruptionsAllowed') ?? 0, ageCell(object, nowMs),
      ],
    };
  },
};

/** The apiserver's default table for kinds without a printer. */
export const DEFAULT_PRINTER: KindPrinter = {
  columns: [
    { name: 'Name', type: 'string', format: 'name', description: NAME_DESCRIPTION },
    { name: 'Created At', type: 'date', description: AGE_DESCRIPTION },
  ],
  row: (object) => ({ cells: [nameOf(object), stringAt(objectAt(object, 'metadata'), 'creationTimestamp') ?? ''] }),
};

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
