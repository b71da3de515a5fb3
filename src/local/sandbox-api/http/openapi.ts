// The OpenAPI documents kubectl fetches before create/apply/replace and for explain: /openapi/v2 (protobuf,
// or JSON) and /openapi/v3 with one document per group version. Every served operation is listed with its
// x-kubernetes-group-version-kind and the fieldValidation parameter (so kubectl uses server-side field
// validation); the v3 documents carry the kind schemas (openapi-schemas.ts) that `kubectl explain` reads.
// PATCH operations do not list the strategic-merge content type: kubectl apply then computes strategic
// merge patches from its compiled-in types, which carry the same merge keys as kube-apiserver's schemas,
// instead of from these derived schemas, which carry none.

import { createHash } from 'node:crypto';
import type { JsonObject } from '../store/json-value.js';
import { kindSchemas } from './openapi-schemas.js';
import { GROUP_ORDER, groupVersions, resourcesOf, type ResourceDefinition } from '../store/resource-catalog.js';

/** what the apiserver answers with, whichever of the two spellings below the client asked for */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
/** the deprecated spelling client-go still sends in Accept */
export const OPENAPI_V2_PROTOBUF_DEPRECATED = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A length-delimited protobuf field (wire type 2). */
function protobufField(fieldNumber: number, body: Buffer): Buffer {
  return Buffer.concat([varint((fieldNumber << 3) | 2), varint(body.length), body]);
}

function protobufString(fieldNumber: number, value: string): Buffer {
  return protobufField(fieldNumber, Buffer.from(value, 'utf8'));
}

function protobufMessage(fieldNumber: number, body: Buffer): Buffer {
  return protobufField(fieldNumber, body);
}

/** gnostic openapi_v2.Document{swagger: "2.0", info: {title, version}, paths: {}, definitions: {}} */
export function openApiV2Protobuf(gitVersion: string): Buffer {
  const info = Buffer.concat([protobufString(1, 'Kubernetes'), protobufString(2, gitVersion)]);
  return Buffer.concat([protobufString(1, '2.0'), protobufMessage(2, info), protobufMessage(8, Buffer.alloc(0)), protobufMessage(9, Buffer.alloc(0))]);
}

export function openApiV2Json(gitVersion: string): JsonObject {
  return { swagger: '2.0', info: { title: 'Kubernetes', version: gitVersion }, paths: {}, definitions: {} };
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function queryParameter(name: string, description: string): JsonObject {
  return { name, in: 'query', description, schema: { type: 'string', uniqueItems: true } };
}

const DRY_RUN = queryParameter('dryRun', 'When present, indicates that modifications should not be persisted.');
const FIELD_MANAGER = queryParameter('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.');
const FIELD_VALIDATION = queryParameter(
  'fieldValidation',
  'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict',
);
const PATCH_TYPES = ['application/apply-patch+yaml', 'application/json-patch+json', 'application/merge-patch+json'];

function operation(definition: ResourceDefinition, action: string, parameters: readonly JsonObject[], requestBody?: JsonObject): JsonObject {
  const op: JsonObject = {
    operationId: `${action}${definition.kind}`,
    parameters: [...parameters],
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: definition.group, version: definition.version, kind: definition.kind },
  };
  if (requestBody !== undefined) op['requestBody'] = requestBody;
  return op;
}

function bodyOf(types: readonly string[]): JsonObject {
  const content: JsonObject = {};
  for (const type of types) content[type] = { schema: { type: 'object' } };
  return { content, required: true };
}

function resourcePaths(definition: ResourceDefinition): JsonObject {
  const prefix = `/${gvPath(definition.group, definition.version)}${definition.namespaced ? '/namespaces/{namespace}' : ''}/${definition.resource}`;
  const writes = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
  // create-only kinds (the access reviews) are answered, never stored: the apiserver documents only the POST
  if (definition.verbs.length === 1 && definition.verbs[0] === 'create') return { [prefix]: { post: operation(definition, 'post', writes, bodyOf(['*/*'])) } };
  return {
    [prefix]: {
      get: operation(definition, 'list', []),
      post: operation(definition, 'post', writes, bodyOf(['*/*'])),
    },
    [`${prefix}/{name}`]: {
      get: operation(definition, 'get', []),
      put: operation(definition, 'put', writes, bodyOf(['*/*'])),
      delete: operation(definition, 'delete', [DRY_RUN]),
      patch: operation(definition, 'patch', writes, bodyOf(PATCH_TYPES)),
    },
  };
}

function groupVersionDocument(group: string, version: string, gitVersion: string): JsonObject {
  const paths: JsonObject = {};
  const definitions = resourcesOf(group, version);
  for (const definition of definitions) Object.assign(paths, resourcePaths(definition));
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: gitVersion },
    paths,
    components: {
      schemas: kindSchemas(group, version, definitions.map((definition) => definition.kind)),
      securitySchemes: { BearerToken: { type: 'apiKey', description: 'Bearer Token authentication', name: 'authorization', in: 'header' } },
    },
  };
}

export interface OpenApiV3Documents {
  /** GET /openapi/v3 */
  readonly root: JsonObject;
  /** bytes and hash of each group-version document, by path (`api/v1`, `apis/apps/v1`) */
  readonly documents: ReadonlyMap<string, { readonly body: Buffer; readonly hash: string }>;
}

export function openApiV3Documents(gitVersion: string): OpenApiV3Documents {
  const documents = new Map<string, { body: Buffer; hash: string }>();
  const paths: JsonObject = {};
  for (const group of GROUP_ORDER) {
    for (const version of groupVersions(group)) {
      const path = gvPath(group, version);
      const body = Buffer.from(JSON.stringify(groupVersionDocument(group, version, gitVersion)));
      const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
      documents.set(path, { body, hash });
      paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
    }
  }
  return { root: { paths }, documents };
}
