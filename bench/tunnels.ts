// TCP tunnel throughput and connect latency, through the tunnel vs direct to the same server, in one run.
//
//   node dist/bench/tunnels.js [--mib N] [--connects N] [--write]
//
// What ran where: one process holds the client, the target server, the local control plane as the gateway
// (a loopback listener per tunnel, yamux server) and the agent (yamux client, the tunnel stream actors
// with AGENT_WORKERS as set); the machine's cores are shared by all of them, so the figures are ratios
// against the direct path measured in the same run. The tunnel is declared in the agent's config and
// registered with the control plane like one found on a managed Gateway.

import { cpus, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Agent } from '../src/agent.js';
import { silentLogger } from '../src/log.js';
import { startControlPlane } from '../src/local/control-plane/control-plane-server.js';
import { parseConfigTunnels } from '../src/tunnel/discovery/tunnel-entry.js';
import { testConfig } from '../test/helpers/agent-config.js';

const CLUSTER = 'bench-tunnels';
const TOKEN = 'bench-tunnels-token';
const SERVICE_HOST = 'target.bench.svc.cluster.local';
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

function numberFlag(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * The target: a line `up <bytes>\n` makes it count that many bytes from the client, then answer `ok\n`;
 * `down <bytes>\n` makes it send that many; any other line is echoed (the connect-latency probe).
 */
async function startTarget(): Promise<{ port: number; server: Server; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    let upLeft = -1;
    const onData = (chunk: Buffer): void => {
      if (upLeft > 0) {
        upLeft -= chunk.length;
        if (upLeft <= 0) socket.end('ok\n');
        return;
      }
      head = Buffer.concat([head, chunk]);
      const newline = head.indexOf(0x0a);
      if (newline < 0) return;
      const line = head.subarray(0, newline).toString();
      const rest = head.subarray(newline + 1);
      const [verb, size] = line.split(' ');
      if (verb === 'up') {
        upLeft = Number(size) - rest.length;
        if (upLeft <= 0) socket.end('ok\n');
      } else if (verb === 'down') {
        sendDown(socket, Number(size));
      } else {
        socket.end(`${line}\n`);
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as AddressInfo).port, server, sockets };
}

/** Writes `total` bytes with back-pressure, then calls `onWritten`. */
function pumpBytes(socket: Socket, total: number, onWritten: () => void): void {
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) {
        socket.once('drain', pump);
        return;
      }
    }
    onWritten();
  };
  pump();
}

function sendDown(socket: Socket, total: number): void {
  pumpBytes(socket, total, () => socket.end());
}

/** Milliseconds to move `bytes` up (client → target) or down (target → client) over one connection. */
function transfer(port: number, direction: 'up' | 'down', bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    socket.on('error', reject);
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.on('close', () => {
      if (direction === 'down' && received !== bytes) reject(new Error(`received ${received} of ${bytes} bytes`));
      else resolve(performance.now() - started);
    });
    socket.write(`${direction} ${bytes}\n`);
    if (direction === 'up') pumpBytes(socket, bytes, () => undefined);
  });
}

/** Milliseconds from connect to the echo of one short line. */
function connectRoundTrip(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.once('data', () => {
      resolve(performance.now() - started);
      socket.destroy();
    });
    socket.write('ping\n');
  });
}

function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

interface PathFigures {
  readonly upMiBps: number;
  readonly downMiBps: number;
  readonly connectP50: number;
  readonly connectP99: number;
}

async function measure(port: number, mib: number, connects: number): Promise<PathFigures> {
  const bytes = mib * 1024 * 1024;
  // the faster of two runs per direction: one slow run on a shared machine says little about the path
  const up = Math.min(await transfer(port, 'up', bytes), await transfer(port, 'up', bytes));
  const down = Math.min(await transfer(port, 'down', bytes), await transfer(port, 'down', bytes));
  const latencies: number[] = [];
  for (let index = 0; index < connects; index++) latencies.push(await connectRoundTrip(port));
  return { upMiBps: mib / (up / 1000), downMiBps: mib / (down / 1000), connectP50: percentile(latencies, 50), connectP99: percentile(latencies, 99) };
}

export async function runTunnelBench(mib: number, connects: number, workers: number): Promise<{ direct: PathFigures; tunnel: PathFigures }> {
  const target = await startTarget();
  const dir = mkdtempSync(join(tmpdir(), 'bench-tunnels-'));
  const plane = await startControlPlane({ agentToken: TOKEN, gateway: true, tunnelListeners: true, logger: silentLogger() });
  const declared = parseConfigTunnels([{ protocol: 'tcp', service_name: 'target', service_namespace: 'bench', service_port: target.port, gateway_port: 7100 }]);
  if (!declared.ok) throw new Error(declared.problem);
  let agent: Agent | undefined;
  try {
    agent = await Agent.start({
      config: testConfig({ apiUrl: plane.url, token: TOKEN, clusterName: CLUSTER, workers, tunnels: declared.value }),
      logger: silentLogger(),
      workerTuning: { hostAliases: { [SERVICE_HOST]: '127.0.0.1' } },
    });
    await plane.waitForCluster(CLUSTER, 30_000);
    const deadline = Date.now() + 30_000;
    let tunnelPort = 0;
    while (tunnelPort === 0) {
      tunnelPort = plane.tunnels.clusters().flatMap((cluster) => cluster.tunnels)[0]?.tunnel_port ?? 0;
      if (tunnelPort === 0 && Date.now() > deadline) throw new Error('the tunnel got no listener within 30 s');
      if (tunnelPort === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const direct = await measure(target.port, mib, connects);
    const tunneled = await measure(tunnelPort, mib, connects);
    return { direct, tunnel: tunneled };
  } finally {
    await agent?.stop();
    await plane.close();
    for (const socket of target.sockets) socket.destroy();
    await new Promise<void>((resolve) => target.server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function table(mib: number, connects: number, workers: number, figures: { direct: PathFigures; tunnel: PathFigures }): string {
  const { direct, tunnel } = figures;
  const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
  const ms = (value: number): string => `${value.toFixed(2)} ms`;
  return [
    `| TCP tunnel (${mib} MiB each way, ${connects} connects, AGENT_WORKERS=${workers}) | direct | tunnel | tunnel / direct |`,
    '|---|---:|---:|---:|',
    `| upload, MiB/s | ${direct.upMiBps.toFixed(0)} | ${tunnel.upMiBps.toFixed(0)} | ${ratio(tunnel.upMiBps, direct.upMiBps)} |`,
    `| download, MiB/s | ${direct.downMiBps.toFixed(0)} | ${tunnel.downMiBps.toFixed(0)} | ${ratio(tunnel.downMiBps, direct.downMiBps)} |`,
    `| connect + first echo, p50 | ${ms(direct.connectP50)} | ${ms(tunnel.connectP50)} | +${ms(tunnel.connectP50 - direct.connectP50)} |`,
    `| connect + first echo, p99 | ${ms(direct.connectP99)} | ${ms(tunnel.connectP99)} | +${ms(tunnel.connectP99 - direct.connectP99)} |`,
  ].join('\n');
}

async function main(): Promise<void> {
  const mib = numberFlag('--mib', 64);
  const connects = numberFlag('--connects', 200);
  const workers = numberFlag('--workers', 2);
  const figures = await runTunnelBench(mib, connects, workers);
  const text = table(mib, connects, workers, figures);
  process.stdout.write(`${text}\n`);
  if (process.argv.includes('--write')) {
    const path = new URL('../../docs/benchmarks.md', import.meta.url);
    const section = [
      '<!-- tunnels:start -->',
      `Command: \`node dist/bench/tunnels.js --mib ${mib} --connects ${connects} --workers ${workers} --write\` (\`npm run bench:tunnels\`), ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}. Client, target server, local control plane (gateway, yamux server) and agent (yamux client) in one process.`,
      '',
      text,
      '<!-- tunnels:end -->',
    ].join('\n');
    const current = readFileSync(path, 'utf8');
    const next = current.includes('<!-- tunnels:start -->')
      ? current.replace(/<!-- tunnels:start -->[\s\S]*<!-- tunnels:end -->/, section)
      : `${current.trimEnd()}\n\n## TCP tunnels (yamux through the gateway)\n\n${section}\n`;
    writeFileSync(path, next);
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
