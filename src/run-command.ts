// `cli.js run`: the agent itself. Loads the config once, starts the agent, and drains it on SIGTERM/SIGINT
// (PROTOCOL.md §7.7): the first signal stops admission and lets work in flight finish up to the drain limit,
// a second ends the drain at once; then close 1000 to the control plane and exit 0. Its help is generated
// from the env-spec.ts table, so a new setting shows up there without being written twice.

import { readCommandLine, REQUIRED, type CommandSpec, type EnvVarSpec } from './command-line.js';
import { ENV_SPEC, type SettingRow } from './config/env-spec.js';
import { describeRunFlagProblem, loadConfig, RUN_FLAGS } from './config/load-config.js';
import { AgentError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { Agent } from './agent.js';

const EXIT_CONFIG = 2;
const EXIT_BACKSTOP_MS = 1_000;

function defaultOf(row: SettingRow): string | undefined {
  if (row.defaultText !== undefined) return row.defaultText;
  if (row.isRequired) return REQUIRED;
  if (row.default === undefined) return undefined;
  return typeof row.default === 'object' ? JSON.stringify(row.default) : String(row.default);
}

function envVarsOf(row: SettingRow): EnvVarSpec[] {
  const [canonical = '', ...aliases] = row.env;
  const fallback = defaultOf(row);
  return [
    { name: canonical, description: row.description, ...(fallback === undefined ? {} : { default: fallback }) },
    ...aliases.map((alias) => ({ name: alias, description: `Alias of ${canonical}; ${canonical} wins when both are set.` })),
  ];
}

const ROWS: readonly SettingRow[] = ENV_SPEC;

export const RUN_COMMAND: CommandSpec = {
  name: 'run',
  summary: 'pipeops-agent run: the PipeOps cluster agent. Dials the control plane over one WebSocket, registers, sends heartbeats and relays Kubernetes API traffic. The default command.',
  usage: 'pipeops-agent run [--config PATH] [flags]',
  flags: RUN_FLAGS.map((flag) => {
    const row = ROWS.find((candidate) => candidate.flag === flag.name);
    return row === undefined ? flag : { ...flag, description: `${flag.description} (env ${row.env[0] ?? ''})` };
  }),
  env: ROWS.flatMap(envVarsOf),
  notes: [
    'Precedence: flag > environment > config file > default. Every setting is checked at start and all problems are reported together (exit code 2). The token is read from PIPEOPS_TOKEN or PIPEOPS_TOKEN_FILE only, never from a flag. Reference: docs/config.md.',
  ],
};

export async function runAgentCommand(argv: readonly string[]): Promise<void> {
  if (readCommandLine(RUN_COMMAND, argv, { isPositionalIgnored: true }, describeRunFlagProblem) === undefined) return;
  let loaded;
  try {
    loaded = loadConfig({ env: process.env, argv });
  } catch (error) {
    if (error instanceof AgentError) {
      process.stderr.write(`${error.message}\nRun 'pipeops-agent run --help' for every setting.\n`);
      process.exitCode = EXIT_CONFIG;
      return;
    }
    throw error;
  }
  const { config, warnings } = loaded;
  const logger = createLogger({ level: config.logging.level, name: 'pipeops-agent' });
  for (const warning of warnings) logger.warn(warning);
  const agent = await Agent.start({ config, logger });
  containUnhandled(logger, agent);
  const signal = await untilSignal(() => agent.endDrainNow());
  logger.info({ signal, drainTimeoutMs: config.agent.drainTimeoutMs }, 'shutdown signal: draining');
  await agent.drainAndStop();
  logger.info('agent stopped');
  process.exitCode = 0;
  // Everything is closed; a handle something still holds (a socket in its close handshake, a timer) must not
  // keep the process past the drain limit plus its 5 s close (§7.7).
  setTimeout(() => process.exit(0), EXIT_BACKSTOP_MS).unref();
}

/**
 * A rejection or exception nobody handled is a bug, but one stream's bug must not end every other stream
 * (C93): it is logged with its stack, counted, and the agent goes on.
 */
function containUnhandled(logger: Logger, agent: Agent): void {
  process.on('unhandledRejection', function processOnUnhandledRejection(reason: unknown) {
    agent.metrics.inc('unhandledErrors', { kind: 'rejection' });
    logger.error({ err: reason }, 'unhandled rejection');
  });
  process.on('uncaughtException', function processOnUncaughtException(error: Error) {
    agent.metrics.inc('unhandledErrors', { kind: 'exception' });
    logger.error({ err: error }, 'uncaught exception');
  });
}

/**
 * Resolves on the first SIGTERM or SIGINT. A second signal calls `onSecond` when given (the drain ends at
 * once), else exits at once.
 */
export function untilSignal(onSecond?: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      const onSecondSignal = onSecond ?? ((): void => process.exit(1));
      process.once('SIGTERM', onSecondSignal);
      process.once('SIGINT', onSecondSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
