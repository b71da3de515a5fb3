// Chaos run 2: a frame fuzzer. A bare control plane completes the registration handshake with a live
// agent process (whose API server is the sandbox), then writes mutated frames at it as fast as the
// agent reads them (the control plane's send buffer is kept under 1 MiB, so the run measures the agent,
// not reconnects; a rare frame over the agent's inbound cap does force a reconnect). Invariants: the
// process never exits, no worker thread dies, no unhandled rejection or exception is logged, and a
// plain proxy_request afterwards gets its proxy_response.
//
//   node dist/bench/chaos/fuzz.js [--frames 1000000] [--inbound-cap 1048576] [--seed 2] [--write]

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { silentLogger } from '../../src/log.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { AgentProcess, metricSum, pollUntil } from './agent-process.js';
import { FrameFuzzer, FrameKind, type FuzzFrame } from './frame-fuzzer.js';
import { FuzzPlane, type ProbeReply } from './fuzz-plane.js';
import { ChaosRun, runContext, writeSection } from './reliability-doc.js';
import { numberFlag, seededRandom } from './seeded-random.js';

export interface FuzzOptions {
  readonly frames: number;
  readonly inboundCapBytes: number;
  readonly seed: number;
  /** Where the frames before a crash are written (the last RING_SIZE frames, when one is seen). */
  readonly crashDumpPath: string;
}

export interface FuzzResult {
  readonly options: FuzzOptions;
  readonly sent: number;
  readonly sentBytes: number;
  readonly sentByKind: Readonly<Record<string, number>>;
  readonly reconnects: number;
  readonly closeCodes: Readonly<Record<string, number>>;
  readonly replies: Readonly<Record<string, number>>;
  readonly dropCounters: Readonly<Record<string, number>>;
  readonly workerCrashes: number;
  readonly isAgentAlive: boolean;
  readonly exit: string;
  readonly unhandled: number;
  readonly errorLines: readonly string[];
  readonly probeBefore: ProbeReply | string;
  /** A plain GET right after the last frame. */
  readonly probeAtOnce: ProbeReply | string;
  /** Whether pending requests and active actors drained to zero after the fuzzing. */
  readonly hasDrained: boolean;
  readonly pendingAfter: number;
  /** A plain GET once the pending requests drained. */
  readonly probeAfter: ProbeReply | string;
  readonly stillRelays: boolean;
  /** Set when a crash was seen: the frames written just before it. */
  readonly crashDump: string | undefined;
  readonly seconds: number;
}

const MAX_BUFFERED_BYTES = 1024 * 1024;
const SESSION_WAIT_MS = 90_000;
const PROBE_TIMEOUT_MS = 30_000;
/** Beyond the longest body wait a fuzzed request can hold (60 s without a chunk, §9.15). */
const DRAIN_WAIT_MS = 120_000;
const CHECK_EVERY_FRAMES = 2000;
const RING_SIZE = 400;
const HELD_SESSIONS = 4;
const YIELD_EVERY_FRAMES = 50;
const PROBE_PATH = '/api/v1/namespaces/default/pods/demo';
const DROP_COUNTERS = [
  'pipeops_agent_inbound_malformed_total',
  'pipeops_agent_unknown_message_type_total',
  'pipeops_agent_binary_body_unmatched_total',
  'pipeops_agent_binary_frame_malformed_total',
  'pipeops_agent_request_chunk_unknown_total',
  'pipeops_agent_ws_data_unknown_stream_total',
  'pipeops_agent_late_message_total',
  'pipeops_agent_relay_requests_total',
  'pipeops_agent_admission_refused_total',
  'pipeops_agent_websocket_sessions_total',
  'pipeops_agent_control_plane_bytes_total{direction="in"}',
] as const;

function isOkReply(reply: ProbeReply | string): boolean {
  return typeof reply !== 'string' && (reply.type === 'proxy_response' || reply.type === 'binary response frame') && reply.status === 200;
}

async function probe(plane: FuzzPlane, authorization: string): Promise<ProbeReply | string> {
  try {
    return await plane.probe(PROBE_PATH, authorization, PROBE_TIMEOUT_MS);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Waits until the socket's send buffer is under the limit, or the socket is gone. */
async function drained(socket: WebSocket): Promise<void> {
  while (socket.readyState === socket.OPEN && socket.bufferedAmount > MAX_BUFFERED_BYTES) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * Opens HELD_SESSIONS `cat` sessions and waits until the sandbox sees them connected, so oversized
 * control frames also meet sessions past their dial (under load, fuzzed sessions rarely get there).
 */
async function openHeldSessions(plane: FuzzPlane, sandbox: SandboxApi, authorization: string): Promise<string[]> {
  const socket = await plane.waitForSession(SESSION_WAIT_MS);
  const before = sandbox.activeStreamSessions();
  const ids = Array.from({ length: HELD_SESSIONS }, (_, index) => `fz-held-${index + 1}`);
  for (const id of ids) {
    const payload = { stream_id: id, path: '/api/v1/namespaces/default/pods/demo/exec', query: 'command=cat&stdin=true&stdout=true', protocol: 'v5.channel.k8s.io', headers: { Authorization: [authorization] } };
    socket.send(JSON.stringify({ type: 'proxy_websocket_start', request_id: id, payload }));
  }
  const isConnected = await pollUntil(() => sandbox.activeStreamSessions() - before >= HELD_SESSIONS, SESSION_WAIT_MS);
  if (!isConnected) throw new Error(`the ${HELD_SESSIONS} held sessions did not connect`);
  return ids;
}

function describe(frame: FuzzFrame): string {
  const text = typeof frame.data === 'string' ? frame.data : frame.data.subarray(0, 200).toString('hex');
  return `${frame.kind}${frame.isBinary ? ' (binary)' : ''} ${frame.data.length} B: ${text.slice(0, 400)}`;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const started = Date.now();
  const random = seededRandom(options.seed);
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  const plane = await FuzzPlane.start();
  const kubeconfig = join(tmpdir(), `chaos-fuzz-${process.pid}-kubeconfig`);
  await sandbox.writeKubeconfig(kubeconfig);
  const agent = await AgentProcess.start({
    controlPlaneUrl: plane.url,
    token: 'fuzz-token',
    clusterName: 'fuzz',
    kubeconfig,
    env: { AGENT_INBOUND_CAP_BYTES: String(options.inboundCapBytes) },
  });
  const authorization = `Bearer ${sandbox.token}`;
  try {
    await plane.waitForSession(SESSION_WAIT_MS);
    const probeBefore = await probe(plane, authorization);
    const crashesBefore = metricSum(await agent.metrics(), 'pipeops_agent_worker_crashes_total');
    const heldSessions = await openHeldSessions(plane, sandbox, authorization);
    const fuzzer = new FrameFuzzer({ random, authorization, inboundCapBytes: options.inboundCapBytes, heldSessions });
    const sentByKind: Record<string, number> = {};
    const ring: string[] = [];
    let crashDump: string | undefined;
    let sent = 0;
    let sentBytes = 0;
    while (sent < options.frames && agent.isAlive) {
      const socket = plane.session ?? (await plane.waitForSession(SESSION_WAIT_MS));
      const frame = fuzzer.next();
      socket.send(frame.data, { binary: frame.isBinary });
      sent++;
      sentBytes += frame.data.length;
      sentByKind[frame.kind] = (sentByKind[frame.kind] ?? 0) + 1;
      ring.push(describe(frame));
      if (ring.length > RING_SIZE) ring.shift();
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) await drained(socket);
      // The agent stops reading a socket that brought an over-cap frame and closes it (1009): wait for the
      // close, or the frames after it would go to a dead socket. Yielding now and then lets the close in.
      if (frame.kind === FrameKind.overCap) await pollUntil(() => socket.readyState !== socket.OPEN, SESSION_WAIT_MS, 10);
      else if (sent % YIELD_EVERY_FRAMES === 0) await new Promise((resolve) => setImmediate(resolve));
      if (sent % CHECK_EVERY_FRAMES === 0 && crashDump === undefined) {
        await drained(socket);
        const crashes = await agent.metrics().then(
          (metrics) => metricSum(metrics, 'pipeops_agent_worker_crashes_total') - crashesBefore,
          () => 1, // no answer from /metrics: the process died or hangs; the end of the run says which
        );
        if (crashes > 0 || agent.unhandledCount > 0) {
          crashDump = options.crashDumpPath;
          writeFileSync(crashDump, `first seen after frame ${sent}; the last ${ring.length} frames:\n${ring.join('\n')}\n`);
        }
      }
    }
    // At once, a probe may queue behind requests the fuzzer left waiting for bodies that never come
    // (body_binary 30 s, body streams 60 s); it is reported. The invariant is judged once those have
    // timed out: the pending table drains (no leak) and then a plain GET gets its proxy_response.
    const probeAtOnce = agent.isAlive ? await probe(plane, authorization) : 'agent process exited';
    // The held sessions, and any session a fuzzed proxy_request opened, live as long as the control plane
    // wants: the plane closes the socket, and everything bound to it must end with it (§3.4).
    plane.session?.close(1000);
    let pendingAfter = Number.NaN;
    const hasDrained = agent.isAlive && (await pollUntil(async () => {
      const gauges = await agent.metrics().catch(() => new Map<string, number>());
      pendingAfter = metricSum(gauges, 'pipeops_agent_relay_requests_active') + metricSum(gauges, 'pipeops_agent_pool_active_actors');
      return pendingAfter === 0;
    }, DRAIN_WAIT_MS, 1000));
    const probeAfter = agent.isAlive ? await probe(plane, authorization) : 'agent process exited';
    const metrics = agent.isAlive ? await agent.metrics() : new Map<string, number>();
    const dropCounters: Record<string, number> = {};
    for (const name of DROP_COUNTERS) dropCounters[name] = metricSum(metrics, name);
    return {
      options,
      sent,
      sentBytes,
      sentByKind,
      reconnects: Math.max(0, plane.sessions - 1),
      closeCodes: Object.fromEntries(plane.closeCodes),
      replies: Object.fromEntries(plane.repliesByType),
      dropCounters,
      workerCrashes: agent.isAlive ? metricSum(metrics, 'pipeops_agent_worker_crashes_total') - crashesBefore : -1,
      isAgentAlive: agent.isAlive,
      exit: agent.exit === undefined ? 'running' : JSON.stringify(agent.exit),
      unhandled: agent.unhandledCount,
      errorLines: agent.errorLines,
      probeBefore,
      probeAtOnce,
      hasDrained,
      pendingAfter,
      probeAfter,
      stillRelays: isOkReply(probeAfter),
      crashDump,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await agent.stop();
    await plane.close();
    await sandbox.close();
  }
}

export function fuzzViolations(result: FuzzResult): string[] {
  const problems: string[] = [];
  if (!isOkReply(result.probeBefore)) problems.push(`the agent did not relay before the fuzzing: ${JSON.stringify(result.probeBefore)}`);
  if (!result.isAgentAlive) problems.push(`the agent process exited (${result.exit})`);
  if (result.workerCrashes !== 0) problems.push(`${result.workerCrashes < 0 ? 'unknown number of' : result.workerCrashes} worker crashes`);
  if (result.unhandled > 0) problems.push(`${result.unhandled} unhandled rejections/exceptions logged`);
  if (!result.hasDrained) problems.push(`pending requests and actors did not drain to zero (${result.pendingAfter} left)`);
  if (!result.stillRelays) problems.push(`no proxy_response to a plain GET afterwards: ${JSON.stringify(result.probeAfter)}`);
  if (problems.length > 0 && result.errorLines.length > 0) problems.push(`agent error output (first lines): ${result.errorLines.slice(0, 2).map((line) => line.slice(0, 600)).join(" | ")}`);
  if (problems.length > 0 && result.crashDump !== undefined) problems.push(`frames before the first crash: ${result.crashDump}`);
  return problems;
}

export function fuzzReport(result: FuzzResult, command: string): string {
  const kinds = Object.entries(result.sentByKind).sort(([, a], [, b]) => b - a).map(([kind, count]) => `${kind} ${count}`).join(', ');
  const replies = Object.entries(result.replies).sort(([, a], [, b]) => b - a).map(([type, count]) => `${type} ${count}`).join(', ');
  return [
    runContext(command),
    '',
    `${result.sent} frames (${result.sentBytes} bytes) in ${result.seconds.toFixed(0)} s (agent inbound cap ${result.options.inboundCapBytes} bytes): ${kinds}.`,
    '',
    '| Fuzz figure | Value |',
    '|---|---:|',
    `| agent process alive at the end | ${result.isAgentAlive ? 'yes' : `no (${result.exit})`} |`,
    `| worker crashes (\`pipeops_agent_worker_crashes_total\` increase) | ${result.workerCrashes} |`,
    `| unhandled rejections / uncaught exceptions logged | ${result.unhandled} |`,
    `| plain GET before the fuzzing | ${JSON.stringify(result.probeBefore)} |`,
    `| plain GET right after the last frame | ${JSON.stringify(result.probeAtOnce)} |`,
    `| pending requests + active actors drained to zero afterwards | ${result.hasDrained ? 'yes' : `no (${result.pendingAfter} left)`} |`,
    `| plain GET once drained | ${JSON.stringify(result.probeAfter)} |`,
    `| reconnects (over-cap frames close the socket with 1009) | ${result.reconnects} |`,
    ...Object.entries(result.dropCounters).map(([name, value]) => `| \`${name}\` | ${value} |`),
    '',
    `Agent replies seen by the fuzzing control plane: ${replies}.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options: FuzzOptions = {
    frames: numberFlag(argv, '--frames', 1_000_000),
    inboundCapBytes: numberFlag(argv, '--inbound-cap', 1024 * 1024),
    seed: numberFlag(argv, '--seed', 2),
    crashDumpPath: join(tmpdir(), `chaos-fuzz-crash-${process.pid}.txt`),
  };
  const result = await runFuzz(options);
  const command = `node dist/bench/chaos/fuzz.js ${argv.filter((arg) => arg !== '--write').join(' ')}`.trim();
  const report = fuzzReport(result, command);
  const problems = fuzzViolations(result);
  const verdict = problems.length === 0 ? 'All invariants held.' : `Invariants FAILED:\n${problems.map((problem) => `- ${problem}`).join('\n')}`;
  process.stdout.write(`${report}\n\n${verdict}\n`);
  if (argv.includes('--write')) writeSection(ChaosRun.fuzz, `${report}\n\n${verdict}`);
  if (problems.length > 0) process.exitCode = 1;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
