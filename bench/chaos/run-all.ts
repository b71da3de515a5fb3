// `npm run chaos`: the three fault-injection runs one after the other, each as its own process (so one
// run's leftovers cannot colour the next), with their flags passed through. Exits non-zero when any run's
// invariants failed. `--only mixed,fuzz` picks runs; `--quick` uses the bounded sizes of `npm test`.
//
//   node dist/bench/chaos/run-all.js [--write] [--quick] [--only mixed,fuzz,soak]

import { spawn } from 'node:child_process';
import { ChaosRun } from './reliability-doc.js';

const QUICK_FLAGS: Readonly<Record<ChaosRun, readonly string[]>> = {
  mixed: ['--requests', '3000', '--restart-every-ms', '3000', '--kubectl', '2'],
  fuzz: ['--frames', '20000'],
  soak: ['--seconds', '20', '--sample-every', '2'],
};

function runScript(run: ChaosRun, flags: readonly string[]): Promise<number> {
  const script = new URL(`./${run}.js`, import.meta.url).pathname;
  process.stdout.write(`\n## ${run}: node ${script} ${flags.join(' ')}\n\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...flags], { stdio: 'inherit' });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const onlyIndex = argv.indexOf('--only');
  const runs = onlyIndex >= 0 ? (argv[onlyIndex + 1] ?? '').split(',').filter((run): run is ChaosRun => run in ChaosRun) : Object.values(ChaosRun);
  const failed: string[] = [];
  for (const run of runs) {
    const flags = [...(argv.includes('--quick') ? QUICK_FLAGS[run] : []), ...(argv.includes('--write') ? ['--write'] : [])];
    if ((await runScript(run, flags)) !== 0) failed.push(run);
  }
  process.stdout.write(`\nchaos: ${runs.length - failed.length} of ${runs.length} runs held their invariants${failed.length > 0 ? `; failed: ${failed.join(', ')}` : ''}\n`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
