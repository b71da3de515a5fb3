// The stack of the load and scale benches, each part its own process where it matters:
//   load-api-server (child) ◀─https─ agent (child, `node dist/src/cli.js run`) ─ws─▶ local control plane ◀─http─ clients
// The control plane and the clients share the bench process; the agent's figures (RSS, CPU time, event-loop
// delay) are its own, read from /proc/<pid> and its /metrics.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { AgentProcess, metricSum } from '../chaos/agent-process.js';

export const CLUSTER = 'load';
const AGENT_TOKEN = 'load-agent-token';
const CONNECT_WAIT_MS = 60_000;
/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface Upstream {
  readonly port: number;
  readonly caPem: string;
  readonly token: string;
  readonly child: ChildProcess;
}

export async function startUpstream(): Promise<Upstream> {
  const child = spawn(process.execPath, [new URL('../servers/load-api-server.js', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', () => reject(new Error('load API server exited')));
  });
  return { ...(JSON.parse(line) as { port: number; caPem: string; token: string }), child };
}

export function stopUpstream(upstream: Upstream): Promise<void> {
  return new Promise((resolve) => {
    if (upstream.child.exitCode !== null) return resolve();
    upstream.child.once('exit', () => resolve());
    upstream.child.stdin!.end();
  });
}

/** Agent CPU time (user + system) in seconds, all threads. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] and fields[12] are utime and stime (fields 14 and 15 of proc(5), counted from the state field)
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

export function threadCount(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export class LoadStack {
  readonly upstream: Upstream;
  readonly plane: ControlPlane;
  readonly agent: AgentProcess;
  readonly #dir: string;

  private constructor(dir: string, upstream: Upstream, plane: ControlPlane, agent: AgentProcess) {
    this.#dir = dir;
    this.upstream = upstream;
    this.plane = plane;
    this.agent = agent;
  }

  /** Starts the agent with `env` (AGENT_WORKERS, …) against an upstream (shared across agents of one run). */
  static async start(upstream: Upstream, env: Readonly<Record<string, string>>): Promise<LoadStack> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:${upstream.port}\n    certificate-authority-data: ${Buffer.from(upstream.caPem).toString('base64')}\nusers:\n- name: u\n  user:\n    token: ${upstream.token}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n`,
    );
    const plane = await startControlPlane({ agentToken: AGENT_TOKEN, logger: silentLogger() });
    // BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the agent under the bench's load
    const nodeArgs = (process.env['BENCH_AGENT_NODE_ARGS'] ?? '').split(' ').filter((arg) => arg !== '');
    const agent = await AgentProcess.start({ controlPlaneUrl: plane.url, token: AGENT_TOKEN, clusterName: CLUSTER, kubeconfig, env, nodeArgs });
    const stack = new LoadStack(dir, upstream, plane, agent);
    try {
      await plane.waitForCluster(CLUSTER, CONNECT_WAIT_MS);
    } catch (error) {
      await stack.stop();
      throw new Error(`the agent did not connect: ${String(error)}; ${agent.errorLines.join(' | ')}`);
    }
    return stack;
  }

  get tunnelBase(): string {
    return this.plane.clusterUrl(CLUSTER);
  }

  get directBase(): string {
    return `https://127.0.0.1:${this.upstream.port}`;
  }

  rssMiB(): number {
    return this.agent.rssBytes() / 1024 / 1024;
  }

  cpuSeconds(): number {
    return cpuSeconds(this.agent.pid);
  }

  /** p99 event-loop delay of the agent's main thread since the previous read, in milliseconds. */
  async loopDelayMs(): Promise<number> {
    return metricSum(await this.agent.metrics(), 'pipeops_agent_event_loop_delay_seconds') * 1000;
  }

  async stop(): Promise<void> {
    await this.agent.stop();
    await this.plane.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Samples RSS and event-loop delay every `intervalMs` while running; peak and mean on stop. */
export class Sampler {
  readonly rss: number[] = [];
  readonly loopDelay: number[] = [];
  readonly #stack: LoadStack;
  readonly #timer: NodeJS.Timeout;
  #isReading = false;

  constructor(stack: LoadStack, intervalMs: number) {
    this.#stack = stack;
    this.#timer = setInterval(() => void this.#read(), intervalMs);
  }

  async #read(): Promise<void> {
    if (this.#isReading) return;
    this.#isReading = true;
    try {
      this.rss.push(this.#stack.rssMiB());
      this.loopDelay.push(await this.#stack.loopDelayMs());
    } catch {
      // the agent is stopping
    } finally {
      this.#isReading = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export const peak = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : Math.max(...values));
