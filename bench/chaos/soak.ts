// Chaos run 3: a soak. The kubectl workload (SOAK_WEIGHTS: mostly get and list) at a steady rate (default 200 operations/s for 30
// minutes) through the local control plane, with the agent's RSS (/proc) and main-thread heap
// (pipeops_agent_heap_used_bytes) sampled every 10 s; reports growth after warm-up (end minus start and
// a least-squares slope). Invariants as in the mixed run: exactly one terminal reply per request, back
// to zero afterwards, no crash.
//
//   node dist/bench/chaos/soak.js [--seconds 1800] [--rate 200] [--sample-every 10] [--reset-ratio 0] [--seed 3] [--write]

import type { AuditSnapshot } from '../../src/local/control-plane/terminal-reply-audit.js';
import { metricSum } from './agent-process.js';
import { ChaosStack, type LeakReading } from './chaos-stack.js';
import { closeLoadClients, emptyCounts, Operation, Outcome, runLoad, runOperation, SOAK_WEIGHTS, type OutcomeCounts } from './mixed-load.js';
import { ChaosRun, mib, runContext, writeSection } from './reliability-doc.js';
import { numberFlag, seededRandom } from './seeded-random.js';

export interface SoakOptions {
  readonly seconds: number;
  readonly rate: number;
  readonly sampleEverySeconds: number;
  /** Samples before this many seconds are warm-up: growth is measured from the first sample after it. */
  readonly warmupSeconds: number;
  readonly resetRatio: number;
  readonly seed: number;
  readonly settleTimeoutMs: number;
}

export interface SoakSample {
  readonly seconds: number;
  readonly rssBytes: number;
  readonly heapBytes: number;
  readonly completed: number;
}

export interface SoakResult {
  readonly options: SoakOptions;
  readonly issued: number;
  readonly counts: OutcomeCounts;
  readonly samples: readonly SoakSample[];
  readonly audit: AuditSnapshot;
  readonly outstandingIds: readonly string[];
  readonly leaks: LeakReading;
  readonly workerCrashes: number;
  readonly isAgentAlive: boolean;
  readonly unhandled: number;
  readonly errorLines: readonly string[];
  readonly stillRelays: boolean;
  readonly elapsedSeconds: number;
}

const HOUR_SECONDS = 3600;

function completedOf(counts: OutcomeCounts): number {
  let total = 0;
  for (const operation of Object.values(Operation)) for (const value of Object.values(counts[operation])) total += value;
  return total;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const random = seededRandom(options.seed);
  const started = Date.now();
  const stack = await ChaosStack.start({ resetRatio: options.resetRatio, random });
  try {
    const counts = emptyCounts();
    const crashesBefore = metricSum(await stack.agent.metrics(), 'pipeops_agent_worker_crashes_total');
    const samples: SoakSample[] = [];
    const loadStarted = Date.now();
    const sample = async (): Promise<void> => {
      const heap = metricSum(await stack.agent.metrics(), 'pipeops_agent_heap_used_bytes');
      samples.push({ seconds: (Date.now() - loadStarted) / 1000, rssBytes: stack.agent.rssBytes(), heapBytes: heap, completed: completedOf(counts) });
    };
    const sampler = setInterval(() => void sample().catch((e: unknown) => process.stderr.write(`sample failed: ${String(e)}\n`)), options.sampleEverySeconds * 1000);
    let issued: number;
    try {
      await sample();
      // the soak lasts `seconds` whatever rate the machine sustains; the rate reached is reported
      const deadline = Date.now() + options.seconds * 1000;
      issued = await runLoad(
        {
          target: { clusterUrl: stack.clusterUrl, random },
          total: Math.round(options.rate * options.seconds),
          concurrency: 96,
          ratePerSecond: options.rate,
          weights: SOAK_WEIGHTS,
          shouldStop: () => Date.now() >= deadline,
        },
        counts,
      );
      await sample();
    } finally {
      clearInterval(sampler);
    }
    const leaks = await stack.settle(options.settleTimeoutMs);
    const stillRelays = (await runOperation(Operation.get, { clusterUrl: stack.clusterUrl, random })) === Outcome.ok;
    const metrics = await stack.agent.metrics();
    return {
      options,
      issued,
      counts,
      samples,
      audit: stack.audit.snapshot(),
      outstandingIds: stack.audit.outstandingIds(),
      leaks,
      workerCrashes: metricSum(metrics, 'pipeops_agent_worker_crashes_total') - crashesBefore,
      isAgentAlive: stack.agent.isAlive,
      unhandled: stack.agent.unhandledCount,
      errorLines: stack.agent.errorLines,
      stillRelays,
      elapsedSeconds: (Date.now() - started) / 1000,
    };
  } catch (error) {
    throw new Error(`${String(error)}; agent ${stack.agent.isAlive ? 'alive' : `exited ${JSON.stringify(stack.agent.exit)}`}; stderr: ${stack.agent.errorLines.join(' | ')}`);
  } finally {
    await stack.stop();
    closeLoadClients();
  }
}

/** Least-squares slope of `value` over `seconds`, per hour. */
export function slopePerHour(samples: readonly SoakSample[], value: (sample: SoakSample) => number): number {
  if (samples.length < 2) return 0;
  const n = samples.length;
  const meanX = samples.reduce((sum, s) => sum + s.seconds, 0) / n;
  const meanY = samples.reduce((sum, s) => sum + value(s), 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of samples) {
    covariance += (s.seconds - meanX) * (value(s) - meanY);
    variance += (s.seconds - meanX) ** 2;
  }
  return variance === 0 ? 0 : (covariance / variance) * HOUR_SECONDS;
}

export function soakViolations(result: SoakResult): string[] {
  const problems: string[] = [];
  const { audit } = result;
  if (audit.duplicates > 0 || audit.unknown > 0) problems.push(`terminal-reply violations: ${JSON.stringify(audit.violations)}`);
  if (audit.outstanding > 0) problems.push(`${audit.outstanding} requests/sessions never got a terminal reply: ${result.outstandingIds.join(', ')}`);
  if (!result.leaks.isZero) problems.push(`not back to zero: ${JSON.stringify(result.leaks)}`);
  if (!result.isAgentAlive) problems.push('the agent process exited');
  if (result.workerCrashes > 0) problems.push(`${result.workerCrashes} worker crashes`);
  if (result.unhandled > 0) problems.push(`${result.unhandled} unhandled rejections/exceptions: ${result.errorLines.join(' | ')}`);
  if (!result.stillRelays) problems.push('a GET after the run did not succeed');
  return problems;
}

export function soakReport(result: SoakResult, command: string): string {
  const after = result.samples.filter((s) => s.seconds >= result.options.warmupSeconds);
  const first = after[0] ?? result.samples[0];
  const last = result.samples[result.samples.length - 1];
  const completed = completedOf(result.counts);
  let ok = 0;
  for (const operation of Object.values(Operation)) ok += result.counts[operation].ok;
  const loadSeconds = last?.seconds ?? 0;
  // one row a minute (or every sample when the run is short)
  const stride = Math.max(1, Math.round(60 / result.options.sampleEverySeconds));
  const rows = result.samples.filter((_, index) => index % stride === 0 || index === result.samples.length - 1)
    .map((s) => `| ${s.seconds.toFixed(0)} | ${s.completed} | ${mib(s.rssBytes)} | ${mib(s.heapBytes)} |`);
  const growth = (value: (s: SoakSample) => number): string =>
    first === undefined || last === undefined ? 'n/a' : `${mib(value(last) - value(first))} MiB (${mib(value(first))} → ${mib(value(last))}), slope ${mib(slopePerHour(after, value))} MiB/h`;
  return [
    runContext(command),
    '',
    `${completed} operations (${ok} ok) in ${loadSeconds.toFixed(0)} s, ${(completed / Math.max(1, loadSeconds)).toFixed(0)}/s against a target of ${result.options.rate}/s; samples every ${result.options.sampleEverySeconds} s; growth measured from the first sample after ${result.options.warmupSeconds} s of warm-up.`,
    '',
    '| Soak figure | Value |',
    '|---|---:|',
    `| RSS growth after warm-up | ${growth((s) => s.rssBytes)} |`,
    `| main-thread heap growth after warm-up | ${growth((s) => s.heapBytes)} |`,
    `| terminal replies / sent (requests + sessions) | ${result.audit.terminalReplies} / ${result.audit.requestsSent + result.audit.sessionsStarted} (cancelled before a response ${result.audit.canceledWithoutReply}, lost with a socket ${result.audit.lostWithSocket}, never answered ${result.audit.outstanding}, second replies ${result.audit.duplicates}) |`,
    `| gauges back to zero afterwards | ${result.leaks.isZero ? 'yes' : `NO: ${JSON.stringify(result.leaks.gauges)}`} |`,
    `| worker crashes / unhandled rejections / process alive | ${result.workerCrashes} / ${result.unhandled} / ${result.isAgentAlive ? 'yes' : 'no'} |`,
    '',
    '| Seconds | Operations done | RSS (MiB) | Heap (MiB) |',
    '|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const seconds = numberFlag(argv, '--seconds', 1800);
  const options: SoakOptions = {
    seconds,
    rate: numberFlag(argv, '--rate', 200),
    sampleEverySeconds: numberFlag(argv, '--sample-every', 10),
    warmupSeconds: numberFlag(argv, '--warmup-seconds', Math.min(120, Math.round(seconds / 10))),
    resetRatio: numberFlag(argv, '--reset-ratio', 0),
    seed: numberFlag(argv, '--seed', 3),
    settleTimeoutMs: 60_000,
  };
  const result = await runSoak(options);
  const command = `node dist/bench/chaos/soak.js ${argv.filter((arg) => arg !== '--write').join(' ')}`.trim();
  const report = soakReport(result, command);
  const problems = soakViolations(result);
  const verdict = problems.length === 0 ? 'All invariants held.' : `Invariants FAILED:\n${problems.map((problem) => `- ${problem}`).join('\n')}`;
  process.stdout.write(`${report}\n\n${verdict}\n`);
  if (argv.includes('--write')) writeSection(ChaosRun.soak, `${report}\n\n${verdict}`);
  if (problems.length > 0) process.exitCode = 1;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
