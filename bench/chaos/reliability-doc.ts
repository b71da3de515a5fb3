// docs/reliability.md: each chaos run owns one marked section and rewrites only that section, so runs
// can be repeated one at a time (the 30-minute soak rarely runs together with the others).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';

const DOC = new URL('../../../docs/reliability.md', import.meta.url);

export const ChaosRun = { mixed: 'mixed', fuzz: 'fuzz', soak: 'soak' } as const;
export type ChaosRun = (typeof ChaosRun)[keyof typeof ChaosRun];

const MIB = 1024 * 1024;

export function mib(bytes: number): string {
  return (bytes / MIB).toFixed(1);
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '0.0' : ((100 * part) / whole).toFixed(1);
}

/** Date, Node version and CPUs: the first line of every section. */
export function runContext(command: string): string {
  const cpu = cpus()[0]?.model.trim() ?? 'cpu';
  return `Command: \`${command}\`, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${cpus().length} × ${cpu}.`;
}

/** Replaces the section of `run` (between its markers) with `body`; adds the markers at the end if missing. */
export function writeSection(run: ChaosRun, body: string): void {
  const start = `<!-- chaos-${run}:start -->`;
  const end = `<!-- chaos-${run}:end -->`;
  const text = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Reliability\n';
  const section = `${start}\n${body.trimEnd()}\n${end}`;
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`);
  writeFileSync(DOC, pattern.test(text) ? text.replace(pattern, section) : `${text.trimEnd()}\n\n${section}\n`);
}
