// `cli.js run`: the agent itself. Loads the config once, starts the agent, and stops it cleanly on
// SIGTERM/SIGINT (close 1000 to the control plane, actors cancelled, pool closed).

import { loadConfig } from './config/load-config.js';
import { AgentError } from './errors.js';
import { createLogger } from './log.js';
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
  await untilSignal();
  await agent.stop();
  logger.info('agent stopped');
}

/** Resolves on the first SIGTERM or SIGINT; a second signal exits at once. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
