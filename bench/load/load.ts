// High-volume load through the agent, each tunnel figure against the API directly in the same run:
//   small   N × 1 KiB GET at C in parallel (direct vs tunnel): req/s, p50/p99, added latency
//   mixed   N operations at C: 1 KiB get, 100-pod list, a 20-event watch, exec round trips (direct vs tunnel)
//   gzip    1 MB pod lists at 8 in parallel (compressed by the agent): req/s and agent CPU per request
// for each AGENT_WORKERS value, with the agent's RSS (idle, peak, after), CPU time per request and
// main-thread event-loop delay (p99, sampled). With --write the tables go into docs/benchmarks.md and the
// sweep's charts into docs/charts/.
//
//   node dist/bench/load/load.js [--workers 0,1,2,4] [--requests N] [--parallel C] [--big N] [--after-ms MS] [--env K=V,…] [--write]

import { mkdirSync, writeFileSync } from 'node:fs';
import { machineLine, replaceSection } from './bench-doc.js';
import { LoadStack, Sampler, peak, quantile, startUpstream, stopUpstream, type Upstream } from './load-stack.js';
import { LoadClient, Op, runLoad, type RunResult } from './load-client.js';
import { lineChart } from './svg-chart.js';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

const WORKER_COUNTS = flag('--workers', '0,1,2,4').split(',').map(Number);
const REQUESTS = Number(flag('--requests', '6000'));
const PARALLEL = Number(flag('--parallel', '32'));
const BIG_REQUESTS = Number(flag('--big', '48'));
const BIG_PARALLEL = 8;
const EXTRA_ENV = flag('--env', '');
const SAMPLE_MS = 250;
const SETTLE_MS = Number(flag('--settle-ms', '4000'));
/** After the load, how long until RSS is read again: past the pools' 60 s idle timeout by default. */
const AFTER_MS = Number(flag('--after-ms', '65000'));
const MIXED: readonly Op[] = [Op.small, Op.list, Op.small, Op.exec, Op.small, Op.watch, Op.small, Op.exec];

export interface Figures {
  readonly workers: number;
  readonly idleMiB: number;
  readonly peakMiB: number;
  readonly afterMiB: number;
  readonly loopDelayP99Ms: number;
  /** 1 KiB GETs one at a time: the latency the tunnel adds without queueing. */
  readonly serial: { direct: RunResult; tunnel: RunResult };
  readonly small: { direct: RunResult; tunnel: RunResult; cpuMsPerRequest: number };
  readonly mixed: { direct: RunResult; tunnel: RunResult; cpuMsPerRequest: number };
  readonly big: { tunnel: RunResult; cpuMsPerRequest: number };
}

const rate = (run: RunResult): number => run.count / run.seconds;
const added = (pair: { direct: RunResult; tunnel: RunResult }, q: number): number => quantile(pair.tunnel.latencies, q) - quantile(pair.direct.latencies, q);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measureWorkers(upstream: Upstream, workers: number): Promise<Figures> {
  const env: Record<string, string> = { AGENT_WORKERS: String(workers) };
  for (const pair of EXTRA_ENV.split(',').filter((p) => p !== '')) {
    const at = pair.indexOf('=');
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const stack = await LoadStack.start(upstream, env);
  const direct = new LoadClient({ base: stack.directBase, token: upstream.token, ca: upstream.caPem }, PARALLEL);
  const tunnel = new LoadClient({ base: stack.tunnelBase }, PARALLEL);
  try {
    await sleep(SETTLE_MS);
    const idleMiB = stack.rssMiB();
    const sampler = new Sampler(stack, SAMPLE_MS);
    await stack.loopDelayMs(); // resets the agent's delay histogram
    const warm = Math.max(8, Math.floor(REQUESTS / 20));
    await runLoad(direct, warm, PARALLEL, () => Op.small);
    await runLoad(tunnel, warm, PARALLEL, () => Op.small);

    const serialCount = Math.max(20, Math.floor(REQUESTS / 10));
    const serialDirect = await runLoad(direct, serialCount, 1, () => Op.small);
    const serialTunnel = await runLoad(tunnel, serialCount, 1, () => Op.small);
    const smallDirect = await runLoad(direct, REQUESTS, PARALLEL, () => Op.small);
    let cpu = stack.cpuSeconds();
    const smallTunnel = await runLoad(tunnel, REQUESTS, PARALLEL, () => Op.small);
    const smallCpu = ((stack.cpuSeconds() - cpu) * 1000) / REQUESTS;

    const mixedCount = Math.max(MIXED.length, Math.floor(REQUESTS / 2));
    const mixedDirect = await runLoad(direct, mixedCount, PARALLEL, (i) => MIXED[i % MIXED.length]!);
    cpu = stack.cpuSeconds();
    const mixedTunnel = await runLoad(tunnel, mixedCount, PARALLEL, (i) => MIXED[i % MIXED.length]!);
    const mixedCpu = ((stack.cpuSeconds() - cpu) * 1000) / mixedCount;

    cpu = stack.cpuSeconds();
    const bigTunnel = await runLoad(tunnel, BIG_REQUESTS, BIG_PARALLEL, () => Op.big);
    const bigCpu = ((stack.cpuSeconds() - cpu) * 1000) / BIG_REQUESTS;
    sampler.stop();
    direct.close();
    tunnel.close();
    await sleep(AFTER_MS);
    return {
      workers,
      idleMiB,
      peakMiB: peak(sampler.rss),
      afterMiB: stack.rssMiB(),
      loopDelayP99Ms: peak(sampler.loopDelay),
      serial: { direct: serialDirect, tunnel: serialTunnel },
      small: { direct: smallDirect, tunnel: smallTunnel, cpuMsPerRequest: smallCpu },
      mixed: { direct: mixedDirect, tunnel: mixedTunnel, cpuMsPerRequest: mixedCpu },
      big: { tunnel: bigTunnel, cpuMsPerRequest: bigCpu },
    };
  } finally {
    direct.close();
    tunnel.close();
    await stack.stop();
  }
}

const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);

export function tables(all: readonly Figures[]): string {
  const inline = all.find((f) => f.workers === 0);
  const rows = [
    `| AGENT_WORKERS | 1 KiB GET one at a time: added p50 / p99 (ms) | 1 KiB GET at ${PARALLEL}: req/s direct / tunnel (ratio) | added p50 / p99 (ms) | agent CPU ms/req | mixed req/s direct / tunnel (ratio) | mixed p99 tunnel (ms) | 1 MB gzip req/s (vs inline) | gzip CPU ms/req | RSS idle / peak / after (MiB) | loop delay p99 (ms) |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const f of all) {
    const s = f.small;
    const m = f.mixed;
    const bigVsInline = inline === undefined ? '' : ` (${f2(rate(f.big.tunnel) / rate(inline.big.tunnel))}x)`;
    rows.push(
      `| ${f.workers} | ${f2(added(f.serial, 0.5))} / ${f2(added(f.serial, 0.99))} | ${rate(s.direct).toFixed(0)} / ${rate(s.tunnel).toFixed(0)} (${f2(rate(s.tunnel) / rate(s.direct))}) | ${f2(quantile(s.tunnel.latencies, 0.5) - quantile(s.direct.latencies, 0.5))} / ${f2(quantile(s.tunnel.latencies, 0.99) - quantile(s.direct.latencies, 0.99))} | ${f2(s.cpuMsPerRequest)} | ${rate(m.direct).toFixed(0)} / ${rate(m.tunnel).toFixed(0)} (${f2(rate(m.tunnel) / rate(m.direct))}) | ${f1(quantile(m.tunnel.latencies, 0.99))} | ${f1(rate(f.big.tunnel))}${bigVsInline} | ${f1(f.big.cpuMsPerRequest)} | ${f1(f.idleMiB)} / ${f1(f.peakMiB)} / ${f1(f.afterMiB)} | ${f1(f.loopDelayP99Ms)} |`,
    );
  }
  return rows.join('\n');
}

export function goals(all: readonly Figures[]): string {
  const lines: string[] = [];
  const two = all.find((f) => f.workers === 2);
  const inline = all.find((f) => f.workers === 0);
  for (const f of all) {
    const s = f.small;
    lines.push(
      `workers=${f.workers}: idle ${f1(f.idleMiB)} MiB (goal ≤ 80 with 2), load peak ${f1(f.peakMiB)} MiB (≤ 150), after ${f1(f.afterMiB)} MiB (${f2(f.afterMiB / f.idleMiB)}x idle, ≤ 1.10), ` +
        `added p50 ${f2(added(f.serial, 0.5))} ms (≤ 0.5), p99 ${f2(added(f.serial, 0.99))} ms (≤ 1.5) one at a time, throughput ${f2(rate(s.tunnel) / rate(s.direct))}x direct (≥ 0.5)`,
    );
  }
  if (two !== undefined && inline !== undefined) {
    lines.push(`2 workers vs inline: small ${f2(rate(two.small.tunnel) / rate(inline.small.tunnel))}x (goal ≥ 0.90), gzip-heavy ${f2(rate(two.big.tunnel) / rate(inline.big.tunnel))}x (goal ≥ 1.6)`);
  }
  return lines.join('\n');
}

function charts(all: readonly Figures[]): Record<string, string> {
  const byWorkers = (pick: (f: Figures) => number): [number, number][] => all.map((f) => [f.workers, pick(f)]);
  return {
    'load-throughput.svg': lineChart('Throughput against AGENT_WORKERS', 'AGENT_WORKERS', 'requests/s', [
      { name: '1 KiB GET', points: byWorkers((f) => rate(f.small.tunnel)) },
      { name: 'mixed', points: byWorkers((f) => rate(f.mixed.tunnel)) },
      { name: '1 MB gzip ×10', points: byWorkers((f) => rate(f.big.tunnel) * 10) },
    ]),
    'load-p99.svg': lineChart('p99 latency through the tunnel', 'AGENT_WORKERS', 'ms', [
      { name: '1 KiB GET', points: byWorkers((f) => quantile(f.small.tunnel.latencies, 0.99)) },
      { name: 'mixed', points: byWorkers((f) => quantile(f.mixed.tunnel.latencies, 0.99)) },
      { name: '1 MB gzip', points: byWorkers((f) => quantile(f.big.tunnel.latencies, 0.99)) },
    ]),
    'load-rss.svg': lineChart('Agent RSS', 'AGENT_WORKERS', 'MiB', [
      { name: 'idle', points: byWorkers((f) => f.idleMiB) },
      { name: 'peak under load', points: byWorkers((f) => f.peakMiB) },
      { name: 'after load', points: byWorkers((f) => f.afterMiB) },
    ]),
  };
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const all: Figures[] = [];
  try {
    for (const workers of WORKER_COUNTS) {
      all.push(await measureWorkers(upstream, workers));
      process.stderr.write(`workers=${workers} done\n`);
    }
  } finally {
    await stopUpstream(upstream);
  }
  const table = tables(all);
  const goalText = goals(all);
  process.stdout.write(`${table}\n\n${goalText}\n`);
  if (process.argv.includes('--write')) {
    const command = `node dist/bench/load/load.js --workers ${WORKER_COUNTS.join(',')} --requests ${REQUESTS} --parallel ${PARALLEL} --big ${BIG_REQUESTS}${EXTRA_ENV === '' ? '' : ` --env ${EXTRA_ENV}`} --write`;
    const body = [`Command: \`${command}\` (\`npm run bench:load\`), ${machineLine()}.`, '', table, '', '```', goalText, '```'].join('\n');
    replaceSection(new URL('../../../docs/benchmarks.md', import.meta.url), 'load', body);
    const dir = new URL('../../../docs/charts/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    for (const [file, svg] of Object.entries(charts(all))) writeFileSync(new URL(file, dir), svg);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
