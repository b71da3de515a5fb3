// SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1): "may I?" questions that
// kube-apiserver answers for the caller at once and never stores. `kubectl auth can-i` asks them, and so
// does the agent's check that it may create namespaces. The sandbox's one token is its administrator
// (a member of system:masters), so every access is allowed, with the RBAC reason a real cluster gives
// for that group, and the rules review lists the wildcard rules cluster-admin holds.

import { invalid, methodNotAllowed } from '../http/api-status.js';
import { isJsonObject, objectAt, type JsonObject } from '../store/json-value.js';
import { checkTypeMeta } from './object-admission.js';
import { decodeObject } from '../http/request-body.js';
import type { ResourceDefinition } from '../store/resource-catalog.js';
import type { ApiReply, ResourceRequest } from './resource-request.js';

export const AUTHORIZATION_GROUP = 'authorization.k8s.io';

const ADMIN_REASON = 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"';

export function isAccessReview(definition: ResourceDefinition): boolean {
  return definition.group === AUTHORIZATION_GROUP;
}

/** The apiserver's validation of a SelfSubjectAccessReview spec. */
function checkAccessReviewSpec(definition: ResourceDefinition, spec: JsonObject | undefined): void {
  const resourceAttributes = spec === undefined ? undefined : spec['resourceAttributes'];
  const nonResourceAttributes = spec === undefined ? undefined : spec['nonResourceAttributes'];
  const hasResource = isJsonObject(resourceAttributes);
  const hasNonResource = isJsonObject(nonResourceAttributes);
  if (hasResource && hasNonResource) {
    throw invalid(definition.group, definition.kind, '', [
      { type: 'FieldValueInvalid', field: 'spec.nonResourceAttributes', detail: `Invalid value: ${JSON.stringify(nonResourceAttributes)}: cannot be specified in combination with resourceAttributes` },
    ]);
  }
  if (!hasResource && !hasNonResource) {
    throw invalid(definition.group, definition.kind, '', [
      { type: 'FieldValueInvalid', field: 'spec.resourceAttributes', detail: 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' },
    ]);
  }
}

/** POST of a review: the object comes back (201) with its status filled in; nothing is stored. */
export function answerAccessReview(request: ResourceRequest): ApiReply {
  const { definition } = request.target;
  if (request.method !== 'POST' || request.target.name !== undefined) throw methodNotAllowed();
  const review = decodeObject(request.body, request.contentType);
  checkTypeMeta(definition, review);
  const spec = objectAt(review, 'spec');
  let status: JsonObject;
  if (definition.kind === 'SelfSubjectAccessReview') {
    checkAccessReviewSpec(definition, spec);
    status = { allowed: true, reason: ADMIN_REASON };
  } else {
    status = {
      resourceRules: [
        { verbs: ['create'], apiGroups: [AUTHORIZATION_GROUP], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
        { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      ],
      nonResourceRules: [
        { verbs: ['*'], nonResourceURLs: ['*'] },
        { verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] },
      ],
      incomplete: false,
    };
  }
  // a v1.32 apiserver writes the zero creation time of an unstored object as null
  const body: JsonObject = { kind: definition.kind, apiVersion: `${definition.group}/${definition.version}`, metadata: { creationTimestamp: null }, spec: spec ?? {}, status };
  return { statusCode: 201, body };
}
