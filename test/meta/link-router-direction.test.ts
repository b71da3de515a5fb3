// The link and the router talk in one direction (docs/architecture.md): the link owns the socket and the
// control messages and hands stream traffic to the router; the router writes on the Connection it was
// handed and never calls the link. So src/router/** may name link types, never import link code, and
// src/link/** never imports the router at all.

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of a file, each with whether it is type-only (`import type`). */
function imports(file: string): { target: string; isTypeOnly: boolean }[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^(import|export)\s(type\s)?[^;]*?from\s+'(\.[^']+)'/gms)].map((match) => ({
    target: relative(ROOT, resolve(dirname(join(ROOT, file)), match[3]!.replace(/\.js$/, '.ts'))),
    isTypeOnly: match[2] !== undefined,
  }));
}

test('src/router/** imports nothing of src/link/** but types', (t) => {
  const offending = sources('src/router').flatMap((file) =>
    imports(file)
      .filter(({ target, isTypeOnly }) => target.startsWith('src/link/') && !isTypeOnly)
      .map(({ target }) => `${file} → ${target}`),
  );
  t.deepEqual(offending, []);
});

test('src/link/** never imports src/router/**', (t) => {
  const offending = sources('src/link').flatMap((file) =>
    imports(file)
      .filter(({ target }) => target.startsWith('src/router/'))
      .map(({ target }) => `${file} → ${target}`),
  );
  t.deepEqual(offending, []);
});
