// JSON merge patch (RFC 7386) as evanphx/json-patch applies it for the apiserver: null deletes a key,
// objects merge recursively, anything else replaces; nulls inside newly added objects are pruned.

import { cloneJson, isJsonObject, type JsonObject, type JsonValue } from '../store/json-value.js';

function pruneNulls(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map((item) => (item === null ? null : pruneNulls(item)));
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) if (item !== null) out[key] = pruneNulls(item);
  return out;
}

function mergeInto(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
      continue;
    }
    const current = target[key];
    if (isJsonObject(current) && isJsonObject(value)) target[key] = mergeInto(current, value);
    else target[key] = pruneNulls(value);
  }
  return target;
}

/** Returns the patched copy of `original`; neither argument is modified. */
export function jsonMergePatch(original: JsonObject, patch: JsonObject): JsonObject {
  return mergeInto(cloneJson(original), cloneJson(patch));
}
