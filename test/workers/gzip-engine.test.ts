// Both gzip engines write single-member RFC 1952 streams any gunzip reads; `off` compresses nothing.

import test from 'ava';
import { gunzipSync } from 'node:zlib';
import { gzipEngine } from '../../workers/lib/gzip-engine.js';

const body = Buffer.from(JSON.stringify({ items: Array.from({ length: 500 }, (_, i) => ({ name: `pod-${i}`, phase: 'Running' })) }));

for (const name of ['zlib', 'fflate'] as const) {
  test(`${name} engine round-trips and compresses API-server JSON`, (t) => {
    const compressed = gzipEngine(name).gzip(body)!;
    t.deepEqual([compressed[0], compressed[1]], [0x1f, 0x8b]);
    t.true(compressed.length < body.length / 5);
    t.deepEqual(gunzipSync(compressed), body);
    t.is(compressed[3]! & 0x08, 0, 'no file name (FNAME flag clear)');
  });
}

test('off engine compresses nothing', (t) => {
  t.is(gzipEngine('off').gzip(body), undefined);
});
