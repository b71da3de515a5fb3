// A minimal controller manager for the sandbox: the Deployment controller (one ReplicaSet per pod
// template, named by its pod-template-hash; the current one scaled to spec.replicas, older ones to 0;
// the deployment's status and conditions as `kubectl rollout status` reads them), the ReplicaSet
// controller (pods from the template until the count matches; status from the pods' readiness) and the
// garbage collector's cascade (deleting a deployment deletes its ReplicaSets, and those their pods).
// The pods it creates are run by the sandbox's kubelet (pod-kubelet.ts).
//
// Only workloads created after the sandbox started are managed: the seeded ones come with their pods and
// status already written. Reconciles are coalesced per object and run outside the store's notification.

import { createHash, randomInt } from 'node:crypto';
import type { Logger } from '../../../log.js';
import { isJsonObject, numberAt, objectAt, stringAt, type JsonObject } from '../store/json-value.js';
import { prepareForCreate, type DefaultingContext } from '../store/object-defaults.js';
import { ChangeType, formatTimestamp, type ObjectStore, type StoreChange } from '../store/object-store.js';
import { findResource, type ResourceDefinition } from '../store/resource-catalog.js';

const DEPLOYMENTS = { group: 'apps', version: 'v1', resource: 'deployments' } as const;
const REPLICA_SETS = { group: 'apps', version: 'v1', resource: 'replicasets' } as const;
const PODS = { group: '', version: 'v1', resource: 'pods' } as const;
const HASH_LABEL = 'pod-template-hash';
const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** k8s.io/apimachinery's rand alphabet: no vowels, no look-alike digits */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function definitionOf(key: { group: string; version: string; resource: string }): ResourceDefinition {
  const definition = findResource(key.group, key.version, key.resource);
  if (definition === undefined) throw new Error(`unknown resource ${key.resource}`);
  return definition;
}

/** The name suffix the Deployment controller derives from a pod template (fnv-32a, safe-encoded). */
export function podTemplateHash(template: JsonObject): string {
  const bytes = Buffer.from(JSON.stringify(template));
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return [...String(hash)].map((digit) => SAFE_ALPHABET[digit.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

function randomSuffix(): string {
  return Array.from({ length: 5 }, () => SAFE_ALPHABET[randomInt(SAFE_ALPHABET.length)]).join('');
}

function metadataOf(object: JsonObject): JsonObject {
  return objectAt(object, 'metadata') ?? {};
}

function uidOf(object: JsonObject): string {
  return stringAt(metadataOf(object), 'uid') ?? '';
}

function nameOf(object: JsonObject): string {
  return stringAt(metadataOf(object), 'name') ?? '';
}

function ownerUid(object: JsonObject, kind: string): string | undefined {
  const owners = metadataOf(object)['ownerReferences'];
  if (!Array.isArray(owners)) return undefined;
  const owner = owners.filter(isJsonObject).find((entry) => entry['kind'] === kind && entry['controller'] === true);
  return owner === undefined ? undefined : stringAt(owner, 'uid');
}

function ownerReference(owner: JsonObject, kind: string): JsonObject {
  return { apiVersion: 'apps/v1', kind, name: nameOf(owner), uid: uidOf(owner), controller: true, blockOwnerDeletion: true };
}

function isPodReady(pod: JsonObject): boolean {
  const conditions = objectAt(pod, 'status')?.['conditions'];
  return Array.isArray(conditions) && conditions.filter(isJsonObject).some((condition) => condition['type'] === 'Ready' && condition['status'] === 'True');
}

function isPodActive(pod: JsonObject): boolean {
  const phase = stringAt(objectAt(pod, 'status'), 'phase');
  return phase !== 'Succeeded' && phase !== 'Failed';
}

/** Drops zero counters, as the omitempty fields of the workload statuses do. */
function withoutZeros(status: JsonObject, keep: readonly string[]): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(status)) if (value !== 0 || keep.includes(key)) result[key] = value;
  return result;
}

export class WorkloadController {
  readonly #store: ObjectStore;
  readonly #defaults: DefaultingContext;
  readonly #logger: Logger;
  /** uids of the deployments and replica sets this controller manages */
  readonly #managed = new Set<string>();
  readonly #queue = new Map<string, () => void>();
  readonly #unsubscribe: () => void;
  #flush: NodeJS.Immediate | undefined;

  constructor(store: ObjectStore, defaults: DefaultingContext, logger: Logger) {
    this.#store = store;
    this.#defaults = defaults;
    this.#logger = logger.child({ component: 'sandbox-controllers' });
    const controllersOnChange = (change: StoreChange): void => this.#observe(change);
    this.#unsubscribe = store.onChange(controllersOnChange);
  }

  close(): void {
    this.#unsubscribe();
    if (this.#flush !== undefined) clearImmediate(this.#flush);
    this.#queue.clear();
  }

  #observe(change: StoreChange): void {
    const { key, object, type } = change;
    const namespace = key.namespace;
    if (key.group === 'apps' && key.resource === 'deployments') {
      if (type === ChangeType.added) this.#managed.add(uidOf(object));
      if (!this.#managed.has(uidOf(object))) return;
      if (type === ChangeType.deleted) this.#enqueue(`gc-deploy:${uidOf(object)}`, () => this.#collect(REPLICA_SETS, namespace, uidOf(object), 'Deployment'));
      else this.#enqueue(`deploy:${namespace}/${key.name}`, () => this.#syncDeployment(namespace, key.name));
      return;
    }
    if (key.group === 'apps' && key.resource === 'replicasets') {
      const owner = ownerUid(object, 'Deployment');
      if (type === ChangeType.added && (owner === undefined || this.#managed.has(owner))) this.#managed.add(uidOf(object));
      if (!this.#managed.has(uidOf(object))) return;
      if (type === ChangeType.deleted) this.#enqueue(`gc-rs:${uidOf(object)}`, () => this.#collect(PODS, namespace, uidOf(object), 'ReplicaSet'));
      else this.#enqueue(`rs:${namespace}/${key.name}`, () => this.#syncReplicaSet(namespace, key.name));
      if (owner !== undefined) this.#enqueueOwnerDeployment(namespace, owner);
      return;
    }
    if (key.group === '' && key.resource === 'pods') {
      const owner = ownerUid(object, 'ReplicaSet');
      if (owner === undefined || !this.#managed.has(owner)) return;
      const replicaSet = this.#store.list(REPLICA_SETS, namespace).find((candidate) => uidOf(candidate) === owner);
      if (replicaSet !== undefined) this.#enqueue(`rs:${namespace}/${nameOf(replicaSet)}`, () => this.#syncReplicaSet(namespace, nameOf(replicaSet)));
    }
  }

  #enqueueOwnerDeployment(namespace: string, uid: string): void {
    const deployment = this.#store.list(DEPLOYMENTS, namespace).find((candidate) => uidOf(candidate) === uid);
    if (deployment !== undefined) this.#enqueue(`deploy:${namespace}/${nameOf(deployment)}`, () => this.#syncDeployment(namespace, nameOf(deployment)));
  }

  #enqueue(key: string, work: () => void): void {
    this.#queue.set(key, work);
    this.#flush ??= setImmediate(() => {
      this.#flush = undefined;
      const batch = [...this.#queue.values()];
      this.#queue.clear();
      for (const item of batch) {
        try {
          item();
        } catch (error) {
          this.#logger.warn({ err: error }, 'reconcile failed');
        }
      }
    });
  }

  /** The garbage collector's background cascade: dependents of a deleted owner are deleted. */
  #collect(resource: typeof REPLICA_SETS | typeof PODS, namespace: string, owner: string, kind: string): void {
    for (const dependent of this.#store.list(resource, namespace)) {
      if (ownerUid(dependent, kind) === owner) this.#store.delete({ ...resource, namespace, name: nameOf(dependent) });
    }
  }

  #syncDeployment(namespace: string, name: string): void {
    const deployment = this.#store.get({ ...DEPLOYMENTS, namespace, name });
    if (deployment === undefined) return;
    const spec = objectAt(deployment, 'spec') ?? {};
    const template = structuredClone(objectAt(spec, 'template') ?? {});
    const replicas = numberAt(spec, 'replicas') ?? 1;
    const hash = podTemplateHash(template);
    const owned = this.#store.list(REPLICA_SETS, namespace).filter((candidate) => ownerUid(candidate, 'Deployment') === uidOf(deployment));
    let current = owned.find((candidate) => stringAt(objectAt(metadataOf(candidate), 'labels'), HASH_LABEL) === hash);
    const revisions = owned.map((candidate) => Number(stringAt(objectAt(metadataOf(candidate), 'annotations'), REVISION_ANNOTATION) ?? '0'));
    if (current === undefined) {
      const revision = String(Math.max(0, ...revisions) + 1);
      const templateMetadata = objectAt(template, 'metadata') ?? {};
      const labels = { ...(objectAt(templateMetadata, 'labels') ?? {}), [HASH_LABEL]: hash };
      template['metadata'] = { ...templateMetadata, labels };
      const selector = structuredClone(objectAt(spec, 'selector') ?? {});
      selector['matchLabels'] = { ...(objectAt(selector, 'matchLabels') ?? {}), [HASH_LABEL]: hash };
      const replicaSet: JsonObject = {
        metadata: { name: `${name}-${hash}`, namespace, labels, annotations: { [REVISION_ANNOTATION]: revision }, ownerReferences: [ownerReference(deployment, 'Deployment')] },
        spec: { replicas, selector, template },
      };
      prepareForCreate(definitionOf(REPLICA_SETS), replicaSet, this.#defaults);
      current = this.#store.put(REPLICA_SETS, replicaSet);
      this.#setAnnotation(deployment, revision);
    } else if (numberAt(objectAt(current, 'spec'), 'replicas') !== replicas) {
      const next = structuredClone(current);
      (objectAt(next, 'spec') ?? {})['replicas'] = replicas;
      current = this.#store.put(REPLICA_SETS, next);
    }
    // older templates are scaled away (the rollout is immediate rather than surge by surge)
    for (const old of owned) {
      if (uidOf(old) === uidOf(current) || numberAt(objectAt(old, 'spec'), 'replicas') === 0) continue;
      const next = structuredClone(old);
      (objectAt(next, 'spec') ?? {})['replicas'] = 0;
      this.#store.put(REPLICA_SETS, next);
    }
    this.#writeDeploymentStatus(namespace, name, nameOf(current));
  }

  #setAnnotation(deployment: JsonObject, revision: string): void {
    const latest = this.#store.get({ ...DEPLOYMENTS, namespace: stringAt(metadataOf(deployment), 'namespace') ?? '', name: nameOf(deployment) });
    if (latest === undefined) return;
    const metadata = metadataOf(latest);
    metadata['annotations'] = { ...(objectAt(metadata, 'annotations') ?? {}), [REVISION_ANNOTATION]: revision };
    latest['metadata'] = metadata;
    this.#store.put(DEPLOYMENTS, latest);
  }

  #writeDeploymentStatus(namespace: string, name: string, currentName: string): void {
    const deployment = this.#store.get({ ...DEPLOYMENTS, namespace, name });
    if (deployment === undefined) return;
    const owned = this.#store.list(REPLICA_SETS, namespace).filter((candidate) => ownerUid(candidate, 'Deployment') === uidOf(deployment));
    const sum = (key: string): number => owned.reduce((total, replicaSet) => total + (numberAt(objectAt(replicaSet, 'status'), key) ?? 0), 0);
    const current = owned.find((candidate) => nameOf(candidate) === currentName);
    const desired = numberAt(objectAt(deployment, 'spec'), 'replicas') ?? 1;
    const replicas = sum('replicas');
    const updated = numberAt(objectAt(current, 'status'), 'replicas') ?? 0;
    const available = sum('availableReplicas');
    const isComplete = updated === desired && replicas === desired && available === desired;
    const previous = objectAt(deployment, 'status') ?? {};
    const previousConditions = Array.isArray(previous['conditions']) ? previous['conditions'].filter(isJsonObject) : [];
    const now = formatTimestamp(this.#store.now());
    const condition = (type: string, status: string, reason: string, message: string): JsonObject => {
      const before = previousConditions.find((entry) => entry['type'] === type);
      const isSame = before !== undefined && before['status'] === status && before['reason'] === reason;
      return {
        type, status,
        lastUpdateTime: isSame ? (before['lastUpdateTime'] ?? now) : now,
        lastTransitionTime: before !== undefined && before['status'] === status ? (before['lastTransitionTime'] ?? now) : now,
        reason, message,
      };
    };
    const hasMinimum = available >= desired;
    const status = withoutZeros({
      observedGeneration: numberAt(metadataOf(deployment), 'generation') ?? 1,
      replicas,
      updatedReplicas: updated,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, replicas - available),
    }, []);
    status['conditions'] = [
      condition('Available', hasMinimum ? 'True' : 'False', hasMinimum ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', hasMinimum ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.'),
      condition('Progressing', 'True', isComplete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', isComplete ? `ReplicaSet "${currentName}" has successfully progressed.` : `ReplicaSet "${currentName}" is progressing.`),
    ];
    if (JSON.stringify(status) === JSON.stringify(previous)) return;
    deployment['status'] = status;
    this.#store.put(DEPLOYMENTS, deployment);
  }

  #syncReplicaSet(namespace: string, name: string): void {
    const replicaSet = this.#store.get({ ...REPLICA_SETS, namespace, name });
    if (replicaSet === undefined) return;
    const spec = objectAt(replicaSet, 'spec') ?? {};
    const desired = numberAt(spec, 'replicas') ?? 1;
    let pods = this.#store.list(PODS, namespace).filter((pod) => ownerUid(pod, 'ReplicaSet') === uidOf(replicaSet) && isPodActive(pod));
    for (let count = pods.length; count < desired; count += 1) {
      const template = structuredClone(objectAt(spec, 'template') ?? {});
      const pod: JsonObject = {
        metadata: { ...(objectAt(template, 'metadata') ?? {}), name: `${name}-${randomSuffix()}`, namespace, ownerReferences: [ownerReference(replicaSet, 'ReplicaSet')] },
        spec: objectAt(template, 'spec') ?? {},
      };
      prepareForCreate(definitionOf(PODS), pod, this.#defaults);
      pods.push(this.#store.put(PODS, pod));
    }
    // the newest pods go first when scaling down
    const surplus = pods.length - desired;
    if (surplus > 0) {
      const newestFirst = [...pods].sort((a, b) => (stringAt(metadataOf(b), 'creationTimestamp') ?? '').localeCompare(stringAt(metadataOf(a), 'creationTimestamp') ?? ''));
      for (const pod of newestFirst.slice(0, surplus)) this.#store.delete({ ...PODS, namespace, name: nameOf(pod) });
      const removed = new Set(newestFirst.slice(0, surplus).map(uidOf));
      pods = pods.filter((pod) => !removed.has(uidOf(pod)));
    }
    const ready = pods.filter(isPodReady).length;
    const status = withoutZeros({
      replicas: pods.length,
      fullyLabeledReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: numberAt(metadataOf(replicaSet), 'generation') ?? 1,
    }, ['replicas']);
    const latest = this.#store.get({ ...REPLICA_SETS, namespace, name });
    if (latest === undefined || JSON.stringify(objectAt(latest, 'status') ?? {}) === JSON.stringify(status)) return;
    latest['status'] = status;
    this.#store.put(REPLICA_SETS, latest);
  }
}
