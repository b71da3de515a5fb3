// A fixed corpus of real-shaped Kubernetes API responses (deterministic: a seeded generator), so wire
// sizes are comparable across runs and machines.

import { seededRandom as seeded } from './chaos/seeded-random.js';

export interface CorpusItem {
  readonly name: string;
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

function hex(random: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(random() * 16).toString(16);
  return out;
}

function uid(random: () => number): string {
  return `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-a${hex(random, 3)}-${hex(random, 12)}`;
}

const APPS = ['checkout', 'payments', 'catalog', 'search', 'frontend', 'auth', 'orders', 'inventory'];

function timestamp(random: () => number): string {
  const base = Date.parse('2026-10-01T00:00:00Z');
  return new Date(base + Math.floor(random() * 30 * 86_400_000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function pod(random: () => number, index: number): Record<string, unknown> {
  const app = APPS[index % APPS.length]!;
  const hash = hex(random, 10);
  const name = `${app}-${hash}-${hex(random, 5)}`;
  const started = timestamp(random);
  const ip = `10.42.${Math.floor(random() * 250)}.${Math.floor(random() * 250)}`;
  return {
    metadata: {
      name,
      generateName: `${app}-${hash}-`,
      namespace: 'production',
      uid: uid(random),
      resourceVersion: String(100_000 + Math.floor(random() * 900_000)),
      creationTimestamp: started,
      labels: { app, 'pod-template-hash': hash, 'app.kubernetes.io/part-of': 'shop', tier: index % 3 === 0 ? 'backend' : 'web' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': started, 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-${hash}`, uid: uid(random), controller: true, blockOwnerDeletion: true }],
      managedFields: [
        { manager: 'kube-controller-manager', operation: 'Update', apiVersion: 'v1', time: started, fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': {} } } },
        { manager: 'kubelet', operation: 'Update', apiVersion: 'v1', time: started, fieldsType: 'FieldsV1', subresource: 'status', fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:podIP': {} } } },
      ],
    },
    spec: {
      volumes: [{ name: `kube-api-access-${hex(random, 5)}`, projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }], defaultMode: 420 } }],
      containers: [
        {
          name: app,
          image: `registry.example.com/shop/${app}:1.${index % 17}.${index % 5}`,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
          env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
          resources: { limits: { cpu: '500m', memory: '512Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
          livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: app,
      serviceAccount: app,
      nodeName: `node-${Math.floor(random() * 12)}`,
      securityContext: {},
      schedulerName: 'default-scheduler',
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {
      phase: 'Running',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: started })),
      hostIP: `192.168.1.${Math.floor(random() * 250)}`,
      podIP: ip,
      podIPs: [{ ip }],
      startTime: started,
      containerStatuses: [
        {
          name: app,
          state: { running: { startedAt: started } },
          lastState: {},
          ready: true,
          restartCount: Math.floor(random() * 3),
          image: `registry.example.com/shop/${app}:1.${index % 17}.${index % 5}`,
          imageID: `registry.example.com/shop/${app}@sha256:${hex(random, 64)}`,
          containerID: `containerd://${hex(random, 64)}`,
          started: true,
        },
      ],
      qosClass: 'Burstable',
    },
  };
}

function list(kind: string, items: unknown[]): Buffer {
  return Buffer.from(`${JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '987654' }, items })}\n`);
}

export function buildCorpus(): CorpusItem[] {
  const random = seeded(20_261_125);
  const pods = (n: number): Buffer => list('PodList', Array.from({ length: n }, (_, i) => ({ apiVersion: 'v1', kind: 'Pod', ...pod(random, i) })));
  const configMaps = list(
    'ConfigMapList',
    Array.from({ length: 60 }, (_, i) => ({
      metadata: { name: `settings-${i}`, namespace: 'production', uid: uid(random), resourceVersion: String(5000 + i), creationTimestamp: timestamp(random) },
      data: { 'application.yaml': `server:\n  port: 8080\nfeatures:\n${Array.from({ length: 20 }, (_, j) => `  flag${j}: ${random() > 0.5}`).join('\n')}\n` },
    })),
  );
  const events = list(
    'EventList',
    Array.from({ length: 300 }, (_, i) => ({
      metadata: { name: `${APPS[i % APPS.length]}.${hex(random, 16)}`, namespace: 'production', uid: uid(random), resourceVersion: String(70_000 + i) },
      involvedObject: { kind: 'Pod', namespace: 'production', name: `${APPS[i % APPS.length]}-${hex(random, 10)}`, uid: uid(random), apiVersion: 'v1', fieldPath: 'spec.containers{app}' },
      reason: ['Pulled', 'Created', 'Started', 'Killing', 'BackOff', 'Unhealthy'][i % 6],
      message: i % 6 === 5 ? 'Readiness probe failed: HTTP probe failed with statuscode: 503' : 'Container image already present on machine',
      source: { component: 'kubelet', host: `node-${i % 12}` },
      firstTimestamp: timestamp(random),
      lastTimestamp: timestamp(random),
      count: 1 + Math.floor(random() * 20),
      type: i % 6 >= 4 ? 'Warning' : 'Normal',
    })),
  );
  const openapi = Buffer.from(
    JSON.stringify({
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: 'v1.32.0' },
      components: {
        schemas: Object.fromEntries(
          Array.from({ length: 400 }, (_, i) => [
            `io.k8s.api.core.v1.Type${i}`,
            {
              description: `Type${i} is a generated schema used to shape the corpus; it mirrors the verbosity of the real documents.`,
              type: 'object',
              properties: Object.fromEntries(Array.from({ length: 8 }, (_, j) => [`field${j}`, { description: `field${j} holds a value of the schema ${i}.`, type: j % 2 === 0 ? 'string' : 'integer', format: j % 2 === 0 ? undefined : 'int32' }])),
            },
          ]),
        ),
      },
    }),
  );
  const logs = Buffer.from(
    Array.from({ length: 4000 }, (_, i) => `2026-11-25T10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${hex(random, 6)}Z INFO request id=${hex(random, 16)} method=GET path=/api/items/${i % 97} status=200 duration_ms=${Math.floor(random() * 90)}\n`).join(''),
  );
  return [
    { name: 'pods-10', path: '/api/v1/namespaces/production/pods?limit=10', contentType: 'application/json', body: pods(10) },
    { name: 'pods-100', path: '/api/v1/namespaces/production/pods?limit=100', contentType: 'application/json', body: pods(100) },
    { name: 'pods-1000', path: '/api/v1/pods', contentType: 'application/json', body: pods(1000) },
    { name: 'configmaps-60', path: '/api/v1/namespaces/production/configmaps', contentType: 'application/json', body: configMaps },
    { name: 'events-300', path: '/api/v1/namespaces/production/events', contentType: 'application/json', body: events },
    { name: 'openapi', path: '/openapi/v3/api/v1', contentType: 'application/json', body: openapi },
    { name: 'logs-4000-lines', path: '/api/v1/namespaces/production/pods/checkout-0/log', contentType: 'text/plain', body: logs },
  ];
}

/** Served by the corpus server: the events of buildPodWatchEvents(), one chunk each, then the end. */
export const WATCH_PATH = '/api/v1/namespaces/production/pods?watch=true';

/** The fields of a generated pod that its watch events change. */
interface WatchedPod {
  readonly metadata: { resourceVersion: string; readonly managedFields: { time: string }[] };
  readonly status: {
    readonly conditions: { readonly type: string; status: string; lastTransitionTime: string }[];
    readonly containerStatuses: { ready: boolean; restartCount: number; lastState: unknown; containerID: string; state: { running?: { startedAt: string } } }[];
  };
}

/**
 * A watch stream of real-shaped pod events (`kubectl get pods -w` on a busy namespace): ADDED for each pod,
 * then MODIFIED events as pods cycle through readiness and restarts, and a few DELETED, each one JSON line as
 * the API server writes it. Deterministic like the corpus. Returns one Buffer per event.
 */
export function buildPodWatchEvents(count = 400, podCount = 40): Buffer[] {
  const random = seeded(20_261_204);
  const pods = Array.from({ length: podCount }, (_, i) => ({ apiVersion: 'v1', kind: 'Pod', ...pod(random, i) }) as unknown as WatchedPod);
  let resourceVersion = 1_200_000;
  const events: Buffer[] = [];
  const line = (type: string, object: unknown): Buffer => Buffer.from(`${JSON.stringify({ type, object })}\n`);
  for (const object of pods) {
    object.metadata.resourceVersion = String(++resourceVersion);
    events.push(line('ADDED', object));
  }
  while (events.length < count) {
    const object = pods[Math.floor(random() * pods.length)]!;
    const { metadata, status } = object;
    metadata.resourceVersion = String((resourceVersion += 1 + Math.floor(random() * 40)));
    const now = timestamp(random);
    const isReady = random() > 0.4;
    const container = status.containerStatuses[0]!;
    container.ready = isReady;
    if (!isReady && random() > 0.5) {
      container.restartCount += 1;
      container.lastState = { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: container.state.running?.startedAt ?? now, finishedAt: now, containerID: container.containerID } };
      container.containerID = `containerd://${hex(random, 64)}`;
      container.state = { running: { startedAt: now } };
    }
    for (const condition of status.conditions) {
      if (condition.type === 'Ready' || condition.type === 'ContainersReady') {
        condition.status = isReady ? 'True' : 'False';
        condition.lastTransitionTime = now;
      }
    }
    metadata.managedFields[1]!.time = now;
    events.push(line(random() > 0.97 ? 'DELETED' : 'MODIFIED', object));
  }
  return events;
}
