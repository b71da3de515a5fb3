// Every error code is raised somewhere: a code in src/errors.ts that no agent code uses is a promise the
// docs make and the agent does not keep.

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../../src/errors.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path.startsWith(join('src', 'local')) ? [] : sources(path);
    return entry.name.endsWith('.ts') && path !== join('src', 'errors.ts') ? [path] : [];
  });
}

test('every code of src/errors.ts is raised by the agent (src/ outside the local stack, workers/)', (t) => {
  const text = [...sources('src'), ...sources('workers')].map((file) => readFileSync(join(ROOT, file), 'utf8')).join('\n');
  const unused = Object.keys(ErrorCode).filter((key) => !new RegExp(`ErrorCode\\.${key}\\b`).test(text));
  t.deepEqual(unused, []);
});
