// HTTP relay through the agent, buffered mode (PROTOCOL.md §9), with inline actors and with a pool.

import test from 'ava';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { FakeControlPlane } from '../helpers/fake-control-plane.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';

for (const workers of [0, 2]) {
  test(`C36 C42 C45 C46 C47: GET is relayed with the control plane's Authorization (workers=${workers})`, async (t) => {
    const kube = await FakeKubeApi.start();
    t.teardown(() => kube.close());
    kube.handler = (request, response) => {
      if (request.url.startsWith('/api/v1/namespaces/default/pods')) {
        response.writeHead(404, { 'Content-Type': 'application/json', 'audit-id': 'a1', Connection: 'keep-alive', 'X-Multi': ['1', '2'] });
        response.end('{"kind":"Status","code":404}');
        return;
      }
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end('{}');
    };
    const plane = await FakeControlPlane.start();
    t.teardown(() => plane.close());
    const agent = await Agent.start({ config: testConfig({ apiUrl: plane.url, kubeconfig: kube.kubeconfigPath, workers }), logger: silentLogger() });
    t.teardown(() => agent.stop());
    const socket = await plane.nextSocket();
    await socket.acceptRegistration();
    socket.send({
      type: 'proxy_request',
      request_id: 'r-1',
      payload: {
        method: 'get',
        path: '/api/v1/namespaces/default/pods/web',
        query: 'pretty=true&a=%2F',
        headers: { Authorization: ['Bearer cp-identity'], 'Accept-Encoding': 'gzip', Connection: 'close' },
      },
    });
    const response = await socket.next('proxy_response');
    t.is(response.request_id, 'r-1');
    t.is(response.payload['status'], 404);
    t.deepEqual(response.payload['headers'], {
      'Content-Type': ['application/json'],
      'Audit-Id': ['a1'],
      'X-Multi': ['1', '2'],
      Date: (response.payload['headers'] as Record<string, string[]>)['Date'],
    }); // chunked upstream: Transfer-Encoding and Connection are hop-by-hop and removed
    t.is(response.payload['encoding'], 'base64');
    t.is(Buffer.from(response.payload['body'] as string, 'base64').toString(), '{"kind":"Status","code":404}');
    const upstream = kube.proxied().find((request) => request.url.startsWith('/api/v1/namespaces/default/pods/web'));
    t.truthy(upstream);
    t.is(upstream!.method, 'GET');
    t.is(upstream!.url, '/api/v1/namespaces/default/pods/web?pretty=true&a=%2F');
    t.is(upstream!.headers.authorization, 'Bearer cp-identity');
    t.is(upstream!.headers['accept-encoding'], undefined);
    t.not(upstream!.headers.connection, 'close');
    await eventually(() => agent.router.activeRequests === 0, 'the actor reports done');
    // the pool's task ends just after the actor posted its terminal message: both counts reach zero
    await eventually(() => agent.host.activeActors === 0, 'the actor task ends');
  });
}

test('C37: base64, literal and object bodies reach the API server byte for byte', async (t) => {
  const kube = await FakeKubeApi.start();
  t.teardown(() => kube.close());
  kube.handler = (request, response) => {
    response.writeHead(201, { 'Content-Type': 'application/octet-stream' });
    response.end(request.body);
  };
  const plane = await FakeControlPlane.start();
  t.teardown(() => plane.close());
  const agent = await Agent.start({ config: testConfig({ apiUrl: plane.url, kubeconfig: kube.kubeconfigPath }), logger: silentLogger() });
  t.teardown(() => agent.stop());
  const socket = await plane.nextSocket();
  await socket.acceptRegistration();
  const binary = Buffer.from([0, 1, 2, 250, 255]);
  socket.send({ type: 'proxy_request', request_id: 'b64', payload: { method: 'POST', path: '/api/v1/x', body: binary.toString('base64'), body_encoding: 'BASE64' } });
  socket.send({ type: 'proxy_request', request_id: 'lit', payload: { method: 'POST', path: '/api/v1/x', body: 'aGk=' } });
  socket.send({ type: 'proxy_request', request_id: 'obj', payload: { method: 'POST', path: '/api/v1/x', body: { a: [1, 'b'] } } });
  const byId = new Map<string, Buffer>();
  for (let i = 0; i < 3; i++) {
    const response = await socket.next('proxy_response');
    byId.set(response.request_id!, Buffer.from(response.payload['body'] as string, 'base64'));
  }
  t.deepEqual(byId.get('b64'), binary);
  t.is(byId.get('lit')!.toString(), 'aGk=');
  t.deepEqual(JSON.parse(byId.get('obj')!.toString()), { a: [1, 'b'] });
  const posted = kube.proxied().filter((request) => request.method === 'POST');
  t.is(posted.length, 3);
  for (const request of posted) t.is(request.headers['content-length'], String(request.body.length));
});
