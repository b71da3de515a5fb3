// Logs an operator can live with (issue 5): the real CLI in a child process through a scripted session.
// Every stdout line is pino JSON; no line carries the agent token, the control plane's Authorization or the
// kubeconfig token; per-request lines appear only at debug and come from the worker thread itself; SIGTERM
// ends the process with 0.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FakeControlPlane, type FakeSocket, type JsonMessage } from '../helpers/fake-control-plane.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { AGENT_VERSION } from '../../src/version.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const AGENT_TOKEN = 'pipeops-agent-tok-7f3a9c1e5b2d4680';
const CONTROL_PLANE_BEARER = 'cp-bearer-c0ffee5ecret9d8e7f6a';
const KUBE_TOKEN = 'kube-own-tok-4b1d2e3f5a6c7d8e';
const SECRETS = [AGENT_TOKEN, CONTROL_PLANE_BEARER, KUBE_TOKEN];
const RELAY_MESSAGES = new Set(['relaying request', 'request finished']);
// Generous: the child loads the agent and a worker thread, which is slow on a busy machine.
const WAIT_MS = 30_000;

interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly requestId?: string;
  readonly threadId?: number;
  readonly actor?: string;
  readonly part?: string;
  readonly [key: string]: unknown;
}

interface Run {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function reply(socket: FakeSocket, requestId: string): Promise<JsonMessage> {
  return socket.messages.take(
    (message) => message.request_id === requestId && (message.type === 'proxy_response' || message.type === 'proxy_error'),
    WAIT_MS,
    `the reply to ${requestId}`,
  );
}

/** Starts the CLI against fresh fakes, plays the session, stops it with SIGTERM and returns its output. */
async function runSession(level: 'info' | 'debug'): Promise<Run> {
  const kube = await FakeKubeApi.start(KUBE_TOKEN);
  const plane = await FakeControlPlane.start();
  // One upstream failure, so the error path is logged too.
  kube.handler = function kubeOnRequest(request, response) {
    if (request.url.includes('/reset')) {
      response.socket?.destroy();
      return;
    }
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: [] }));
  };
  const child = spawn(process.execPath, [CLI, 'run'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      PIPEOPS_API_URL: plane.url,
      PIPEOPS_TOKEN: AGENT_TOKEN,
      PIPEOPS_CLUSTER_NAME: 'logging-test',
      KUBECONFIG: kube.kubeconfigPath,
      AGENT_PORT: '0',
      LOG_LEVEL: level,
      AGENT_WORKERS: '1',
      // the worker thread's own logger is what these tests read: every request goes to the pool
      AGENT_DISPATCH: 'workers',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', function childOnStdout(chunk: Buffer) {
    stdout.push(chunk);
  });
  child.stderr.on('data', function childOnStderr(chunk: Buffer) {
    stderr.push(chunk);
  });
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', function childOnExit(exitCode, signal) {
      resolve({ exitCode, signal });
    });
  });
  try {
    const socket = await plane.nextSocket(WAIT_MS);
    await socket.acceptRegistration({ cluster_id: 'c-logging' });
    await socket.next('heartbeat', WAIT_MS);
    const paths = ['/api/v1/namespaces/default/pods', '/api/v1/namespaces/kube-system/pods', '/api/v1/nodes', '/api/v1/namespaces/default/pods/reset'];
    for (const [index, path] of paths.entries()) {
      socket.send({
        type: 'proxy_request',
        request_id: `log-r-${index}`,
        payload: { method: 'GET', path, query: '', headers: { Authorization: [`Bearer ${CONTROL_PLANE_BEARER}`], Accept: ['application/json'] } },
      });
      await reply(socket, `log-r-${index}`);
    }
    socket.send({ type: 'ping', request_id: 'log-p-1', payload: {} });
    await socket.next('pong', WAIT_MS);
    child.kill('SIGTERM');
    const { exitCode, signal } = await exited;
    return { exitCode, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await plane.close();
    await kube.close();
  }
}

function parseLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

function assertCommon(t: ExecutionContext, run: Run): LogLine[] {
  t.is(run.exitCode, 0, 'SIGTERM ends the agent cleanly');
  t.is(run.signal, null);
  t.is(run.stderr, '', 'nothing outside the JSON log');
  for (const secret of SECRETS) t.false(run.stdout.includes(secret), `a line contains ${secret.slice(0, 8)}…`);
  const rawLines = run.stdout.split('\n').filter((line) => line !== '');
  t.true(rawLines.length > 0);
  for (const raw of rawLines) {
    let parsed: unknown;
    t.notThrows(() => (parsed = JSON.parse(raw)), raw);
    t.is(typeof (parsed as { level?: unknown } | undefined)?.level, 'number', raw);
  }
  const lines = parseLines(run.stdout);
  t.true(lines.some((line) => line.msg === 'agent stopped'), 'the shutdown is logged');
  // every line, the worker threads' included, says which agent version wrote it (issue 13)
  t.deepEqual(lines.filter((line) => line['version'] !== AGENT_VERSION).map((line) => line.msg), []);
  return lines;
}

test('LOG_LEVEL=info: lifecycle lines only, no secrets, no per-request lines, exit 0 on SIGTERM', async (t) => {
  const run = await runSession('info');
  const lines = assertCommon(t, run);
  t.true(lines.every((line) => line.level >= 30), 'nothing below info');
  t.deepEqual(
    lines.filter((line) => RELAY_MESSAGES.has(line.msg ?? '') || String(line.requestId ?? '').startsWith('log-r-')),
    [],
    'no per-request line at info',
  );
  t.deepEqual(lines.filter((line) => line.part === 'monitoring'), [], 'monitoring discovery is silent at info');
  for (const msg of ['agent starting', 'registered with the control plane', 'control-plane session started', 'agent stopping']) {
    t.true(lines.some((line) => line.msg === msg), msg);
  }
});

test('LOG_LEVEL=debug: per-request lines from the worker thread itself, still no secrets', async (t) => {
  const run = await runSession('debug');
  const lines = assertCommon(t, run);
  for (let index = 0; index < 4; index++) {
    const relayed = lines.filter((line) => line.requestId === `log-r-${index}` && RELAY_MESSAGES.has(line.msg ?? ''));
    t.true(relayed.length >= 1, `a per-request line for log-r-${index}`);
    for (const line of relayed) {
      t.is(line.level, 20, 'per-request lines are debug');
      // The actor's own logger, bound per thread: a pool worker's threadId is never the main thread's 0.
      t.is(typeof line.threadId, 'number');
      t.true((line.threadId ?? 0) > 0, 'written by the worker thread');
      t.is(line.actor, 'http-relay');
    }
  }
  const discovery = lines.filter((line) => line.part === 'monitoring');
  t.true(discovery.length >= 1, 'monitoring discovery logs at debug');
  t.true(discovery.every((line) => line.level === 20));
});
