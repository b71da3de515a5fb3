// `pipeops-agent sandbox-api`: runs the sandbox API alone, writes its kubeconfig, prints where it is, and
// stays up until SIGINT or SIGTERM, then closes every socket.

import { resolve } from 'node:path';
import {
  describeFlagProblem,
  parseFlags,
  readCommandLine,
  reportUsageError,
  stringFlag,
  type CommandSpec,
  type ParsedFlags,
} from '../../command-line.js';
import { createLogger, LOG_LEVELS } from '../../log.js';
import { DEFAULT_MINOR_VERSION, startSandboxApi, type SandboxApi, type SandboxApiOptions } from './sandbox-server.js';

export const DEFAULT_SANDBOX_KUBECONFIG = '.demo/sandbox-kubeconfig';

export interface SandboxCommandOptions {
  readonly port: number;
  readonly token?: string;
  readonly minorVersion?: number;
  readonly kubeconfig: string;
}

export const SANDBOX_API_COMMAND: CommandSpec = {
  name: 'sandbox-api',
  summary: 'pipeops-agent sandbox-api: the sandbox Kubernetes API alone, an in-memory API server on https://127.0.0.1 for kubectl. Writes its kubeconfig and runs until SIGINT or SIGTERM.',
  usage: 'pipeops-agent sandbox-api [--port N] [--token TOKEN] [--minor N] [--kubeconfig PATH]',
  flags: [
    { name: '--port', value: 'N', description: 'Port to listen on (default 0: a free port, printed at start)' },
    { name: '--token', value: 'TOKEN', description: 'Bearer token the sandbox accepts (default: a random one, written to the kubeconfig)' },
    { name: '--minor', value: 'N', description: `Kubernetes minor version it reports, 1.N (default ${DEFAULT_MINOR_VERSION})` },
    { name: '--kubeconfig', value: 'PATH', description: `Where to write its kubeconfig (default ${DEFAULT_SANDBOX_KUBECONFIG})` },
  ],
  env: [{ name: 'LOG_LEVEL', description: 'trace, debug, info, warn, error or silent; logs go to stderr', default: 'info' }],
};

export type ParsedSandboxArgs =
  | { readonly ok: true; readonly options: SandboxCommandOptions }
  | { readonly ok: false; readonly message: string };

function integerFlag(parsed: ParsedFlags, flag: string): number | string | undefined {
  const value = stringFlag(parsed, flag);
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : `${flag} must be a non-negative integer (got "${value}")`;
}

/** The command's options from parsed flags; the message names the offending flag. */
export function sandboxOptions(parsed: ParsedFlags): ParsedSandboxArgs {
  const port = integerFlag(parsed, '--port') ?? 0;
  const minorVersion = integerFlag(parsed, '--minor');
  for (const value of [port, minorVersion]) if (typeof value === 'string') return { ok: false, message: value };
  if (Number(port) > 65_535) return { ok: false, message: `--port must be an integer from 0 to 65535 (got "${port}")` };
  const token = stringFlag(parsed, '--token');
  return {
    ok: true,
    options: {
      port: Number(port),
      kubeconfig: stringFlag(parsed, '--kubeconfig') ?? DEFAULT_SANDBOX_KUBECONFIG,
      ...(token === undefined ? {} : { token }),
      ...(typeof minorVersion === 'number' ? { minorVersion } : {}),
    },
  };
}

/** Parses `--port N --token T --minor N --kubeconfig PATH` (also `--flag=value`). */
export function parseSandboxArgs(argv: readonly string[]): ParsedSandboxArgs {
  const parsed = parseFlags(SANDBOX_API_COMMAND.flags, argv);
  const [problem] = parsed.problems;
  if (problem !== undefined) return { ok: false, message: describeFlagProblem(problem, SANDBOX_API_COMMAND.flags) };
  return sandboxOptions(parsed);
}

interface SignalWait {
  readonly received: Promise<NodeJS.Signals>;
  cancel(): void;
}

/** Starts listening for SIGINT/SIGTERM at once, so a signal during startup is not lost. */
function waitForSignal(): SignalWait {
  let processOnSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const cancel = (): void => {
    process.off('SIGINT', processOnSignal);
    process.off('SIGTERM', processOnSignal);
  };
  const received = new Promise<NodeJS.Signals>((resolveSignal) => {
    processOnSignal = (signal) => {
      cancel();
      resolveSignal(signal);
    };
  });
  process.on('SIGINT', processOnSignal);
  process.on('SIGTERM', processOnSignal);
  return { received, cancel };
}

export async function runSandboxApiCommand(argv: readonly string[]): Promise<void> {
  const line = readCommandLine(SANDBOX_API_COMMAND, argv);
  if (line === undefined) return;
  const parsed = sandboxOptions(line);
  if (!parsed.ok) {
    reportUsageError(SANDBOX_API_COMMAND, parsed.message);
    return;
  }
  const { options } = parsed;
  const level = LOG_LEVELS.find((known) => known === process.env['LOG_LEVEL']) ?? 'info';
  const logger = createLogger({ level, name: 'sandbox-api', fd: 2 });
  const apiOptions: SandboxApiOptions = {
    port: options.port,
    logger,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.minorVersion === undefined ? {} : { minorVersion: options.minorVersion }),
  };
  const signal = waitForSignal();
  let api: SandboxApi | undefined;
  try {
    api = await startSandboxApi(apiOptions);
    const kubeconfigPath = resolve(options.kubeconfig);
    await api.writeKubeconfig(kubeconfigPath);
    process.stdout.write(`sandbox api: ${api.url}\nKUBECONFIG=${kubeconfigPath}\n`);
  } catch (error) {
    signal.cancel();
    await api?.close();
    throw error;
  }
  const received = await signal.received;
  logger.info({ signal: received }, 'sandbox api stopping');
  await api.close();
}
