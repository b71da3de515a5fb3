// The thread boundary stays visible in the tree: workers/** imports only thread-neutral src/ modules,
// src/** never imports workers/** statically, and the agent never imports the local stack.

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** src/ modules a worker may import: no main-thread state, no sockets of the main thread. */
const NEUTRAL = [/^src\/protocol\//, /^src\/messages\//, /^src\/metrics\/catalog\.ts$/, /^src\/config\/agent-config\.ts$/, /^src\/log\.ts$/, /^src\/errors\.ts$/, /^src\/kube\/kube-target\.ts$/];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function staticImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((match) => {
    const target = resolve(dirname(join(ROOT, file)), match[1]!.replace(/\.js$/, '.ts'));
    return relative(ROOT, target);
  });
}

test('workers/** imports only thread-neutral src/ modules', (t) => {
  const offending = sources('workers').flatMap((file) =>
    staticImports(file)
      .filter((target) => target.startsWith('src/') && !NEUTRAL.some((pattern) => pattern.test(target)))
      .map((target) => `${file} → ${target}`),
  );
  t.deepEqual(offending, []);
});

test('workers/** never load @kubernetes/client-node (the main thread resolves the API for them)', (t) => {
  const offending = sources('workers').filter((file) => /from '@kubernetes\/client-node/.test(readFileSync(join(ROOT, file), 'utf8')));
  t.deepEqual(offending, []);
});

test('src/** never imports workers/**, and agent code never imports src/local/**', (t) => {
  const offending = sources('src').flatMap((file) =>
    staticImports(file)
      .filter((target) => target.startsWith('workers/') || (target.startsWith('src/local/') && !file.startsWith('src/local/')))
      .map((target) => `${file} → ${target}`),
  );
  t.deepEqual(offending, []);
});

/** The one module that may load client-node, and only on demand (kubeconfig users it alone can read). */
const FULL_CLIENT_MODULE = 'src/kube/kube-full-client.ts';

test('the main thread (src/** outside src/local/**) loads @kubernetes/client-node only lazily, in kube-full-client.ts; type imports are erased', (t) => {
  const offending = sources('src')
    .filter((file) => !file.startsWith('src/local/'))
    .flatMap((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const statements = [...text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'@kubernetes\/client-node[^']*'/gms)]
        .filter((match) => match[2] === undefined)
        .map((match) => `${file}: ${match[0].split('\n')[0]}`);
      const sideEffect = [...text.matchAll(/^import\s+'@kubernetes\/client-node[^']*'/gm)].map((match) => `${file}: ${match[0]}`);
      const dynamic = file === FULL_CLIENT_MODULE ? [] : [...text.matchAll(/import\(\s*'@kubernetes\/client-node[^']*'\s*\)/g)].map((match) => `${file}: ${match[0]}`);
      return [...statements, ...sideEffect, ...dynamic];
    });
  t.deepEqual(offending, []);
});

test('kube-full-client.ts is reached only through a dynamic import', (t) => {
  const staticImporters = sources('src').filter((file) => staticImports(file).includes(FULL_CLIENT_MODULE));
  t.deepEqual(staticImporters, []);
  const text = readFileSync(join(ROOT, FULL_CLIENT_MODULE), 'utf8');
  t.regex(text, /await import\('@kubernetes\/client-node'\)/);
});
