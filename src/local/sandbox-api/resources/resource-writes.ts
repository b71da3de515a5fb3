// POST (create), PUT (update) and PATCH (JSON patch, merge patch, strategic merge patch) of resources,
// their status subresource, and the Deployment scale subresource.

import { randomInt, randomUUID } from 'node:crypto';
import type { ResourceTarget } from '../http/api-path.js';
import { alreadyExists, badRequest, internalError, methodNotAllowed, patchRejected, resourceNotFound, unsupportedMediaType } from '../http/api-status.js';
import { canonicalOrder } from '../store/canonical-order.js';
import { JsonPatchError, applyJsonPatch } from '../patch/json-patch.js';
import { ensureObject, isJsonObject, objectAt, stringAt, type JsonObject, type JsonValue } from '../store/json-value.js';
import { jsonMergePatch } from '../patch/merge-patch.js';
import { checkName, checkNamespace, checkNamespaceExists, checkTypeMeta, checkUnknownFields, checkValid, commitUpdate } from './object-admission.js';
import { prepareForCreate } from '../store/object-defaults.js';
import { formatTimestamp } from '../store/object-store.js';
import { patchSchemaFor } from '../patch/patch-meta.js';
import { decodeObject, fieldValidationOf, isDryRun, parseJson } from '../http/request-body.js';
import type { ApiReply, EndpointContext, ResourceRequest } from './resource-request.js';
import { existingObject } from './resource-reads.js';
import { applyScale, scaleOf } from './scale-subresource.js';
import { PatchError, PatchFailure, strategicMergePatch } from '../patch/strategic-merge-patch.js';

/** The alphabet of names.SimpleNameGenerator: no vowels, no confusable digits. */
const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const NAME_SUFFIX_LENGTH = 5;
const MAX_GENERATE_NAME_PREFIX = 63 - NAME_SUFFIX_LENGTH;

function generatedName(prefix: string): string {
  let suffix = '';
  for (let i = 0; i < NAME_SUFFIX_LENGTH; i += 1) suffix += NAME_SUFFIX_ALPHABET[randomInt(NAME_SUFFIX_ALPHABET.length)] ?? 'b';
  return prefix.slice(0, MAX_GENERATE_NAME_PREFIX) + suffix;
}

export function createResource(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { target } = request;
  const { definition } = target;
  if (target.name !== undefined) throw target.subresource === undefined ? methodNotAllowed() : resourceNotFound();
  if (definition.namespaced && target.namespace === undefined) throw methodNotAllowed();
  const dryRun = isDryRun(request.query);
  const object = decodeObject(request.body, request.contentType);
  checkTypeMeta(definition, object);
  const warnings = checkUnknownFields(definition, object, fieldValidationOf(request.query));
  checkNamespace(target, object);
  const metadata = ensureObject(object, 'metadata');
  const generateName = stringAt(metadata, 'generateName') ?? '';
  if ((stringAt(metadata, 'name') ?? '') === '' && generateName !== '') metadata['name'] = generatedName(generateName);
  checkNamespaceExists(context, target);
  const requestedVersion = stringAt(metadata, 'resourceVersion') ?? '';
  prepareForCreate(definition, object, context);
  checkValid(definition, object);
  // the storage layer refuses this with a plain error, which the apiserver reports as a 500
  if (requestedVersion !== '') throw internalError('resourceVersion should not be set on objects to be created');
  const name = stringAt(metadata, 'name') ?? '';
  if (context.store.get({ ...definition, namespace: target.namespace ?? '', name }) !== undefined) {
    throw alreadyExists(definition.group, definition.resource, name);
  }
  const extra = warnings.length > 0 ? { warnings } : {};
  if (dryRun) {
    metadata['uid'] = randomUUID();
    metadata['creationTimestamp'] = formatTimestamp(context.store.now());
    return { statusCode: 201, body: canonicalOrder(object), ...extra };
  }
  return { statusCode: 201, body: context.store.put(definition, object), ...extra };
}

export function updateResource(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { target } = request;
  const { definition } = target;
  if (target.name === undefined) throw methodNotAllowed();
  const existing = existingObject(context, { ...target, name: target.name });
  const dryRun = isDryRun(request.query);
  const body = decodeObject(request.body, request.contentType);
  if (target.subresource === 'scale') {
    if (definition.kind !== 'Deployment') throw resourceNotFound();
    const next = applyScale(existing, body);
    const reply = commitUpdate(context, definition, existing, next, { isStatusWrite: false, isDryRun: dryRun, warnings: [] });
    return { ...reply, body: scaleOf(reply.body) };
  }
  if (!isObjectOrStatus(target)) throw resourceNotFound();
  checkTypeMeta(definition, body);
  const warnings = checkUnknownFields(definition, body, fieldValidationOf(request.query));
  checkName(body, target.name);
  checkNamespace(target, body);
  return commitUpdate(context, definition, existing, body, { isStatusWrite: target.subresource === 'status', isDryRun: dryRun, warnings });
}

/** The object itself, or its /status where the kind has that subresource. */
function isObjectOrStatus(target: ResourceTarget): boolean {
  return target.subresource === undefined || (target.subresource === 'status' && target.definition.hasStatusSubresource);
}

const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'];
/** What apiextensions-apiserver lists in its 415 for a custom resource (apply is not modelled here). */
const CUSTOM_RESOURCE_PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];

function patchObject(patch: JsonValue): JsonObject {
  if (!isJsonObject(patch)) throw badRequest('json: cannot unmarshal array into Go value of type map[string]interface {}');
  return patch;
}

/** Applies the request's patch document to `base` by its Content-Type. */
function applyPatch(request: ResourceRequest, base: JsonObject, kind: string): JsonObject {
  const type = request.contentType?.essence ?? '';
  // A custom resource has no Go struct tags to merge by: kube-apiserver refuses the strategic kind outright.
  if (request.target.definition.isCustomResource === true && !CUSTOM_RESOURCE_PATCH_TYPES.slice(0, 2).includes(type)) throw unsupportedMediaType(CUSTOM_RESOURCE_PATCH_TYPES);
  if (!PATCH_TYPES.includes(type)) throw unsupportedMediaType(PATCH_TYPES);
  const patch = parseJson(request.body);
  try {
    let result: JsonValue;
    if (type === 'application/json-patch+json') result = applyJsonPatch(base, patch);
    else if (type === 'application/merge-patch+json') result = jsonMergePatch(base, patchObject(patch));
    else result = strategicMergePatch(base, patchObject(patch), patchSchemaFor(kind));
    if (!isJsonObject(result)) throw patchRejected('the patched document is not an object');
    return result;
  } catch (error) {
    if (error instanceof JsonPatchError) throw error.isMalformed ? badRequest(error.message) : patchRejected(error.message);
    if (error instanceof PatchError) {
      if (error.failure === PatchFailure.badRequest) throw badRequest(error.message);
      if (error.failure === PatchFailure.invalid) throw patchRejected(error.message);
      throw internalError(error.message);
    }
    throw error;
  }
}

export function patchResource(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { target } = request;
  const { definition } = target;
  if (target.name === undefined) throw methodNotAllowed();
  const existing = existingObject(context, { ...target, name: target.name });
  const dryRun = isDryRun(request.query);
  if (target.subresource === 'scale') {
    if (definition.kind !== 'Deployment') throw resourceNotFound();
    const next = applyScale(existing, applyPatch(request, scaleOf(existing), 'Scale'));
    const reply = commitUpdate(context, definition, existing, next, { isStatusWrite: false, isDryRun: dryRun, warnings: [] });
    return { ...reply, body: scaleOf(reply.body) };
  }
  if (!isObjectOrStatus(target)) throw resourceNotFound();
  const patched = applyPatch(request, existing, definition.kind);
  const warnings = checkUnknownFields(definition, patched, fieldValidationOf(request.query));
  patched['apiVersion'] = existing['apiVersion'] ?? null;
  patched['kind'] = existing['kind'] ?? null;
  checkName(patched, target.name);
  const namespace = stringAt(objectAt(patched, 'metadata'), 'namespace') ?? '';
  if (namespace !== (target.namespace ?? '')) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  return commitUpdate(context, definition, existing, patched, { isStatusWrite: target.subresource === 'status', isDryRun: dryRun, warnings });
}
