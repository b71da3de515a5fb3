// docs/protocol.md claims tests for checklist items; every claimed file must really mention the ID.

import test from 'ava';
import { readFileSync } from 'node:fs';

test('every test file docs/protocol.md names for a checklist item mentions that item', (t) => {
  const root = new URL('../../../', import.meta.url);
  const doc = readFileSync(new URL('docs/protocol.md', root), 'utf8');
  const missing: string[] = [];
  let claims = 0;
  for (const match of doc.matchAll(/^\| (C\d+) \|[^|]*(?:\\\|[^|]*)*\| (.*) \|$/gm)) {
    const id = match[1]!;
    for (const file of [...match[2]!.matchAll(/`(test\/[^`]+)`/g)].map((m) => m[1]!)) {
      claims++;
      const text = readFileSync(new URL(file, root), 'utf8');
      if (!new RegExp(`\\b${id}\\b`).test(text)) missing.push(`${id} → ${file}`);
    }
  }
  t.true(claims > 40, `docs/protocol.md claims ${claims} tests`);
  t.deepEqual(missing, []);
});
