// Wire bytes and relay throughput of the fixed corpus, legacy (JSON + base64, no compression) against
// binary frames + gzip with each engine, all in one run: kubectl-shaped GETs go through the local control
// plane and the agent to a corpus server in its own process. Prints a table of bytes on the wire (as the
// agent counts them on its control-plane socket) and ratios against legacy, and a watch stream of
// real-shaped pod events against its raw size: legacy JSON chunks vs binary stream frames deflated with
// one context per stream (the control plane in legacy mode vs its default).
//
//   node dist/bench/wire-bytes.js [--rounds N] [--workers N] [--write]

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { Agent } from '../src/agent.js';
import { silentLogger } from '../src/log.js';
import { startControlPlane } from '../src/local/control-plane/control-plane-server.js';
import type { AgentConfig, CompressionEngine } from '../src/config/agent-config.js';
import { WATCH_PATH, buildCorpus, buildPodWatchEvents, type CorpusItem } from './corpus.js';
import { WireMode } from '../src/local/control-plane/control-plane-server.js';

interface Variant {
  readonly name: string;
  readonly compression: CompressionEngine;
  readonly isBinary: boolean;
  /** The control plane opts in to binary stream frames (watch chunks deflated per stream). */
  readonly hasStreamFrames: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: 'legacy', compression: 'off', isBinary: false, hasStreamFrames: false },
  { name: 'binary+gzip (zlib)', compression: 'zlib', isBinary: true, hasStreamFrames: true },
  { name: 'binary+gzip (fflate)', compression: 'fflate', isBinary: true, hasStreamFrames: true },
];

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const ROUNDS = flag('--rounds', 20);
const WORKERS = flag('--workers', 2);
const CONCURRENCY = 4;

async function startCorpusServer(): Promise<{ port: number; caPem: string; token: string; stop: () => void }> {
  const child = spawn(process.execPath, [new URL('./servers/corpus-api-server.js', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', () => reject(new Error('corpus server exited')));
  });
  const info = JSON.parse(line) as { port: number; caPem: string; token: string };
  return { ...info, stop: () => child.stdin.end() };
}

function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { Accept: 'application/json' } }, (response) => {
        let size = 0;
        response.on('data', (chunk: Buffer) => (size += chunk.length));
        response.on('end', () => (response.statusCode === 200 ? resolve(size) : reject(new Error(`status ${response.statusCode}`))));
      })
      .on('error', reject);
  });
}

function agentConfig(apiUrl: string, kubeconfig: string, variant: Variant): AgentConfig {
  return {
    pipeops: { apiUrl, token: 'bench-agent-token', tokenFile: undefined, tls: { caFile: undefined, certFile: undefined, keyFile: undefined, insecureSkipVerify: false } },
    agent: {
      id: 'agent-00000000000be7c4',
      clusterName: 'bench',
      port: 0,
      bindAddress: '127.0.0.1',
      workers: WORKERS,
      tasksPerWorker: 64,
      maxQueue: 1024,
      compression: variant.compression,
      enableIngressSync: false,
      heartbeatIntervalMs: 30_000,
      drainTimeoutMs: 20_000,
      labels: {},
      readyLenient: false,
    },
    kubernetes: { kubeconfig, serviceToken: undefined },
    tunnel: { enabled: true, inboundCapBytes: 64 * 1024 * 1024, requestTimeoutMs: 120_000, dropAcceptEncoding: true, tunnels: [] },
    logging: { level: 'silent' },
  };
}

interface Measured {
  readonly wireBytes: Map<string, number>;
  readonly mbPerSecond: number;
  /** Bytes the agent wrote for the whole watch stream, header and end included. */
  readonly watchWireBytes: number;
}

async function measure(variant: Variant, corpus: readonly CorpusItem[], kubeconfig: string): Promise<Measured> {
  const plane = await startControlPlane({
    agentToken: 'bench-agent-token',
    clusterToken: 'bench-token',
    mode: variant.hasStreamFrames ? WireMode.binary : WireMode.legacy,
    logger: silentLogger(),
  });
  const agent = await Agent.start({
    config: agentConfig(plane.url, kubeconfig, variant),
    logger: silentLogger(),
    workerTuning: { isBinaryResponseEnabled: variant.isBinary },
  });
  try {
    await plane.waitForCluster('bench', 20_000);
    const base = plane.clusterUrl('bench');
    const sent = (): Promise<number> => agent.metrics.value('controlPlaneBytes', { direction: 'out' });
    const wireBytes = new Map<string, number>();
    for (const item of corpus) {
      await get(`${base}${item.path}`); // warm the pool and the keep-alive connection
      const before = await sent();
      const size = await get(`${base}${item.path}`);
      if (size !== item.body.length) throw new Error(`${item.name}: got ${size} bytes, expected ${item.body.length}`);
      wireBytes.set(item.name, (await sent()) - before);
    }
    const jobs = corpus.flatMap((item) => Array.from({ length: ROUNDS }, () => item));
    const rawBytes = jobs.reduce((sum, item) => sum + item.body.length, 0);
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < jobs.length) {
          const item = jobs[next++]!;
          await get(`${base}${item.path}`);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const beforeWatch = await sent();
    const watchSize = await get(`${base}${WATCH_PATH}`);
    if (watchSize !== WATCH_RAW_BYTES) throw new Error(`watch: got ${watchSize} bytes, expected ${WATCH_RAW_BYTES}`);
    const watchWireBytes = (await sent()) - beforeWatch;
    return { wireBytes, mbPerSecond: rawBytes / 1024 / 1024 / seconds, watchWireBytes };
  } finally {
    await agent.stop();
    await plane.close();
  }
}

const percent = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)}%`;
const WATCH_EVENTS = buildPodWatchEvents();
const WATCH_RAW_BYTES = WATCH_EVENTS.reduce((sum, event) => sum + event.length, 0);

async function main(): Promise<void> {
  const corpus = buildCorpus();
  const server = await startCorpusServer();
  const dir = mkdtempSync(join(tmpdir(), 'bench-wire-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${server.port}\n    certificate-authority-data: ${Buffer.from(server.caPem).toString('base64')}\nusers:\n- name: u\n  user:\n    token: ${server.token}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n`,
  );
  const results = new Map<string, Measured>();
  try {
    for (const variant of VARIANTS) results.set(variant.name, await measure(variant, corpus, kubeconfig));
  } finally {
    server.stop();
  }
  const legacy = results.get('legacy')!;
  const lines = [
    `| Response | Raw bytes | ${VARIANTS.map((v) => `${v.name} wire bytes`).join(' | ')} | ${VARIANTS.slice(1).map((v) => `${v.name} / legacy`).join(' | ')} |`,
    `|---|---:|${VARIANTS.map(() => '---:').join('|')}|${VARIANTS.slice(1).map(() => '---:').join('|')}|`,
  ];
  for (const item of corpus) {
    const base = legacy.wireBytes.get(item.name)!;
    const cells = VARIANTS.map((v) => String(results.get(v.name)!.wireBytes.get(item.name)));
    const ratios = VARIANTS.slice(1).map((v) => percent(results.get(v.name)!.wireBytes.get(item.name)!, base));
    lines.push(`| ${item.name} | ${item.body.length} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  lines.push(
    '',
    `| Watch stream (${WATCH_EVENTS.length} pod events, ${(WATCH_RAW_BYTES / WATCH_EVENTS.length / 1024).toFixed(1)} KiB each on average) | Wire bytes | / raw |`,
    '|---|---:|---:|',
    `| raw (what kubectl receives) | ${WATCH_RAW_BYTES} | 1.00x |`,
    `| legacy: JSON chunks, base64 | ${legacy.watchWireBytes} | ${(legacy.watchWireBytes / WATCH_RAW_BYTES).toFixed(2)}x |`,
    `| binary stream frames, one deflate context per stream | ${results.get(VARIANTS[1]!.name)!.watchWireBytes} | ${(results.get(VARIANTS[1]!.name)!.watchWireBytes / WATCH_RAW_BYTES).toFixed(3)}x |`,
  );
  lines.push('', `| Relay throughput (${ROUNDS} rounds of the corpus, ${CONCURRENCY} concurrent GETs, AGENT_WORKERS=${WORKERS}) | MB/s of response bodies | vs legacy |`, '|---|---:|---:|');
  for (const variant of VARIANTS) {
    const measured = results.get(variant.name)!;
    lines.push(`| ${variant.name} | ${measured.mbPerSecond.toFixed(1)} | ${(measured.mbPerSecond / legacy.mbPerSecond).toFixed(2)}x |`);
  }
  const table = lines.join('\n');
  process.stdout.write(`${table}\n`);
  if (process.argv.includes('--write')) {
    const path = new URL('../../docs/benchmarks.md', import.meta.url);
    const doc = readFileSync(path, 'utf8');
    const section = [
      '<!-- wire-bytes:start -->',
      `Command: \`node dist/bench/wire-bytes.js --rounds ${ROUNDS} --workers ${WORKERS} --write\` (\`npm run bench:wire\`), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}.`,
      '',
      table,
      '<!-- wire-bytes:end -->',
    ].join('\n');
    writeFileSync(path, doc.replace(/<!-- wire-bytes:start -->[\s\S]*<!-- wire-bytes:end -->/, section));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
