// Requests routed to an in-cluster service (§9.5, §9.6, §9.16): the checks on name, namespace, port, path
// and query, the service URL, the cluster domain from the resolver, and the router's routed service.

import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectClusterDomain, serviceCallError, serviceOrigin, withRoutedService } from '../../workers/lib/service-target.js';
import type { ProxyRequest } from '../../workers/lib/proxy-request.js';

const WEB = { name: 'web', namespace: 'apps', port: 8080, isHttps: false } as const;

test('a valid service call has no error', (t) => {
  t.is(serviceCallError(WEB, '/healthz', 'a=1&b=%20x'), undefined);
  t.is(serviceCallError({ ...WEB, name: 'a'.repeat(63), port: 65_535 }, '/', ''), undefined);
});

test('invalid names, namespaces and ports are refused with their §9.16 text', (t) => {
  t.is(serviceCallError({ ...WEB, name: 'Web' }, '/', ''), 'invalid service name: Web');
  t.is(serviceCallError({ ...WEB, name: '-web' }, '/', ''), 'invalid service name: -web');
  t.is(serviceCallError({ ...WEB, name: '' }, '/', ''), 'invalid service name: ');
  t.is(serviceCallError({ ...WEB, namespace: 'apps.x' }, '/', ''), 'invalid namespace: apps.x');
  t.is(serviceCallError({ ...WEB, port: 0 }, '/', ''), 'invalid service port: 0');
  t.is(serviceCallError({ ...WEB, port: 65_536 }, '/', ''), 'invalid service port: 65536');
  t.is(serviceCallError({ ...WEB, port: 80.5 }, '/', ''), 'invalid service port: 80.5');
});

test('paths must be absolute, without .. or a scheme; queries without #, whitespace, controls or bare %', (t) => {
  for (const path of ['healthz', '/a/../b', '/x?u=http://evil']) t.is(serviceCallError(WEB, path, ''), `invalid path: ${path}`);
  for (const query of ['a#b', 'a b', 'a\tb', 'a\u0000', 'a\u007f', 'a=%', 'a=%zz', 'a=%2']) {
    t.is(serviceCallError(WEB, '/', query), `invalid query string: ${query}`, JSON.stringify(query));
  }
});

test('the service URL: scheme by isHttps, name.namespace.svc.<domain>:port', (t) => {
  t.is(serviceOrigin(WEB, 'cluster.local').href, 'http://web.apps.svc.cluster.local:8080/');
  t.is(serviceOrigin({ ...WEB, isHttps: true, port: 443 }, 'corp.example').origin, 'https://web.apps.svc.corp.example');
});

test('the routed service fills a request that named none, over plain HTTP; a named service wins', (t) => {
  const request = { method: 'GET', path: '/', service: undefined, hasPartialService: true } as unknown as ProxyRequest;
  const routed = withRoutedService(request, { name: 'ingress-nginx', namespace: 'ingress', port: 80 });
  t.deepEqual(routed.service, { name: 'ingress-nginx', namespace: 'ingress', port: 80, isHttps: false });
  t.false(routed.hasPartialService);
  t.is(withRoutedService(request, undefined), request);
  const named = { ...request, service: WEB } as ProxyRequest;
  t.is(withRoutedService(named, { name: 'other', namespace: 'x', port: 1 }), named);
});

test('the cluster domain comes from the resolver\'s svc.<domain> search entry, read once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'service-target-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const resolvConf = join(dir, 'resolv.conf');
  await writeFile(resolvConf, 'nameserver 10.0.0.10\nsearch apps.svc.corp.example. svc.corp.example. corp.example\noptions ndots:5\n');
  t.is(detectClusterDomain(resolvConf), 'corp.example');
  t.is(detectClusterDomain(join(dir, 'missing')), 'corp.example', 'cached for the thread');
});
