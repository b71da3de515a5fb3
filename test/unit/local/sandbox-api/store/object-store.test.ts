// The sandbox object store: one global resourceVersion counter, sorted lists, canonical key order and
// the change feed (with history) that watches read.

import test from 'ava';
import { ChangeType, ObjectStore, type StoreChange } from '../../../../../src/local/sandbox-api/store/object-store.js';

const CONFIG_MAPS = { group: '', version: 'v1', resource: 'configmaps' } as const;
const NOW_MS = Date.parse('2025-01-02T03:04:05.678Z');

test('put stamps identity, a growing resourceVersion and the apiserver key order', (t) => {
  const store = new ObjectStore({ now: () => NOW_MS });
  const first = store.put(CONFIG_MAPS, { data: { b: '2', a: '1' }, metadata: { namespace: 'ns', name: 'one', labels: { z: '1', y: '2' } } });
  t.deepEqual(Object.keys(first), ['kind', 'apiVersion', 'metadata', 'data']);
  t.deepEqual(Object.keys(first['metadata'] as object), ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'labels']);
  t.deepEqual(Object.keys(first['data'] as object), ['a', 'b']);
  t.is((first['metadata'] as Record<string, unknown>)['creationTimestamp'], '2025-01-02T03:04:05Z');
  t.is((first['metadata'] as Record<string, unknown>)['resourceVersion'], '1');
  const second = store.put(CONFIG_MAPS, { metadata: { namespace: 'ns', name: 'one' }, data: {} });
  t.is((second['metadata'] as Record<string, unknown>)['resourceVersion'], '2');
  t.is(store.resourceVersion, '2');
});

test('lists sort by namespace then name and serialise identically for the same state', (t) => {
  const build = (order: readonly string[]): string => {
    const store = new ObjectStore({ now: () => NOW_MS });
    for (const id of order) {
      const [namespace = '', name = ''] = id.split('/');
      store.put(CONFIG_MAPS, { metadata: { namespace, name, uid: `uid-${id}` }, data: { id } });
    }
    return JSON.stringify(store.list(CONFIG_MAPS).map((item) => ({ ...item, metadata: { ...(item['metadata'] as object), resourceVersion: '' } })));
  };
  const store = new ObjectStore();
  for (const id of ['b/x', 'a/y', 'a/x']) {
    const [namespace = '', name = ''] = id.split('/');
    store.put(CONFIG_MAPS, { metadata: { namespace, name } });
  }
  t.deepEqual(store.list(CONFIG_MAPS).map((item) => (item['metadata'] as { name: string; namespace: string }).namespace + '/' + (item['metadata'] as { name: string }).name), ['a/x', 'a/y', 'b/x']);
  t.deepEqual(store.list(CONFIG_MAPS, 'a').length, 2);
  t.is(build(['b/x', 'a/y', 'a/x']), build(['a/x', 'b/x', 'a/y']));
});

test('the change feed reports ADDED, MODIFIED and DELETED with their resourceVersions, and replays history', (t) => {
  const store = new ObjectStore({ historyLimit: 2 });
  const seen: StoreChange[] = [];
  const unsubscribe = store.onChange((change) => seen.push(change));
  t.is(store.subscriberCount, 1);
  store.put(CONFIG_MAPS, { metadata: { namespace: 'ns', name: 'c' } });
  store.put(CONFIG_MAPS, { metadata: { namespace: 'ns', name: 'c' }, data: { a: '1' } });
  const deleted = store.delete({ ...CONFIG_MAPS, namespace: 'ns', name: 'c' });
  t.deepEqual(seen.map((change) => [change.type, change.resourceVersion]), [
    [ChangeType.added, 1],
    [ChangeType.modified, 2],
    [ChangeType.deleted, 3],
  ]);
  t.is((deleted?.['metadata'] as Record<string, unknown>)['resourceVersion'], '3');
  t.is(store.get({ ...CONFIG_MAPS, namespace: 'ns', name: 'c' }), undefined);
  t.deepEqual(store.changesSince(1)?.map((change) => change.type), [ChangeType.modified, ChangeType.deleted]);
  t.is(store.changesSince(0), undefined, 'history of 2 no longer reaches revision 1');
  t.deepEqual(store.changesSince(3), []);
  unsubscribe();
  t.is(store.subscriberCount, 0);
});
