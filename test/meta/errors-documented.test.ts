// Every error code in src/errors.ts is documented in docs/errors.md, and the table lists nothing else.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { ErrorCode } from '../../src/errors.js';

test('docs/errors.md lists exactly the codes of src/errors.ts', (t) => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^\| `(AGENT_ERR_[A-Z_]+)` \|/gm)].map((match) => match[1]);
  t.deepEqual([...documented].sort(), Object.values(ErrorCode).sort());
});
