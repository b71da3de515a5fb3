// Key order of stored objects as the apiserver's Go types serialise them: struct fields in declaration
// order (top level and ObjectMeta) and Go maps (labels, data, selectors, ...) with sorted keys. This is what
// makes the same state encode to the same bytes whatever sequence of writes produced it.

import { isJsonObject, type JsonObject, type JsonValue } from './json-value.js';

const HEAD = ['kind', 'apiVersion', 'metadata'] as const;

/** The top-level fields of kinds without spec/status, in the order the apiserver writes them; validation reads the same lists. */
export const BODY_ORDER: Readonly<Record<string, readonly string[]>> = {
  ConfigMap: ['immutable', 'data', 'binaryData'],
  Secret: ['immutable', 'data', 'stringData', 'type'],
  Endpoints: ['subsets'],
  ServiceAccount: ['secrets', 'imagePullSecrets', 'automountServiceAccountToken'],
  Event: [
    'involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime',
    'series', 'action', 'related', 'reportingComponent', 'reportingInstance',
  ],
  Role: ['rules'],
  ClusterRole: ['rules', 'aggregationRule'],
  RoleBinding: ['subjects', 'roleRef'],
  ClusterRoleBinding: ['subjects', 'roleRef'],
};

/** ObjectMeta's fields in the order the apiserver writes them. */
export const METADATA_ORDER = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
] as const;

/** Paths (dot-separated, `*` for every list element) whose values are Go maps with sorted keys. */
const MAP_PATHS = [
  'metadata.labels', 'metadata.annotations', 'data', 'binaryData', 'stringData',
  'spec.selector.matchLabels', 'spec.nodeSelector',
  'spec.template.metadata.labels', 'spec.template.metadata.annotations', 'spec.template.spec.nodeSelector',
  'spec.containers.*.resources.limits', 'spec.containers.*.resources.requests',
  'spec.template.spec.containers.*.resources.limits', 'spec.template.spec.containers.*.resources.requests',
  'status.capacity', 'status.allocatable',
] as const;

function ordered(object: JsonObject, order: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const key of order) {
    const value = object[key];
    if (value !== undefined) out[key] = value;
  }
  for (const [key, value] of Object.entries(object)) if (!(key in out)) out[key] = value;
  return out;
}

function sortedMap(object: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(object).sort()) out[key] = object[key] ?? null;
  return out;
}

function sortAt(value: JsonValue, path: readonly string[]): JsonValue {
  if (path.length === 0) return isJsonObject(value) ? sortedMap(value) : value;
  const [head, ...rest] = path;
  if (head === '*') return Array.isArray(value) ? value.map((item) => sortAt(item, rest)) : value;
  if (!isJsonObject(value) || head === undefined || !(head in value)) return value;
  return { ...value, [head]: sortAt(value[head] ?? null, rest) };
}

/** A copy of `object` with the apiserver's key order; values are untouched. */
export function canonicalOrder(object: JsonObject): JsonObject {
  const kind = typeof object['kind'] === 'string' ? object['kind'] : '';
  let out = ordered(object, [...HEAD, ...(BODY_ORDER[kind] ?? ['spec', 'status'])]);
  const metadata = out['metadata'];
  if (isJsonObject(metadata)) out['metadata'] = ordered(metadata, METADATA_ORDER);
  // a Service selector is a map; a Deployment selector is a LabelSelector struct (matchLabels first)
  const paths = kind === 'Service' ? [...MAP_PATHS, 'spec.selector'] : MAP_PATHS;
  for (const path of paths) {
    const sorted = sortAt(out, path.split('.'));
    if (isJsonObject(sorted)) out = sorted;
  }
  return out;
}
