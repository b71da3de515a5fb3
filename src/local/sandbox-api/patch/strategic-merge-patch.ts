// Applies a strategic merge patch the way the apiserver does (apimachinery strategicpatch.mergeMap with
// MergeParallelList and IgnoreUnmatchedNulls): maps merge, null deletes, keyed lists merge by their merge
// key, and the $patch, $retainKeys, $setElementOrder/ and $deleteFromPrimitiveList/ directives apply.

import { cloneJson, isJsonObject, type JsonObject, type JsonValue } from '../store/json-value.js';
import { ListOrderError, elementKind, goFormat, noMergeKeyMessage, normalizeElementOrder, partition, sameElement } from './strategic-list-order.js';

/** Patch metadata of one field: how its value merges and, for maps and lists of maps, the nested schema. */
export interface FieldPatchMeta {
  readonly strategy?: 'merge' | 'replace';
  readonly mergeKey?: string;
  readonly schema?: PatchSchema;
}

export interface PatchSchema {
  readonly [field: string]: FieldPatchMeta | undefined;
}

export const PatchFailure = {
  /** the apiserver answers 400 */
  badRequest: 'badRequest',
  /** the apiserver answers 422 */
  invalid: 'invalid',
  /** anything else the apiserver reports as a 500 */
  internal: 'internal',
} as const;
export type PatchFailure = (typeof PatchFailure)[keyof typeof PatchFailure];

export class PatchError extends Error {
  readonly code = 'SANDBOX_PATCH_FAILED';
  readonly failure: PatchFailure;
  constructor(failure: PatchFailure, message: string) {
    super(message);
    this.name = 'PatchError';
    this.failure = failure;
  }
}

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

function noMergeKey(map: JsonObject, mergeKey: string): PatchError {
  return new PatchError(PatchFailure.internal, noMergeKeyMessage(map, mergeKey));
}

/** Returns the patched copy of `original`; neither argument is modified. */
export function strategicMergePatch(original: JsonObject, patch: JsonObject, schema: PatchSchema | undefined): JsonObject {
  try {
    return stripDirectives(mergeMap(cloneJson(original), cloneJson(patch), schema));
  } catch (error) {
    if (!(error instanceof ListOrderError)) throw error;
    const failure = error.isListOfLists ? PatchFailure.invalid : PatchFailure.internal;
    throw new PatchError(failure, error.message);
  }
}

/** A typed decode drops the directive keys a patch may leave behind (e.g. in a list that was absent). */
function stripDirectives<T extends JsonValue>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => stripDirectives(item)) as T;
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) if (!key.startsWith('$')) out[key] = stripDirectives(item);
  return out as T;
}

function mergeMap(original: JsonObject | undefined, patch: JsonObject, schema: PatchSchema | undefined): JsonObject {
  if (DIRECTIVE in patch) {
    const directive = patch[DIRECTIVE];
    if (directive === 'replace') {
      delete patch[DIRECTIVE];
      return patch;
    }
    if (directive === 'delete') return {};
    throw new PatchError(PatchFailure.internal, `unknown patch type: ${goFormat(directive ?? null)} in map: ${goFormat(patch)}`);
  }
  const target = original ?? {};
  applyRetainKeys(target, patch);
  mergeOrderedLists(target, patch, schema);
  for (const [patchKey, patchValue] of Object.entries(patch)) {
    let key = patchKey;
    let isDeleteList = false;
    if (patchKey.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      key = listKeyOf(patchKey, DELETE_FROM_PRIMITIVE_LIST, 'invalid patch format of primitive list');
      isDeleteList = true;
    }
    if (patchValue === null) {
      delete target[key];
      continue;
    }
    const originalValue = target[key];
    if (originalValue === undefined) {
      target[key] = patchValue;
      continue;
    }
    const meta = schema?.[key];
    if (isJsonObject(originalValue) && isJsonObject(patchValue)) {
      target[key] = meta?.strategy === 'replace' ? patchValue : mergeMap(originalValue, patchValue, meta?.schema);
    } else if (Array.isArray(originalValue) && Array.isArray(patchValue)) {
      target[key] = meta?.strategy === 'merge' ? mergeSlice(originalValue, patchValue, meta, isDeleteList) : patchValue;
    } else {
      target[key] = patchValue;
    }
  }
  return target;
}

function listKeyOf(directiveKey: string, prefix: string, formatError: string): string {
  const rest = directiveKey.slice(prefix.length);
  if (rest.length === 0) throw new PatchError(PatchFailure.badRequest, formatError);
  return rest;
}

function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!(RETAIN_KEYS in patch)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain)) throw new PatchError(PatchFailure.badRequest, 'invalid patch format of retainKeys');
  const kept = new Set(retain.map((key) => String(key)));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!kept.has(key)) throw new PatchError(PatchFailure.badRequest, 'invalid patch format of retainKeys');
  }
  for (const key of Object.keys(original)) if (!kept.has(key)) delete original[key];
}

/** $setElementOrder/<list>: merge that list now and order it: setElementOrder > patch order > live order. */
function mergeOrderedLists(original: JsonObject, patch: JsonObject, schema: PatchSchema | undefined): void {
  for (const directiveKey of Object.keys(patch)) {
    if (!directiveKey.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[directiveKey];
    delete patch[directiveKey];
    if (!Array.isArray(order)) throw new PatchError(PatchFailure.badRequest, 'invalid patch format of setElementOrder list');
    const key = listKeyOf(directiveKey, SET_ELEMENT_ORDER, 'invalid patch format of setElementOrder list');
    const originalValue = original[key];
    const patchValue = patch[key];
    const originalList = Array.isArray(originalValue) ? originalValue : undefined;
    const patchList = Array.isArray(patchValue) ? patchValue : undefined;
    const meta = schema?.[key];
    const mergeKey = meta?.mergeKey ?? '';
    validateAgainstOrder(patchList ?? [], order, mergeKey);
    let merged: JsonValue[];
    if (originalList !== undefined && patchList === undefined) merged = originalList;
    else if (originalList === undefined && patchList !== undefined) merged = patchList;
    else if (originalList !== undefined && patchList !== undefined) {
      merged = meta?.strategy === 'merge' ? mergeSlice(originalList, patchList, meta, false) : patchList;
    } else continue;
    const kind = elementKind([...(originalList ?? []), ...(patchList ?? [])]);
    if (kind !== undefined) {
      const [inOrder, serverOnly] = partition(merged, order, mergeKey, kind);
      merged = normalizeElementOrder(inOrder, serverOnly, order, originalList ?? [], mergeKey, kind);
    }
    original[key] = merged;
    delete patch[key];
  }
}

function validateAgainstOrder(patchList: readonly JsonValue[], order: readonly JsonValue[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const items = mergeKey === '' ? patchList : patchList.filter((item) => !(isJsonObject(item) && item[DIRECTIVE] === 'delete'));
  let patchIndex = 0;
  let orderIndex = 0;
  while (patchIndex < items.length && orderIndex < order.length) {
    const item = items[patchIndex] ?? null;
    if (isJsonObject(item) && DIRECTIVE in item) {
      patchIndex += 1;
      continue;
    }
    if (sameElement(item, order[orderIndex] ?? null, mergeKey)) patchIndex += 1;
    orderIndex += 1;
  }
  if (patchIndex < items.length) {
    throw new PatchError(
      PatchFailure.internal,
      `The order in patch list:\n${goFormat([...patchList])}\n doesn't match $setElementOrder list:\n${goFormat([...order])}\n`,
    );
  }
}

function mergeSlice(original: JsonValue[], patch: JsonValue[], meta: FieldPatchMeta, isDeleteList: boolean): JsonValue[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind([...original, ...patch]) ?? 'primitive';
  const mergeKey = meta.mergeKey ?? '';
  let live = original;
  let changes = patch;
  let merged: JsonValue[];
  if (kind === 'primitive') {
    if (isDeleteList) return original.filter((item) => !patch.includes(item));
    merged = [...new Set([...original, ...patch])];
  } else {
    if (mergeKey === '') throw new PatchError(PatchFailure.internal, 'cannot merge lists without merge key for type map');
    [live, changes] = applyListDirectives(original, patch, mergeKey);
    merged = mergeByKey(live, changes, mergeKey, meta.schema);
  }
  const [inPatch, serverOnly] = partition(merged, changes, mergeKey, kind);
  return normalizeElementOrder(inPatch, serverOnly, changes, live, mergeKey, kind);
}

/** `$patch: delete` items remove their element; a `$patch: replace` item makes the rest of the patch the list. */
function applyListDirectives(original: JsonValue[], patch: JsonValue[], mergeKey: string): [JsonValue[], JsonValue[]] {
  let live = [...original];
  const plain: JsonValue[] = [];
  let isReplace = false;
  for (const item of patch) {
    if (!isJsonObject(item) || !(DIRECTIVE in item)) {
      plain.push(item);
      continue;
    }
    const directive = item[DIRECTIVE];
    if (directive === 'delete') {
      const value = item[mergeKey];
      if (value === undefined) throw noMergeKey(item, mergeKey);
      live = live.filter((candidate) => !(isJsonObject(candidate) && candidate[mergeKey] === value));
    } else if (directive === 'replace') {
      isReplace = true;
    } else if (directive === 'merge') {
      throw new PatchError(PatchFailure.internal, 'merging lists cannot yet be specified in the patch');
    } else {
      throw new PatchError(PatchFailure.internal, `unknown patch type: ${goFormat(directive ?? null)} in map: ${goFormat(item)}`);
    }
  }
  return isReplace ? [plain, []] : [live, plain];
}

function mergeByKey(live: JsonValue[], patch: readonly JsonValue[], mergeKey: string, schema: PatchSchema | undefined): JsonValue[] {
  const merged = [...live];
  for (const item of patch) {
    if (!isJsonObject(item)) continue;
    const value = item[mergeKey];
    if (value === undefined) throw noMergeKey(item, mergeKey);
    const at = merged.findIndex((candidate) => {
      if (!isJsonObject(candidate)) throw new PatchError(PatchFailure.internal, 'value for key is not a map.');
      return candidate[mergeKey] === value;
    });
    const found = merged[at];
    if (at >= 0 && isJsonObject(found)) merged[at] = mergeMap(found, item, schema);
    else merged.push(item);
  }
  return merged;
}

