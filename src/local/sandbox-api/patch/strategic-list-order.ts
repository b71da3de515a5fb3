// Element order of merged lists, as strategicpatch's normalizeElementOrder/mergeSortedSlice define it:
// items named in the patch follow the patch (or $setElementOrder), server-only items keep their live
// order, and the two are interleaved by live position. Pure functions over already-merged lists.

import { isJsonObject, type JsonObject, type JsonValue } from '../store/json-value.js';

export type ElementKind = 'map' | 'primitive';

const DIRECTIVE = '$patch';

export class ListOrderError extends Error {
  readonly code = 'SANDBOX_PATCH_LIST_ORDER';
  /** a list of lists: the apiserver answers 422 rather than 500 */
  readonly isListOfLists: boolean;
  constructor(message: string, isListOfLists = false) {
    super(message);
    this.name = 'ListOrderError';
    this.isListOfLists = isListOfLists;
  }
}

/** Go's %v of a value, for error messages that quote one. */
export function goFormat(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`;
  if (isJsonObject(value)) {
    const entries = Object.keys(value).sort().map((key) => `${key}:${goFormat(value[key] ?? null)}`);
    return `map[${entries.join(' ')}]`;
  }
  return value === null ? '<nil>' : String(value);
}

export function noMergeKeyMessage(map: JsonObject, mergeKey: string): string {
  return `map: ${goFormat(map)} does not contain declared merge key: ${mergeKey}`;
}

export function elementKind(items: readonly JsonValue[]): ElementKind | undefined {
  const first = items[0];
  if (first === undefined) return undefined;
  if (Array.isArray(first)) throw new ListOrderError('lists of lists are not supported', true);
  const kind: ElementKind = isJsonObject(first) ? 'map' : 'primitive';
  for (const item of items) {
    const itemKind = isJsonObject(item) ? 'map' : Array.isArray(item) ? 'list' : 'primitive';
    if (itemKind !== kind) throw new ListOrderError(`list element types are not identical: ${goFormat([...items])}`);
  }
  return kind;
}

export function mergeKeyValue(item: JsonValue, mergeKey: string): JsonValue | undefined {
  return isJsonObject(item) ? item[mergeKey] : undefined;
}

export function sameElement(a: JsonValue, b: JsonValue, mergeKey: string): boolean {
  if (mergeKey === '') return a === b;
  const left = mergeKeyValue(a, mergeKey);
  return left !== undefined && left === mergeKeyValue(b, mergeKey);
}

function indexIn(list: readonly JsonValue[], item: JsonValue, mergeKey: string, kind: ElementKind): number {
  const wanted = kind === 'map' ? mergeKeyValue(item, mergeKey) : item;
  return list.findIndex((candidate) => (kind === 'map' ? mergeKeyValue(candidate, mergeKey) : candidate) === wanted);
}

export function partition(items: readonly JsonValue[], by: readonly JsonValue[], mergeKey: string, kind: ElementKind): [JsonValue[], JsonValue[]] {
  const present: JsonValue[] = [];
  const absent: JsonValue[] = [];
  for (const item of items) {
    if (kind === 'map' && mergeKeyValue(item, mergeKey) === undefined) throw new ListOrderError(noMergeKeyMessage(isJsonObject(item) ? item : {}, mergeKey));
    (indexIn(by, item, mergeKey, kind) >= 0 ? present : absent).push(item);
  }
  return [present, absent];
}

function sortByOrder(items: readonly JsonValue[], order: readonly JsonValue[], mergeKey: string, kind: ElementKind): JsonValue[] {
  let keep = [...items];
  let deletions: JsonValue[] = [];
  if (kind === 'map') {
    for (const item of [...items, ...order]) {
      if (mergeKeyValue(item, mergeKey) === undefined) throw new ListOrderError(noMergeKeyMessage(isJsonObject(item) ? item : {}, mergeKey));
    }
    keep = items.filter((item) => !(isJsonObject(item) && item[DIRECTIVE] === 'delete'));
    deletions = items.filter((item) => isJsonObject(item) && item[DIRECTIVE] === 'delete');
  }
  const ranked = keep.map((item, position) => ({ item, position, rank: indexIn(order, item, mergeKey, kind) }));
  ranked.sort((a, b) => (a.rank >= 0 && b.rank >= 0 ? a.rank - b.rank : 0) || a.position - b.position);
  return [...ranked.map((entry) => entry.item), ...deletions];
}

/** Sorts patch items by the patch order and server-only items by live order, then interleaves by live order. */
export function normalizeElementOrder(
  patchItems: readonly JsonValue[],
  serverOnly: readonly JsonValue[],
  patchOrder: readonly JsonValue[],
  serverOrder: readonly JsonValue[],
  mergeKey: string,
  kind: ElementKind,
): JsonValue[] {
  const right = sortByOrder(patchItems, patchOrder, mergeKey, kind);
  const left = sortByOrder(serverOnly, serverOrder, mergeKey, kind);
  const out: JsonValue[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    const l = left[i];
    const r = right[j];
    if (l === undefined) {
      out.push(r ?? null);
      j += 1;
    } else if (r === undefined) {
      out.push(l);
      i += 1;
    } else {
      const li = indexIn(serverOrder, l, mergeKey, kind);
      const ri = indexIn(serverOrder, r, mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) {
        out.push(l);
        i += 1;
      } else {
        out.push(r);
        j += 1;
      }
    }
  }
  return out;
}
