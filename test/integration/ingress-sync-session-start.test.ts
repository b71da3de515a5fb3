// C92 (PROTOCOL.md §17.2): the route sync after a session start carries the managed Ingresses that exist at
// that start, also when the session is up before the Ingress informer has its first list.

import test from 'ava';
import type http from 'node:http';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';
import { FakeControlPlane } from '../helpers/fake-control-plane.js';
import { FakeKubeApi, fakeService } from '../helpers/fake-kube-api.js';
import { SimulatedClock } from '../helpers/simulated-clock.js';

const INGRESS_LIST = '/apis/networking.k8s.io/v1/ingresses';

const SHOP = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { namespace: 'apps', name: 'shop', resourceVersion: '5', labels: { 'pipeops.io/managed': 'true' } },
  spec: { rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } }] } }] },
};

test('C92: a session that starts before the Ingress list is in gets a sync carrying the Ingresses, never an empty one', async (t) => {
  const kube = await FakeKubeApi.start();
  t.teardown(() => kube.close());
  let releaseList: (() => void) | undefined;
  const heldWatches: http.ServerResponse[] = [];
  t.teardown(() => heldWatches.forEach((response) => response.destroy()));
  kube.handler = (request, response) => {
    if (request.url.startsWith(INGRESS_LIST) && request.url.includes('watch=true')) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.flushHeaders();
      heldWatches.push(response);
      return;
    }
    if (request.url.startsWith(INGRESS_LIST)) {
      // The list answers only when the test says so: the session is up first.
      releaseList = () => {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ kind: 'IngressList', apiVersion: 'networking.k8s.io/v1', metadata: { resourceVersion: '7' }, items: [SHOP] }));
      };
      return;
    }
    if (request.url === '/api/v1/namespaces/apps/services/web') {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(fakeService('apps', 'web', [{ name: 'http', port: 8080 }])));
      return;
    }
    if (request.url.startsWith('/api/v1/services')) {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
      return;
    }
    response.writeHead(404, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  };
  const syncs: Record<string, unknown>[] = [];
  const plane = await FakeControlPlane.start({
    requestHandler: (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/api/v1/gateway/routes/sync') syncs.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"success":true}');
      });
    },
  });
  t.teardown(() => plane.close());
  const base = testConfig({ apiUrl: plane.url, kubeconfig: kube.kubeconfigPath });
  const clock = new SimulatedClock();
  const agent = await Agent.start({
    config: { ...base, agent: { ...base.agent, enableIngressSync: true } },
    logger: silentLogger(),
    clock,
    random: () => 0,
    stateStore: new MemoryStateStore(),
  });
  t.teardown(() => agent.stop());
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-92', cluster_uuid: 'uuid-92' });
  await socket.next('heartbeat');
  await eventually(() => releaseList !== undefined, 'the Ingress list requested');
  await agent.ingressSync!.settled();
  t.deepEqual(syncs, [], 'no sync before the Ingresses are known');
  releaseList!();
  await eventually(() => syncs.length >= 1, 'the session-start sync');
  await agent.ingressSync!.settled();
  t.is(syncs.length, 1);
  t.like(syncs[0], { cluster_uuid: 'uuid-92' });
  t.deepEqual(
    (syncs[0]!['ingresses'] as { namespace: string; ingress_name: string }[]).map((ingress) => `${ingress.namespace}/${ingress.ingress_name}`),
    ['apps/shop'],
  );
});
