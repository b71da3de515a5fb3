// The autoscaling/v1 Scale view of a Deployment (GET/PUT/PATCH .../deployments/<name>/scale): what
// `kubectl scale` reads and writes. Writing a Scale changes only spec.replicas of the deployment.

import { ensureObject, numberAt, objectAt, stringAt, type JsonObject } from '../store/json-value.js';

function selectorString(selector: JsonObject | undefined): string {
  const matchLabels = objectAt(selector, 'matchLabels') ?? {};
  return Object.keys(matchLabels)
    .sort()
    .map((key) => `${key}=${String(matchLabels[key])}`)
    .join(',');
}

export function scaleOf(deployment: JsonObject): JsonObject {
  const metadata = objectAt(deployment, 'metadata') ?? {};
  const scaleMetadata: JsonObject = {};
  for (const key of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'] as const) {
    const value = metadata[key];
    if (value !== undefined) scaleMetadata[key] = value;
  }
  const status: JsonObject = { replicas: numberAt(objectAt(deployment, 'status'), 'replicas') ?? 0 };
  const selector = selectorString(objectAt(objectAt(deployment, 'spec'), 'selector'));
  if (selector !== '') status['selector'] = selector;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: scaleMetadata,
    spec: { replicas: numberAt(objectAt(deployment, 'spec'), 'replicas') ?? 0 },
    status,
  };
}

/** The deployment with the Scale's spec.replicas applied, and the Scale's resourceVersion as a precondition. */
export function applyScale(deployment: JsonObject, scale: JsonObject): JsonObject {
  const next = structuredClone(deployment);
  ensureObject(next, 'spec')['replicas'] = numberAt(objectAt(scale, 'spec'), 'replicas') ?? 0;
  const resourceVersion = stringAt(objectAt(scale, 'metadata'), 'resourceVersion');
  const metadata = ensureObject(next, 'metadata');
  if (resourceVersion === undefined) delete metadata['resourceVersion'];
  else metadata['resourceVersion'] = resourceVersion;
  return next;
}
