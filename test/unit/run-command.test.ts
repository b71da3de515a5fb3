// `cli.js run` (src/run-command.ts): its help table generated from env-spec.ts, the signal handling of
// §7.7 (first signal drains, a second ends the drain) and the command itself in a child process against
// the local control plane and sandbox API on loopback: a bad config exits 2 with the hint, SIGTERM drains
// and exits 0, and a stray rejection is logged and counted without ending the agent (C93).

import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { RUN_COMMAND } from '../../src/run-command.js';
import { ENV_SPEC } from '../../src/config/env-spec.js';
import { REQUIRED } from '../../src/command-line.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { eventually } from '../helpers/eventually.js';

const RUN_COMMAND_URL = new URL('../../src/run-command.js', import.meta.url).href;
const TOKEN = 'run-command-agent-token';
// Generous: each child loads Node and the agent's modules on a shared, busy machine.
const CHILD_TIMEOUT_MS = 60_000;

interface Child {
  readonly process: ChildProcessByStdio<null, Readable, Readable>;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Runs `script` (an ES module body) in a child Node with `env`; killed at teardown if still running. */
function child(t: ExecutionContext, script: string, env: Readonly<Record<string, string>> = {}): Child {
  const started = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  started.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  started.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => started.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const exited = new Promise<number | null>((resolve) =>
    started.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  t.teardown(() => {
    if (started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
  });
  return { process: started, output: () => output, exited };
}

test('the help lists every env var of env-spec.ts with its default, aliases pointing at their canonical name', (t) => {
  const described = new Map(RUN_COMMAND.env.map((variable) => [variable.name, variable]));
  for (const row of ENV_SPEC) {
    const [canonical, ...aliases] = row.env;
    const entry = described.get(canonical!);
    t.truthy(entry, canonical);
    t.is(entry!.description, row.description);
    if (row.defaultText !== undefined) t.is(entry!.default, row.defaultText, canonical);
    else if (row.isRequired) t.is(entry!.default, REQUIRED, canonical);
    for (const alias of aliases) t.regex(described.get(alias)?.description ?? '', new RegExp(`^Alias of ${canonical}; ${canonical} wins`), alias);
  }
  t.is(RUN_COMMAND.env.length, ENV_SPEC.reduce((count, row) => count + row.env.length, 0));
  const workers = RUN_COMMAND.flags.find((flag) => flag.name === '--workers');
  t.regex(workers?.description ?? '', /\(env AGENT_WORKERS\)$/);
});

test('untilSignal resolves with the first signal; a second calls onSecond, or exits 1 without it', async (t) => {
  // 'waiting' is printed only once the listeners are in place: a signal sent before would kill the child.
  const script = `
    import { untilSignal } from ${JSON.stringify(RUN_COMMAND_URL)};
    setInterval(() => undefined, 1000);
    const withSecond = process.argv.includes('with-second');
    const pending = untilSignal(withSecond ? () => { console.log('second'); process.exit(0); } : undefined);
    console.log('waiting');
    console.log('first ' + (await pending));
  `;
  for (const [mode, expectedCode, expectedOutput] of [
    ['with-second', 0, 'waiting\nfirst SIGINT\nsecond\n'],
    ['exit', 1, 'waiting\nfirst SIGINT\n'],
  ] as const) {
    const running = spawn(process.execPath, ['--input-type=module', '-e', script, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => {
      if (running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
    });
    let output = '';
    running.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    running.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => running.on('exit', (code) => resolve(code)));
    await eventually(() => output.includes('waiting'), 'the child listening', CHILD_TIMEOUT_MS);
    running.kill('SIGINT');
    await eventually(() => output.includes('first'), 'the first signal handled', CHILD_TIMEOUT_MS);
    running.kill('SIGTERM');
    t.is(await exited, expectedCode, `${mode}: ${output}`);
    t.is(output, expectedOutput);
  }
});

test('a configuration error exits 2 with every problem and the hint, before anything starts', async (t) => {
  const run = child(t, `import { runAgentCommand } from ${JSON.stringify(RUN_COMMAND_URL)}; await runAgentCommand([]);`, { PIPEOPS_API_URL: 'not a url' });
  t.is(await run.exited, 2, run.output());
  t.regex(run.output(), /PIPEOPS_API_URL/);
  t.regex(run.output(), /Run 'pipeops-agent run --help' for every setting\.\n$/);
  t.notRegex(run.output(), /at .*\.js:\d+/, 'no stack trace');
});

test('§7.7 and C93: the agent registers, survives a stray rejection (logged and counted), drains on SIGTERM and exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'run-command-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const kubeconfig = join(dir, 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const plane = await startControlPlane({ agentToken: TOKEN, logger: silentLogger() });
  t.teardown(() => plane.close());
  const script = `
    import { runAgentCommand } from ${JSON.stringify(RUN_COMMAND_URL)};
    process.on('SIGUSR2', () => void Promise.reject(new Error('stray rejection')));
    await runAgentCommand([]);
  `;
  const agent = child(t, script, {
    HOME: dir,
    PIPEOPS_API_URL: plane.url,
    PIPEOPS_TOKEN: TOKEN,
    PIPEOPS_CLUSTER_NAME: 'run-command',
    KUBECONFIG: kubeconfig,
    AGENT_PORT: '0',
    AGENT_BIND_ADDRESS: '127.0.0.1',
    AGENT_STATE_BACKEND: 'memory',
    AGENT_WORKERS: '1',
    AGENT_DRAIN_TIMEOUT: '5s',
    LOG_LEVEL: 'info',
  });
  await plane.waitForCluster('run-command', CHILD_TIMEOUT_MS);
  agent.process.kill('SIGUSR2');
  await eventually(() => agent.output().includes('unhandled rejection'), 'the stray rejection logged', CHILD_TIMEOUT_MS);
  t.regex(agent.output(), /stray rejection/);
  t.is(agent.process.exitCode, null, 'the agent goes on');
  const port = /"port":(\d+)[^\n]*health and metrics server listening/.exec(agent.output())?.[1];
  t.truthy(port, 'the metrics server logged its port');
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  t.regex(metrics, /^pipeops_agent_unhandled_errors_total\{kind="rejection"\} 1$/m);
  agent.process.kill('SIGTERM');
  t.is(await agent.exited, 0, agent.output());
  t.regex(agent.output(), /shutdown signal: draining/);
  t.regex(agent.output(), /agent stopped/);
  t.false(agent.output().includes(TOKEN), 'the token never reaches the logs');
});
