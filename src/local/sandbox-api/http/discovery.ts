// Discovery documents: the legacy ones (/api, /apis, /apis/<group>, /api/v1, /apis/<group>/<version>)
// and aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) that kubectl 1.26+ asks for first.

import type { JsonObject } from '../store/json-value.js';
import { GROUP_ORDER, apiVersionOf, groupVersions, resourcesOf, type ResourceDefinition } from '../store/resource-catalog.js';

function groupVersionJson(group: string, version: string): JsonObject {
  return { groupVersion: apiVersionOf({ group, version }), version };
}

function namedGroups(): string[] {
  return GROUP_ORDER.filter((group) => group !== '');
}

/** GET /api */
export function apiVersions(serverAddress: string): JsonObject {
  return {
    kind: 'APIVersions',
    versions: [...groupVersions('')],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroupJson(group: string): JsonObject {
  const versions = groupVersions(group);
  return {
    name: group,
    versions: versions.map((version) => groupVersionJson(group, version)),
    preferredVersion: groupVersionJson(group, versions[0] ?? 'v1'),
  };
}

/** GET /apis */
export function apiGroupList(): JsonObject {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: namedGroups().map(apiGroupJson) };
}

/** GET /apis/<group>, or undefined for an unknown group */
export function apiGroup(group: string): JsonObject | undefined {
  if (!namedGroups().includes(group)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroupJson(group) };
}

function legacyResource(definition: ResourceDefinition): JsonObject[] {
  const main: JsonObject = {
    name: definition.resource,
    singularName: definition.singular,
    namespaced: definition.namespaced,
    kind: definition.kind,
    verbs: [...definition.verbs],
  };
  if (definition.shortNames.length > 0) main['shortNames'] = [...definition.shortNames];
  if (definition.categories.length > 0) main['categories'] = [...definition.categories];
  // kinds that are never stored (the access reviews) have no storage version
  if (definition.storageVersionHash !== '') main['storageVersionHash'] = definition.storageVersionHash;
  const subresources = definition.subresources.map((subresource) => {
    const entry: JsonObject = { name: `${definition.resource}/${subresource.name}`, singularName: '', namespaced: definition.namespaced };
    if (subresource.group !== undefined) entry['group'] = subresource.group;
    if (subresource.group !== undefined) entry['version'] = subresource.version ?? 'v1';
    entry['kind'] = subresource.kind;
    entry['verbs'] = [...subresource.verbs];
    return entry;
  });
  return [main, ...subresources];
}

/** GET /api/v1 or /apis/<group>/<version>, or undefined for an unknown group version */
export function apiResourceList(group: string, version: string): JsonObject | undefined {
  const definitions = resourcesOf(group, version);
  if (definitions.length === 0) return undefined;
  const resources = [...definitions]
    .sort((a, b) => (a.resource < b.resource ? -1 : 1))
    .flatMap(legacyResource);
  const head: JsonObject = group === '' ? { kind: 'APIResourceList' } : { kind: 'APIResourceList', apiVersion: 'v1' };
  return { ...head, groupVersion: apiVersionOf({ group, version }), resources };
}

function aggregatedResource(definition: ResourceDefinition): JsonObject {
  const entry: JsonObject = {
    resource: definition.resource,
    responseKind: { group: definition.group, version: definition.version, kind: definition.kind },
    scope: definition.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: definition.singular,
    verbs: [...definition.verbs],
  };
  if (definition.shortNames.length > 0) entry['shortNames'] = [...definition.shortNames];
  if (definition.categories.length > 0) entry['categories'] = [...definition.categories];
  if (definition.subresources.length > 0) {
    entry['subresources'] = definition.subresources.map((subresource) => ({
      subresource: subresource.name,
      responseKind: {
        group: subresource.group ?? definition.group,
        version: subresource.version ?? definition.version,
        kind: subresource.kind,
      },
      verbs: [...subresource.verbs],
    }));
  }
  return entry;
}

function aggregatedGroup(group: string): JsonObject {
  const metadata: JsonObject = group === '' ? { creationTimestamp: null } : { name: group, creationTimestamp: null };
  return {
    metadata,
    versions: groupVersions(group).map((version) => ({
      version,
      resources: [...resourcesOf(group, version)].sort((a, b) => (a.resource < b.resource ? -1 : 1)).map(aggregatedResource),
      freshness: 'Current',
    })),
  };
}

export const AGGREGATED_V2_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const AGGREGATED_V2BETA1_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

/** Aggregated discovery for /api (legacy core group only) or /apis (every named group). */
export function aggregatedDiscovery(isLegacyRoot: boolean, apiVersion: 'v2' | 'v2beta1'): JsonObject {
  const groups = isLegacyRoot ? [''] : namedGroups();
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${apiVersion}`,
    metadata: {},
    items: groups.map(aggregatedGroup),
  };
}
