// DELETE of one object (with uid/resourceVersion preconditions) and of a collection. Deletion is
// immediate: there is no kubelet to finish a graceful pod deletion and no namespace controller, so a
// namespace takes its contents with it at once. What a DELETE answers follows the kind (object or Status).

import { badRequest, forbidden, methodNotAllowed, preconditionFailed, statusBody } from '../http/api-status.js';
import { ensureObject, objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { formatTimestamp } from '../store/object-store.js';
import { deleteOptionsOf, type DeleteOptions } from '../http/request-body.js';
import { DeleteAnswer, RESOURCES, apiVersionOf, type ResourceDefinition } from '../store/resource-catalog.js';
import type { ApiReply, EndpointContext, ResourceRequest } from './resource-request.js';
import { existingObject, objectFilter } from './resource-reads.js';

/** Namespaces the apiserver refuses to delete. */
const UNDELETABLE_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

function checkPreconditions(definition: ResourceDefinition, object: JsonObject, { preconditions }: DeleteOptions): void {
  const metadata = objectAt(object, 'metadata');
  const name = stringAt(metadata, 'name') ?? '';
  const uid = stringAt(metadata, 'uid') ?? '';
  const resourceVersion = stringAt(metadata, 'resourceVersion') ?? '';
  if (preconditions.uid !== undefined && preconditions.uid !== uid) {
    throw preconditionFailed(definition.group, definition.resource, name, `UID in precondition: ${preconditions.uid}, UID in object meta: ${uid}`);
  }
  if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== resourceVersion) {
    throw preconditionFailed(
      definition.group,
      definition.resource,
      name,
      `ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${resourceVersion}`,
    );
  }
}

/** Deletes every namespaced object in `namespace` (what the namespace controller would do). */
function emptyNamespace(context: EndpointContext, namespace: string): void {
  for (const definition of RESOURCES.filter((candidate) => candidate.namespaced)) {
    for (const object of context.store.list(definition, namespace)) {
      context.store.delete({ ...definition, namespace, name: stringAt(objectAt(object, 'metadata'), 'name') ?? '' });
    }
  }
}

function deletedAnswer(context: EndpointContext, definition: ResourceDefinition, object: JsonObject): ApiReply {
  const metadata = objectAt(object, 'metadata');
  if (definition.kind === 'Namespace') {
    const answer = structuredClone(object);
    ensureObject(answer, 'metadata')['deletionTimestamp'] = formatTimestamp(context.store.now());
    ensureObject(answer, 'status')['phase'] = 'Terminating';
    return { statusCode: 200, body: answer };
  }
  if (definition.deleteAnswer === DeleteAnswer.object) return { statusCode: 200, body: object };
  const details = {
    name: stringAt(metadata, 'name') ?? '',
    group: definition.group,
    kind: definition.resource,
    uid: stringAt(metadata, 'uid') ?? '',
  };
  return { statusCode: 200, body: statusBody({ status: 'Success', details, code: 0 }) };
}

function deleteCollection(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { definition, namespace } = request.target;
  if (definition.namespaced && namespace === undefined) throw methodNotAllowed();
  if (!definition.verbs.includes('deletecollection')) throw methodNotAllowed();
  const dryRun = deleteOptionsOf(request.query, request.body, request.contentType).isDryRun;
  const filter = objectFilter(definition, request.query);
  const items = context.store.list(definition, namespace).filter(filter.matches);
  const deleted = items.map((item) => {
    const name = stringAt(objectAt(item, 'metadata'), 'name') ?? '';
    return dryRun ? item : (context.store.delete({ ...definition, namespace: namespace ?? '', name }) ?? item);
  });
  const bareItems = deleted.map(({ kind: _kind, apiVersion: _apiVersion, ...rest }) => rest);
  return {
    statusCode: 200,
    body: { kind: `${definition.kind}List`, apiVersion: apiVersionOf(definition), metadata: { resourceVersion: context.store.resourceVersion }, items: bareItems },
  };
}

export function deleteResource(context: EndpointContext, request: ResourceRequest): ApiReply {
  const { target } = request;
  const { definition } = target;
  if (target.name === undefined) return deleteCollection(context, request);
  if (target.subresource !== undefined) throw methodNotAllowed();
  const existing = existingObject(context, { ...target, name: target.name });
  const options = deleteOptionsOf(request.query, request.body, request.contentType);
  checkPreconditions(definition, existing, options);
  if (definition.kind === 'Namespace' && UNDELETABLE_NAMESPACES.has(target.name)) {
    throw forbidden('', 'namespaces', target.name, 'this namespace may not be deleted');
  }
  if (options.isDryRun) return deletedAnswer(context, definition, existing);
  if (definition.kind === 'Namespace') emptyNamespace(context, target.name);
  const deleted = context.store.delete({ ...definition, namespace: target.namespace ?? '', name: target.name });
  if (deleted === undefined) throw badRequest(`${target.name} vanished during deletion`);
  return deletedAnswer(context, definition, deleted);
}
