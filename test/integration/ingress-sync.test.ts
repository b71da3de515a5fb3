// Gateway proxy acceptance (CLUSTER.md §4, PROTOCOL.md §17.2, §7.6; C92): the agent against the sandbox API
// and the local control plane. Managed Ingresses created, changed and deleted yield exactly the expected
// register/unregister/sync calls; unmanaged ones none; 500s are retried; a reconnect re-syncs; and with
// the option off not a single Ingress request reaches the API.

import test, { type ExecutionContext } from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { JsonObject as StoredObject } from '../../src/local/sandbox-api/store/json-value.js';
import { Agent } from '../../src/agent.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { startControlPlane, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import type { RouteCall } from '../../src/local/control-plane/routes-endpoint.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import type { JsonObject } from '../../src/protocol/envelope.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';
import { SimulatedClock } from '../helpers/simulated-clock.js';

const CLUSTER = 'ingress-e2e';
const TOKEN = 'agent-token-secret';
const INGRESSES = { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' } as const;
const SERVICES = { group: '', version: 'v1', resource: 'services' } as const;

interface Stack {
  readonly sandbox: SandboxApi;
  readonly plane: ControlPlane;
  readonly agent: Agent;
  readonly clock: SimulatedClock;
  /** Paths of every request the sandbox API served. */
  readonly apiPaths: string[];
  /** Change subscribers of the sandbox store before the agent started (its pod runtime has one). */
  readonly baseSubscribers: number;
}

interface StackOptions {
  readonly isEnabled: boolean;
  /** Runs against the sandbox before the agent starts. */
  readonly seed?: (sandbox: SandboxApi) => void;
  /** Route calls the control plane answers 500 before behaving. */
  readonly failNextCalls?: number;
}

/** A pino logger at debug that keeps the `path` of each sandbox request line. */
function requestRecorder(paths: string[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const entry = JSON.parse(line) as { msg?: string; path?: string };
        if (entry.msg === 'request' && typeof entry.path === 'string') paths.push(entry.path);
      }
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

async function startStack(t: ExecutionContext, options: StackOptions): Promise<Stack> {
  const apiPaths: string[] = [];
  const sandbox = await startSandboxApi({ logger: requestRecorder(apiPaths) });
  t.teardown(() => sandbox.close());
  options.seed?.(sandbox);
  const baseSubscribers = sandbox.store.subscriberCount;
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'ingress-sync-')), 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const plane = await startControlPlane({
    agentToken: TOKEN,
    logger: silentLogger(),
    ...(options.failNextCalls === undefined ? {} : { gatewayRoutes: { failNextCalls: options.failNextCalls } }),
  });
  t.teardown(() => plane.close());
  const base = testConfig({ apiUrl: plane.url, kubeconfig, token: TOKEN, clusterName: CLUSTER });
  const clock = new SimulatedClock();
  const agent = await Agent.start({
    // The tunnel (and its Gateway API watches) stays off: these tests count the watches and calls of the ingress sync alone.
    config: { ...base, agent: { ...base.agent, enableIngressSync: options.isEnabled }, tunnel: { ...base.tunnel, enabled: false } },
    logger: silentLogger(),
    clock,
    random: () => 0,
    stateStore: new MemoryStateStore(),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(CLUSTER, 20_000);
  return { sandbox, plane, agent, clock, apiPaths, baseSubscribers };
}

function service(namespace: string, name: string, ports: { name?: string; port: number }[]): StoredObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name }, spec: { type: 'ClusterIP', ports } };
}

interface IngressSpec {
  readonly marks?: 'label' | 'annotation' | 'none';
  readonly rules: readonly { host: string; paths: readonly { path: string; service: string; port: number | string }[] }[];
}

function ingressObject(namespace: string, name: string, spec: IngressSpec): StoredObject {
  const marks = spec.marks ?? 'label';
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      namespace,
      name,
      ...(marks === 'label' ? { labels: { 'pipeops.io/managed': 'true' } } : {}),
      ...(marks === 'annotation' ? { annotations: { 'pipeops.io/managed-by': 'pipeops' } } : {}),
    },
    spec: {
      rules: spec.rules.map((rule) => ({
        host: rule.host,
        http: {
          paths: rule.paths.map((path) => ({
            path: path.path,
            pathType: 'Prefix',
            backend: { service: { name: path.service, port: typeof path.port === 'number' ? { number: path.port } : { name: path.port } } },
          })),
        },
      })),
    },
  };
}

function putIngress(sandbox: SandboxApi, namespace: string, name: string, spec: IngressSpec): void {
  sandbox.store.put(INGRESSES, ingressObject(namespace, name, spec));
}

function seedApps(sandbox: SandboxApi): void {
  sandbox.store.put(SERVICES, service('ingress-nginx', 'ingress-nginx-controller', [{ name: 'http', port: 80 }, { name: 'https', port: 443 }]));
  sandbox.store.put(SERVICES, service('apps', 'web', [{ name: 'http', port: 8080 }]));
  sandbox.store.put(SERVICES, service('apps', 'api', [{ port: 3000 }]));
  putIngress(sandbox, 'apps', 'blog', { rules: [{ host: 'blog.example.com', paths: [{ path: '/', service: 'web', port: 'http' }] }] });
}

/** `kind host path` (paths only for register), the form the expectations are written in. */
function describe(call: RouteCall): string {
  const body = call.body;
  if (call.kind === 'sync') return `sync ${String((body['ingresses'] as unknown[]).length)}`;
  if (call.kind === 'unregister') return `unregister ${String(body['hostname'])}`;
  return `register ${String(body['hostname'])} ${String(body['path'])}`;
}

/** Waits until `count` calls arrived after `from`, and returns them described. */
async function callsAfter(plane: ControlPlane, from: number, count: number): Promise<string[]> {
  await eventually(() => plane.gatewayRoutes.calls().length >= from + count, `${count} route calls after the first ${from}`);
  return plane.gatewayRoutes.calls().slice(from).map(describe);
}

/** Advances the simulated clock by `ms` once a timer of exactly that delay is pending (a retry or reconnect wait). */
async function fireTimer(clock: SimulatedClock, ms: number): Promise<void> {
  await eventually(() => clock.pendingDelays().includes(ms), `a pending ${ms} ms timer`);
  clock.advance(ms);
}

test('created, changed and deleted managed Ingresses produce exactly the expected calls; unmanaged ones none', async (t) => {
  const { sandbox, plane, clock } = await startStack(t, { isEnabled: true, seed: seedApps });
  const clusterUuid = plane.cluster(CLUSTER)!.clusterUuid;

  // Start: one full sync with the Ingress that was already there, targeted at the controller (tunnel).
  t.deepEqual(await callsAfter(plane, 0, 1), ['sync 1']);
  const first = plane.gatewayRoutes.calls()[0]!;
  t.is(first.status, 200);
  t.deepEqual(first.body, {
    cluster_uuid: clusterUuid,
    routing_mode: 'tunnel',
    ingress_controller: { name: 'ingress-nginx-controller', namespace: 'ingress-nginx', port: 80, type: 'nginx' },
    ingresses: [
      {
        namespace: 'apps',
        ingress_name: 'blog',
        rules: [{ host: 'blog.example.com', tls: false, paths: [{ path: '/', path_type: 'Prefix', service_name: 'ingress-nginx-controller', service_port: 80 }] }],
      },
    ],
  });

  putIngress(sandbox, 'apps', 'shop', { rules: [{ host: 'shop.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  t.deepEqual(await callsAfter(plane, 1, 1), ['register shop.example.com /']);
  t.deepEqual(plane.gatewayRoutes.calls()[1]!.body, {
    hostname: 'shop.example.com',
    cluster_uuid: clusterUuid,
    namespace: 'ingress-nginx',
    service_name: 'ingress-nginx-controller',
    service_port: 80,
    ingress_name: 'shop',
    path: '/',
    path_type: 'Prefix',
    tls: false,
    routing_mode: 'tunnel',
  });

  // Unmanaged first, then one managed by annotation: events are handled in order, so the unmanaged one
  // has had its chance to produce a call by the time the second one's register arrives.
  putIngress(sandbox, 'apps', 'legacy', { marks: 'none', rules: [{ host: 'legacy.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  putIngress(sandbox, 'apps', 'docs', { marks: 'annotation', rules: [{ host: 'docs.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  t.deepEqual(await callsAfter(plane, 2, 1), ['register docs.example.com /']);

  // A path added: only the new route is registered.
  putIngress(sandbox, 'apps', 'shop', {
    rules: [{ host: 'shop.example.com', paths: [{ path: '/', service: 'web', port: 8080 }, { path: '/api', service: 'api', port: 3000 }] }],
  });
  t.deepEqual(await callsAfter(plane, 3, 1), ['register shop.example.com /api']);

  // The host renamed: the new host's routes, then the old host goes.
  putIngress(sandbox, 'apps', 'shop', {
    rules: [{ host: 'store.example.com', paths: [{ path: '/', service: 'web', port: 8080 }, { path: '/api', service: 'api', port: 3000 }] }],
  });
  t.deepEqual(await callsAfter(plane, 4, 3), ['register store.example.com /', 'register store.example.com /api', 'unregister shop.example.com']);

  putIngress(sandbox, 'apps', 'store-admin', { rules: [{ host: 'store.example.com', paths: [{ path: '/admin', service: 'web', port: 'http' }] }] });
  t.deepEqual(await callsAfter(plane, 7, 1), ['register store.example.com /admin']);

  // Deleted while another managed Ingress still serves its host: no unregister (it would take /admin too);
  // its paths are dropped by a full sync instead.
  sandbox.store.delete({ ...INGRESSES, namespace: 'apps', name: 'shop' });
  t.deepEqual(await callsAfter(plane, 8, 1), ['sync 3']);

  sandbox.store.delete({ ...INGRESSES, namespace: 'apps', name: 'store-admin' });
  t.deepEqual(await callsAfter(plane, 9, 1), ['unregister store.example.com']);

  // No longer managed counts as deleted; deleting an unmanaged Ingress is nothing.
  putIngress(sandbox, 'apps', 'docs', { marks: 'none', rules: [{ host: 'docs.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  sandbox.store.delete({ ...INGRESSES, namespace: 'apps', name: 'legacy' });
  t.deepEqual(await callsAfter(plane, 10, 1), ['unregister docs.example.com']);

  // Nothing else arrives (a marker Ingress's register is the next call), and all calls were accepted.
  putIngress(sandbox, 'apps', 'marker', { rules: [{ host: 'marker.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  t.deepEqual(await callsAfter(plane, 11, 1), ['register marker.example.com /']);
  t.is(plane.gatewayRoutes.calls().length, 12);
  t.true(plane.gatewayRoutes.calls().every((call) => call.status === 200));

  // What the control plane now holds, and what the heartbeat reports.
  const [routes] = plane.gatewayRoutes.list();
  t.is(routes?.cluster_name, CLUSTER);
  t.deepEqual(routes?.routes.map((route) => `${route.hostname}${route.path}`).sort(), ['blog.example.com/', 'marker.example.com/']);
  clock.advance(30_000);
  await eventually(() => plane.cluster(CLUSTER)?.heartbeats === 2, 'the second heartbeat');
  const metadata = plane.cluster(CLUSTER)!.lastHeartbeat!['metadata'] as JsonObject;
  t.is(metadata['is_private'], true);
  t.is(metadata['gateway_routes'], 2);
});

test('the control plane answering 500 twice then 200: the call is retried 1 s and 2 s later and succeeds', async (t) => {
  const { sandbox, plane, clock } = await startStack(t, { isEnabled: true, seed: seedApps, failNextCalls: 2 });
  await eventually(() => plane.gatewayRoutes.calls().length === 1, 'the first sync attempt');
  await fireTimer(clock, 1_000);
  await eventually(() => plane.gatewayRoutes.calls().length === 2, 'the second sync attempt');
  await fireTimer(clock, 2_000);
  t.deepEqual(await callsAfter(plane, 0, 3), ['sync 1', 'sync 1', 'sync 1']);
  t.deepEqual(
    plane.gatewayRoutes.calls().map((call) => call.status),
    [500, 500, 200],
  );

  // The same for a register.
  plane.gatewayRoutes.failNext(2);
  putIngress(sandbox, 'apps', 'shop', { rules: [{ host: 'shop.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  await eventually(() => plane.gatewayRoutes.calls().length === 4, 'the first register attempt');
  await fireTimer(clock, 1_000);
  await eventually(() => plane.gatewayRoutes.calls().length === 5, 'the second register attempt');
  await fireTimer(clock, 2_000);
  t.deepEqual(await callsAfter(plane, 3, 3), ['register shop.example.com /', 'register shop.example.com /', 'register shop.example.com /']);
  t.deepEqual(
    plane.gatewayRoutes.calls().slice(3).map((call) => call.status),
    [500, 500, 200],
  );
  t.deepEqual(plane.gatewayRoutes.list()[0]?.routes.map((route) => route.hostname).sort(), ['blog.example.com', 'shop.example.com']);
});

test('a reconnect re-syncs the routes (PROTOCOL.md §7.6)', async (t) => {
  const { plane, clock } = await startStack(t, { isEnabled: true, seed: seedApps });
  t.deepEqual(await callsAfter(plane, 0, 1), ['sync 1']);
  plane.dropAgent(CLUSTER);
  // §7.1: the first reconnect waits 0.5 s (no jitter with random() = 0).
  await fireTimer(clock, 500);
  t.deepEqual(await callsAfter(plane, 1, 1), ['sync 1']);
  t.deepEqual(plane.gatewayRoutes.calls()[1]!.body, plane.gatewayRoutes.calls()[0]!.body);
  t.is(plane.cluster(CLUSTER)!.registrations, 1, 'no new register on the reconnect');
});

test('option off: no Ingress is listed or watched, no route call is made, the heartbeat keeps its defaults', async (t) => {
  const { sandbox, plane, agent, apiPaths, baseSubscribers } = await startStack(t, { isEnabled: false, seed: seedApps });
  t.is(agent.ingressSync, undefined);
  await eventually(() => plane.cluster(CLUSTER)?.lastHeartbeat !== undefined, 'the first heartbeat');
  putIngress(sandbox, 'apps', 'shop', { rules: [{ host: 'shop.example.com', paths: [{ path: '/', service: 'web', port: 8080 }] }] });
  // The heartbeat's own reads prove the recorder works; give a (wrongly) running watch time to show up.
  await eventually(() => apiPaths.length > 0, 'the agent read the cluster');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.deepEqual(apiPaths.filter((path) => path.includes('ingresses')), []);
  t.is(sandbox.store.subscriberCount, baseSubscribers, 'no watch is open');
  t.deepEqual(plane.gatewayRoutes.calls(), []);
  const metadata = plane.cluster(CLUSTER)!.lastHeartbeat!['metadata'] as JsonObject;
  t.is(metadata['is_private'], true);
  t.is(metadata['gateway_routes'], 0);
});
