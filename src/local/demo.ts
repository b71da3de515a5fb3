// `cli.js demo`: the whole local stack on loopback (sandbox Kubernetes API, local control plane, agent),
// a kubeconfig for kubectl, and a clean stop on SIGINT/SIGTERM. Never imported by the agent.

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Agent } from '../agent.js';
import {
  describeFlagProblem,
  parseFlags,
  readCommandLine,
  reportUsageError,
  stringFlag,
  type CommandSpec,
  type ParsedFlags,
} from '../command-line.js';
import { loadConfig } from '../config/load-config.js';
import { createLogger, type Logger } from '../log.js';
import { untilSignal } from '../run-command.js';
import { startControlPlane, WireMode, type ControlPlane } from './control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from './sandbox-api/sandbox-server.js';
import { TUNNEL_DEMO_HOSTS, seedTunnelDemo, startTunnelDemoServices, type TunnelDemoServices } from './tunnel-demo-services.js';
import { STAND_IN_HOST_NAME, seedIngressStandIn, startIngressStandIn, type IngressStandIn } from './ingress-stand-in.js';

const DEMO_CLUSTER = 'demo';
const DEFAULT_KUBECONFIG = '.demo/kubeconfig';
const CLUSTER_WAIT_MS = 30_000;
/** The host the demo's stand-in ingress controller serves, reached through the control plane's /apps/ path. */
export const DEMO_APP_HOST = 'shop.demo.local';

export interface DemoOptions {
  readonly kubeconfig: string;
  /** Undefined: the leanest mode the agent advertises. */
  readonly mode: WireMode | undefined;
}

export interface DemoStack {
  readonly sandbox: SandboxApi;
  readonly plane: ControlPlane;
  readonly agent: Agent;
  readonly kubeconfig: string;
  /** The stand-in ingress controller that host-routed requests reach (docs/gateway-proxy.md). */
  readonly ingress: IngressStandIn;
  /** The TCP line-echo and UDP echo the demo's tunnels lead to (docs/tunnels.md). */
  readonly tunnelServices: TunnelDemoServices;
  /** The loopback ports of the two tunnels on the control plane (clients connect here); undefined with TUNNEL_ENABLED=false. */
  readonly tunnelPorts: { readonly tcp: number; readonly udp: number } | undefined;
  stop(): Promise<void>;
}

/** Set by the demo itself; the agent's other settings come from the environment as for `run`. */
const SET_BY_DEMO = ['PIPEOPS_API_URL', 'PIPEOPS_TOKEN', 'PIPEOPS_TOKEN_FILE', 'PIPEOPS_CLUSTER_NAME', 'KUBECONFIG', 'AGENT_STATE_BACKEND'];

export const DEMO_COMMAND: CommandSpec = {
  name: 'demo',
  summary: 'pipeops-agent demo: the whole local stack on loopback (sandbox Kubernetes API, local control plane, agent). Writes a kubeconfig for kubectl, prints "demo ready: KUBECONFIG=<path>" and runs until SIGINT or SIGTERM.',
  usage: `pipeops-agent demo [--kubeconfig PATH] [--mode ${Object.values(WireMode).join('|')}]`,
  flags: [
    { name: '--kubeconfig', value: 'PATH', description: `Where to write the kubeconfig for kubectl (default ${DEFAULT_KUBECONFIG})` },
    { name: '--mode', value: 'MODE', description: `Wire mode of the local control plane: ${Object.values(WireMode).join(', ')} (default: the leanest mode the agent advertises)` },
  ],
  env: [
    { name: 'LOG_LEVEL', description: 'trace, debug, info, warn, error or silent; logs go to stderr', default: 'warn' },
    { name: 'AGENT_WORKERS', description: 'Actor threads of the agent; 0 runs actors inline', default: 'number of CPUs' },
    { name: 'AGENT_PORT', description: "Port of the agent's /health, /ready, /version, /metrics", default: '0 (a free port)' },
  ],
  notes: [
    `The agent reads its other settings from the environment as \`pipeops-agent run\` does (see \`pipeops-agent run --help\`), except ${SET_BY_DEMO.join(', ')}, which the demo sets.`,
  ],
};

/** "demo ready" promises working tunnels too: wait (bounded) until both demo tunnels have a listener. */
async function untilTunnelsListen(plane: ControlPlane, timeoutMs: number): Promise<{ tcp: number; udp: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tunnels = plane.tunnels.clusters().flatMap((cluster) => cluster.tunnels);
    const portOf = (protocol: string) => tunnels.find((tunnel) => tunnel.protocol === protocol && tunnel.tunnel_port > 0)?.tunnel_port;
    const tcp = portOf('tcp');
    const udp = portOf('udp');
    if (tcp !== undefined && udp !== undefined) return { tcp, udp };
    if (Date.now() > deadline) throw new Error(`the demo tunnels got no listener within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** "demo ready" promises working host routing: wait (bounded) until the ingress sync has the demo host. */
async function untilRouteCached(agent: Agent, host: string, timeoutMs: number): Promise<void> {
  const routes = agent.ingressSync?.routes;
  if (routes === undefined) return;
  const deadline = Date.now() + timeoutMs;
  while (routes.lookup(host) === undefined || routes.controller === undefined) {
    if (Date.now() > deadline) throw new Error(`the ingress sync did not find ${host} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export type ParsedDemoArgs = { readonly ok: true; readonly options: DemoOptions } | { readonly ok: false; readonly message: string };

/** The command's options from parsed flags; the message names the offending flag. */
export function demoOptions(parsed: ParsedFlags): ParsedDemoArgs {
  const mode = stringFlag(parsed, '--mode');
  const knownMode = Object.values(WireMode).find((known) => known === mode);
  if (mode !== undefined && knownMode === undefined) {
    return { ok: false, message: `--mode must be one of ${Object.values(WireMode).join(', ')} (got "${mode}")` };
  }
  return { ok: true, options: { kubeconfig: stringFlag(parsed, '--kubeconfig') ?? DEFAULT_KUBECONFIG, mode: knownMode } };
}

export function parseDemoArgs(argv: readonly string[]): ParsedDemoArgs {
  const parsed = parseFlags(DEMO_COMMAND.flags, argv);
  const [problem] = parsed.problems;
  if (problem !== undefined) return { ok: false, message: describeFlagProblem(problem, DEMO_COMMAND.flags) };
  return demoOptions(parsed);
}

/**
 * Starts the stack. The agent is configured exactly as in a cluster, through loadConfig, with the
 * sandbox's kubeconfig standing in for the in-cluster service account. `env` lets the caller pass
 * AGENT_WORKERS, LOG_LEVEL and the like.
 */
export async function startDemo(options: DemoOptions, env: Readonly<Record<string, string | undefined>>, logger: Logger): Promise<DemoStack> {
  const kubeconfig = resolve(options.kubeconfig);
  await mkdir(dirname(kubeconfig), { recursive: true });
  const sandbox = await startSandboxApi({ logger: logger.child({ part: 'sandbox-api' }) });
  const ingress = await startIngressStandIn([DEMO_APP_HOST]);
  seedIngressStandIn(sandbox.store, ingress.port, [DEMO_APP_HOST]);
  const tunnelServices = await startTunnelDemoServices();
  seedTunnelDemo(sandbox.store, tunnelServices);
  const sandboxKubeconfig = join(dirname(kubeconfig), 'sandbox-kubeconfig');
  await sandbox.writeKubeconfig(sandboxKubeconfig);
  const agentToken = randomBytes(24).toString('hex');
  const plane = await startControlPlane({
    agentToken,
    logger: logger.child({ part: 'control-plane' }),
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    // as in production, the session runs on the gateway socket, where yamux tunnels are negotiated
    gateway: true,
    tunnelListeners: true,
  });
  let agent: Agent | undefined;
  let tunnelPorts: { tcp: number; udp: number } | undefined;
  try {
    const { config } = loadConfig({
      env: {
        ...env,
        PIPEOPS_API_URL: plane.url,
        PIPEOPS_TOKEN: agentToken,
        PIPEOPS_TOKEN_FILE: undefined,
        PIPEOPS_CLUSTER_NAME: DEMO_CLUSTER,
        KUBECONFIG: sandboxKubeconfig,
        AGENT_PORT: env['AGENT_PORT'] ?? '0',
        // like the sandbox and the control plane, the demo's agent listens on loopback only
        AGENT_BIND_ADDRESS: env['AGENT_BIND_ADDRESS'] ?? '127.0.0.1',
        // The sandbox is fresh every run: nothing of the demo's identity is worth keeping on disk.
        AGENT_STATE_BACKEND: 'memory',
        // The route cache behind host-routed requests to the stand-in ingress controller.
        ENABLE_INGRESS_SYNC: env['ENABLE_INGRESS_SYNC'] ?? 'true',
      },
      argv: [],
    });
    // The stand-in controller's cluster DNS name points at loopback, as /etc/hosts would.
    agent = await Agent.start({ config, logger: logger.child({ part: 'agent' }), workerTuning: { hostAliases: Object.fromEntries([STAND_IN_HOST_NAME, ...TUNNEL_DEMO_HOSTS].map((host) => [host, '127.0.0.1'])) } });
    await plane.waitForCluster(DEMO_CLUSTER, CLUSTER_WAIT_MS);
    await untilRouteCached(agent, DEMO_APP_HOST, CLUSTER_WAIT_MS);
    // with tunnels off (TUNNEL_ENABLED=false) the agent registers none: nothing to wait for
    if (config.tunnel.enabled) tunnelPorts = await untilTunnelsListen(plane, CLUSTER_WAIT_MS);
    await plane.writeKubeconfig(kubeconfig, DEMO_CLUSTER);
  } catch (error) {
    await agent?.stop();
    await plane.close();
    await sandbox.close();
    await ingress.close();
    await tunnelServices.close();
    throw error;
  }
  const started = agent;
  return {
    sandbox,
    plane,
    agent: started,
    kubeconfig,
    ingress,
    tunnelServices,
    tunnelPorts,
    async stop() {
      await started.stop();
      await plane.close();
      await sandbox.close();
      await ingress.close();
      await tunnelServices.close();
    },
  };
}

export async function runDemoCommand(argv: readonly string[]): Promise<void> {
  const line = readCommandLine(DEMO_COMMAND, argv);
  if (line === undefined) return;
  const checked = demoOptions(line);
  if (!checked.ok) {
    reportUsageError(DEMO_COMMAND, checked.message);
    return;
  }
  const parsed = checked.options;
  // Logs go to stderr so stdout carries only what a user or script reads.
  const logger = createLogger({ level: process.env['LOG_LEVEL'] === undefined ? 'warn' : (process.env['LOG_LEVEL'] as 'info'), fd: 2 });
  const stack = await startDemo(parsed, { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' }, logger);
  process.stdout.write(
    [
      `sandbox api:   ${stack.sandbox.url}`,
      `control plane: ${stack.plane.url} (mode ${parsed.mode ?? 'binary when the agent supports it; watches and logs -f streamed'})`,
      `agent metrics: http://127.0.0.1:${stack.agent.httpPort}/metrics`,
      `kubectl:       KUBECONFIG=${stack.kubeconfig} kubectl get pods -A`,
      `host routing:  curl -H 'Host: ${DEMO_APP_HOST}' ${stack.plane.url}/apps/${DEMO_CLUSTER}/`,
      ...(stack.tunnelPorts === undefined
        ? ['tunnels:       off (TUNNEL_ENABLED=false)']
        : [
            `tcp tunnel:    nc 127.0.0.1 ${stack.tunnelPorts.tcp}   (a line-echo in the cluster, through yamux)`,
            `udp tunnel:    nc -u 127.0.0.1 ${stack.tunnelPorts.udp}   (a datagram echo)`,
          ]),
      `tunnels:       curl ${stack.plane.url}/local/tunnels`,
      `demo ready: KUBECONFIG=${stack.kubeconfig}`,
      '',
    ].join('\n'),
  );
  await untilSignal();
  await stack.stop();
  process.stdout.write('demo stopped\n');
}
