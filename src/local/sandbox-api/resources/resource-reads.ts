// GET of one object (and its status/scale subresources) and LIST of a resource: label and field
// selectors, limit/continue paging, and rendering as a plain list, a Table or partial metadata.

import { badRequest, notFound, resourceNotFound } from '../http/api-status.js';
import type { ResourceTarget } from '../http/api-path.js';
import { checkFieldsSupported, fieldsMatch, parseFieldSelector, selectableFields, FieldSelectorError } from '../store/field-selector.js';
import { objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { LabelSelectorError, labelsMatch, parseLabelSelector } from '../store/label-selector.js';
import { Rendering } from '../http/media-type.js';
import { apiVersionOf, type ResourceDefinition } from '../store/resource-catalog.js';
import type { ApiReply, EndpointContext, ResourceRequest } from './resource-request.js';
import { scaleOf } from './scale-subresource.js';
import { parseIncludeObject, toTable } from '../tables/table-printer.js';

/** The stored object a named target points at, or a 404 naming it. */
export function existingObject(context: EndpointContext, target: ResourceTarget & { readonly name: string }): JsonObject {
  const { definition } = target;
  const object = context.store.get({ ...definition, namespace: target.namespace ?? '', name: target.name });
  if (object === undefined) throw notFound(definition.group, definition.resource, target.name);
  return object;
}

/** Compiled selectors of a list or watch request; bad selectors are 400s. */
export interface ObjectFilter {
  readonly matches: (object: JsonObject) => boolean;
  readonly isFiltering: boolean;
}

export function objectFilter(definition: ResourceDefinition, query: URLSearchParams): ObjectFilter {
  try {
    const labels = parseLabelSelector(query.get('labelSelector') ?? '');
    const fields = parseFieldSelector(query.get('fieldSelector') ?? '');
    checkFieldsSupported(definition, fields);
    return {
      isFiltering: labels.length > 0 || fields.length > 0,
      matches: (object) => {
        const objectLabels = objectAt(objectAt(object, 'metadata'), 'labels') ?? {};
        const labelMap: Record<string, string> = {};
        for (const [key, value] of Object.entries(objectLabels)) labelMap[key] = String(value);
        return labelsMatch(labels, labelMap) && fieldsMatch(fields, selectableFields(definition, object));
      },
    };
  } catch (error) {
    if (error instanceof LabelSelectorError || error instanceof FieldSelectorError) throw badRequest(error.message);
    throw error;
  }
}

interface ContinueToken {
  readonly start: string;
}

function encodeContinue(resourceVersion: string, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(resourceVersion), start: `${lastKey}\u0000` })).toString('base64');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'start' in parsed && typeof parsed.start === 'string') return { start: parsed.start };
  } catch {
    // fall through to the apiserver's message
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

function keyOf(object: JsonObject): string {
  const metadata = objectAt(object, 'metadata');
  return `${stringAt(metadata, 'namespace') ?? ''}/${stringAt(metadata, 'name') ?? ''}`;
}

function withoutTypeMeta(object: JsonObject): JsonObject {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = object;
  return rest;
}

function partialMetadata(object: JsonObject, apiVersion: string): JsonObject {
  return { kind: 'PartialObjectMetadata', apiVersion, metadata: objectAt(object, 'metadata') ?? {} };
}

function listObjects(context: EndpointContext, request: ResourceRequest): { items: JsonObject[]; listMeta: JsonObject } {
  const { definition } = request.target;
  const filter = objectFilter(definition, request.query);
  const resourceVersion = context.store.resourceVersion;
  let items = context.store.list(definition, request.target.namespace).filter(filter.matches);
  const token = request.query.get('continue');
  if (token !== null && token !== '') {
    const { start } = decodeContinue(token);
    items = items.filter((item) => `${keyOf(item)}\u0000` > start);
  }
  const limit = Number(request.query.get('limit') ?? '0');
  const listMeta: JsonObject = { resourceVersion };
  if (Number.isInteger(limit) && limit > 0 && items.length > limit) {
    const page = items.slice(0, limit);
    const last = page[page.length - 1];
    listMeta['continue'] = last === undefined ? '' : encodeContinue(resourceVersion, keyOf(last));
    if (!filter.isFiltering) listMeta['remainingItemCount'] = items.length - limit;
    items = page;
  }
  return { items, listMeta };
}

function list(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { definition } = request.target;
  const { items, listMeta } = listObjects(context, request);
  const { output } = request;
  if (output.rendering === Rendering.table) {
    const table = toTable(items, {
      kind: definition.kind,
      includeObject: parseIncludeObject(request.query.get('includeObject')),
      nowMs: context.store.now(),
      listMeta,
      tableApiVersion: output.metaApiVersion,
    });
    return { statusCode: 200, body: table, contentType: output.contentType };
  }
  if (output.rendering === Rendering.partialMetadata) {
    const body = {
      kind: 'PartialObjectMetadataList',
      apiVersion: output.metaApiVersion,
      metadata: listMeta,
      items: items.map((item) => partialMetadata(item, output.metaApiVersion)),
    };
    return { statusCode: 200, body, contentType: output.contentType };
  }
  const body = { kind: `${definition.kind}List`, apiVersion: apiVersionOf(definition), metadata: listMeta, items: items.map(withoutTypeMeta) };
  return { statusCode: 200, body };
}

function renderOne(context: EndpointContext, request: ResourceRequest, object: JsonObject): ApiReply {
  const { output } = request;
  if (output.rendering === Rendering.table) {
    const table = toTable([object], {
      kind: stringAt(object, 'kind') ?? request.target.definition.kind,
      includeObject: parseIncludeObject(request.query.get('includeObject')),
      nowMs: context.store.now(),
      listMeta: { resourceVersion: stringAt(objectAt(object, 'metadata'), 'resourceVersion') ?? '' },
      tableApiVersion: output.metaApiVersion,
    });
    return { statusCode: 200, body: table, contentType: output.contentType };
  }
  if (output.rendering === Rendering.partialMetadata) {
    return { statusCode: 200, body: partialMetadata(object, output.metaApiVersion), contentType: output.contentType };
  }
  return { statusCode: 200, body: object };
}

/** GET on a resource path: one object, a subresource of it, or a list. */
export function readResource(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { target } = request;
  if (target.name === undefined) return list(context, request);
  const object = existingObject(context, { ...target, name: target.name });
  switch (target.subresource) {
    case undefined:
      return renderOne(context, request, object);
    case 'status':
      if (!target.definition.hasStatusSubresource) throw resourceNotFound();
      return renderOne(context, request, object);
    case 'scale':
      if (target.definition.kind !== 'Deployment') throw resourceNotFound();
      return { statusCode: 200, body: scaleOf(object) };
    default:
      throw resourceNotFound();
  }
}
