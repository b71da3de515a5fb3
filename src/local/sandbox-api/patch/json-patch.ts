// JSON patch (RFC 6902): add, remove, replace, move, copy, test over JSON pointers, failing with the
// messages evanphx/json-patch gives the apiserver. Operations apply to a copy; the input is never changed.

import { cloneJson, isJsonObject, jsonEqual, type JsonObject, type JsonValue } from '../store/json-value.js';

export class JsonPatchError extends Error {
  readonly code = 'SANDBOX_JSON_PATCH_FAILED';
  /** true when the patch document itself is malformed (400) rather than inapplicable (422) */
  readonly isMalformed: boolean;
  constructor(message: string, isMalformed: boolean) {
    super(message);
    this.name = 'JsonPatchError';
    this.isMalformed = isMalformed;
  }
}

interface Operation {
  readonly op: string;
  readonly path: string;
  readonly from?: string;
  readonly value?: JsonValue;
}

function decodeOperations(patch: JsonValue): Operation[] {
  if (!Array.isArray(patch)) {
    throw new JsonPatchError(`json: cannot unmarshal ${isJsonObject(patch) ? 'object' : typeof patch} into Go value of type jsonpatch.Patch`, true);
  }
  return patch.map((item) => {
    if (!isJsonObject(item)) throw new JsonPatchError('json: cannot unmarshal into Go value of type jsonpatch.Operation', true);
    const op = typeof item['op'] === 'string' ? item['op'] : '';
    const path = typeof item['path'] === 'string' ? item['path'] : undefined;
    if (path === undefined) throw new JsonPatchError(`operation missing path field: ${op}`, false);
    const operation: Operation = { op, path };
    const withFrom = typeof item['from'] === 'string' ? { ...operation, from: item['from'] } : operation;
    return 'value' in item ? { ...withFrom, value: item['value'] ?? null } : withFrom;
  });
}

function splitPointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`Invalid JSON Pointer: ${pointer}`, false);
  return pointer.slice(1).split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = JsonObject | JsonValue[];

/** The parent container of the pointer's last segment, and that segment. */
function locate(document: JsonValue, pointer: string, operation: string): { parent: Container; key: string } {
  const parts = splitPointer(pointer);
  const key = parts.pop();
  if (key === undefined) throw new JsonPatchError(`${operation} operation does not apply: doc is missing path: "${pointer}": missing value`, false);
  let node: JsonValue | undefined = document;
  for (const part of parts) {
    if (Array.isArray(node)) node = /^\d+$/.test(part) ? node[Number(part)] : undefined;
    else if (isJsonObject(node)) node = node[part];
    else node = undefined;
    if (node === undefined) throw new JsonPatchError(`${operation} operation does not apply: doc is missing path: "${pointer}": missing value`, false);
  }
  if (!Array.isArray(node) && !isJsonObject(node)) {
    throw new JsonPatchError(`${operation} operation does not apply: doc is missing path: "${pointer}": missing value`, false);
  }
  return { parent: node, key };
}

function arrayIndex(array: readonly JsonValue[], key: string, allowEnd: boolean): number {
  if (key === '-' && allowEnd) return array.length;
  if (!/^\d+$/.test(key)) throw new JsonPatchError(`Unable to access invalid index: ${key}: invalid index referenced`, false);
  const index = Number(key);
  if (index > array.length || (!allowEnd && index === array.length)) {
    throw new JsonPatchError(`Unable to access invalid index: ${index}: invalid index referenced`, false);
  }
  return index;
}

function getAt(document: JsonValue, pointer: string, operation: string): JsonValue {
  if (pointer === '') return document;
  const { parent, key } = locate(document, pointer, operation);
  const value = Array.isArray(parent) ? parent[arrayIndex(parent, key, false)] : parent[key];
  if (value === undefined) throw new JsonPatchError(`${operation} operation does not apply: doc is missing path: "${pointer}": missing value`, false);
  return value;
}

function addAt(document: JsonValue, pointer: string, value: JsonValue): JsonValue {
  if (pointer === '') return value;
  const { parent, key } = locate(document, pointer, 'add');
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else parent[key] = value;
  return document;
}

function removeAt(document: JsonValue, pointer: string, operation: string): JsonValue {
  const { parent, key } = locate(document, pointer, operation);
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, key, false);
    const [removed] = parent.splice(index, 1);
    return removed ?? null;
  }
  const removed = parent[key];
  if (removed === undefined) throw new JsonPatchError(`${operation} operation does not apply: doc is missing path: "${pointer}": missing value`, false);
  delete parent[key];
  return removed;
}

/** Applies an RFC 6902 patch document to a copy of `original`. */
export function applyJsonPatch(original: JsonObject, patch: JsonValue): JsonValue {
  let document: JsonValue = cloneJson(original);
  for (const operation of decodeOperations(patch)) {
    switch (operation.op) {
      case 'add':
        if (operation.value === undefined) throw new JsonPatchError('add operation does not apply: doc is missing value: missing value', false);
        document = addAt(document, operation.path, cloneJson(operation.value));
        break;
      case 'remove':
        removeAt(document, operation.path, 'remove');
        break;
      case 'replace': {
        if (operation.value === undefined) throw new JsonPatchError('replace operation does not apply: doc is missing value: missing value', false);
        if (operation.path === '') {
          document = cloneJson(operation.value);
          break;
        }
        const { parent, key } = locate(document, operation.path, 'replace');
        if (Array.isArray(parent)) parent[arrayIndex(parent, key, false)] = cloneJson(operation.value);
        else if (key in parent) parent[key] = cloneJson(operation.value);
        else throw new JsonPatchError(`replace operation does not apply: doc is missing key: ${operation.path}: missing value`, false);
        break;
      }
      case 'move': {
        const from = operation.from ?? '';
        const value = removeAt(document, from, 'move');
        document = addAt(document, operation.path, value);
        break;
      }
      case 'copy': {
        const value = getAt(document, operation.from ?? '', 'copy');
        document = addAt(document, operation.path, cloneJson(value));
        break;
      }
      case 'test': {
        let actual: JsonValue | undefined;
        try {
          actual = getAt(document, operation.path, 'test');
        } catch {
          actual = undefined;
        }
        if (actual === undefined ? operation.value !== null : !jsonEqual(actual, operation.value ?? null)) {
          throw new JsonPatchError(`testing value ${operation.path} failed: test failed`, false);
        }
        break;
      }
      default:
        throw new JsonPatchError(`Unexpected kind: ${operation.op}`, false);
    }
  }
  return document;
}
