// The agent under test as its own process (`node dist/src/cli.js run`), so its RSS, its sockets and its
// exit are its own: reads /metrics, /proc/<pid>/status and /proc/<pid>/fd, and watches its log (pino
// JSON on stdout) for error-level lines (level ≥ 50) and stderr for Node's own crash reports.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const CLI = new URL('../../src/cli.js', import.meta.url).pathname;
const PINO_ERROR_LEVEL = 50;
const MAX_KEPT_ERRORS = 50;
const STOP_WAIT_MS = 15_000;
const METRICS_TIMEOUT_MS = 30_000;
/** Node's own words when a rejection or exception reaches the top, and our logs' words for the same. */
const UNHANDLED_PATTERN = /unhandled|uncaught/i;

export interface AgentProcessOptions {
  readonly controlPlaneUrl: string;
  readonly token: string;
  readonly clusterName: string;
  readonly kubeconfig: string;
  /** More env (AGENT_WORKERS, AGENT_INBOUND_CAP_BYTES, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Node flags before the script (`--cpu-prof`, `--heapsnapshot-signal=SIGUSR2`, …). */
  readonly nodeArgs?: readonly string[];
}

export interface ExitRecord {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Picks a free loopback port for the agent's HTTP server (released again before the agent binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** `name{labels} value` lines of a Prometheus exposition, keyed by `name{labels}` (no labels: `name`). */
export function parseExposition(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Sum of every series of `name` (all label sets). */
export function metricSum(values: ReadonlyMap<string, number>, name: string): number {
  let total = 0;
  for (const [key, value] of values) if (key === name || key.startsWith(`${name}{`)) total += value;
  return total;
}

export class AgentProcess {
  readonly child: ChildProcess;
  readonly metricsPort: number;
  /** Error-level log lines and crash reports, the first MAX_KEPT_ERRORS. */
  readonly errorLines: string[] = [];
  errorLineCount = 0;
  /** Error-level lines or crash text naming an unhandled rejection or uncaught exception. */
  unhandledCount = 0;
  exit: ExitRecord | undefined;
  readonly #exited: Promise<ExitRecord>;

  private constructor(child: ChildProcess, metricsPort: number) {
    this.child = child;
    this.metricsPort = metricsPort;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const stdout = new LineReader((line) => this.#readLine(line, false));
    const stderr = new LineReader((line) => this.#readLine(line, true));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => stdout.push(text));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => stderr.push(text));
  }

  static async start(options: AgentProcessOptions): Promise<AgentProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, 'run'], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        PIPEOPS_API_URL: options.controlPlaneUrl,
        PIPEOPS_TOKEN: options.token,
        PIPEOPS_CLUSTER_NAME: options.clusterName,
        KUBECONFIG: options.kubeconfig,
        AGENT_PORT: String(port),
        AGENT_STATE_BACKEND: 'memory',
        // CHAOS_AGENT_LOG=<file> keeps the agent's whole log (at CHAOS_AGENT_LOG_LEVEL) for a reproduction
        LOG_LEVEL: process.env['CHAOS_AGENT_LOG_LEVEL'] ?? 'warn',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logFile = process.env['CHAOS_AGENT_LOG'];
    if (logFile !== undefined && logFile !== '') {
      const file = createWriteStream(logFile, { flags: 'a' });
      child.stdout!.pipe(file);
      child.stderr!.pipe(file);
    }
    return new AgentProcess(child, port);
  }

  get isAlive(): boolean {
    return this.exit === undefined;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** One scrape on a fresh connection (a pooled one may meet the server's keep-alive close and fail). */
  metrics(): Promise<Map<string, number>> {
    return new Promise((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port: this.metricsPort, path: '/metrics', agent: false, timeout: METRICS_TIMEOUT_MS }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(parseExposition(text)));
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no /metrics answer within ${METRICS_TIMEOUT_MS} ms`)));
      request.on('error', reject);
    });
  }

  /** Resident set size in bytes (all threads), from /proc. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
  }

  /** Open socket descriptors of the process (TCP, Unix, …). */
  socketCount(): number {
    let count = 0;
    for (const fd of readdirSync(`/proc/${this.pid}/fd`)) {
      try {
        if (readlinkSync(`/proc/${this.pid}/fd/${fd}`).startsWith('socket:')) count++;
      } catch {
        // closed between the listing and the read
      }
    }
    return count;
  }

  /** SIGTERM, then SIGKILL if it has not exited after STOP_WAIT_MS. */
  async stop(): Promise<ExitRecord> {
    if (this.exit !== undefined) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_WAIT_MS);
    const record = await this.#exited;
    clearTimeout(timer);
    return record;
  }

  #readLine(line: string, isStderr: boolean): void {
    if (line.trim() === '') return;
    let isError = isStderr;
    try {
      const record = JSON.parse(line) as { level?: unknown };
      isError = typeof record.level === 'number' && record.level >= PINO_ERROR_LEVEL;
    } catch {
      // not a log record: on stderr Node's own stack trace or crash report
    }
    if (!isError) return;
    this.errorLineCount++;
    if (UNHANDLED_PATTERN.test(line)) this.unhandledCount++;
    if (this.errorLines.length < MAX_KEPT_ERRORS) this.errorLines.push(line.slice(0, 2000));
  }
}

class LineReader {
  readonly #onLine: (line: string) => void;
  #tail = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  push(text: string): void {
    const lines = (this.#tail + text).split('\n');
    this.#tail = lines.pop() ?? '';
    for (const line of lines) this.#onLine(line);
  }
}

/** Resolves when `check` returns true, polling every `intervalMs`; false after `timeoutMs`. */
export async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
