// Interoperability with the real hashicorp/yamux (PROTOCOL.md §15): a small gateway written in Go with
// hashicorp/yamux and gorilla/websocket (test/interop/yamux-gateway/main.go, built once from Debian's
// packages in GOPATH mode) registers the agent, negotiates yamux and drives it through ping, window growth,
// 100 concurrent streams, 100 MB each way with a slow reader (the agent's memory stays bounded), half-close,
// RST and UDP. Nothing is skipped: without `go` and the packages these tests fail with what to install.

import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { SimulatedClock } from '../helpers/simulated-clock.js';
import { testConfig } from '../helpers/agent-config.js';
import { failOnFault } from '../helpers/agent-harness.js';
import { tcpEcho, udpEcho } from '../helpers/yamux-gateway.js';

const test = anyTest as TestFn<{ gateway: string }>;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GO_PACKAGES = 'golang-go golang-github-hashicorp-yamux-dev golang-github-gorilla-websocket-dev';
const ALIASES = {
  'echo.apps.svc.cluster.local': '127.0.0.1',
  'sink.apps.svc.cluster.local': '127.0.0.1',
  'source.apps.svc.cluster.local': '127.0.0.1',
  'dns.apps.svc.cluster.local': '127.0.0.1',
};
const HUNDRED_MB = 100 * 1024 * 1024;

test.before((t) => {
  const dir = mkdtempSync(join(tmpdir(), 'yamux-gateway-'));
  const binary = join(dir, 'gw');
  const build = spawnSync('go', ['build', '-o', binary, './test/interop/yamux-gateway'], {
    cwd: ROOT,
    // GOPATH mode against Debian's sources; the build cache outlives the run so the standard library compiles once.
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: process.env['GOCACHE'] ?? join(tmpdir(), 'pipeops-agent-go-build-cache') },
    encoding: 'utf8',
  });
  if (build.error !== undefined) {
    throw new Error(`the yamux interop gateway needs Go: ${build.error.message}; install it with: apt-get install -y ${GO_PACKAGES}`);
  }
  if (build.status !== 0) {
    throw new Error(`building test/interop/yamux-gateway failed (apt-get install -y ${GO_PACKAGES}):\n${build.stderr}`);
  }
  t.context.gateway = binary;
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
});

interface Run {
  readonly result: Promise<Record<string, unknown>>;
  readonly agent: Promise<Agent>;
}

/** Starts the Go gateway with `args`, then an agent dialling it; resolves the scenario's result. */
function runScenario(t: ExecutionContext<{ gateway: string }>, args: string[], workers = 1, maxStreams?: number): Run {
  const child = spawn(t.context.gateway, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  let onPort: (port: number) => void = () => undefined;
  const port = new Promise<number>((resolve) => (onPort = resolve));
  const result = new Promise<Record<string, unknown>>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('listening ')) onPort(Number(line.slice('listening '.length)));
      if (line.startsWith('result ')) resolve(JSON.parse(line.slice('result '.length)) as Record<string, unknown>);
    });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${String(code)}: ${stderr.trim()}`)));
  });
  const agent = (async () => {
    const kube = await FakeKubeApi.start();
    t.teardown(() => kube.close());
    const config = testConfig({ apiUrl: `http://127.0.0.1:${await port}`, kubeconfig: kube.kubeconfigPath, workers });
    const started = await Agent.start({
      config: maxStreams === undefined ? config : { ...config, tunnel: { ...config.tunnel, maxStreams } },
      logger: silentLogger(),
      clock: new SimulatedClock(),
      random: () => 0,
      stateStore: new MemoryStateStore(),
      workerTuning: { hostAliases: ALIASES },
      onFault: failOnFault(t),
    });
    t.teardown(() => started.stop());
    return started;
  })();
  return { result, agent };
}

// A full collection before each sample, so what is measured is what the agent still holds, not garbage the
// collector has not reached yet (100 MB of it passes through).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Live heap plus ArrayBuffer memory (Buffers live outside the heap), after a full collection. */
function liveBytes(): number {
  // Twice: V8 sweeps ArrayBuffers concurrently after a collection; the next full collection finishes that sweep.
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Samples live memory during a transfer until stopped; returns the peak. */
function memorySampler(): { stop(): number } {
  const read = liveBytes;
  let peak = read();
  const timer = setInterval(() => (peak = Math.max(peak, read())), 500);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, read());
    },
  };
}

test.serial('ping: the Go session pings the agent and gets its answer', async (t) => {
  const run = runScenario(t, ['-scenario', 'ping']);
  const result = await run.result;
  t.is(result['scenario'], 'ping');
  t.is(typeof result['rtt_ns'], 'number');
});

test.serial('window growth: with max_stream_window_size 1 MiB an 8 MiB echo passes and one read finds more than 256 KiB buffered', async (t) => {
  const echo = await tcpEcho(t);
  const run = runScenario(t, ['-scenario', 'window', '-window', String(1024 * 1024), '-echo-port', String(echo.port)]);
  const result = await run.result;
  t.is(result['bytes'], 8 * 1024 * 1024);
  t.true((result['largest_read'] as number) > 256 * 1024, `largest read ${String(result['largest_read'])}`);
  t.true((result['largest_read'] as number) <= 1024 * 1024, 'never more than the window');
});

test.serial('100 concurrent streams to a TCP echo on loopback all echo their own bytes', async (t) => {
  const echo = await tcpEcho(t);
  const run = runScenario(t, ['-scenario', 'concurrent', '-streams', '100', '-echo-port', String(echo.port)]);
  t.is((await run.result)['streams'], 100);
  t.is(echo.connections.length, 100);
  const agent = await run.agent;
  t.is(await agent.metrics.value('tunnelStreamsOpened', { protocol: 'tcp' }), 100);
});

test.serial('100 MB towards a slow target: everything arrives and the agent holds a bounded amount (inline actors, measured in process)', async (t) => {
  let received = 0;
  const sockets: Socket[] = [];
  const sink = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    // A slow reader: after each chunk it stops reading for 5 ms, so the agent must stop taking stream bytes.
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      socket.pause();
      setTimeout(() => socket.resume(), 5);
    });
    socket.on('end', () => socket.end(`${received}\n`));
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    sink.close();
  });
  const run = runScenario(t, ['-scenario', 'upload', '-bytes', String(HUNDRED_MB), '-sink-port', String((sink.address() as AddressInfo).port)], 0);
  // The baseline is taken once the agent runs (its modules loaded), so it measures what the transfer holds.
  await run.agent;
  const baseline = liveBytes();
  const sampler = memorySampler();
  const result = await run.result;
  const peak = sampler.stop();
  t.is(result['reply'], String(HUNDRED_MB));
  const growth = peak - baseline;
  t.log(`peak growth ${(growth / 1024 / 1024).toFixed(1)} MiB for a ${HUNDRED_MB / 1024 / 1024} MiB transfer`);
  t.true(growth < HUNDRED_MB / 5, `the agent held ${growth} bytes at its peak`);
});

test.serial('100 MB from a fast target to a slow gateway reader: the agent pauses the target and holds a bounded amount', async (t) => {
  const sockets: Socket[] = [];
  const payload = Buffer.alloc(1024 * 1024, 0x5a);
  const source = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    let sent = 0;
    const pump = (): void => {
      while (sent < HUNDRED_MB) {
        sent += payload.length;
        if (!socket.write(payload)) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    source.close();
  });
  const run = runScenario(t, ['-scenario', 'download', '-bytes', String(HUNDRED_MB), '-sink-port', String((source.address() as AddressInfo).port)], 0);
  await run.agent;
  const baseline = liveBytes();
  const sampler = memorySampler();
  const result = await run.result;
  const peak = sampler.stop();
  t.is(result['bytes'], HUNDRED_MB);
  const growth = peak - baseline;
  t.log(`peak growth ${(growth / 1024 / 1024).toFixed(1)} MiB for a ${HUNDRED_MB / 1024 / 1024} MiB transfer`);
  t.true(growth < HUNDRED_MB / 5, `the agent held ${growth} bytes at its peak`);
});

test.serial('half-close: the Go side closes its write half and still reads the whole echo', async (t) => {
  const echo = await tcpEcho(t);
  const run = runScenario(t, ['-scenario', 'halfclose', '-echo-port', String(echo.port)]);
  t.is((await run.result)['echo'], 'half-closed hello');
});

test.serial('RST: an unknown stream header resets that stream; another stream on the session is unaffected', async (t) => {
  const echo = await tcpEcho(t);
  const run = runScenario(t, ['-scenario', 'rst', '-echo-port', String(echo.port)]);
  const result = await run.result;
  t.true(result['bad_is_reset'], String(result['bad_stream']));
  t.is(result['good_stream'], 'ok');
});

test.serial('UDP: datagrams through a yamux stream reach a datagram echo server and come back unchanged', async (t) => {
  const echo = await udpEcho(t);
  const run = runScenario(t, ['-scenario', 'udp', '-udp-port', String(echo.port)]);
  t.is((await run.result)['datagrams'], 3);
});
