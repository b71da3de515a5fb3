// The metav1.Status bodies kube-apiserver answers with, field for field (Go struct order), and the error
// type that carries one from deep inside a handler to the response writer.

import type { JsonObject } from '../store/json-value.js';

export const StatusReason = {
  unauthorized: 'Unauthorized',
  notFound: 'NotFound',
  alreadyExists: 'AlreadyExists',
  conflict: 'Conflict',
  invalid: 'Invalid',
  badRequest: 'BadRequest',
  methodNotAllowed: 'MethodNotAllowed',
  notAcceptable: 'NotAcceptable',
  unsupportedMediaType: 'UnsupportedMediaType',
  requestEntityTooLarge: 'RequestEntityTooLarge',
  gone: 'Expired',
  internalError: 'InternalError',
} as const;
export type StatusReason = (typeof StatusReason)[keyof typeof StatusReason];

export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
}

/** Builds a Status with Go's omitempty rules: empty strings and empty detail blocks are left out. */
export function statusBody(fields: {
  readonly status: 'Success' | 'Failure';
  readonly message?: string;
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly code: number;
}): JsonObject {
  const body: JsonObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: fields.status };
  if (fields.message) body['message'] = fields.message;
  if (fields.reason) body['reason'] = fields.reason;
  if (fields.details !== undefined) body['details'] = detailsJson(fields.details);
  // metav1.Status.code is omitempty: a delete's Success status carries none
  if (fields.code !== 0) body['code'] = fields.code;
  return body;
}

function detailsJson(details: StatusDetails): JsonObject {
  const out: JsonObject = {};
  if (details.name) out['name'] = details.name;
  if (details.group) out['group'] = details.group;
  if (details.kind) out['kind'] = details.kind;
  if (details.uid) out['uid'] = details.uid;
  if (details.causes && details.causes.length > 0) {
    out['causes'] = details.causes.map((cause) => {
      const json: JsonObject = {};
      if (cause.reason) json['reason'] = cause.reason;
      if (cause.message) json['message'] = cause.message;
      if (cause.field) json['field'] = cause.field;
      return json;
    });
  }
  return out;
}

/** A failure answered with a Status body; `reason` is the stable machine code. */
export class ApiStatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly body: JsonObject;
  constructor(code: number, reason: string, message: string, details?: StatusDetails) {
    super(message);
    this.name = 'ApiStatusError';
    this.code = code;
    this.reason = reason;
    this.body = statusBody({ status: 'Failure', message, reason, ...(details === undefined ? {} : { details }), code });
  }
}

/** `configmaps` or `deployments.apps`: how the apiserver names a group-resource in messages. */
export function qualifiedResource(group: string, resource: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

export function unauthorized(): ApiStatusError {
  return new ApiStatusError(401, StatusReason.unauthorized, 'Unauthorized');
}

export function notFound(group: string, resource: string, name: string): ApiStatusError {
  return new ApiStatusError(404, StatusReason.notFound, `${qualifiedResource(group, resource)} "${name}" not found`, {
    name,
    group,
    kind: resource,
  });
}

/** The answer for a path no handler serves (unknown resource or version). */
export function resourceNotFound(): ApiStatusError {
  return new ApiStatusError(404, StatusReason.notFound, 'the server could not find the requested resource', {});
}

export function alreadyExists(group: string, resource: string, name: string): ApiStatusError {
  return new ApiStatusError(409, StatusReason.alreadyExists, `${qualifiedResource(group, resource)} "${name}" already exists`, {
    name,
    group,
    kind: resource,
  });
}

export function conflict(group: string, resource: string, name: string): ApiStatusError {
  return new ApiStatusError(
    409,
    StatusReason.conflict,
    `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group, kind: resource },
  );
}

/** One field error, printed as the apiserver's field.Error does. */
export interface FieldError {
  readonly type: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueForbidden' | 'FieldValueNotSupported' | 'FieldValueTooLong';
  readonly field: string;
  /** Already formatted detail, e.g. `Invalid value: "Bad_Name": a lowercase RFC 1123 ...`. */
  readonly detail: string;
}

/** 422 Invalid, message `Kind.group "name" is invalid: field: detail` (several errors are bracketed). */
export function invalid(group: string, kind: string, name: string, errors: readonly FieldError[]): ApiStatusError {
  const printed = errors.map((error) => `${error.field}: ${error.detail}`);
  const aggregate = printed.length === 1 ? (printed[0] ?? '') : `[${printed.join(', ')}]`;
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`;
  return new ApiStatusError(422, StatusReason.invalid, `${qualifiedKind} "${name}" is invalid: ${aggregate}`, {
    name,
    group,
    kind,
    causes: errors.map((error) => ({ reason: error.type, message: error.detail, field: error.field })),
  });
}

export function badRequest(message: string): ApiStatusError {
  return new ApiStatusError(400, StatusReason.badRequest, message);
}

export function methodNotAllowed(): ApiStatusError {
  return new ApiStatusError(405, StatusReason.methodNotAllowed, 'the server does not allow this method on the requested resource', {});
}

/** 415 naming the media types the endpoint does take. */
export function unsupportedMediaType(accepted: readonly string[]): ApiStatusError {
  return new ApiStatusError(
    415,
    StatusReason.unsupportedMediaType,
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    {},
  );
}

export function notAcceptable(): ApiStatusError {
  return new ApiStatusError(406, StatusReason.notAcceptable, 'only the following media types are accepted: application/json, application/yaml', {});
}

export function requestEntityTooLarge(limitBytes: number): ApiStatusError {
  return new ApiStatusError(413, StatusReason.requestEntityTooLarge, `Request entity too large: limit is ${limitBytes}`);
}

/** 422 for a patch that cannot be applied, shaped like NewGenericServerResponse(422, ...). */
export function patchRejected(serverMessage: string): ApiStatusError {
  return new ApiStatusError(422, StatusReason.invalid, 'the server rejected our request due to an error in our request', {
    causes: [{ reason: 'UnexpectedServerResponse', message: serverMessage }],
  });
}

export function internalError(message: string): ApiStatusError {
  return new ApiStatusError(500, StatusReason.internalError, `Internal error occurred: ${message}`, {
    causes: [{ reason: '', message }],
  });
}

export function forbidden(group: string, resource: string, name: string, reasonText: string): ApiStatusError {
  return new ApiStatusError(403, 'Forbidden', `${qualifiedResource(group, resource)} "${name}" is forbidden: ${reasonText}`, {
    name,
    group,
    kind: resource,
  });
}

/** 409 for a DELETE whose preconditions (uid, resourceVersion) do not hold. */
export function preconditionFailed(group: string, resource: string, name: string, detail: string): ApiStatusError {
  return new ApiStatusError(
    409,
    StatusReason.conflict,
    `Operation cannot be fulfilled on ${qualifiedResource(group, resource)} "${name}": Precondition failed: ${detail}`,
    { name, group, kind: resource },
  );
}
