// Field numbers of the k8s.io/api protobuf messages that kubectl's typed clients send (the bodies of
// `kubectl create configmap|secret|namespace|serviceaccount|deployment|service|ingress`), and whether a
// field is a pointer (kept when zero) or a plain value (dropped when zero, as its JSON omitempty does).

export type ScalarType = 'string' | 'bytes' | 'int' | 'bool' | 'time' | 'intOrString' | 'quantity';

export interface FieldSpec {
  readonly name: string;
  /** a scalar type or the name of a message in MESSAGES */
  readonly type: ScalarType | { readonly message: string };
  readonly repeated?: boolean;
  /** map<string, value>: entries are messages {1: key, 2: value} */
  readonly mapOf?: 'string' | 'bytes' | 'quantity';
  /** pointer fields keep zero values (replicas: 0, immutable: false) */
  readonly isPointer?: boolean;
  /** an embedded Go struct: its fields are flattened into the parent JSON object */
  readonly isInline?: boolean;
}

export type MessageSchema = Readonly<Record<number, FieldSpec>>;

const str = (name: string): FieldSpec => ({ name, type: 'string' });
const int = (name: string, isPointer = false): FieldSpec => ({ name, type: 'int', isPointer });
const bool = (name: string, isPointer = false): FieldSpec => ({ name, type: 'bool', isPointer });
const msg = (name: string, message: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, type: { message }, ...extra });
const strings = (name: string): FieldSpec => ({ name, type: 'string', repeated: true });
const stringMap = (name: string): FieldSpec => ({ name, type: 'string', mapOf: 'string' });

export const MESSAGES: Readonly<Record<string, MessageSchema>> = {
  TypeMeta: { 1: str('apiVersion'), 2: str('kind') },
  ObjectMeta: {
    1: str('name'), 2: str('generateName'), 3: str('namespace'), 4: str('selfLink'), 5: str('uid'), 6: str('resourceVersion'),
    7: int('generation'), 8: { name: 'creationTimestamp', type: 'time' }, 9: { name: 'deletionTimestamp', type: 'time' },
    10: int('deletionGracePeriodSeconds', true), 11: stringMap('labels'), 12: stringMap('annotations'),
    13: msg('ownerReferences', 'OwnerReference', { repeated: true }), 14: strings('finalizers'),
  },
  OwnerReference: { 1: str('kind'), 3: str('name'), 4: str('uid'), 5: str('apiVersion'), 6: bool('controller', true), 7: bool('blockOwnerDeletion', true) },
  LocalObjectReference: { 1: str('name') },
  ConfigMap: { 1: msg('metadata', 'ObjectMeta'), 2: stringMap('data'), 3: { name: 'binaryData', type: 'bytes', mapOf: 'bytes' }, 4: bool('immutable', true) },
  Secret: {
    1: msg('metadata', 'ObjectMeta'), 2: { name: 'data', type: 'bytes', mapOf: 'bytes' }, 3: str('type'), 4: stringMap('stringData'), 5: bool('immutable', true),
  },
  Namespace: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'NamespaceSpec'), 3: msg('status', 'NamespaceStatus') },
  NamespaceSpec: { 1: strings('finalizers') },
  NamespaceStatus: { 1: str('phase') },
  ServiceAccount: {
    1: msg('metadata', 'ObjectMeta'), 2: msg('secrets', 'ObjectReference', { repeated: true }),
    3: msg('imagePullSecrets', 'LocalObjectReference', { repeated: true }), 4: bool('automountServiceAccountToken', true),
  },
  ObjectReference: { 1: str('kind'), 2: str('namespace'), 3: str('name'), 4: str('uid'), 5: str('apiVersion'), 6: str('resourceVersion'), 7: str('fieldPath') },
  Service: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'ServiceSpec'), 3: msg('status', 'Empty') },
  ServiceSpec: {
    1: msg('ports', 'ServicePort', { repeated: true }), 2: stringMap('selector'), 3: str('clusterIP'), 4: str('type'), 5: strings('externalIPs'),
    7: str('sessionAffinity'), 8: str('loadBalancerIP'), 9: strings('loadBalancerSourceRanges'), 10: str('externalName'),
    11: str('externalTrafficPolicy'), 12: int('healthCheckNodePort'), 13: bool('publishNotReadyAddresses'), 18: strings('clusterIPs'),
    21: { name: 'loadBalancerClass', type: 'string', isPointer: true },
  },
  ServicePort: { 1: str('name'), 2: str('protocol'), 3: int('port'), 4: { name: 'targetPort', type: 'intOrString' }, 5: int('nodePort'), 6: { name: 'appProtocol', type: 'string', isPointer: true } },
  Deployment: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'DeploymentSpec'), 3: msg('status', 'Empty') },
  DeploymentSpec: {
    1: int('replicas', true), 2: msg('selector', 'LabelSelector'), 3: msg('template', 'PodTemplateSpec'), 4: msg('strategy', 'DeploymentStrategy'),
    5: int('minReadySeconds'), 6: int('revisionHistoryLimit', true), 7: bool('paused'), 9: int('progressDeadlineSeconds', true),
  },
  DeploymentStrategy: { 1: str('type'), 2: msg('rollingUpdate', 'RollingUpdateDeployment') },
  RollingUpdateDeployment: { 1: { name: 'maxUnavailable', type: 'intOrString' }, 2: { name: 'maxSurge', type: 'intOrString' } },
  LabelSelector: { 1: stringMap('matchLabels'), 2: msg('matchExpressions', 'LabelSelectorRequirement', { repeated: true }) },
  LabelSelectorRequirement: { 1: str('key'), 2: str('operator'), 3: strings('values') },
  PodTemplateSpec: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'PodSpec') },
  PodSpec: {
    2: msg('containers', 'Container', { repeated: true }), 3: str('restartPolicy'), 4: int('terminationGracePeriodSeconds', true),
    5: int('activeDeadlineSeconds', true), 6: str('dnsPolicy'), 7: stringMap('nodeSelector'), 8: str('serviceAccountName'), 9: str('serviceAccount'),
    10: str('nodeName'), 11: bool('hostNetwork'), 12: bool('hostPID'), 13: bool('hostIPC'), 15: msg('imagePullSecrets', 'LocalObjectReference', { repeated: true }),
    16: str('hostname'), 17: str('subdomain'), 19: str('schedulerName'), 20: msg('initContainers', 'Container', { repeated: true }),
    21: bool('automountServiceAccountToken', true), 24: str('priorityClassName'), 25: int('priority', true),
  },
  Container: {
    1: str('name'), 2: str('image'), 3: strings('command'), 4: strings('args'), 5: str('workingDir'), 6: msg('ports', 'ContainerPort', { repeated: true }),
    7: msg('env', 'EnvVar', { repeated: true }), 8: msg('resources', 'ResourceRequirements'), 13: str('terminationMessagePath'), 14: str('imagePullPolicy'),
    16: bool('stdin'), 17: bool('stdinOnce'), 18: bool('tty'), 20: str('terminationMessagePolicy'), 24: { name: 'restartPolicy', type: 'string', isPointer: true },
  },
  ContainerPort: { 1: str('name'), 2: int('hostPort'), 3: int('containerPort'), 4: str('protocol'), 5: str('hostIP') },
  EnvVar: { 1: str('name'), 2: str('value') },
  ResourceRequirements: { 1: { name: 'limits', type: 'quantity', mapOf: 'quantity' }, 2: { name: 'requests', type: 'quantity', mapOf: 'quantity' } },
  Ingress: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'IngressSpec'), 3: msg('status', 'Empty') },
  IngressSpec: {
    1: msg('defaultBackend', 'IngressBackend'), 2: msg('tls', 'IngressTLS', { repeated: true }), 3: msg('rules', 'IngressRule', { repeated: true }),
    4: { name: 'ingressClassName', type: 'string', isPointer: true },
  },
  IngressTLS: { 1: strings('hosts'), 2: str('secretName') },
  IngressRule: { 1: str('host'), 2: msg('ingressRuleValue', 'IngressRuleValue', { isInline: true }) },
  IngressRuleValue: { 1: msg('http', 'HTTPIngressRuleValue') },
  HTTPIngressRuleValue: { 1: msg('paths', 'HTTPIngressPath', { repeated: true }) },
  HTTPIngressPath: { 1: str('path'), 2: msg('backend', 'IngressBackend'), 3: { name: 'pathType', type: 'string', isPointer: true } },
  IngressBackend: { 4: msg('service', 'IngressServiceBackend') },
  IngressServiceBackend: { 1: str('name'), 2: msg('port', 'ServiceBackendPort') },
  ServiceBackendPort: { 1: str('name'), 2: int('number') },
  // authorization.k8s.io/v1: `kubectl auth can-i` asks through the typed client
  SelfSubjectAccessReview: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'SelfSubjectAccessReviewSpec'), 3: msg('status', 'Empty') },
  SelfSubjectAccessReviewSpec: { 1: msg('resourceAttributes', 'ResourceAttributes'), 2: msg('nonResourceAttributes', 'NonResourceAttributes') },
  ResourceAttributes: { 1: str('namespace'), 2: str('verb'), 3: str('group'), 4: str('version'), 5: str('resource'), 6: str('subresource'), 7: str('name') },
  NonResourceAttributes: { 1: str('path'), 2: str('verb') },
  SelfSubjectRulesReview: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'SelfSubjectRulesReviewSpec'), 3: msg('status', 'Empty') },
  SelfSubjectRulesReviewSpec: { 1: str('namespace') },
  /** statuses a create resets anyway */
  Empty: {},
};

/** The root message of each kind a protobuf body may carry. */
export const PROTOBUF_KINDS: Readonly<Record<string, string>> = {
  ConfigMap: 'ConfigMap',
  Secret: 'Secret',
  Namespace: 'Namespace',
  ServiceAccount: 'ServiceAccount',
  Service: 'Service',
  Deployment: 'Deployment',
  Ingress: 'Ingress',
  SelfSubjectAccessReview: 'SelfSubjectAccessReview',
  SelfSubjectRulesReview: 'SelfSubjectRulesReview',
};
