// Host aliases resolved before DNS (like /etc/hosts), so tests can point a service name at a loopback
// server: an aliased name answers with its address and family, any other name goes to DNS.

import test from 'ava';
import type { LookupAddress } from 'node:dns';
import { aliasLookup } from '../../workers/lib/host-aliases.js';

test('no aliases: no lookup, so the system resolver is used as is', (t) => {
  t.is(aliasLookup({}), undefined);
});

test('an aliased name resolves to its address, v4 or v6, single or all', async (t) => {
  const lookup = aliasLookup({ 'web.apps.svc.cluster.local': '127.0.0.1', 'v6.apps.svc.cluster.local': '::1' });
  t.truthy(lookup);
  const one = await new Promise<[string, number]>((resolve, reject) =>
    lookup!('web.apps.svc.cluster.local', {}, (error, address, family) => (error ? reject(error) : resolve([address as string, family as number]))),
  );
  t.deepEqual(one, ['127.0.0.1', 4]);
  const all = await new Promise<LookupAddress[]>((resolve, reject) =>
    lookup!('v6.apps.svc.cluster.local', { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses as unknown as LookupAddress[]))),
  );
  t.deepEqual(all, [{ address: '::1', family: 6 }]);
});

test('a name without an alias goes to DNS (localhost resolves through the system)', async (t) => {
  const lookup = aliasLookup({ 'web.apps.svc.cluster.local': '127.0.0.1' })!;
  const address = await new Promise<string>((resolve, reject) =>
    lookup('localhost', { family: 4 }, (error, resolved) => (error ? reject(error) : resolve(resolved as string))),
  );
  t.is(address, '127.0.0.1');
});
