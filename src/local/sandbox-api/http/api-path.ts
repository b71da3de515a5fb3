// Request paths to targets: version and health endpoints, discovery, OpenAPI, and resource requests
// (group, version, resource, namespace, name, subresource) resolved against the resource catalog.

import { findResource, type ResourceDefinition } from '../store/resource-catalog.js';

export interface ResourceTarget {
  readonly type: 'resource';
  readonly definition: ResourceDefinition;
  /** set for namespaced requests; undefined for cluster-wide lists and cluster-scoped kinds */
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

export type ApiTarget =
  | { readonly type: 'version' }
  | { readonly type: 'health' }
  | { readonly type: 'apiRoot' }
  | { readonly type: 'apisRoot' }
  | { readonly type: 'group'; readonly group: string }
  | { readonly type: 'groupVersion'; readonly group: string; readonly version: string }
  | { readonly type: 'openApiV2' }
  | { readonly type: 'openApiV3Root' }
  | { readonly type: 'openApiV3'; readonly path: string }
  | ResourceTarget
  /** an /api or /apis path nothing serves: a Status 404 */
  | { readonly type: 'unknownResource' }
  /** any other path: the plain-text 404 of the apiserver's mux */
  | { readonly type: 'unknownPath' };

const HEALTH_PATHS = /^\/(healthz|readyz|livez)(\/.*)?$/;

function resourceTarget(group: string, version: string, rest: readonly string[]): ApiTarget {
  const unknown = { type: 'unknownResource' } as const;
  const decoded = rest.map((segment) => decodeURIComponent(segment));
  if (decoded.some((segment) => segment === '')) return unknown;
  // /api/v1/namespaces/<ns>/status and /finalize are subresources of the namespace itself
  const isNamespaceSubresource = group === '' && (decoded[2] === 'status' || decoded[2] === 'finalize');
  if (decoded[0] === 'namespaces' && decoded.length >= 3 && !isNamespaceSubresource) {
    const [, namespace = '', resource = '', name, subresource, ...extra] = decoded;
    const definition = findResource(group, version, resource);
    if (definition === undefined || !definition.namespaced || extra.length > 0) return unknown;
    return withOptional({ type: 'resource', definition, namespace }, name, subresource);
  }
  const [resource = '', name, subresource, ...extra] = decoded;
  const definition = findResource(group, version, resource);
  if (definition === undefined || extra.length > 0) return unknown;
  // a namespaced kind is listable across namespaces, but has no items outside a namespace
  if (definition.namespaced && name !== undefined) return unknown;
  return withOptional({ type: 'resource', definition }, name, subresource);
}

function withOptional(target: ResourceTarget, name: string | undefined, subresource: string | undefined): ResourceTarget {
  const named = name === undefined ? target : { ...target, name };
  return subresource === undefined ? named : { ...named, subresource };
}

export function resolvePath(pathname: string): ApiTarget {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  if (path === '/version') return { type: 'version' };
  if (HEALTH_PATHS.test(path)) return { type: 'health' };
  if (path === '/openapi/v2') return { type: 'openApiV2' };
  if (path === '/openapi/v3') return { type: 'openApiV3Root' };
  if (path.startsWith('/openapi/v3/')) return { type: 'openApiV3', path: path.slice('/openapi/v3/'.length) };
  const segments = path.split('/').slice(1);
  if (segments[0] === 'api') {
    if (segments.length === 1) return { type: 'apiRoot' };
    const version = segments[1] ?? '';
    if (segments.length === 2) return { type: 'groupVersion', group: '', version };
    return resourceTarget('', version, segments.slice(2));
  }
  if (segments[0] === 'apis') {
    if (segments.length === 1) return { type: 'apisRoot' };
    const group = segments[1] ?? '';
    if (segments.length === 2) return { type: 'group', group };
    const version = segments[2] ?? '';
    if (segments.length === 3) return { type: 'groupVersion', group, version };
    return resourceTarget(group, version, segments.slice(3));
  }
  return { type: 'unknownPath' };
}
