// Monitoring discovery (CLUSTER.md §3, PROTOCOL.md §6.4): service name order, port rules, Grafana
// credentials, the 5-minute cache on a simulated clock, and that discovery never holds up a heartbeat.
// One fake API server for the file; every case works in its own namespace so cases run concurrently.

import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  MONITORING_CACHE_TTL_MS,
  MonitoringDiscovery,
  monitoringHeartbeatFields,
  type MonitoringInfo,
} from '../../../../src/cluster/monitoring/discovery.js';
import type { KubeClient } from '../../../../src/kube/kube-client.js';
import { kubeClientFromFile } from '../../../helpers/kube-client.js';
import { silentLogger, type Logger } from '../../../../src/log.js';
import { FakeKubeApi, fakeSecret, fakeService } from '../../../helpers/fake-kube-api.js';
import { testClusterFacts } from '../../../helpers/cluster-facts.js';
import { SimulatedClock } from '../../../helpers/simulated-clock.js';

const CALL_TIMEOUT_MS = 2_000;

let kube: FakeKubeApi;
let kubeClient: KubeClient;

test.before(async () => {
  kube = await FakeKubeApi.start();
  kubeClient = await kubeClientFromFile(kube.kubeconfigPath);
});

test.after.always(async () => {
  kubeClient?.close();
  await kube?.close();
});

type Ports = readonly { name?: string; port: number }[];

function addServices(namespace: string, services: Readonly<Record<string, Ports>>): void {
  kube.objects.namespaces.add(namespace);
  for (const [name, ports] of Object.entries(services)) kube.objects.services.set(`${namespace}/${name}`, fakeService(namespace, name, ports));
}

function discoveryFor(namespace: string, options: { clock?: SimulatedClock; release?: string; logger?: Logger } = {}): MonitoringDiscovery {
  kube.objects.namespaces.add(namespace);
  const clock = options.clock ?? new SimulatedClock();
  return new MonitoringDiscovery({
    kube: kubeClient,
    clock,
    callClock: clock,
    logger: options.logger ?? silentLogger(),
    namespace,
    callTimeoutMs: CALL_TIMEOUT_MS,
    ...(options.release === undefined ? {} : { release: options.release }),
  });
}

function readsIn(namespace: string): number {
  return kube.ownObjectReads().filter((request) => request.url.startsWith(`/api/v1/namespaces/${namespace}/`)).length;
}

interface PrometheusCase {
  readonly title: string;
  readonly services: Readonly<Record<string, Ports>>;
  readonly release?: string;
  /** Expected `<service>:<port>`, or undefined when nothing is found. */
  readonly expected: string | undefined;
}

const PROMETHEUS_CASES: readonly PrometheusCase[] = [
  { title: 'nothing installed', services: {}, expected: undefined },
  { title: 'prometheus-server alone', services: { 'prometheus-server': [{ name: 'http', port: 80 }] }, expected: 'prometheus-server:80' },
  {
    title: 'the release service wins over every generic name',
    services: {
      prometheus: [{ name: 'web', port: 9090 }],
      'prometheus-operated': [{ name: 'web', port: 9090 }],
      'prometheus-k8s': [{ name: 'web', port: 9090 }],
      'prometheus-server': [{ name: 'http', port: 80 }],
      'kube-prometheus-stack-prometheus': [{ name: 'http-web', port: 9090 }],
    },
    expected: 'kube-prometheus-stack-prometheus:9090',
  },
  {
    title: 'prometheus-k8s before prometheus-operated before prometheus',
    services: { prometheus: [{ port: 9090 }], 'prometheus-operated': [{ name: 'web', port: 9090 }], 'prometheus-k8s': [{ name: 'web', port: 9091 }] },
    expected: 'prometheus-k8s:9091',
  },
  {
    title: 'prometheus-operated before the bare name',
    services: { prometheus: [{ port: 9090 }], 'prometheus-operated': [{ name: 'web', port: 9095 }] },
    expected: 'prometheus-operated:9095',
  },
  { title: 'the bare release name comes last', services: { 'kube-prometheus-stack': [{ name: 'web', port: 9090 }] }, expected: 'kube-prometheus-stack:9090' },
  {
    title: 'a custom release prefixes the first candidate',
    release: 'mon',
    services: { prometheus: [{ port: 9090 }], 'mon-prometheus': [{ name: 'http-web', port: 9090 }] },
    expected: 'mon-prometheus:9090',
  },
  { title: 'a custom release bare name', release: 'mon', services: { mon: [{ name: 'http', port: 8080 }] }, expected: 'mon:8080' },
  {
    title: 'port http-web before web before http',
    services: { 'prometheus-server': [{ name: 'http', port: 8080 }, { name: 'web', port: 8081 }, { name: 'http-web', port: 8082 }] },
    expected: 'prometheus-server:8082',
  },
  {
    title: 'port web before http',
    services: { 'prometheus-server': [{ name: 'http', port: 8080 }, { name: 'web', port: 8081 }] },
    expected: 'prometheus-server:8081',
  },
  {
    title: 'no known port name: 9090',
    services: { 'prometheus-operated': [{ name: 'grpc', port: 10901 }, { name: 'metrics', port: 9090 }] },
    expected: 'prometheus-operated:9090',
  },
  {
    title: 'no known name and no 9090: the first port',
    services: { 'prometheus-operated': [{ name: 'grpc', port: 10901 }, { name: 'metrics', port: 8080 }] },
    expected: 'prometheus-operated:10901',
  },
];

for (const [index, row] of PROMETHEUS_CASES.entries()) {
  test(`prometheus: ${row.title}`, async (t) => {
    const namespace = `prom-${index}`;
    addServices(namespace, row.services);
    const info = await discoveryFor(namespace, row.release === undefined ? {} : { release: row.release }).refresh();
    if (row.expected === undefined) {
      t.is(info.prometheus, undefined);
      return;
    }
    const [service, port] = row.expected.split(':');
    t.deepEqual(info.prometheus, { url: `http://${service}.${namespace}.svc.cluster.local:${port}`, username: '', password: '', isSsl: false });
  });
}

interface ComponentCase {
  readonly title: string;
  readonly services: Readonly<Record<string, Ports>>;
  readonly secrets?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly expected: MonitoringInfo;
}

// `NS` in expected URLs stands for the case's namespace.
const COMPONENT_CASES: readonly ComponentCase[] = [
  {
    title: 'loki on 3100 among other ports',
    services: { loki: [{ name: 'grpc', port: 9095 }, { name: 'http-metrics', port: 3100 }] },
    expected: { loki: { url: 'http://loki.NS.svc.cluster.local:3100', username: '', password: '', isSsl: false } },
  },
  {
    title: 'loki without 3100 uses the first port',
    services: { loki: [{ name: 'http', port: 8080 }] },
    expected: { loki: { url: 'http://loki.NS.svc.cluster.local:8080', username: '', password: '', isSsl: false } },
  },
  {
    title: 'grafana on service port 80 with the admin secret',
    services: { 'kube-prometheus-stack-grafana': [{ name: 'http-web', port: 80 }] },
    secrets: { 'kube-prometheus-stack-grafana': { 'admin-user': 'admin', 'admin-password': 'real-grafana-password', 'ldap-toml': '' } },
    expected: {
      grafana: { url: 'http://kube-prometheus-stack-grafana.NS.svc.cluster.local:80', username: 'admin', password: 'real-grafana-password', isSsl: false },
    },
  },
  {
    title: 'grafana on 3000 without a secret: no invented credentials',
    services: { 'kube-prometheus-stack-grafana': [{ name: 'service', port: 3000 }] },
    expected: { grafana: { url: 'http://kube-prometheus-stack-grafana.NS.svc.cluster.local:3000', username: '', password: '', isSsl: false } },
  },
  {
    title: 'grafana on neither 3000 nor 80 uses the first port',
    services: { 'kube-prometheus-stack-grafana': [{ name: 'web', port: 8443 }] },
    expected: { grafana: { url: 'http://kube-prometheus-stack-grafana.NS.svc.cluster.local:8443', username: '', password: '', isSsl: false } },
  },
  {
    title: 'a plain "grafana" service is not the release one',
    services: { grafana: [{ port: 3000 }] },
    expected: {},
  },
  {
    title: 'opencost API port 9003 rather than the UI',
    services: { opencost: [{ name: 'http-ui', port: 9090 }, { name: 'http', port: 9003 }] },
    expected: { opencost: { url: 'http://opencost.NS.svc.cluster.local:9003', username: '', password: '', isSsl: false } },
  },
  {
    title: 'the whole stack',
    services: {
      'kube-prometheus-stack-prometheus': [{ name: 'http-web', port: 9090 }, { name: 'reloader-web', port: 8080 }],
      loki: [{ name: 'http-metrics', port: 3100 }],
      'kube-prometheus-stack-grafana': [{ name: 'http-web', port: 80 }],
    },
    secrets: { 'kube-prometheus-stack-grafana': { 'admin-user': 'ops', 'admin-password': 's3cret' } },
    expected: {
      prometheus: { url: 'http://kube-prometheus-stack-prometheus.NS.svc.cluster.local:9090', username: '', password: '', isSsl: false },
      loki: { url: 'http://loki.NS.svc.cluster.local:3100', username: '', password: '', isSsl: false },
      grafana: { url: 'http://kube-prometheus-stack-grafana.NS.svc.cluster.local:80', username: 'ops', password: 's3cret', isSsl: false },
    },
  },
];

for (const [index, row] of COMPONENT_CASES.entries()) {
  test(`components: ${row.title}`, async (t) => {
    const namespace = `comp-${index}`;
    addServices(namespace, row.services);
    for (const [name, data] of Object.entries(row.secrets ?? {})) kube.objects.secrets.set(`${namespace}/${name}`, fakeSecret(namespace, name, data));
    const info = await discoveryFor(namespace).refresh();
    t.deepEqual(info, JSON.parse(JSON.stringify(row.expected).replaceAll('.NS.', `.${namespace}.`)) as MonitoringInfo);
  });
}

test('heartbeat fields: §6.4 keys only for known endpoints; opencost has no ssl key', (t) => {
  t.deepEqual(monitoringHeartbeatFields({}), {});
  t.deepEqual(
    monitoringHeartbeatFields({
      prometheus: { url: 'http://p:9090', username: '', password: '', isSsl: false },
      grafana: { url: 'http://g:80', username: 'admin', password: 'pw', isSsl: false },
      opencost: { url: 'http://o:9003', username: '', password: '', isSsl: false },
    }),
    {
      prometheus_url: 'http://p:9090',
      prometheus_username: '',
      prometheus_password: '',
      prometheus_ssl: false,
      grafana_url: 'http://g:80',
      grafana_username: 'admin',
      grafana_password: 'pw',
      grafana_ssl: false,
      opencost_base_url: 'http://o:9003',
      opencost_username: '',
      opencost_password: '',
    },
  );
});

test('no Kubernetes access: nothing found, nothing asked', async (t) => {
  const discovery = new MonitoringDiscovery({ kube: undefined, clock: new SimulatedClock(), logger: silentLogger() });
  t.deepEqual(await discovery.refresh(), {});
  t.deepEqual(discovery.current(), {});
});

test('a found result is served for 5 minutes, then refreshed beside the reader', async (t) => {
  const namespace = 'cache-found';
  const clock = new SimulatedClock();
  addServices(namespace, { loki: [{ port: 3100 }] });
  const discovery = discoveryFor(namespace, { clock });
  t.deepEqual(discovery.current(), {}, 'the first reader does not wait');
  const first = await discovery.refresh();
  t.is(first.loki?.url, `http://loki.${namespace}.svc.cluster.local:3100`);
  const readsAfterFirst = readsIn(namespace);
  kube.objects.services.delete(`${namespace}/loki`);
  clock.advance(MONITORING_CACHE_TTL_MS - 1);
  t.is(discovery.current(), first);
  t.is(await discovery.refresh(), first);
  t.is(readsIn(namespace), readsAfterFirst, 'no API call within 5 minutes');
  clock.advance(1);
  t.is(discovery.current(), first, 'the stale result is still served while the refresh runs');
  const second = await discovery.refresh();
  t.true(readsIn(namespace) > readsAfterFirst);
  t.deepEqual(second, {});
  t.deepEqual(discovery.current(), {});
});

test('a not-found result is cached for 5 minutes too', async (t) => {
  const namespace = 'cache-missing';
  const clock = new SimulatedClock();
  const discovery = discoveryFor(namespace, { clock });
  t.deepEqual(await discovery.refresh(), {});
  const readsAfterFirst = readsIn(namespace);
  addServices(namespace, { 'prometheus-server': [{ name: 'http', port: 80 }] });
  clock.advance(MONITORING_CACHE_TTL_MS - 1);
  t.deepEqual(discovery.current(), {});
  t.is(readsIn(namespace), readsAfterFirst);
  clock.advance(1);
  discovery.current();
  const refreshed = await discovery.refresh();
  t.is(refreshed.prometheus?.url, `http://prometheus-server.${namespace}.svc.cluster.local:80`);
});

test('concurrent readers share one refresh', async (t) => {
  const namespace = 'single-flight';
  const discovery = discoveryFor(namespace);
  discovery.current();
  discovery.current();
  const refresh = discovery.refresh();
  t.is(discovery.refresh(), refresh);
  await refresh;
  // One list answers every candidate; no Grafana, so no Secret read.
  t.is(readsIn(namespace), 1);
});

test('listing forbidden: each candidate is read by name, and the name order still decides', async (t) => {
  const namespace = 'list-forbidden';
  kube.objects.forbidden.add(`${namespace}/services`);
  addServices(namespace, { prometheus: [{ port: 9090 }], 'prometheus-k8s': [{ name: 'web', port: 9091 }], loki: [{ port: 3100 }] });
  const info = await discoveryFor(namespace).refresh();
  t.is(info.prometheus?.url, `http://prometheus-k8s.${namespace}.svc.cluster.local:9091`);
  t.is(info.loki?.url, `http://loki.${namespace}.svc.cluster.local:3100`);
  // The list, then 6 Prometheus candidates, loki, grafana and opencost.
  t.is(readsIn(namespace), 10);
});

test('a hanging API call never delays the heartbeat; the read is abandoned at its bound and retried after 5 minutes', async (t) => {
  const namespace = 'hanging';
  const clock = new SimulatedClock();
  addServices(namespace, { 'prometheus-server': [{ name: 'http', port: 80 }], loki: [{ port: 3100 }] });
  kube.objects.hanging.add(`${namespace}/services`);
  const discovery = discoveryFor(namespace, { clock });
  const facts = testClusterFacts({ kube: kubeClient, monitoring: discovery });
  const state = { clusterId: 'c-1', clusterUuid: undefined, gatewayUrl: undefined };
  // The simulated clock does not move: the discovery cannot finish, yet the heartbeat is built.
  const first = await facts.heartbeatPayload(state, true);
  t.false('prometheus_url' in first);
  t.false('loki_url' in first);
  let isSettled = false;
  const refresh = discovery.refresh().then((info) => {
    isSettled = true;
    return info;
  });
  await eventuallyPending(clock, CALL_TIMEOUT_MS);
  t.false(isSettled, 'the refresh waits for the hung list');
  clock.advance(CALL_TIMEOUT_MS);
  t.deepEqual(await refresh, {}, 'a timed-out read is not "found"');
  const second = await facts.heartbeatPayload(state, true);
  t.false('prometheus_url' in second);
  t.false('loki_url' in second);
  // The failure is cached like any answer: no new read until 5 minutes have passed.
  const reads = readsIn(namespace);
  discovery.current();
  t.is(readsIn(namespace), reads);
  kube.objects.hanging.delete(`${namespace}/services`);
  clock.advance(MONITORING_CACHE_TTL_MS);
  discovery.current();
  const info = await discovery.refresh();
  t.is(info.prometheus?.url, `http://prometheus-server.${namespace}.svc.cluster.local:80`);
  t.is(info.loki?.url, `http://loki.${namespace}.svc.cluster.local:3100`);
  const third = await facts.heartbeatPayload(state, true);
  t.is(third['prometheus_url'], `http://prometheus-server.${namespace}.svc.cluster.local:80`);
});

test('a failed read keeps the last known endpoint instead of dropping it', async (t) => {
  const namespace = 'keep-on-failure';
  const clock = new SimulatedClock();
  addServices(namespace, { 'kube-prometheus-stack-grafana': [{ port: 80 }] });
  kube.objects.secrets.set(`${namespace}/kube-prometheus-stack-grafana`, fakeSecret(namespace, 'kube-prometheus-stack-grafana', { 'admin-user': 'a', 'admin-password': 'b' }));
  const discovery = discoveryFor(namespace, { clock });
  const found = (await discovery.refresh()).grafana;
  t.is(found?.password, 'b');
  kube.objects.hanging.add(`${namespace}/secrets/kube-prometheus-stack-grafana`);
  clock.advance(MONITORING_CACHE_TTL_MS);
  const secretPath = `/api/v1/namespaces/${namespace}/secrets/kube-prometheus-stack-grafana`;
  const refresh = discovery.refresh();
  await eventuallyPending(clock, CALL_TIMEOUT_MS, () => kube.requests.filter((request) => request.url === secretPath).length === 2);
  clock.advance(CALL_TIMEOUT_MS);
  t.deepEqual((await refresh).grafana, found);
});

test('discovery logs only at debug and never a credential', async (t) => {
  const namespace = 'logging';
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      callback();
    },
  });
  const logger = pino({ level: 'trace' }, sink);
  addServices(namespace, { 'kube-prometheus-stack-grafana': [{ port: 80 }], 'prometheus-server': [{ port: 9090 }] });
  kube.objects.secrets.set(`${namespace}/kube-prometheus-stack-grafana`, fakeSecret(namespace, 'kube-prometheus-stack-grafana', { 'admin-password': 'never-logged-pw' }));
  // Listing forbidden and one read hung: the fallback's failure line is exercised too.
  kube.objects.forbidden.add(`${namespace}/services`);
  kube.objects.hanging.add(`${namespace}/services/loki`);
  const clock = new SimulatedClock();
  const discovery = discoveryFor(namespace, { clock, logger });
  const refresh = discovery.refresh();
  await eventuallyPending(clock, CALL_TIMEOUT_MS, () => kube.requests.some((request) => request.url === `/api/v1/namespaces/${namespace}/services/loki`));
  clock.advance(CALL_TIMEOUT_MS);
  t.is((await refresh).grafana?.password, 'never-logged-pw');
  t.true(lines.length >= 2, 'a failed read and the summary');
  for (const line of lines) {
    t.is((JSON.parse(line) as { level: number }).level, 20, line);
    t.false(line.includes('never-logged-pw'));
  }
});

/**
 * Waits (in real time) until every read but the hung one has been answered, so only its timer is left;
 * `hasReachedHungRead` tells a list still in flight from the hung read that comes after it.
 */
async function eventuallyPending(clock: SimulatedClock, delayMs: number, hasReachedHungRead: () => boolean = () => true): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    if (hasReachedHungRead() && clock.pendingDelays().includes(delayMs) && clock.pendingTimers === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no pending read timer');
}
