// The sandbox's etcd: objects by group/version/resource/namespace/name, one global revision counter that
// becomes every object's resourceVersion, and a change feed (with bounded history) for watches.
// It stores what it is given; validation, defaulting and admission belong to the endpoint layer.

import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { canonicalOrder } from './canonical-order.js';
import { cloneJson, ensureObject, objectAt, stringAt, type JsonObject } from './json-value.js';
import { apiVersionOf, findResource } from './resource-catalog.js';

export interface ResourceKey {
  readonly group: string;
  readonly version: string;
  readonly resource: string;
}

export interface ObjectKey extends ResourceKey {
  /** '' for cluster-scoped objects */
  readonly namespace: string;
  readonly name: string;
}

export const ChangeType = { added: 'ADDED', modified: 'MODIFIED', deleted: 'DELETED' } as const;
export type ChangeType = (typeof ChangeType)[keyof typeof ChangeType];

export interface StoreChange {
  readonly type: ChangeType;
  readonly key: ObjectKey;
  /** the object after the change (for DELETED: as it was, with the deletion's resourceVersion) */
  readonly object: JsonObject;
  readonly resourceVersion: number;
}

export interface ObjectStoreOptions {
  /** milliseconds since the epoch; creationTimestamp comes from here */
  readonly now?: () => number;
  /** how many changes are kept for watches that resume from a resourceVersion */
  readonly historyLimit?: number;
}

const DEFAULT_HISTORY_LIMIT = 1000;
const CHANGE_EVENT = 'change';

/** RFC 3339 at second precision, as metav1.Time serialises. */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function resourceId(key: ResourceKey): string {
  return `${key.group}/${key.version}/${key.resource}`;
}

function objectId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ObjectStore {
  readonly #now: () => number;
  readonly #historyLimit: number;
  readonly #resources = new Map<string, Map<string, JsonObject>>();
  readonly #feed = new EventEmitter();
  readonly #history: StoreChange[] = [];
  #revision = 0;

  constructor(options: ObjectStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#historyLimit = options.historyLimit ?? DEFAULT_HISTORY_LIMIT;
    this.#feed.setMaxListeners(0);
  }

  /** The current revision, as the string every list carries in metadata.resourceVersion. */
  get resourceVersion(): string {
    return String(this.#revision);
  }

  now(): number {
    return this.#now();
  }

  get(key: ObjectKey): JsonObject | undefined {
    const stored = this.#resources.get(resourceId(key))?.get(objectId(key.namespace, key.name));
    return stored === undefined ? undefined : cloneJson(stored);
  }

  /** Objects of one resource, in one namespace or all, sorted by namespace then name. */
  list(resource: ResourceKey, namespace?: string): JsonObject[] {
    const bucket = this.#resources.get(resourceId(resource));
    if (bucket === undefined) return [];
    const prefix = namespace === undefined ? undefined : `${namespace}/`;
    return [...bucket.entries()]
      .filter(([id]) => prefix === undefined || id.startsWith(prefix))
      .sort(([a], [b]) => compareIds(a, b))
      .map(([, object]) => cloneJson(object));
  }

  /**
   * Stores an object (create or replace) under the namespace and name in its metadata, stamping a new
   * resourceVersion, and a uid, creationTimestamp, apiVersion and kind when absent. Returns the stored copy.
   */
  put(resource: ResourceKey, object: JsonObject): JsonObject {
    const draft = cloneJson(object);
    const metadata = ensureObject(draft, 'metadata');
    const name = stringAt(metadata, 'name');
    if (name === undefined || name === '') throw new TypeError('ObjectStore.put needs metadata.name');
    const namespace = stringAt(metadata, 'namespace') ?? '';
    const definition = findResource(resource.group, resource.version, resource.resource);
    if (definition !== undefined) {
      draft['apiVersion'] ??= apiVersionOf(definition);
      draft['kind'] ??= definition.kind;
    }
    metadata['uid'] ??= randomUUID();
    metadata['creationTimestamp'] ??= formatTimestamp(this.#now());
    this.#revision += 1;
    metadata['resourceVersion'] = String(this.#revision);
    const stored = canonicalOrder(draft);
    const id = resourceId(resource);
    let bucket = this.#resources.get(id);
    if (bucket === undefined) {
      bucket = new Map();
      this.#resources.set(id, bucket);
    }
    const existed = bucket.has(objectId(namespace, name));
    bucket.set(objectId(namespace, name), stored);
    this.#emit(existed ? ChangeType.modified : ChangeType.added, { ...resource, namespace, name }, stored);
    return cloneJson(stored);
  }

  /** Removes an object; returns it (with the deletion's resourceVersion) or undefined when absent. */
  delete(key: ObjectKey): JsonObject | undefined {
    const bucket = this.#resources.get(resourceId(key));
    const id = objectId(key.namespace, key.name);
    const stored = bucket?.get(id);
    if (bucket === undefined || stored === undefined) return undefined;
    bucket.delete(id);
    this.#revision += 1;
    const deleted = cloneJson(stored);
    ensureObject(deleted, 'metadata')['resourceVersion'] = String(this.#revision);
    this.#emit(ChangeType.deleted, key, deleted);
    return cloneJson(deleted);
  }

  /** How many change subscribers (open watches) there are. */
  get subscriberCount(): number {
    return this.#feed.listenerCount(CHANGE_EVENT);
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  onChange(listener: (change: StoreChange) => void): () => void {
    this.#feed.on(CHANGE_EVENT, listener);
    return () => this.#feed.off(CHANGE_EVENT, listener);
  }

  /** Changes after `resourceVersion`, or undefined when history no longer reaches back that far. */
  changesSince(resourceVersion: number): StoreChange[] | undefined {
    const oldest = this.#history[0];
    if (resourceVersion >= this.#revision) return [];
    if (oldest === undefined || oldest.resourceVersion > resourceVersion + 1) return undefined;
    return this.#history.filter((change) => change.resourceVersion > resourceVersion);
  }

  #emit(type: ChangeType, key: ObjectKey, object: JsonObject): void {
    const change: StoreChange = { type, key, object, resourceVersion: this.#revision };
    this.#history.push(change);
    if (this.#history.length > this.#historyLimit) this.#history.shift();
    this.#feed.emit(CHANGE_EVENT, change);
  }
}

/** The namespace an object claims in its metadata ('' when none). */
export function namespaceOf(object: JsonObject): string {
  return stringAt(objectAt(object, 'metadata'), 'namespace') ?? '';
}
