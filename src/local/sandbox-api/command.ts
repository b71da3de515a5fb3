// `pipeops-agent sandbox-api`: runs the sandbox API alone, writes its kubeconfig, prints where it is, and
// stays up until SIGINT or SIGTERM, then closes every socket.

import { resolve } from 'node:path';
import { AgentError, ErrorCode } from '../../errors.js';
import { createLogger } from '../../log.js';
import { startSandboxApi, type SandboxApi, type SandboxApiOptions } from './sandbox-server.js';

export const DEFAULT_SANDBOX_KUBECONFIG = '.demo/sandbox-kubeconfig';

export interface SandboxCommandOptions {
  readonly port: number;
  readonly token?: string;
  readonly minorVersion?: number;
  readonly kubeconfig: string;
}

function integerFlag(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new AgentError(ErrorCode.configInvalid, `${flag} must be a non-negative integer (got "${value}")`);
  return Number(value);
}

/** Parses `--port N --token T --minor N --kubeconfig PATH` (also `--flag=value`). */
export function parseSandboxArgs(argv: readonly string[]): SandboxCommandOptions {
  let port = 0;
  let token: string | undefined;
  let minorVersion: number | undefined;
  let kubeconfig = DEFAULT_SANDBOX_KUBECONFIG;
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (!['--port', '--token', '--minor', '--kubeconfig'].includes(flag)) {
      problems.push(`unknown sandbox-api flag "${arg}" (flags: --port, --token, --minor, --kubeconfig)`);
      continue;
    }
    const value = inline ?? argv[i + 1];
    if (inline === undefined) i += 1;
    if (value === undefined) {
      problems.push(`${flag} needs a value`);
      continue;
    }
    try {
      if (flag === '--port') port = integerFlag(flag, value);
      else if (flag === '--minor') minorVersion = integerFlag(flag, value);
      else if (flag === '--token') token = value;
      else kubeconfig = value;
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (problems.length > 0) throw new AgentError(ErrorCode.configInvalid, problems.join('; '));
  return { port, kubeconfig, ...(token === undefined ? {} : { token }), ...(minorVersion === undefined ? {} : { minorVersion }) };
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
  const options = parseSandboxArgs(argv);
  const logger = createLogger({ level: 'info', name: 'sandbox-api', fd: 2 });
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
