// Agent RSS with many idle streams open through the local control plane: exec sessions (held idle) and
// watches (the upstream sends nothing), each against the idle agent of the same run. The streams are
// opened by a child process (its own descriptor limit); the agent runs with the long lane sized for them.
//
//   node dist/bench/load/scale.js [--workers 2] [--sessions 1000] [--watches 10000] [--http1] [--write]
//
// The upstream serves HTTP/2 and HTTP/1.1 as kube-apiserver does, so the agent's watches share h2
// connections; `--http1` runs the agent with AGENT_KUBE_HTTP2=false (one TLS connection per watch).

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { LoadStack, startUpstream, stopUpstream, threadCount } from './load-stack.js';
import { machineLine, replaceSection } from './bench-doc.js';

function flag(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}

const WORKERS = Number(flag('--workers', '2'));
const SESSIONS = Number(flag('--sessions', '1000'));
const WATCHES = Number(flag('--watches', '10000'));
const SETTLE_MS = Number(flag('--settle-ms', '3000'));
const IS_HTTP1 = process.argv.includes('--http1');
const OPEN_TIMEOUT_MS = 300_000;
const EXEC_PATH = '/api/v1/namespaces/bench/pods/shell/exec?command=cat&stdin=true&stdout=true';
const WATCH_PATH = '/api/v1/namespaces/bench/pods?watch=true&events=0';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Opened {
  readonly open: number;
  readonly error?: string;
  readonly close: () => Promise<void>;
}

async function openStreams(kind: 'exec' | 'watch', url: string, count: number): Promise<Opened> {
  const child = spawn(process.execPath, [new URL('./stream-opener.js', import.meta.url).pathname, kind, url, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin!.end();
    });
  let timer: NodeJS.Timeout | undefined;
  const line = await Promise.race([
    new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve)),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(JSON.stringify({ open: -1, error: 'timed out opening' })), OPEN_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  return { ...(JSON.parse(line) as { open: number; error?: string }), close };
}

interface Row {
  readonly what: string;
  readonly count: number;
  readonly opened: number;
  readonly idleMiB: number;
  readonly loadedMiB: number;
  readonly threads: number;
  readonly goalMiB: number;
  readonly error: string | undefined;
}

async function measure(stack: LoadStack, kind: 'exec' | 'watch', count: number, goalMiB: number): Promise<Row> {
  const idleMiB = stack.rssMiB();
  const wsBase = stack.tunnelBase.replace(/^http/, 'ws');
  const started = Date.now();
  const opened = await openStreams(kind, kind === 'exec' ? `${wsBase}${EXEC_PATH}` : `${stack.tunnelBase}${WATCH_PATH}`, count);
  process.stderr.write(`${opened.open} ${kind} streams open in ${Date.now() - started} ms\n`);
  await sleep(SETTLE_MS);
  const loadedMiB = stack.rssMiB();
  const threads = threadCount(stack.agent.pid);
  await opened.close();
  await sleep(SETTLE_MS);
  process.stderr.write(`closed after ${Date.now() - started} ms\n`);
  return { what: kind === 'exec' ? 'idle exec sessions' : 'open watches', count, opened: opened.open, idleMiB, loadedMiB, threads, goalMiB, error: opened.error };
}

export function scaleTable(rows: readonly Row[]): string {
  const lines = ['| Streams | Opened | Agent RSS idle before (MiB) | Agent RSS with them open (MiB) | Per 1,000 streams (MiB) | Agent threads | Goal |', '|---|---:|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const per = r.opened > 0 ? ((r.loadedMiB - r.idleMiB) / r.opened) * 1000 : Number.NaN;
    lines.push(`| ${r.count.toLocaleString('en-US')} ${r.what} | ${r.opened}${r.error === undefined ? '' : ` (${r.error})`} | ${r.idleMiB.toFixed(1)} | ${r.loadedMiB.toFixed(1)} | ${per.toFixed(1)} | ${r.threads} | ≤ ${r.goalMiB} MiB: ${r.loadedMiB <= r.goalMiB ? 'met' : 'not met'} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const env = {
    AGENT_WORKERS: String(WORKERS),
    // the long lane must hold every stream: max(1, session threads) × this
    AGENT_SESSION_TASKS_PER_WORKER: String(Math.max(SESSIONS, WATCHES)),
    AGENT_MAX_QUEUE: String(Math.max(SESSIONS, WATCHES)),
    ...(IS_HTTP1 ? { AGENT_KUBE_HTTP2: 'false' } : {}),
  };
  const rows: Row[] = [];
  try {
    const starting = Date.now();
    const stack = await LoadStack.start(upstream, env);
    process.stderr.write(`stack up in ${Date.now() - starting} ms\n`);
    try {
      await sleep(SETTLE_MS);
      if (SESSIONS > 0) rows.push(await measure(stack, 'exec', SESSIONS, 250));
      if (WATCHES > 0) rows.push(await measure(stack, 'watch', WATCHES, 300));
    } finally {
      const stopping = Date.now();
      await stack.stop();
      process.stderr.write(`stack stopped in ${Date.now() - stopping} ms\n`);
    }
  } finally {
    await stopUpstream(upstream);
  }
  const table = scaleTable(rows);
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--write')) {
    const command = `node dist/bench/load/scale.js --workers ${WORKERS} --sessions ${SESSIONS} --watches ${WATCHES}${IS_HTTP1 ? ' --http1' : ''} --write`;
    replaceSection(new URL('../../../docs/benchmarks.md', import.meta.url), 'scale', [`Command: \`${command}\` (\`npm run bench:scale\`), ${machineLine()}; env ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}.`, '', table].join('\n'));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
