// The loopback stack of the mixed and soak runs: sandbox API ◀─ fault proxy ◀─ agent process ─▶ local
// control plane (restartable on its port, one terminal-reply audit across its lives) ◀─ load clients.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, TerminalReplyAudit, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { AgentProcess, metricSum, pollUntil } from './agent-process.js';
import { FaultProxy } from './fault-proxy.js';

export const CLUSTER = 'chaos';
const AGENT_TOKEN = 'chaos-agent-token';
const CONNECT_WAIT_MS = 60_000;

/** The agent gauges that must read zero once the load has ended and the stack has settled. */
export const LEAK_GAUGES = [
  'pipeops_agent_pool_active_actors',
  'pipeops_agent_pool_queue_size',
  'pipeops_agent_relay_requests_active',
  'pipeops_agent_websocket_sessions_active',
  'pipeops_agent_stream_outstanding_bytes',
  'pipeops_agent_link_buffered_bytes',
] as const;

export interface StackOptions {
  readonly resetRatio: number;
  readonly random: () => number;
  readonly agentEnv?: Readonly<Record<string, string>>;
}

export interface LeakReading {
  readonly gauges: Readonly<Record<string, number>>;
  /** Connections the fault proxy still holds between the agent and the API server. */
  readonly apiConnections: number;
  /** kubectl sessions the control plane still holds. */
  readonly planeSessions: number;
  readonly isZero: boolean;
}

export class ChaosStack {
  readonly audit: TerminalReplyAudit;
  readonly sandbox: SandboxApi;
  readonly proxy: FaultProxy;
  readonly agent: AgentProcess;
  readonly dir: string;
  plane: ControlPlane;
  restarts = 0;
  readonly #port: number;

  private constructor(dir: string, sandbox: SandboxApi, proxy: FaultProxy, plane: ControlPlane, agent: AgentProcess, audit: TerminalReplyAudit) {
    this.dir = dir;
    this.audit = audit;
    this.sandbox = sandbox;
    this.proxy = proxy;
    this.plane = plane;
    this.agent = agent;
    this.#port = Number(new URL(plane.url).port);
  }

  static async start(options: StackOptions): Promise<ChaosStack> {
    const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
    const sandbox = await startSandboxApi({ logger: silentLogger() });
    const proxy = await FaultProxy.start({ targetPort: Number(new URL(sandbox.url).port), resetRatio: options.resetRatio, random: options.random });
    // the agent reaches the API server only through the proxy (same certificate: it names 127.0.0.1)
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, sandbox.kubeconfigYaml().replace(sandbox.url, `https://127.0.0.1:${proxy.port}`));
    if (!readFileSync(kubeconfig, 'utf8').includes(`:${proxy.port}`)) throw new Error('could not point the kubeconfig at the fault proxy');
    const audit = new TerminalReplyAudit();
    const plane = await startControlPlane({ agentToken: AGENT_TOKEN, logger: silentLogger(), terminalReplyAudit: audit });
    // Leaks are read as API connections back to zero; tunnel discovery's three Gateway API watches stay
    // open by design, so the chaos agent runs without tunnels (they have their own tests and interop run).
    const agent = await AgentProcess.start({ controlPlaneUrl: plane.url, token: AGENT_TOKEN, clusterName: CLUSTER, kubeconfig, env: { TUNNEL_ENABLED: 'false', ...options.agentEnv } });
    const stack = new ChaosStack(dir, sandbox, proxy, plane, agent, audit);
    try {
      await plane.waitForCluster(CLUSTER, CONNECT_WAIT_MS);
    } catch (error) {
      await stack.stop();
      throw new Error(`the agent did not connect: ${String(error)}; agent stderr: ${agent.errorLines.join(' | ')}`);
    }
    return stack;
  }

  get clusterUrl(): string {
    return this.plane.clusterUrl(CLUSTER);
  }

  /** Closes the control plane and starts a new one on the same port with the same audit. */
  async restartPlane(): Promise<void> {
    await this.plane.close();
    this.plane = await startControlPlane({ port: this.#port, agentToken: AGENT_TOKEN, logger: silentLogger(), terminalReplyAudit: this.audit });
    this.restarts++;
  }

  waitForAgent(): Promise<unknown> {
    return this.plane.waitForCluster(CLUSTER, CONNECT_WAIT_MS);
  }

  async readLeaks(): Promise<LeakReading> {
    const metrics = await this.agent.metrics();
    const gauges: Record<string, number> = {};
    for (const name of LEAK_GAUGES) gauges[name] = metricSum(metrics, name);
    const apiConnections = this.proxy.stats.open;
    const planeSessions = this.plane.cluster(CLUSTER)?.activeSessions ?? 0;
    const isZero = Object.values(gauges).every((value) => value === 0) && apiConnections === 0 && planeSessions === 0;
    return { gauges, apiConnections, planeSessions, isZero };
  }

  /**
   * Waits until the leak gauges read zero and the API connections are gone (idle keep-alive sockets
   * close after the API server's 5 s keep-alive timeout); returns the last reading either way.
   */
  async settle(timeoutMs: number): Promise<LeakReading> {
    let last: LeakReading | undefined;
    await pollUntil(async () => {
      last = await this.readLeaks();
      return last.isZero;
    }, timeoutMs, 500);
    return last ?? (await this.readLeaks());
  }

  async stop(): Promise<void> {
    await this.agent.stop();
    await this.plane.close();
    await this.proxy.close();
    await this.sandbox.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
