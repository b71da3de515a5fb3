// Chaos run 1: mixed kubectl traffic (get, list, watch, logs -f, exec) through the local control plane
// while the control plane restarts every 10 s and the fault proxy resets 1 % of the agent's connections
// to the API server. Invariants: every request and session the control plane sent gets exactly one
// terminal reply (or was lost with its socket, or cancelled before a response started); afterwards the
// agent's actors, sessions, pending requests and API connections are back to zero; no crash.
//
//   node dist/bench/chaos/mixed.js [--requests 100000] [--concurrency 48] [--restart-every-ms 10000]
//                                  [--reset-ratio 0.01] [--kubectl 20] [--seed 1] [--write]

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { AuditSnapshot } from '../../src/local/control-plane/terminal-reply-audit.js';
import { metricSum } from './agent-process.js';
import { ChaosStack, type LeakReading } from './chaos-stack.js';
import { closeLoadClients, emptyCounts, Operation, Outcome, runLoad, runOperation, type OutcomeCounts } from './mixed-load.js';
import { ChaosRun, mib, percent, runContext, writeSection } from './reliability-doc.js';
import { numberFlag, seededRandom } from './seeded-random.js';

export interface MixedOptions {
  readonly requests: number;
  readonly warmupRequests: number;
  readonly concurrency: number;
  readonly restartEveryMs: number;
  readonly resetRatio: number;
  /** Real `kubectl get pods` runs during the chaos phase. */
  readonly kubectlRuns: number;
  readonly seed: number;
  readonly settleTimeoutMs: number;
}

export interface MixedResult {
  readonly options: MixedOptions;
  readonly issued: number;
  readonly counts: OutcomeCounts;
  readonly audit: AuditSnapshot;
  readonly outstandingIds: readonly string[];
  readonly restarts: number;
  readonly apiConnections: number;
  readonly apiResets: number;
  readonly leaks: LeakReading;
  readonly rssWarmBytes: number;
  readonly rssAfterBytes: number;
  readonly socketsWarm: number;
  readonly socketsAfter: number;
  readonly workerCrashes: number;
  readonly isAgentAlive: boolean;
  readonly unhandled: number;
  readonly errorLines: readonly string[];
  readonly stillRelays: boolean;
  readonly kubectlOk: number;
  readonly kubectlFailed: number;
  readonly seconds: number;
}

const KUBECTL = process.env['KUBECTL'] ?? '/usr/bin/kubectl';

function runKubectl(kubeconfig: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(KUBECTL, ['get', 'pods', '--request-timeout=30s'], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/tmp', KUBECONFIG: kubeconfig }, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', () => resolve(false));
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

export async function runMixed(options: MixedOptions): Promise<MixedResult> {
  const random = seededRandom(options.seed);
  const started = Date.now();
  const stack = await ChaosStack.start({ resetRatio: options.resetRatio, random });
  try {
    const counts = emptyCounts();
    // warm-up: same mix, no restarts, then RSS and socket baselines once idle
    await runLoad({ target: { clusterUrl: stack.clusterUrl, random }, total: options.warmupRequests, concurrency: options.concurrency }, emptyCounts());
    await stack.settle(options.settleTimeoutMs);
    const rssWarmBytes = stack.agent.rssBytes();
    const socketsWarm = stack.agent.socketCount();
    const crashesBefore = metricSum(await stack.agent.metrics(), 'pipeops_agent_worker_crashes_total');

    let isLoading = true;
    let wakeRestarter: () => void = () => undefined;
    const restarter = (async () => {
      while (isLoading) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.restartEveryMs);
          wakeRestarter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        if (isLoading) await stack.restartPlane();
      }
    })();
    const kubeconfig = join(stack.dir, 'kubectl-kubeconfig');
    await stack.plane.writeKubeconfig(kubeconfig, 'chaos');
    let kubectlOk = 0;
    let kubectlFailed = 0;
    const kubectlRuns = (async () => {
      for (let i = 0; i < options.kubectlRuns && isLoading; i++) {
        if (await runKubectl(kubeconfig)) kubectlOk++;
        else kubectlFailed++;
      }
    })();
    // the URL stays valid across restarts: the control plane comes back on the same port
    const issued = await runLoad({ target: { clusterUrl: stack.clusterUrl, random }, total: options.requests, concurrency: options.concurrency }, counts);
    isLoading = false;
    wakeRestarter();
    await restarter;
    await kubectlRuns;

    await stack.waitForAgent();
    const leaks = await stack.settle(options.settleTimeoutMs);
    const stillRelays = (await runOperation(Operation.get, { clusterUrl: stack.clusterUrl, random })) === Outcome.ok;
    const metrics = await stack.agent.metrics();
    const rssAfterBytes = stack.agent.rssBytes();
    return {
      options,
      issued,
      counts,
      audit: stack.audit.snapshot(),
      outstandingIds: stack.audit.outstandingIds(),
      restarts: stack.restarts,
      apiConnections: stack.proxy.stats.connections,
      apiResets: stack.proxy.stats.resets,
      leaks,
      rssWarmBytes,
      rssAfterBytes,
      socketsWarm,
      socketsAfter: stack.agent.socketCount(),
      workerCrashes: metricSum(metrics, 'pipeops_agent_worker_crashes_total') - crashesBefore,
      isAgentAlive: stack.agent.isAlive,
      unhandled: stack.agent.unhandledCount,
      errorLines: stack.agent.errorLines,
      stillRelays,
      kubectlOk,
      kubectlFailed,
      seconds: (Date.now() - started) / 1000,
    };
  } catch (error) {
    throw new Error(`${String(error)}; agent ${stack.agent.isAlive ? 'alive' : `exited ${JSON.stringify(stack.agent.exit)}`}; stderr: ${stack.agent.errorLines.join(' | ')}`);
  } finally {
    await stack.stop();
    closeLoadClients();
  }
}

/** The invariants; an empty list means the run passed. RSS is checked only when asked (full runs). */
export function mixedViolations(result: MixedResult, isRssChecked: boolean): string[] {
  const problems: string[] = [];
  const { audit } = result;
  if (audit.duplicates > 0) problems.push(`${audit.duplicates} second terminal replies: ${JSON.stringify(audit.violations)}`);
  if (audit.unknown > 0) problems.push(`${audit.unknown} terminal replies for ids not sent on that socket: ${JSON.stringify(audit.violations)}`);
  if (audit.outstanding > 0) problems.push(`${audit.outstanding} requests/sessions never got a terminal reply: ${result.outstandingIds.join(', ')}`);
  const sent = audit.requestsSent + audit.sessionsStarted;
  const accounted = audit.terminalReplies + audit.canceledWithoutReply + audit.lostWithSocket + audit.outstanding;
  if (sent !== accounted) problems.push(`sent ${sent} ≠ replied ${audit.terminalReplies} + cancelled ${audit.canceledWithoutReply} + lost ${audit.lostWithSocket} + outstanding ${audit.outstanding}`);
  if (!result.leaks.isZero) problems.push(`not back to zero: ${JSON.stringify(result.leaks)}`);
  if (!result.isAgentAlive) problems.push('the agent process exited');
  if (result.workerCrashes > 0) problems.push(`${result.workerCrashes} worker crashes`);
  if (result.unhandled > 0) problems.push(`${result.unhandled} unhandled rejections/exceptions: ${result.errorLines.join(' | ')}`);
  if (!result.stillRelays) problems.push('a GET after the run did not succeed');
  if (isRssChecked && Math.abs(result.rssAfterBytes - result.rssWarmBytes) > 0.1 * result.rssWarmBytes) {
    problems.push(`RSS ${mib(result.rssAfterBytes)} MiB is not within 10 % of ${mib(result.rssWarmBytes)} MiB after warm-up`);
  }
  return problems;
}

export function mixedReport(result: MixedResult, command: string): string {
  const { audit, counts } = result;
  const rows = Object.values(Operation).map((operation) => {
    const c = counts[operation];
    return `| ${operation} | ${c.ok + c.failed + c.connection + c.timeout} | ${c.ok} | ${c.failed} | ${c.connection} | ${c.timeout} |`;
  });
  const rssDelta = result.rssAfterBytes - result.rssWarmBytes;
  return [
    runContext(command),
    '',
    `${result.issued} client operations in ${result.seconds.toFixed(0)} s at ${result.options.concurrency} in flight; ${result.restarts} control-plane restarts (every ${result.options.restartEveryMs / 1000} s); the fault proxy reset ${result.apiResets} of ${result.apiConnections} agent→API connections (${percent(result.apiResets, result.apiConnections)} %).`,
    '',
    '| Operation | Issued | OK | HTTP/session error | Connection error | Client timeout |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    '| Control-plane count (terminal-reply audit) | Value |',
    '|---|---:|',
    `| proxy_request sent to the agent | ${audit.requestsSent} |`,
    `| proxy_websocket_start sent to the agent | ${audit.sessionsStarted} |`,
    `| exactly one terminal reply | ${audit.terminalReplies} |`,
    `| cancelled by the control plane before a response started (no reply owed) | ${audit.canceledWithoutReply} |`,
    `| lost with their socket (control-plane restart) | ${audit.lostWithSocket} |`,
    `| never answered on a live socket | ${audit.outstanding} |`,
    `| second terminal replies | ${audit.duplicates} |`,
    `| replies for unknown ids | ${audit.unknown} |`,
    '',
    '| Agent after the run | Value |',
    '|---|---:|',
    ...Object.entries(result.leaks.gauges).map(([name, value]) => `| \`${name}\` | ${value} |`),
    `| agent→API connections open (fault proxy) | ${result.leaks.apiConnections} |`,
    `| kubectl sessions open (control plane) | ${result.leaks.planeSessions} |`,
    `| socket descriptors (after warm-up → after) | ${result.socketsWarm} → ${result.socketsAfter} |`,
    `| RSS after warm-up → after (MiB) | ${mib(result.rssWarmBytes)} → ${mib(result.rssAfterBytes)} (${rssDelta >= 0 ? '+' : '−'}${percent(Math.abs(rssDelta), result.rssWarmBytes)} %) |`,
    `| worker crashes / unhandled rejections / process alive | ${result.workerCrashes} / ${result.unhandled} / ${result.isAgentAlive ? 'yes' : 'no'} |`,
    `| a GET after the run | ${result.stillRelays ? 'ok' : 'FAILED'} |`,
    ...(result.options.kubectlRuns > 0 ? [`| real \`kubectl get pods\` during the run (ok / failed) | ${result.kubectlOk} / ${result.kubectlFailed} |`] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const requests = numberFlag(argv, '--requests', 100_000);
  const options: MixedOptions = {
    requests,
    warmupRequests: numberFlag(argv, '--warmup', Math.min(5000, Math.max(200, Math.floor(requests / 20)))),
    concurrency: numberFlag(argv, '--concurrency', 48),
    restartEveryMs: numberFlag(argv, '--restart-every-ms', 10_000),
    resetRatio: numberFlag(argv, '--reset-ratio', 0.01),
    kubectlRuns: numberFlag(argv, '--kubectl', 20),
    seed: numberFlag(argv, '--seed', 1),
    settleTimeoutMs: 60_000,
  };
  const result = await runMixed(options);
  const command = `node dist/bench/chaos/mixed.js ${argv.filter((arg) => arg !== '--write').join(' ')}`.trim();
  const report = mixedReport(result, command);
  const problems = mixedViolations(result, true);
  const verdict = problems.length === 0 ? 'All invariants held.' : `Invariants FAILED:\n${problems.map((problem) => `- ${problem}`).join('\n')}`;
  process.stdout.write(`${report}\n\n${verdict}\n`);
  if (argv.includes('--write')) writeSection(ChaosRun.mixed, `${report}\n\n${verdict}`);
  if (problems.length > 0) process.exitCode = 1;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
