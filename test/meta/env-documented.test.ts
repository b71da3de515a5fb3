// Keeps docs/config.md and config.example.yaml in step with src/config/env-spec.ts: every env var, YAML
// key and flag documented, nothing documented that the table lacks, and the example equal to the defaults.

import { readFileSync } from 'node:fs';
import test from 'ava';
import { isMap, isScalar, parseDocument, type Node } from 'yaml';
import { ENV_SPEC } from '../../src/config/env-spec.js';
import { loadConfig } from '../../src/config/load-config.js';

// dist/test/meta/ → repo root.
const ROOT = new URL('../../../', import.meta.url);
const DOCS = readFileSync(new URL('docs/config.md', ROOT), 'utf8');
const EXAMPLE_TEXT = readFileSync(new URL('config.example.yaml', ROOT), 'utf8');

test('every env var, YAML key and flag of env-spec appears in docs/config.md', (t) => {
  for (const row of ENV_SPEC) {
    for (const name of row.env) t.true(DOCS.includes(`\`${name}\``), `${name} missing from docs/config.md`);
    t.true(DOCS.includes(`\`${row.key}\``), `${row.key} missing from docs/config.md`);
    if (row.flag !== undefined) t.true(DOCS.includes(`\`${row.flag}\``), `${row.flag} missing from docs/config.md`);
  }
  t.true(DOCS.includes('`--config PATH`'));
});

test('the settings table of docs/config.md has one row per env-spec row, in order', (t) => {
  const tableRows = DOCS.split('\n').filter((line) => /^\| `[A-Z]/.test(line));
  const documented = tableRows.map((line) => {
    const [envCell = '', keyCell = ''] = line.split('|').slice(1, 3);
    return { env: [...envCell.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]), key: /`([^`]+)`/.exec(keyCell)?.[1] };
  });
  t.deepEqual(documented, ENV_SPEC.map((row) => ({ env: [...row.env], key: row.key })));
});

function leafKeys(node: Node | null, prefix: string, out: string[]): string[] {
  if (isMap(node) && !(prefix === 'agent.labels')) {
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : '?';
      leafKeys(pair.value as Node | null, prefix === '' ? name : `${prefix}.${name}`, out);
    }
  } else {
    out.push(prefix);
  }
  return out;
}

test('config.example.yaml holds exactly the env-spec YAML keys, in order', (t) => {
  const doc = parseDocument(EXAMPLE_TEXT);
  t.deepEqual(doc.errors, []);
  t.deepEqual(leafKeys(doc.contents, '', []), ENV_SPEC.map((row) => row.key));
});

test('config.example.yaml states the defaults: loading it changes nothing', (t) => {
  const env = { PIPEOPS_API_URL: 'https://cp.example.test', PIPEOPS_TOKEN: 'tok', PIPEOPS_CLUSTER_NAME: 'c' };
  const readFile = (files: Record<string, string>) => (path: string) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(path), { code: 'ENOENT' });
    return text;
  };
  const withExample = loadConfig({
    env,
    argv: ['--config', '/example.yaml'],
    readFile: readFile({ '/example.yaml': EXAMPLE_TEXT }),
  });
  const without = loadConfig({ env, argv: [], readFile: readFile({}) });
  t.deepEqual(withExample.warnings, []);
  t.deepEqual(withExample.config, without.config);
});
