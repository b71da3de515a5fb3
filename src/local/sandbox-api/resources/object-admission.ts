// The checks every write runs before storage, in the apiserver's order: type meta against the URL,
// strict field decoding, name and namespace against the URL, namespace existence, validation, and the
// resourceVersion precondition; plus the update commit that skips no-op writes.

import { badRequest, conflict, invalid, notFound } from '../http/api-status.js';
import type { ResourceTarget } from '../http/api-path.js';
import { canonicalOrder } from '../store/canonical-order.js';
import { ensureObject, jsonEqual, objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { prepareForUpdate } from '../store/object-defaults.js';
import { unknownFields, validateObject } from '../store/object-validation.js';
import { FieldValidation } from '../http/request-body.js';
import { apiVersionOf, type ResourceDefinition } from '../store/resource-catalog.js';
import type { ApiReply, EndpointContext } from './resource-request.js';

/** Fills apiVersion and kind from the URL when absent; a body of another kind is a 400. */
export function checkTypeMeta(definition: ResourceDefinition, object: JsonObject): void {
  const expected = apiVersionOf(definition);
  const apiVersion = stringAt(object, 'apiVersion') ?? '';
  const kind = stringAt(object, 'kind') ?? '';
  if (apiVersion !== '' && apiVersion !== expected) {
    throw badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${expected})`);
  }
  if (kind !== '' && kind !== definition.kind) {
    throw badRequest(`${kind} in version "${definition.version}" cannot be handled as a ${definition.kind}: no kind "${kind}" is registered for version "${expected}"`);
  }
  object['apiVersion'] = expected;
  object['kind'] = definition.kind;
}

/** Strict mode rejects unknown fields (400); Warn mode returns them as warnings. */
export function checkUnknownFields(definition: ResourceDefinition, object: JsonObject, mode: FieldValidation): string[] {
  if (mode === FieldValidation.ignore) return [];
  const unknown = unknownFields(definition, object).map((path) => `unknown field "${path}"`);
  if (unknown.length > 0 && mode === FieldValidation.strict) {
    throw badRequest(`${definition.kind} in version "${definition.version}" cannot be handled as a ${definition.kind}: strict decoding error: ${unknown.join(', ')}`);
  }
  return unknown;
}

/** The object's namespace must match the URL's (it is filled in when empty); cluster-scoped objects have none. */
export function checkNamespace(target: ResourceTarget, object: JsonObject): void {
  const metadata = ensureObject(object, 'metadata');
  if (!target.definition.namespaced) {
    delete metadata['namespace'];
    return;
  }
  const namespace = stringAt(metadata, 'namespace') ?? '';
  if (namespace === '') metadata['namespace'] = target.namespace ?? '';
  else if (namespace !== target.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
}

export function checkName(object: JsonObject, urlName: string): void {
  const name = stringAt(objectAt(object, 'metadata'), 'name') ?? '';
  if (name !== urlName) throw badRequest(`the name of the object (${name}) does not match the name on the URL (${urlName})`);
}

/** NamespaceLifecycle admission: no new objects in a namespace that does not exist. */
export function checkNamespaceExists(context: EndpointContext, target: ResourceTarget): void {
  if (!target.definition.namespaced || target.namespace === undefined) return;
  const namespace = context.store.get({ group: '', version: 'v1', resource: 'namespaces', namespace: '', name: target.namespace });
  if (namespace === undefined) throw notFound('', 'namespaces', target.namespace);
}

export function checkValid(definition: ResourceDefinition, object: JsonObject): void {
  const errors = validateObject(definition, object);
  if (errors.length > 0) throw invalid(definition.group, definition.kind, stringAt(objectAt(object, 'metadata'), 'name') ?? '', errors);
}

function withoutResourceVersion(object: JsonObject): JsonObject {
  const metadata = { ...(objectAt(object, 'metadata') ?? {}) };
  delete metadata['resourceVersion'];
  return { ...object, metadata };
}

export interface UpdateOptions {
  readonly isStatusWrite: boolean;
  readonly isDryRun: boolean;
  readonly warnings: readonly string[];
}

/** Stores `next` over `existing` (same name): RV precondition, validation, update strategy, no-op skip. */
export function commitUpdate(
  context: EndpointContext,
  definition: ResourceDefinition,
  existing: JsonObject,
  next: JsonObject,
  options: UpdateOptions,
): ApiReply {
  const name = stringAt(objectAt(existing, 'metadata'), 'name') ?? '';
  const existingVersion = stringAt(objectAt(existing, 'metadata'), 'resourceVersion') ?? '';
  const requestedVersion = stringAt(objectAt(next, 'metadata'), 'resourceVersion') ?? '';
  if (requestedVersion !== '' && requestedVersion !== existingVersion) throw conflict(definition.group, definition.resource, name);
  const prepared = prepareForUpdate(definition, existing, next, context, options.isStatusWrite);
  checkValid(definition, prepared);
  ensureObject(prepared, 'metadata')['resourceVersion'] = existingVersion;
  const warnings = options.warnings.length > 0 ? { warnings: options.warnings } : {};
  // an update that changes nothing is not written, so the resourceVersion stays (as with etcd)
  if (jsonEqual(withoutResourceVersion(canonicalOrder(prepared)), withoutResourceVersion(existing)) || options.isDryRun) {
    return { statusCode: 200, body: options.isDryRun ? canonicalOrder(prepared) : existing, ...warnings };
  }
  return { statusCode: 200, body: context.store.put(definition, prepared), ...warnings };
}
