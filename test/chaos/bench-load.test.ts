// The load and scale benches (bench/load/) run end to end with tiny counts and print their figures: the
// agent, the control plane and the upstream start as in `npm run bench:load` / `bench:scale`, and every
// table row and goal line is there. No timing is checked (the machine is shared).

import { spawn } from 'node:child_process';
import test from 'ava';

const DIST_BENCH = new URL('../../bench/load/', import.meta.url);

function runBench(script: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL(script, DIST_BENCH).pathname, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const NUMBER = '-?\\d+(\\.\\d+)?';

test('bench:load with tiny counts prints a row per worker count and each goal figure', async (t) => {
  t.timeout(240_000);
  const result = await runBench('load.js', ['--workers', '0,2', '--requests', '40', '--parallel', '4', '--big', '2', '--settle-ms', '300', '--after-ms', '300']);
  t.is(result.code, 0, result.stderr);
  for (const workers of [0, 2]) {
    t.regex(result.stdout, new RegExp(`^\\| ${workers} \\| ${NUMBER} / ${NUMBER} \\| ${NUMBER} / ${NUMBER} \\(${NUMBER}\\) \\|`, 'm'), `row for ${workers} workers`);
    t.regex(result.stdout, new RegExp(`^workers=${workers}: idle ${NUMBER} MiB .* added p50 ${NUMBER} ms .* throughput ${NUMBER}x direct`, 'm'));
  }
  t.regex(result.stdout, new RegExp(`^2 workers vs inline: small ${NUMBER}x .* gzip-heavy ${NUMBER}x`, 'm'));
});

test('bench:scale with tiny counts opens every stream through the tunnel and prints the agent RSS with them', async (t) => {
  t.timeout(240_000);
  const result = await runBench('scale.js', ['--workers', '1', '--sessions', '10', '--watches', '20', '--settle-ms', '300']);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, new RegExp(`^\\| 10 idle exec sessions \\| 10 \\| ${NUMBER} \\| ${NUMBER} \\|`, 'm'));
  t.regex(result.stdout, new RegExp(`^\\| 20 open watches \\| 20 \\| ${NUMBER} \\| ${NUMBER} \\|`, 'm'));
});
