// The ingress sync's decisions (CLUSTER.md §4) with a scripted Ingress source, Service reader and route
// client on a simulated clock: when full syncs happen, tombstones, shared hosts, failed calls retried at
// the resync, controller changes, and the §9.5 route cache.

import test from 'ava';
import type { V1Ingress, V1Service } from '@kubernetes/client-node';
import { silentLogger } from '../../../../src/log.js';
import type { RegisterRouteBody, SyncRoutesBody } from '../../../../src/cluster/ingress/gateway-route-bodies.js';
import type { RoutesClient } from '../../../../src/cluster/ingress/gateway-routes-client.js';
import type { ServiceReader } from '../../../../src/cluster/ingress/controller.js';
import { FULL_SYNC_INTERVAL_MS, IngressSync, RESYNC_INTERVAL_MS } from '../../../../src/cluster/ingress/sync.js';
import type { IngressEvents, IngressSource } from '../../../../src/cluster/ingress/watch.js';
import { SimulatedClock } from '../../../helpers/simulated-clock.js';

class ScriptedSource implements IngressSource {
  readonly objects = new Map<string, V1Ingress>();
  #events: IngressEvents | undefined;

  start(events: IngressEvents): void {
    this.#events = events;
  }

  list(): readonly V1Ingress[] {
    return [...this.objects.values()];
  }

  async stop(): Promise<void> {}

  put(ingress: V1Ingress): void {
    this.objects.set(`${ingress.metadata?.namespace}/${ingress.metadata?.name}`, ingress);
    this.#events?.onUpsert(ingress);
  }

  /** Deletes by key and hands the sync `tombstone` (which may differ from what was stored). */
  remove(tombstone: V1Ingress): void {
    this.objects.delete(`${tombstone.metadata?.namespace}/${tombstone.metadata?.name}`);
    this.#events?.onDelete(tombstone);
  }

  listed(): void {
    this.#events?.onInitialList();
  }
}

class ScriptedServices implements ServiceReader {
  readonly services = new Map<string, V1Service>();

  async read(namespace: string, name: string): Promise<V1Service | undefined> {
    return this.services.get(`${namespace}/${name}`);
  }

  async list(): Promise<V1Service[]> {
    return [];
  }
}

type Call = { kind: 'register'; body: RegisterRouteBody } | { kind: 'unregister'; hostname: string } | { kind: 'sync'; body: SyncRoutesBody };

class RecordingClient implements RoutesClient {
  readonly calls: Call[] = [];
  /** Outcomes for the next calls (true when empty). */
  readonly outcomes: boolean[] = [];

  async register(body: RegisterRouteBody): Promise<boolean> {
    this.calls.push({ kind: 'register', body });
    return this.outcomes.shift() ?? true;
  }

  async unregister(hostname: string): Promise<boolean> {
    this.calls.push({ kind: 'unregister', hostname });
    return this.outcomes.shift() ?? true;
  }

  async sync(body: SyncRoutesBody): Promise<boolean> {
    this.calls.push({ kind: 'sync', body });
    return this.outcomes.shift() ?? true;
  }

  close(): void {}

  described(): string[] {
    return this.calls.map((call) => {
      if (call.kind === 'sync') return `sync ${call.body.ingresses.map((ingress) => ingress.ingress_name).join(',')}`;
      if (call.kind === 'unregister') return `unregister ${call.hostname}`;
      return `register ${call.body.hostname}${call.body.path}`;
    });
  }
}

function ingress(name: string, hosts: readonly string[], paths: readonly string[] = ['/']): V1Ingress {
  return {
    metadata: { namespace: 'apps', name, labels: { 'pipeops.io/managed': 'true' } },
    spec: {
      rules: hosts.map((host) => ({
        host,
        http: { paths: paths.map((path) => ({ path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } })) },
      })),
    },
  };
}

interface Rig {
  readonly sync: IngressSync;
  readonly source: ScriptedSource;
  readonly services: ScriptedServices;
  readonly client: RecordingClient;
  readonly clock: SimulatedClock;
  clusterUuid: string | undefined;
}

/** With `isRegistered` false the cluster uuid is unknown until the test sets it. */
function rig(isRegistered = true): Rig {
  const source = new ScriptedSource();
  const services = new ScriptedServices();
  services.services.set('apps/web', { metadata: { namespace: 'apps', name: 'web' }, spec: { type: 'ClusterIP', ports: [{ port: 8080 }] } });
  const client = new RecordingClient();
  const clock = new SimulatedClock();
  const state: Rig = {
    source,
    services,
    client,
    clock,
    clusterUuid: isRegistered ? 'uuid-1' : undefined,
    sync: new IngressSync({ source, services, client, clusterUuid: () => state.clusterUuid, clock, logger: silentLogger() }),
  };
  state.sync.start();
  return state;
}

test('the first sync waits for the Ingress list and the cluster uuid, then runs once', async (t) => {
  const state = rig(false);
  const { sync, source, client } = state;
  source.put(ingress('shop', ['shop.example.com']));
  sync.onSessionStart();
  await sync.settled();
  t.deepEqual(client.described(), [], 'nothing before the list');
  source.listed();
  await sync.settled();
  t.deepEqual(client.described(), [], 'nothing before the cluster uuid');
  state.clusterUuid = 'uuid-1';
  sync.onSessionStart();
  await sync.settled();
  t.deepEqual(client.described(), ['sync shop']);
  t.is(sync.routeCount, 1);
});

test('a delete unregisters what was advertised for that Ingress, whatever the tombstone says', async (t) => {
  const { sync, source, client } = rig();
  source.put(ingress('shop', ['shop.example.com']));
  source.listed();
  await sync.settled();
  // A stale final state that names another host (the real last update was missed).
  source.remove(ingress('shop', ['other.example.com']));
  await sync.settled();
  t.deepEqual(client.described(), ['sync shop', 'unregister shop.example.com']);
  t.is(sync.routeCount, 0);
});

test('a host another managed Ingress still serves is not unregistered; a full sync drops the paths instead', async (t) => {
  const { sync, source, client } = rig();
  source.put(ingress('a', ['shared.example.com'], ['/a']));
  source.put(ingress('b', ['shared.example.com'], ['/b']));
  source.listed();
  await sync.settled();
  source.remove(ingress('a', ['shared.example.com'], ['/a']));
  await sync.settled();
  t.deepEqual(client.described(), ['sync a,b', 'sync b']);
  source.remove(ingress('b', ['shared.example.com'], ['/b']));
  await sync.settled();
  t.deepEqual(client.described().slice(2), ['unregister shared.example.com']);
});

test('a register that failed is sent again at the 5-minute resync; an unchanged cluster makes no call', async (t) => {
  const { sync, source, client, clock } = rig();
  source.listed();
  await sync.settled();
  client.outcomes.push(false);
  source.put(ingress('shop', ['shop.example.com']));
  await sync.settled();
  clock.advance(RESYNC_INTERVAL_MS);
  await sync.settled();
  t.deepEqual(client.described(), ['sync ', 'register shop.example.com/', 'register shop.example.com/']);
  clock.advance(RESYNC_INTERVAL_MS);
  await sync.settled();
  t.is(client.calls.length, 3);
});

test('a failed full sync is retried at the next resync; every 4 hours a full sync runs', async (t) => {
  const { sync, source, client, clock } = rig();
  source.put(ingress('shop', ['shop.example.com']));
  client.outcomes.push(false);
  source.listed();
  await sync.settled();
  clock.advance(RESYNC_INTERVAL_MS);
  await sync.settled();
  t.deepEqual(client.described(), ['sync shop', 'sync shop']);
  // Up to just before the 4-hour mark nothing changes, so nothing is sent; at the mark one sync.
  clock.advance(FULL_SYNC_INTERVAL_MS - RESYNC_INTERVAL_MS - 1);
  await sync.settled();
  t.is(client.calls.length, 2);
  clock.advance(1);
  await sync.settled();
  t.deepEqual(client.described().slice(2), ['sync shop']);
});

test('a controller that becomes public switches every route to direct with one sync, and is_private follows', async (t) => {
  const { sync, source, services, client, clock } = rig();
  const controller: V1Service = {
    metadata: { namespace: 'ingress-nginx', name: 'ingress-nginx-controller' },
    spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] },
  };
  services.services.set('ingress-nginx/ingress-nginx-controller', controller);
  source.put(ingress('shop', ['shop.example.com']));
  source.listed();
  await sync.settled();
  t.true(sync.isPrivate);
  t.is((client.calls[0] as { body: SyncRoutesBody }).body.routing_mode, 'tunnel');
  services.services.set('ingress-nginx/ingress-nginx-controller', { ...controller, status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } });
  clock.advance(RESYNC_INTERVAL_MS);
  await sync.settled();
  t.false(sync.isPrivate);
  const second = client.calls[1] as { kind: string; body: SyncRoutesBody };
  t.is(second.kind, 'sync');
  t.like(second.body, { routing_mode: 'direct', public_endpoint: '203.0.113.7:443' });
  t.is(client.calls.length, 2);
});

test('the route cache answers host lookups exactly, then without the port, with the controller as target', async (t) => {
  const { sync, source, services } = rig();
  services.services.set('kube-system/traefik', {
    metadata: { namespace: 'kube-system', name: 'traefik' },
    spec: { type: 'ClusterIP', ports: [{ name: 'web', port: 80 }] },
  });
  source.put(ingress('shop', ['shop.example.com']));
  source.listed();
  await sync.settled();
  t.is(sync.routes.lookup('shop.example.com')?.serviceName, 'web');
  t.is(sync.routes.lookup('Shop.Example.com:8443')?.ingressName, 'shop');
  t.is(sync.routes.lookup('other.example.com'), undefined);
  t.deepEqual(sync.routes.target('shop.example.com:80'), { namespace: 'kube-system', serviceName: 'traefik', servicePort: 80 });
});
