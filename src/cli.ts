#!/usr/bin/env node
// Entry point: `run` (default) starts the agent; `demo`, `control-plane` and `sandbox-api` start the local
// stack. Each command is loaded only when asked for, so the agent never loads the local stack, and the
// runtime image, which leaves the local stack out, says so instead of failing on a missing module.

import { PROGRAM, readCommandLine, renderHelp, reportUsageError, suggestion, type CommandSpec } from './command-line.js';

interface CommandEntry {
  readonly summary: string;
  readonly isLocalStack: boolean;
  start(args: readonly string[]): Promise<void>;
}

const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  run: {
    summary: 'the agent, configured by env, --config FILE and flags (the default command)',
    isLocalStack: false,
    start: async (args) => (await import('./run-command.js')).runAgentCommand(args),
  },
  demo: {
    summary: 'sandbox API + local control plane + agent on loopback; prints a kubeconfig for kubectl',
    isLocalStack: true,
    start: async (args) => (await import('./local/demo.js')).runDemoCommand(args),
  },
  'control-plane': {
    summary: 'the local control plane alone',
    isLocalStack: true,
    start: async (args) => (await import('./local/control-plane/command.js')).runControlPlaneCommand(args),
  },
  'sandbox-api': {
    summary: 'the sandbox Kubernetes API alone',
    isLocalStack: true,
    start: async (args) => (await import('./local/sandbox-api/command.js')).runSandboxApiCommand(args),
  },
};

export const TOP_LEVEL_COMMAND: CommandSpec = {
  name: '',
  summary: `${PROGRAM}: the PipeOps cluster-connect agent, and the local stack it is developed and demonstrated with.`,
  usage: `${PROGRAM} [command] [flags]   (no command: run)`,
  flags: [],
  env: [],
  commands: Object.entries(COMMANDS).map(([name, entry]) => [name, entry.summary]),
  notes: [`'${PROGRAM} <command> --help' shows a command's flags and environment variables.`],
};

function isModuleMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND';
}

async function main(argv: readonly string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === 'help') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    if (topic !== undefined) await topic.start(['--help']);
    else process.stdout.write(renderHelp(TOP_LEVEL_COMMAND));
    return;
  }
  // Top-level --help and --version; any other flag without a command belongs to `run`.
  if (first === '--help' || first === '-h' || first === '--version') {
    readCommandLine(TOP_LEVEL_COMMAND, [first]);
    return;
  }
  const name = first === undefined || first.startsWith('-') ? 'run' : first;
  const args = name === first ? rest : argv;
  const command = COMMANDS[name];
  if (command === undefined) {
    reportUsageError(TOP_LEVEL_COMMAND, `unknown command "${name}"${suggestion(name, Object.keys(COMMANDS))}`);
    return;
  }
  try {
    await command.start(args);
  } catch (error) {
    if (!command.isLocalStack || !isModuleMissing(error)) throw error;
    process.stderr.write(`${PROGRAM}: "${name}" is part of the local stack, which this build leaves out; run it from a clone (npm run demo)\n`);
    process.exitCode = 1;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // A failure to start (a port in use, an unreadable file) is reported in one line; the stack only helps
  // when debugging, so it is shown only then.
  const isDebug = ['debug', 'trace'].includes(process.env['LOG_LEVEL'] ?? '');
  const text = error instanceof Error ? (isDebug ? (error.stack ?? error.message) : error.message) : String(error);
  process.stderr.write(`${PROGRAM}: ${text}\n`);
  process.exitCode = 1;
});
