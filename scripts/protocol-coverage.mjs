// Rewrites docs/protocol.md: each PROTOCOL.md checklist item with the test files that mention its ID.
// Usage: node scripts/protocol-coverage.mjs [path/to/PROTOCOL.md]
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const protocolPath = process.argv[2] ?? '../shared/PROTOCOL.md';
const PLANNED = {
  'wire efficiency (binary frames, compression, streaming)': [48, 49, 50, 51, 52, 53, 54, 57, 60, 61, 62, 64, 65, 66],
  'kubectl sessions': [67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80],
  'application WebSocket relay': [81, 82, 83, 84, 85, 86],
  'phase 2 (yamux)': [87, 88, 89, 90],
  'cluster integration (ingress sync, ip-intel)': [92],
  'service and ingress routing': [43, 44],
};
const plannedFor = new Map(Object.entries(PLANNED).flatMap(([what, ids]) => ids.map((id) => [id, what])));

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

const coverage = new Map();
for (const file of testFiles('test').sort()) {
  for (const match of readFileSync(file, 'utf8').matchAll(/\bC(\d{1,2})\b/g)) {
    const id = Number(match[1]);
    if (!coverage.has(id)) coverage.set(id, new Set());
    coverage.get(id).add(file);
  }
}
const lines = [
  '# Protocol conformance',
  '',
  'What the agent speaks is normative in PROTOCOL.md (shared with the control plane). This table links each',
  'checklist item to the tests that mention it; `test/meta/protocol-coverage.test.ts` checks every file named',
  'here, and `node scripts/protocol-coverage.mjs` regenerates the table.',
  '',
  '| ID | Item | Tests |',
  '|---|---|---|',
];
for (const match of readFileSync(protocolPath, 'utf8').matchAll(/^\* C(\d+) (.*)$/gm)) {
  const id = Number(match[1]);
  const item = match[2].replaceAll('|', '\\|');
  const files = coverage.get(id);
  const tests = files === undefined ? `not yet: ${plannedFor.get(id) ?? 'planned'}` : [...files].map((f) => `\`${f}\``).join(', ');
  lines.push(`| C${id} | ${item} | ${tests} |`);
}
writeFileSync('docs/protocol.md', `${lines.join('\n')}\n`);
