// Where the load and scale benches write: a marked section of a doc, replaced in place (appended the first time).

import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

export function replaceSection(path: URL, name: string, body: string): void {
  const text = readFileSync(path, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${body}\n${end}`;
  const pattern = new RegExp(`${start}[\\s\\S]*${end}`);
  writeFileSync(path, pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`);
}

export function machineLine(): string {
  return `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'} (shared)`;
}

