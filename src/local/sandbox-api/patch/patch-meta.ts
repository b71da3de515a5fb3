// Strategic-merge metadata (patchStrategy / patchMergeKey struct tags of k8s.io/api) for the kinds the
// sandbox serves; fields not listed merge maps recursively and replace lists, as untagged fields do.

import type { PatchSchema } from './strategic-merge-patch.js';

const MERGE = 'merge' as const;
const CONDITIONS_BY_TYPE: PatchSchema = { conditions: { strategy: MERGE, mergeKey: 'type' } };

export const OBJECT_META: PatchSchema = {
  finalizers: { strategy: MERGE },
  ownerReferences: { strategy: MERGE, mergeKey: 'uid' },
};

const CONTAINER: PatchSchema = {
  ports: { strategy: MERGE, mergeKey: 'containerPort' },
  env: { strategy: MERGE, mergeKey: 'name' },
  volumeMounts: { strategy: MERGE, mergeKey: 'mountPath' },
  volumeDevices: { strategy: MERGE, mergeKey: 'devicePath' },
};

const POD_SPEC: PatchSchema = {
  volumes: { strategy: MERGE, mergeKey: 'name' },
  initContainers: { strategy: MERGE, mergeKey: 'name', schema: CONTAINER },
  containers: { strategy: MERGE, mergeKey: 'name', schema: CONTAINER },
  ephemeralContainers: { strategy: MERGE, mergeKey: 'name', schema: CONTAINER },
  imagePullSecrets: { strategy: MERGE, mergeKey: 'name' },
  hostAliases: { strategy: MERGE, mergeKey: 'ip' },
  topologySpreadConstraints: { strategy: MERGE, mergeKey: 'topologyKey' },
  schedulingGates: { strategy: MERGE, mergeKey: 'name' },
  resourceClaims: { strategy: MERGE, mergeKey: 'name' },
};

const POD_STATUS: PatchSchema = {
  conditions: { strategy: MERGE, mergeKey: 'type' },
  podIPs: { strategy: MERGE, mergeKey: 'ip' },
  hostIPs: { strategy: MERGE, mergeKey: 'ip' },
  resourceClaimStatuses: { strategy: MERGE, mergeKey: 'name' },
};

const POD_TEMPLATE: PatchSchema = {
  metadata: { schema: OBJECT_META },
  spec: { schema: POD_SPEC },
};

const SCHEMAS: Readonly<Record<string, PatchSchema>> = {
  Pod: { metadata: { schema: OBJECT_META }, spec: { schema: POD_SPEC }, status: { schema: POD_STATUS } },
  Deployment: {
    metadata: { schema: OBJECT_META },
    spec: { schema: { template: { schema: POD_TEMPLATE } } },
    status: { schema: CONDITIONS_BY_TYPE },
  },
  Service: {
    metadata: { schema: OBJECT_META },
    spec: { schema: { ports: { strategy: MERGE, mergeKey: 'port' } } },
    status: { schema: CONDITIONS_BY_TYPE },
  },
  Node: {
    metadata: { schema: OBJECT_META },
    spec: { schema: { podCIDRs: { strategy: MERGE } } },
    status: {
      schema: {
        conditions: { strategy: MERGE, mergeKey: 'type' },
        addresses: { strategy: MERGE, mergeKey: 'type' },
      },
    },
  },
  Namespace: { metadata: { schema: OBJECT_META }, status: { schema: CONDITIONS_BY_TYPE } },
  Endpoints: { metadata: { schema: OBJECT_META } },
};

/** The strategic-merge schema of a kind (ObjectMeta rules only, for kinds without tagged lists). */
export function patchSchemaFor(kind: string): PatchSchema {
  return SCHEMAS[kind] ?? { metadata: { schema: OBJECT_META } };
}
