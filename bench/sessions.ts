// Interactive-session costs of the tunnel, each against a baseline measured in the same run:
//   1. exec keystroke round trip (1 byte to `cat` and back): direct to the sandbox API vs through the local
//      control plane and the agent; p50/p99 and the added milliseconds;
//   2. port-forward throughput of a 50 MiB download: kubectl port-forward direct vs through the tunnel, and
//      the CPU time the agent process spent on it;
//   3. agent RSS per 100 idle exec sessions (the agent runs as its own process, so its RSS is its own).
// The tunnel runs twice, each with its own control plane and agent process: with binary stream frames (the
// local control plane's default) and in legacy mode (session data as base64 JSON, PROTOCOL.md alone).
//
//   node dist/bench/sessions.js [--keystrokes N] [--write]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { silentLogger } from '../src/log.js';
import { startControlPlane, WireMode, type ControlPlane } from '../src/local/control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from '../src/local/sandbox-api/sandbox-server.js';

const CLI = new URL('../src/cli.js', import.meta.url).pathname;
const KUBECTL = '/usr/bin/kubectl';

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const KEYSTROKES = flag('--keystrokes', 300);
const IDLE_SESSIONS = 100;
const DOWNLOAD_BYTES = 50 * 1024 * 1024;
const EXEC_PATH = '/api/v1/namespaces/default/pods/demo/exec?command=cat&stdin=true&stdout=true';

const signed = (value: number, digits: number): string => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Opens a v5.channel.k8s.io exec of `cat`. */
function openExec(url: string, options: { token?: string; ca?: string }): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, ['v5.channel.k8s.io'], {
      perMessageDeflate: false,
      ...(options.token === undefined ? {} : { headers: { Authorization: `Bearer ${options.token}` } }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function keystrokeRoundTrips(socket: WebSocket, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const key = Buffer.from([0x61 + (i % 26)]);
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      const onMessage = (data: Buffer): void => {
        if (data[0] === 1 && data.subarray(1).includes(key[0]!)) {
          socket.off('message', onMessage);
          resolve();
        }
      };
      socket.on('message', onMessage);
      socket.send(Buffer.concat([Buffer.from([0]), key]));
    });
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return samples.sort((a, b) => a - b);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function portForwardMbPerSecond(kubeconfig: string): Promise<number> {
  const local = await freePort();
  const child = spawn(KUBECTL, ['port-forward', 'pod/demo', `${local}:8080`], { env: { ...process.env, KUBECONFIG: kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => (chunk.toString().includes('Forwarding from') ? resolve() : undefined));
      child.once('exit', (code) => reject(new Error(`port-forward exited ${code}`)));
    });
    const started = process.hrtime.bigint();
    const size = await new Promise<number>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: local, path: `/bytes?n=${DOWNLOAD_BYTES}` }, (response) => {
          let total = 0;
          response.on('data', (chunk: Buffer) => (total += chunk.length));
          response.on('end', () => resolve(total));
        })
        .on('error', reject);
    });
    if (size !== DOWNLOAD_BYTES) throw new Error(`download got ${size} bytes`);
    return size / 1024 / 1024 / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    child.kill('SIGTERM');
  }
}

/** CPU time (user + system) the process has used, in ms: /proc/<pid>/stat fields 14 and 15, in 10 ms clock ticks. */
function cpuMs(child: ChildProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A port-forward download through `tunnel`, with the CPU time its agent process spent on it. */
async function forwardThrough(tunnel: Tunnel): Promise<{ mbPerSecond: number; agentCpuMs: number }> {
  const before = cpuMs(tunnel.agent);
  const mbPerSecond = await portForwardMbPerSecond(tunnel.kubeconfig);
  return { mbPerSecond, agentCpuMs: cpuMs(tunnel.agent) - before };
}

function rssKib(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

interface Tunnel {
  readonly plane: ControlPlane;
  readonly agent: ChildProcess;
  readonly kubeconfig: string;
}

/** A local control plane and an agent process connected to it; `mode` legacy turns stream frames off. */
async function startTunnel(dir: string, name: string, sandboxKubeconfig: string, mode: WireMode | undefined): Promise<Tunnel> {
  const plane = await startControlPlane({ agentToken: 'bench-token', logger: silentLogger(), ...(mode === undefined ? {} : { mode }) });
  const agent = spawn(process.execPath, [CLI, 'run'], {
    env: { ...process.env, PIPEOPS_API_URL: plane.url, PIPEOPS_TOKEN: 'bench-token', PIPEOPS_CLUSTER_NAME: name, KUBECONFIG: sandboxKubeconfig, AGENT_PORT: '0', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await plane.waitForCluster(name, 30_000);
  const kubeconfig = join(dir, `kubeconfig-${name}`);
  await plane.writeKubeconfig(kubeconfig, name);
  return { plane, agent, kubeconfig };
}

async function stopTunnel(tunnel: Tunnel | undefined): Promise<void> {
  if (tunnel === undefined) return;
  tunnel.agent.kill('SIGTERM');
  await new Promise((resolve) => tunnel.agent.once('exit', resolve));
  await tunnel.plane.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sessions-'));
  const sandbox: SandboxApi = await startSandboxApi({ logger: silentLogger() });
  const sandboxKubeconfig = join(dir, 'sandbox-kubeconfig');
  await sandbox.writeKubeconfig(sandboxKubeconfig);
  let frames: Tunnel | undefined;
  let legacy: Tunnel | undefined;
  try {
    frames = await startTunnel(dir, 'bench', sandboxKubeconfig, undefined);
    legacy = await startTunnel(dir, 'bench-legacy', sandboxKubeconfig, WireMode.legacy);
    const wsBase = (url: string): string => url.replace(/^http/, 'ws');

    const directSocket = await openExec(`${wsBase(sandbox.url)}${EXEC_PATH}`, { token: sandbox.token, ca: sandbox.caPem });
    const tunnelSocket = await openExec(`${wsBase(frames.plane.clusterUrl('bench'))}${EXEC_PATH}`, {});
    const legacySocket = await openExec(`${wsBase(legacy.plane.clusterUrl('bench-legacy'))}${EXEC_PATH}`, {});
    await keystrokeRoundTrips(directSocket, 20);
    await keystrokeRoundTrips(tunnelSocket, 20);
    await keystrokeRoundTrips(legacySocket, 20);
    const direct = await keystrokeRoundTrips(directSocket, KEYSTROKES);
    const tunnel = await keystrokeRoundTrips(tunnelSocket, KEYSTROKES);
    const tunnelLegacy = await keystrokeRoundTrips(legacySocket, KEYSTROKES);
    directSocket.close();
    tunnelSocket.close();
    legacySocket.close();

    // Twice each, in mirrored order (direct, frames, legacy, legacy, frames, direct), keeping the faster run:
    // on a shared machine one download can land on a busy second; the order keeps either tunnel from
    // always following the same neighbour.
    const directRuns = [await portForwardMbPerSecond(sandboxKubeconfig)];
    const tunnelRuns = [await forwardThrough(frames)];
    const legacyRuns = [await forwardThrough(legacy)];
    legacyRuns.push(await forwardThrough(legacy));
    tunnelRuns.push(await forwardThrough(frames));
    directRuns.push(await portForwardMbPerSecond(sandboxKubeconfig));
    const faster = (runs: { mbPerSecond: number; agentCpuMs: number }[]) => runs.reduce((best, run) => (run.mbPerSecond > best.mbPerSecond ? run : best));
    const forwardDirect = Math.max(...directRuns);
    const forwardTunnel = faster(tunnelRuns);
    const forwardLegacy = faster(legacyRuns);
    const cpuPerRun = (runs: { agentCpuMs: number }[]): number => runs.reduce((sum, run) => sum + run.agentCpuMs, 0) / runs.length;

    const baseline = rssKib(frames.agent);
    const idle = await Promise.all(Array.from({ length: IDLE_SESSIONS }, () => openExec(`${wsBase(frames!.plane.clusterUrl('bench'))}${EXEC_PATH}`, {})));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const loaded = rssKib(frames.agent);
    for (const socket of idle) socket.close();

    const keystrokeRow = (label: string, q: number, through: readonly number[]): string =>
      `| ${label} | ${quantile(direct, q).toFixed(2)} | ${quantile(through, q).toFixed(2)} | ${signed(quantile(through, q) - quantile(direct, q), 2)} ms |`;
    const rows = [
      '| Measure | Direct to the API | Through the tunnel | Tunnel cost |',
      '|---|---:|---:|---:|',
      keystrokeRow(`exec keystroke round trip p50 (ms, ${KEYSTROKES} keystrokes), stream frames`, 0.5, tunnel),
      keystrokeRow('exec keystroke round trip p99 (ms), stream frames', 0.99, tunnel),
      keystrokeRow('exec keystroke round trip p50 (ms), legacy JSON', 0.5, tunnelLegacy),
      keystrokeRow('exec keystroke round trip p99 (ms), legacy JSON', 0.99, tunnelLegacy),
      `| port-forward download of 50 MiB (MB/s, faster of 2), stream frames | ${forwardDirect.toFixed(1)} | ${forwardTunnel.mbPerSecond.toFixed(1)} | ${(forwardTunnel.mbPerSecond / forwardDirect).toFixed(2)}x |`,
      `| port-forward download of 50 MiB (MB/s, faster of 2), legacy JSON | ${forwardDirect.toFixed(1)} | ${forwardLegacy.mbPerSecond.toFixed(1)} | ${(forwardLegacy.mbPerSecond / forwardDirect).toFixed(2)}x |`,
      `| agent CPU per download (ms, mean of 2), stream frames vs legacy JSON | — | ${cpuPerRun(tunnelRuns).toFixed(0)} vs ${cpuPerRun(legacyRuns).toFixed(0)} | ${(cpuPerRun(tunnelRuns) / cpuPerRun(legacyRuns)).toFixed(2)}x |`,
      `| agent RSS for ${IDLE_SESSIONS} idle exec sessions (MiB) | ${(baseline / 1024).toFixed(1)} idle agent | ${(loaded / 1024).toFixed(1)} | ${signed(((loaded - baseline) / 1024 / IDLE_SESSIONS) * 100, 1)} MiB per 100 sessions |`,
    ];
    const table = rows.join('\n');
    process.stdout.write(`${table}\n`);
    if (process.argv.includes('--write')) {
      const path = new URL('../../docs/benchmarks.md', import.meta.url);
      const section = [
        '<!-- sessions:start -->',
        `Command: \`node dist/bench/sessions.js --keystrokes ${KEYSTROKES} --write\` (\`npm run bench:sessions\`), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}.`,
        '',
        table,
        '<!-- sessions:end -->',
      ].join('\n');
      writeFileSync(path, readFileSync(path, 'utf8').replace(/<!-- sessions:start -->[\s\S]*<!-- sessions:end -->/, section));
    }
  } finally {
    await stopTunnel(frames);
    await stopTunnel(legacy);
    await sandbox.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
