// JSON patch (RFC 6902) and JSON merge patch (RFC 7386) as the sandbox applies them for PATCH requests.

import test from 'ava';
import { JsonPatchError, applyJsonPatch } from '../../../../../src/local/sandbox-api/patch/json-patch.js';
import { jsonMergePatch } from '../../../../../src/local/sandbox-api/patch/merge-patch.js';

const DOC = { metadata: { name: 'c', labels: { a: '1' } }, data: { x: '1' }, list: ['p', 'q'] };

test('applies add, remove, replace, move, copy and test in order', (t) => {
  const patched = applyJsonPatch(DOC, [
    { op: 'test', path: '/data/x', value: '1' },
    { op: 'add', path: '/data/y', value: '2' },
    { op: 'replace', path: '/data/x', value: '3' },
    { op: 'remove', path: '/metadata/labels/a' },
    { op: 'add', path: '/list/1', value: 'mid' },
    { op: 'add', path: '/list/-', value: 'end' },
    { op: 'copy', from: '/data/y', path: '/data/z' },
    { op: 'move', from: '/data/z', path: '/metadata/labels/b' },
  ]);
  t.deepEqual(patched, { metadata: { name: 'c', labels: { b: '2' } }, data: { x: '3', y: '2' }, list: ['p', 'mid', 'q', 'end'] });
  t.deepEqual(DOC.data, { x: '1' }, 'the original is not modified');
});

test('escapes ~1 and ~0 in pointers', (t) => {
  const patched = applyJsonPatch({ metadata: { annotations: {} } }, [{ op: 'add', path: '/metadata/annotations/example.com~1a~0b', value: 'v' }]);
  t.deepEqual(patched, { metadata: { annotations: { 'example.com/a~b': 'v' } } });
});

test('fails with the evanphx/json-patch messages', (t) => {
  t.throws(() => applyJsonPatch(DOC, [{ op: 'test', path: '/data/x', value: '2' }]), {
    instanceOf: JsonPatchError,
    message: 'testing value /data/x failed: test failed',
  });
  t.throws(() => applyJsonPatch(DOC, [{ op: 'replace', path: '/data/nope', value: '2' }]), {
    message: 'replace operation does not apply: doc is missing key: /data/nope: missing value',
  });
  t.throws(() => applyJsonPatch(DOC, [{ op: 'remove', path: '/nope/x' }]), {
    message: 'remove operation does not apply: doc is missing path: "/nope/x": missing value',
  });
  t.throws(() => applyJsonPatch(DOC, [{ op: 'frob', path: '/data' }]), { message: 'Unexpected kind: frob' });
  const malformed = t.throws(() => applyJsonPatch(DOC, { op: 'add' }), { instanceOf: JsonPatchError });
  t.true(malformed.isMalformed);
});

test('merge patch: null deletes, objects merge, other values replace, nulls in new objects are pruned', (t) => {
  t.deepEqual(jsonMergePatch(DOC, { metadata: { labels: { a: null, n: { keep: 1, drop: null } } }, list: ['r'], data: null }), {
    metadata: { name: 'c', labels: { n: { keep: 1 } } },
    list: ['r'],
  });
});
