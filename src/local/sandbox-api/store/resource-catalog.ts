// The resources the sandbox serves: names, kinds, scope, verbs and the per-kind rules (name format, what a
// DELETE answers). Discovery, OpenAPI, routing and validation all read this one table.

export const NameRule = {
  /** DNS-1123 subdomain: most kinds */
  subdomain: 'subdomain',
  /** DNS-1123 label: namespaces */
  label: 'label',
  /** DNS-1035 label: services */
  dns1035: 'dns1035',
  /** anything usable as a path segment: events */
  pathSegment: 'pathSegment',
} as const;
export type NameRule = (typeof NameRule)[keyof typeof NameRule];

export const DeleteAnswer = {
  /** ReturnDeletedObject: the deleted object */
  object: 'object',
  /** a Status Success naming the object */
  status: 'status',
} as const;
export type DeleteAnswer = (typeof DeleteAnswer)[keyof typeof DeleteAnswer];

export interface SubresourceDefinition {
  readonly name: string;
  readonly kind: string;
  readonly group?: string;
  readonly version?: string;
  readonly verbs: readonly string[];
}

export interface ResourceDefinition {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly verbs: readonly string[];
  readonly subresources: readonly SubresourceDefinition[];
  readonly storageVersionHash: string;
  readonly nameRule: NameRule;
  readonly deleteAnswer: DeleteAnswer;
  /** status is written only through /status; main-resource writes keep the stored status */
  readonly hasStatusSubresource: boolean;
  /**
   * Served as kube-apiserver serves a CRD's kind: PATCH takes JSON patch, merge patch and apply patch but
   * refuses a strategic merge patch with 415 (apiextensions-apiserver's customresource handler), and
   * OpenAPI does not offer it, so kubectl apply computes a JSON merge patch for it.
   */
  readonly isCustomResource?: true;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
const STATUS_VERBS = ['get', 'patch', 'update'] as const;

function status(kind: string): SubresourceDefinition {
  return { name: 'status', kind, verbs: STATUS_VERBS };
}

const CORE = { group: '', version: 'v1' } as const;
const RBAC = { group: 'rbac.authorization.k8s.io', version: 'v1' } as const;
const AUTHORIZATION = { group: 'authorization.k8s.io', version: 'v1' } as const;
/** Gateway API (standard channel Gateway v1, experimental TCPRoute/UDPRoute v1alpha2), as its CRDs declare them. */
const GATEWAY_API = 'gateway.networking.k8s.io';

export const RESOURCES: readonly ResourceDefinition[] = [
  {
    ...CORE, resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], categories: [],
    verbs: ALL_VERBS, subresources: [], storageVersionHash: 'qFsyl6wFWjQ=', nameRule: NameRule.subdomain,
    deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...CORE, resource: 'endpoints', singular: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'], categories: [],
    verbs: ALL_VERBS, subresources: [], storageVersionHash: 'fWeeMqaN/OA=', nameRule: NameRule.subdomain,
    deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...CORE, resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'], categories: [],
    verbs: ALL_VERBS, subresources: [], storageVersionHash: 'r2yiGXH7wu8=', nameRule: NameRule.pathSegment,
    deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...CORE, resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], categories: [],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'finalize', kind: 'Namespace', verbs: ['update'] }, status('Namespace')],
    storageVersionHash: 'Q3oi5N2YM8M=', nameRule: NameRule.label, deleteAnswer: DeleteAnswer.object, hasStatusSubresource: true,
  },
  {
    ...CORE, resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], categories: [],
    verbs: ALL_VERBS, subresources: [{ name: 'proxy', kind: 'NodeProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }, status('Node')],
    storageVersionHash: 'XwShjMxG9Fs=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
  },
  {
    ...CORE, resource: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ['all'], verbs: ALL_VERBS,
    subresources: [
      { name: 'attach', kind: 'PodAttachOptions', verbs: ['create', 'get'] },
      { name: 'binding', kind: 'Binding', verbs: ['create'] },
      { name: 'ephemeralcontainers', kind: 'Pod', verbs: STATUS_VERBS },
      { name: 'eviction', kind: 'Eviction', group: 'policy', verbs: ['create'] },
      { name: 'exec', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'portforward', kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
      { name: 'proxy', kind: 'PodProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] },
      status('Pod'),
    ],
    storageVersionHash: 'xPOwRZ+Yhw8=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.object, hasStatusSubresource: true,
  },
  {
    ...CORE, resource: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, shortNames: [], categories: [],
    verbs: ALL_VERBS, subresources: [], storageVersionHash: 'S6u1pOWzb84=', nameRule: NameRule.subdomain,
    deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...CORE, resource: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa'],
    categories: [], verbs: ALL_VERBS,
    subresources: [{ name: 'token', kind: 'TokenRequest', group: 'authentication.k8s.io', verbs: ['create'] }],
    storageVersionHash: 'pbx9ZvyFpBE=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.object, hasStatusSubresource: false,
  },
  {
    ...CORE, resource: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'],
    verbs: ALL_VERBS,
    subresources: [{ name: 'proxy', kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }, status('Service')],
    storageVersionHash: '0/CO1lhkEBI=', nameRule: NameRule.dns1035, deleteAnswer: DeleteAnswer.object, hasStatusSubresource: true,
  },
  {
    group: 'apps', version: 'v1', resource: 'deployments', singular: 'deployment', kind: 'Deployment', namespaced: true,
    shortNames: ['deploy'], categories: ['all'], verbs: ALL_VERBS,
    subresources: [{ name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: STATUS_VERBS }, status('Deployment')],
    storageVersionHash: '8aSe+NMegvE=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
  },
  {
    group: 'apps', version: 'v1', resource: 'replicasets', singular: 'replicaset', kind: 'ReplicaSet', namespaced: true,
    shortNames: ['rs'], categories: ['all'], verbs: ALL_VERBS, subresources: [status('ReplicaSet')],
    storageVersionHash: 'P1RzHs8/mWQ=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
  },
  {
    group: 'networking.k8s.io', version: 'v1', resource: 'ingresses', singular: 'ingress', kind: 'Ingress', namespaced: true,
    shortNames: ['ing'], categories: [], verbs: ALL_VERBS, subresources: [status('Ingress')],
    storageVersionHash: '39NQlfNR+bo=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
  },
  // The kinds of deploy/ (install.sh is tested against the sandbox). PDB has a status subresource like the
  // apiserver's; RBAC objects have none and their names are path segments (rbac ValidateRBACName).
  {
    group: 'policy', version: 'v1', resource: 'poddisruptionbudgets', singular: 'poddisruptionbudget', kind: 'PodDisruptionBudget',
    namespaced: true, shortNames: ['pdb'], categories: [], verbs: ALL_VERBS, subresources: [status('PodDisruptionBudget')],
    storageVersionHash: 'EVWiDmWqyJw=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
  },
  {
    ...RBAC, resource: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [], storageVersionHash: '48tpQ8gZHFc=',
    nameRule: NameRule.pathSegment, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...RBAC, resource: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [], storageVersionHash: 'bYE5ZWDrJ44=',
    nameRule: NameRule.pathSegment, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...RBAC, resource: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [], storageVersionHash: 'eGsCzGH6b1g=',
    nameRule: NameRule.pathSegment, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...RBAC, resource: 'roles', singular: 'role', kind: 'Role', namespaced: true,
    shortNames: [], categories: [], verbs: ALL_VERBS, subresources: [], storageVersionHash: '7FuwZcIIItM=',
    nameRule: NameRule.pathSegment, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  // The Gateway API kinds tunnel discovery reads (docs/tunnels.md); CRDs in a real cluster.
  {
    group: GATEWAY_API, version: 'v1', resource: 'gateways', singular: 'gateway', kind: 'Gateway', namespaced: true,
    shortNames: ['gtw'], categories: ['gateway-api'], verbs: ALL_VERBS, subresources: [status('Gateway')],
    storageVersionHash: 'JULh3w6zQMU=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
    isCustomResource: true,
  },
  {
    group: GATEWAY_API, version: 'v1alpha2', resource: 'tcproutes', singular: 'tcproute', kind: 'TCPRoute', namespaced: true,
    shortNames: [], categories: ['gateway-api'], verbs: ALL_VERBS, subresources: [status('TCPRoute')],
    storageVersionHash: 'tVwyRPeFjqU=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
    isCustomResource: true,
  },
  {
    group: GATEWAY_API, version: 'v1alpha2', resource: 'udproutes', singular: 'udproute', kind: 'UDPRoute', namespaced: true,
    shortNames: [], categories: ['gateway-api'], verbs: ALL_VERBS, subresources: [status('UDPRoute')],
    storageVersionHash: 'yg6oXQ1v9Oc=', nameRule: NameRule.subdomain, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: true,
    isCustomResource: true,
  },
  // answered for the caller at once and never stored (access-reviews.ts): create is their only verb
  {
    ...AUTHORIZATION, resource: 'selfsubjectaccessreviews', singular: 'selfsubjectaccessreview', kind: 'SelfSubjectAccessReview',
    namespaced: false, shortNames: [], categories: [], verbs: ['create'], subresources: [], storageVersionHash: '',
    nameRule: NameRule.pathSegment, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
  {
    ...AUTHORIZATION, resource: 'selfsubjectrulesreviews', singular: 'selfsubjectrulesreview', kind: 'SelfSubjectRulesReview',
    namespaced: false, shortNames: [], categories: [], verbs: ['create'], subresources: [], storageVersionHash: '',
    nameRule: NameRule.pathSegment, deleteAnswer: DeleteAnswer.status, hasStatusSubresource: false,
  },
];

/** API groups in the order kube-apiserver lists them (by group priority); '' is the legacy core group. */
export const GROUP_ORDER: readonly string[] = ['', 'apps', 'authorization.k8s.io', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io', GATEWAY_API];

export function groupVersions(group: string): readonly string[] {
  return [...new Set(RESOURCES.filter((r) => r.group === group).map((r) => r.version))];
}

export function resourcesOf(group: string, version: string): readonly ResourceDefinition[] {
  return RESOURCES.filter((r) => r.group === group && r.version === version);
}

export function findResource(group: string, version: string, resource: string): ResourceDefinition | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function findByKind(apiVersion: string, kind: string): ResourceDefinition | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

/** `v1` or `apps/v1`. */
export function apiVersionOf(definition: { readonly group: string; readonly version: string }): string {
  return definition.group === '' ? definition.version : `${definition.group}/${definition.version}`;
}
