// The command line as a new user meets it (issue 13): every command answers --help with its flags and env
// vars (snapshots) and --version; a usage error is one line plus the hint, exit code 2, never a stack
// trace. The run command's help is generated from env-spec.ts, so every setting is checked against it.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { ENV_SPEC } from '../../src/config/env-spec.js';

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const COMMANDS = ['run', 'demo', 'control-plane', 'sandbox-api'] as const;
// Generous: each child loads Node and the command's modules on a shared, busy machine.
const CHILD_TIMEOUT_MS = 90_000;

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    // A clean environment: the help must not depend on the caller's settings, and `run` must not start.
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function assertUsageError(t: import('ava').ExecutionContext, result: Result, command: string, message: string): void {
  const label = command === '' ? 'pipeops-agent' : `pipeops-agent ${command}`;
  t.is(result.code, 2, result.stderr);
  t.is(result.stdout, '');
  t.is(result.stderr, `${label}: ${message}\nRun '${label} --help' for usage.\n`);
}

test.serial('the top level answers --help, -h and `help` with the commands, and --version', async (t) => {
  const help = await cli(['--help']);
  t.is(help.code, 0, help.stderr);
  t.is(help.stderr, '');
  for (const command of COMMANDS) t.regex(help.stdout, new RegExp(`^  ${command} `, 'm'));
  t.snapshot(help.stdout, 'pipeops-agent --help');
  t.is((await cli(['-h'])).stdout, help.stdout);
  t.is((await cli(['help'])).stdout, help.stdout);

  const version = await cli(['--version']);
  t.is(version.code, 0);
  t.regex(version.stdout, new RegExp(`^pipeops-agent ${VERSION.replaceAll('.', '\\.')} \\(commit [^,]+, built [^)]+\\)\\n$`));
});

for (const command of ['demo', 'control-plane', 'sandbox-api'] as const) {
  test.serial(`${command} --help lists its flags and env vars`, async (t) => {
    const help = await cli([command, '--help']);
    t.is(help.code, 0, help.stderr);
    t.is(help.stderr, '');
    t.regex(help.stdout, new RegExp(`^Usage: pipeops-agent ${command}`, 'm'));
    t.regex(help.stdout, /^Flags:\n(?:.*\n)*  -h, --help /m);
    t.snapshot(help.stdout, `pipeops-agent ${command} --help`);
    t.is((await cli(['help', command])).stdout, help.stdout);
  });
}

test.serial('run --help is generated from env-spec.ts: every env var, flag and default of the table', async (t) => {
  const help = await cli(['run', '--help']);
  t.is(help.code, 0, help.stderr);
  // the default command: flags without a command are run's
  t.is((await cli(['--workers', '2', '--help'])).stdout, help.stdout);
  const [flagPart = '', envPart = ''] = help.stdout.split('\nEnvironment:\n');
  t.snapshot(flagPart, 'pipeops-agent run --help, up to the environment');
  for (const row of ENV_SPEC) {
    for (const name of row.env) t.regex(envPart, new RegExp(`^  ${name}\\b`, 'm'), name);
    // wrapped lines joined again, so a description reads as one line
    const flags = flagPart.replace(/\n {6,}/g, ' ');
    if (row.flag !== undefined) t.regex(flags, new RegExp(`^  ${row.flag} [A-Z]+ .*\\(env ${row.env[0] ?? ''}\\)$`, 'm'), row.flag);
    const canonical = row.env[0] ?? '';
    const entry = new RegExp(`^  ${canonical}\\s+([^]*?)(?=\\n  [A-Z]|\\n\\n)`, 'm').exec(envPart)?.[1]?.replace(/\s+/g, ' ') ?? '';
    t.true(entry.startsWith(row.description), `${canonical}: ${entry}`);
    if (row.isRequired) t.true(entry.endsWith('(required)'), canonical);
    else if (row.defaultText !== undefined) t.true(entry.endsWith(`(default: ${row.defaultText})`), canonical);
    else if (typeof row.default === 'number' || typeof row.default === 'boolean' || typeof row.default === 'string') {
      t.true(entry.endsWith(`(default: ${String(row.default)})`), canonical);
    }
  }
  t.regex(help.stdout, /never from a flag/);
});

test.serial('every command answers --version', async (t) => {
  for (const command of COMMANDS) {
    const result = await cli([command, '--version']);
    t.is(result.code, 0, command);
    t.true(result.stdout.startsWith(`pipeops-agent ${VERSION} (commit `), command);
  }
});

test.serial('an unknown flag is one line naming it, with a suggestion when close, plus the hint; exit code 2', async (t) => {
  assertUsageError(t, await cli(['run', '--prot', '9000']), 'run', 'unknown flag --prot (did you mean --port?)');
  assertUsageError(t, await cli(['--bogus']), 'run', 'unknown flag --bogus');
  assertUsageError(t, await cli(['demo', '--kubeconfg', 'x']), 'demo', 'unknown flag --kubeconfg (did you mean --kubeconfig?)');
  assertUsageError(t, await cli(['control-plane', '--verbose']), 'control-plane', 'unknown flag --verbose');
  assertUsageError(t, await cli(['sandbox-api', '--hepl']), 'sandbox-api', 'unknown flag --hepl (did you mean --help?)');
  assertUsageError(t, await cli(['contol-plane', '--help']), '', 'unknown command "contol-plane" (did you mean control-plane?)');
});

test.serial('bad values and missing values are usage errors too, never a stack trace', async (t) => {
  // sandbox-api used to throw here and print a stack trace
  assertUsageError(t, await cli(['sandbox-api', '--port', 'abc']), 'sandbox-api', '--port must be a non-negative integer (got "abc")');
  assertUsageError(t, await cli(['sandbox-api', '--port', '70000']), 'sandbox-api', '--port must be an integer from 0 to 65535 (got "70000")');
  assertUsageError(t, await cli(['sandbox-api', '--kubeconfig']), 'sandbox-api', '--kubeconfig: requires a value');
  assertUsageError(t, await cli(['demo', '--mode', 'fast']), 'demo', '--mode must be one of legacy, binary, streaming (got "fast")');
  assertUsageError(t, await cli(['demo', 'extra']), 'demo', 'unexpected argument "extra"');
  assertUsageError(t, await cli(['control-plane', '--port', '--tls']), 'control-plane', '--port: requires a value');
  assertUsageError(t, await cli(['control-plane', '--tls=yes']), 'control-plane', '--tls: takes no value');
  assertUsageError(t, await cli(['run', '--workers']), 'run', '--workers: requires a value');
});

test.serial('run refuses a token flag without echoing its value', async (t) => {
  const secret = 'tok-4f1e2d3c4b5a6978';
  for (const args of [[`--token=${secret}`], ['--token', secret], ['run', `--pipeops-token=${secret}`]]) {
    const result = await cli(args);
    t.is(result.code, 2);
    t.false(result.stderr.includes(secret));
    t.regex(result.stderr, /tokens are not accepted on the command line/);
    t.is(result.stderr.split('\n').length, 3, result.stderr);
  }
});

test.serial('invalid settings still exit 2 with every problem listed, and no stack trace', async (t) => {
  const result = await cli(['run'], { PIPEOPS_API_URL: 'mailto:x', AGENT_PORT: 'abc' });
  t.is(result.code, 2);
  t.regex(result.stderr, /^Invalid configuration \(4 problems\):\n/);
  t.regex(result.stderr, /\nRun 'pipeops-agent run --help' for every setting\.\n$/);
  t.notRegex(result.stderr, /^\s+at /m);
});
