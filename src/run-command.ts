// `cli.js run`: the agent itself. Loads the config once, starts the agent, and drains it on SIGTERM/SIGINT
// (PROTOCOL.md §7.7): the first signal stops admission and lets work in flight finish up to the drain limit,
// a second ends the drain at once; then close 1000 to the control plane and exit 0.

import { loadConfig } from './config/load-config.js';
import { AgentError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { Agent } from './agent.js';

const EXIT_CONFIG = 2;

export async function runAgentCommand(argv: readonly string[]): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig({ env: process.env, argv });
  } catch (error) {
    if (error instanceof AgentError) {
      process.stderr.write(`${error.message}\n`);
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
