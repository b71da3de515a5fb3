// Requests routed to in-cluster services (PROTOCOL.md §9.5, §9.6; checklist C43): the service URL, the
// original Host, verbatim query, and the §9.16 texts for invalid routing. The service name resolves to a
// loopback server through a host alias.

import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness } from '../helpers/agent-harness.js';

test('C43: a service request reaches <svc>.<ns>.svc.<domain>:<port> with the original Host; invalid routing gets the §9.16 texts', async (t) => {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((request, response) => {
    seen.push(request);
    request.resume();
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.end('from the service');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const { plane, kube } = await startHarness(t, { workerTuning: { hostAliases: { 'web.apps.svc.cluster.local': '127.0.0.1' } } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({
    type: 'proxy_request',
    request_id: 'svc',
    payload: { method: 'GET', path: '/items', query: 'b=2&a=%2F', service_name: 'web', namespace: 'apps', service_port: port, headers: { Host: 'shop.example.com', 'Accept-Encoding': 'gzip' } },
  });
  const response = await socket.next('proxy_response');
  t.is(response.payload['status'], 200);
  t.is(Buffer.from(response.payload['body'] as string, 'base64').toString(), 'from the service');
  t.is(seen[0]!.url, '/items?b=2&a=%2F');
  t.is(seen[0]!.headers.host, 'shop.example.com');
  t.is(seen[0]!.headers['accept-encoding'], 'gzip', 'Accept-Encoding is removed only towards the Kubernetes API');
  t.is(kube.proxied().length, 0);
  const invalid: [Record<string, unknown>, string][] = [
    [{ service_name: 'Web_1', namespace: 'apps', service_port: port }, 'invalid service name: Web_1'],
    [{ service_name: 'web', namespace: '-apps', service_port: port }, 'invalid namespace: -apps'],
    [{ service_name: 'web', namespace: 'apps', service_port: 70000 }, 'invalid service port: 70000'],
    [{ service_name: 'web', namespace: 'apps', service_port: port, path: '/a/../b' }, 'invalid path: /a/../b'],
    [{ service_name: 'web', namespace: 'apps', service_port: port, query: 'a=%zz' }, 'invalid query string: a=%zz'],
  ];
  for (const [index, [fields, text]] of invalid.entries()) {
    socket.send({ type: 'proxy_request', request_id: `bad-${index}`, payload: { method: 'GET', path: '/x', ...fields } });
    const error = await socket.next('proxy_error', 15_000, (m) => m.request_id === `bad-${index}`);
    t.deepEqual(error.payload, { error: text });
  }
  t.is(seen.length, 1);
});
