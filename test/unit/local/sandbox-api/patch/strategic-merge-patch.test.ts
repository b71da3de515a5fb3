// Strategic merge patch as the apiserver applies it: map merge, null deletion, keyed list merge,
// $patch directives, $setElementOrder, $retainKeys and $deleteFromPrimitiveList.

import test from 'ava';
import type { JsonObject } from '../../../../../src/local/sandbox-api/store/json-value.js';
import { patchSchemaFor } from '../../../../../src/local/sandbox-api/patch/patch-meta.js';
import { PatchError, PatchFailure, strategicMergePatch } from '../../../../../src/local/sandbox-api/patch/strategic-merge-patch.js';

const POD = patchSchemaFor('Pod');
const DEPLOYMENT = patchSchemaFor('Deployment');

function pod(containers: JsonObject[], extra: JsonObject = {}): JsonObject {
  return { metadata: { name: 'p' }, spec: { containers, ...extra } };
}

test('merges maps recursively and deletes keys set to null', (t) => {
  const original = { metadata: { name: 'c', labels: { a: '1', b: '2' } }, data: { x: '1', y: '2' } };
  const patched = strategicMergePatch(original, { metadata: { labels: { b: null, c: '3' } }, data: { y: '9' } }, patchSchemaFor('ConfigMap'));
  t.deepEqual(patched, { metadata: { name: 'c', labels: { a: '1', c: '3' } }, data: { x: '1', y: '9' } });
  t.deepEqual(original.metadata.labels, { a: '1', b: '2' }, 'the original is not modified');
});

test('merges containers by name, ports by containerPort and env by name', (t) => {
  // without $setElementOrder a patch-only item (port 443) lands before the live items (mergeSortedSlice)
  const original = pod([
    { name: 'a', image: 'a:1', ports: [{ containerPort: 80 }], env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] },
    { name: 'b', image: 'b:1' },
  ]);
  const patch = { spec: { containers: [{ name: 'a', image: 'a:2', ports: [{ containerPort: 443 }], env: [{ name: 'Y', value: '3' }] }] } };
  t.deepEqual(strategicMergePatch(original, patch, POD), pod([
    {
      name: 'a',
      image: 'a:2',
      ports: [{ containerPort: 443 }, { containerPort: 80 }],
      env: [{ name: 'X', value: '1' }, { name: 'Y', value: '3' }],
    },
    { name: 'b', image: 'b:1' },
  ]));
});

test('a list without a merge strategy is replaced', (t) => {
  const original = pod([{ name: 'a', args: ['one', 'two'] }]);
  const patched = strategicMergePatch(original, { spec: { containers: [{ name: 'a', args: ['three'] }] } }, POD);
  t.deepEqual(patched, pod([{ name: 'a', args: ['three'] }]));
});

test('$patch: delete removes a keyed list element and $patch: replace replaces the list', (t) => {
  const original = pod([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  t.deepEqual(strategicMergePatch(original, { spec: { containers: [{ name: 'b', $patch: 'delete' }] } }, POD), pod([{ name: 'a' }, { name: 'c' }]));
  t.deepEqual(
    strategicMergePatch(original, { spec: { containers: [{ name: 'z' }, { $patch: 'replace' }] } }, POD),
    pod([{ name: 'z' }]),
  );
  t.deepEqual(strategicMergePatch(original, { spec: { $patch: 'replace', containers: [{ name: 'q' }] } }, POD), pod([{ name: 'q' }]));
  t.deepEqual(strategicMergePatch(original, { spec: { $patch: 'delete' } }, POD), { metadata: { name: 'p' }, spec: {} });
});

test('$setElementOrder orders the merged list: setElementOrder, then live order for server-only items', (t) => {
  const original = pod([{ name: 'a', image: '1' }, { name: 'b', image: '1' }, { name: 'c', image: '1' }]);
  const patch = {
    spec: {
      '$setElementOrder/containers': [{ name: 'c' }, { name: 'new' }, { name: 'a' }],
      containers: [{ name: 'new', image: '2' }, { name: 'a', image: '2' }],
    },
  };
  // b is not in the order list: it stays before c, the item that followed it in the live list
  t.deepEqual(
    strategicMergePatch(original, patch, POD),
    pod([{ name: 'b', image: '1' }, { name: 'c', image: '1' }, { name: 'new', image: '2' }, { name: 'a', image: '2' }]),
  );
  const reorderOnly = { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'b' }, { name: 'a' }] } };
  t.deepEqual(strategicMergePatch(original, reorderOnly, POD), pod([{ name: 'c', image: '1' }, { name: 'b', image: '1' }, { name: 'a', image: '1' }]));
});

test('a new keyed item without $setElementOrder goes before server-only items, as the apiserver orders it', (t) => {
  const original = pod([{ name: 'a' }, { name: 'b' }]);
  t.deepEqual(strategicMergePatch(original, { spec: { containers: [{ name: 'c' }] } }, POD), pod([{ name: 'c' }, { name: 'a' }, { name: 'b' }]));
});

test('$retainKeys clears fields of the original not listed', (t) => {
  const original = {
    metadata: { name: 'd' },
    spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } } },
  };
  const patch = { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } };
  t.deepEqual(strategicMergePatch(original, patch, DEPLOYMENT), { metadata: { name: 'd' }, spec: { strategy: { type: 'Recreate' } } });
  const bad = t.throws(() => strategicMergePatch(original, { spec: { strategy: { $retainKeys: ['type'], other: 1 } } }, DEPLOYMENT), {
    instanceOf: PatchError,
  });
  t.is(bad.message, 'invalid patch format of retainKeys');
  t.is(bad.failure, PatchFailure.badRequest);
});

test('primitive merge lists take a union and $deleteFromPrimitiveList removes values', (t) => {
  const original = { metadata: { name: 'x', finalizers: ['a', 'b'] } };
  // patch values keep the patch order and come first: c and a (from the patch), then b (server-only)
  t.deepEqual(strategicMergePatch(original, { metadata: { finalizers: ['c', 'a'] } }, POD), { metadata: { name: 'x', finalizers: ['c', 'a', 'b'] } });
  t.deepEqual(strategicMergePatch(original, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }, POD), {
    metadata: { name: 'x', finalizers: ['b'] },
  });
});

test('a keyed patch item without its merge key fails like the apiserver', (t) => {
  const error = t.throws(() => strategicMergePatch(pod([{ name: 'a' }]), { spec: { containers: [{ image: 'x' }] } }, POD), { instanceOf: PatchError });
  t.is(error.message, 'map: map[image:x] does not contain declared merge key: name');
});
