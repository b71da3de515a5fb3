// `cli.js control-plane`: runs the local control plane alone until SIGINT/SIGTERM, writing a kubeconfig
// for one cluster. Owns this command's flags; the agent token and the log level are its only env inputs.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  describeFlagProblem,
  parseFlags,
  readCommandLine,
  reportUsageError,
  stringFlag,
  type CommandSpec,
  type ParsedFlags,
} from '../../command-line.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../../log.js';
import { createLoopbackTls } from '../tls/local-ca.js';
import { startControlPlane, WireMode, type ControlPlaneOptions } from './control-plane-server.js';

export const DEFAULT_KUBECONFIG_PATH = '.demo/kubeconfig';
export const DEFAULT_CLUSTER_NAME = 'local';
export const CA_FILE_NAME = 'control-plane-ca.pem';
export const SERVER_CERT_FILE_NAME = 'control-plane-server.pem';
export const SERVER_KEY_FILE_NAME = 'control-plane-server-key.pem';
/** A kept server certificate is reused only while it stays valid at least this long. */
const CERT_REUSE_MARGIN_MS = 24 * 3600_000;
/** The cluster registry kept beside the kubeconfig, so a restarted control plane knows resumed agents. */
export const REGISTRY_FILE_NAME = 'control-plane-clusters.json';

export interface ControlPlaneCommandOptions {
  readonly port: number;
  readonly kubeconfig: string;
  /** Undefined: the leanest mode each agent advertises. */
  readonly mode: WireMode | undefined;
  readonly cluster: string;
  readonly isTls: boolean;
}

export type ParsedArgs =
  | { readonly ok: true; readonly options: ControlPlaneCommandOptions }
  | { readonly ok: false; readonly message: string };

const MODES = Object.values(WireMode).join('|');

export const CONTROL_PLANE_COMMAND: CommandSpec = {
  name: 'control-plane',
  summary: 'pipeops-agent control-plane: the local control plane alone. Accepts agents on /api/v1/clusters/agent/ws and serves each registered cluster to kubectl; runs until SIGINT or SIGTERM.',
  usage: `pipeops-agent control-plane [--port N] [--kubeconfig PATH] [--mode ${MODES}] [--cluster NAME] [--tls]`,
  flags: [
    { name: '--port', value: 'N', description: 'Port to listen on, 0-65535 (default 0: a free port, printed at start)' },
    { name: '--kubeconfig', value: 'PATH', description: `Where to write the kubeconfig for kubectl (default ${DEFAULT_KUBECONFIG_PATH})` },
    { name: '--mode', value: 'MODE', description: `Wire mode: ${Object.values(WireMode).join(', ')} (default: the leanest mode each agent advertises)` },
    { name: '--cluster', value: 'NAME', description: `Cluster the kubeconfig points at (default ${DEFAULT_CLUSTER_NAME})` },
    { name: '--tls', description: `Serve https/wss with a fresh local CA, written next to the kubeconfig as ${CA_FILE_NAME}` },
  ],
  env: [
    { name: 'PIPEOPS_TOKEN', description: 'The only agent token accepted (default: any token)' },
    { name: 'LOG_LEVEL', description: 'trace, debug, info, warn, error or silent; logs go to stderr', default: 'info' },
    { name: 'PIPEOPS_LOG_LEVEL', description: 'Alias of LOG_LEVEL' },
  ],
};

/** The command's options from parsed flags; the message names the offending flag. */
export function controlPlaneOptions(parsed: ParsedFlags): ParsedArgs {
  const port = stringFlag(parsed, '--port') ?? '0';
  if (!/^\d+$/.test(port) || Number(port) > 65535) return { ok: false, message: `--port must be an integer from 0 to 65535 (got "${port}")` };
  const mode = stringFlag(parsed, '--mode');
  const knownMode = Object.values(WireMode).find((known) => known === mode);
  if (mode !== undefined && knownMode === undefined) {
    return { ok: false, message: `--mode must be one of ${Object.values(WireMode).join(', ')} (got "${mode}")` };
  }
  return {
    ok: true,
    options: {
      port: Number(port),
      kubeconfig: stringFlag(parsed, '--kubeconfig') ?? DEFAULT_KUBECONFIG_PATH,
      mode: knownMode,
      cluster: stringFlag(parsed, '--cluster') ?? DEFAULT_CLUSTER_NAME,
      isTls: parsed.values.get('--tls') === true,
    },
  };
}

/** Parses the command's flags (`--flag value` or `--flag=value`); the message names the offending flag. */
export function parseControlPlaneArgs(argv: readonly string[]): ParsedArgs {
  const parsed = parseFlags(CONTROL_PLANE_COMMAND.flags, argv);
  const [problem] = parsed.problems;
  if (problem !== undefined) return { ok: false, message: describeFlagProblem(problem, CONTROL_PLANE_COMMAND.flags) };
  return controlPlaneOptions(parsed);
}

interface ServerTls {
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
}

/** The TLS material kept beside the kubeconfig, if complete, consistent and not about to expire. */
async function keptTls(dir: string): Promise<ServerTls | undefined> {
  try {
    const [caPem, certPem, keyPem] = await Promise.all(
      [CA_FILE_NAME, SERVER_CERT_FILE_NAME, SERVER_KEY_FILE_NAME].map((name) => readFile(join(dir, name), 'utf8')),
    );
    const cert = new X509Certificate(certPem!);
    const isUsable =
      cert.checkIssued(new X509Certificate(caPem!)) &&
      cert.checkPrivateKey(createPrivateKey(keyPem!)) &&
      Date.parse(cert.validTo) - Date.now() > CERT_REUSE_MARGIN_MS;
    return isUsable ? { caPem: caPem!, certPem: certPem!, keyPem: keyPem! } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The server's TLS: the kept CA and certificate when usable, so a restarted control plane is still trusted by
 * agents and kubeconfigs that know its CA; else a fresh loopback CA, written beside the kubeconfig.
 */
async function serverTls(dir: string): Promise<ServerTls> {
  const kept = await keptTls(dir);
  if (kept !== undefined) return kept;
  const tls = createLoopbackTls('pipeops-local-control-plane');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, SERVER_KEY_FILE_NAME), tls.server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, SERVER_CERT_FILE_NAME), tls.server.certPem);
  await writeFile(join(dir, CA_FILE_NAME), tls.caPem);
  return { keyPem: tls.server.keyPem, certPem: tls.server.certPem, caPem: tls.caPem };
}

function logLevelFromEnv(): LogLevel {
  const wanted = process.env['LOG_LEVEL'] ?? process.env['PIPEOPS_LOG_LEVEL'] ?? 'info';
  return LOG_LEVELS.find((level) => level === wanted) ?? 'info';
}

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => {
    const processOnSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', processOnSignal);
      process.off('SIGTERM', processOnSignal);
      resolveSignal(signal);
    };
    process.on('SIGINT', processOnSignal);
    process.on('SIGTERM', processOnSignal);
  });
}

/** Runs until SIGINT/SIGTERM. --help, --version and usage errors (exit code 2) as every command. */
export async function runControlPlaneCommand(argv: readonly string[]): Promise<void> {
  const line = readCommandLine(CONTROL_PLANE_COMMAND, argv);
  if (line === undefined) return;
  const parsed = controlPlaneOptions(line);
  if (!parsed.ok) {
    reportUsageError(CONTROL_PLANE_COMMAND, parsed.message);
    return;
  }
  const { options } = parsed;
  const logger = createLogger({ level: logLevelFromEnv(), name: 'control-plane', fd: 2 });
  const kubeconfigPath = resolve(options.kubeconfig);
  const planeOptions: ControlPlaneOptions = {
    port: options.port,
    logger,
    registryFile: join(dirname(kubeconfigPath), REGISTRY_FILE_NAME),
    ...(options.mode === undefined ? {} : { mode: options.mode }),
  };
  const token = process.env['PIPEOPS_TOKEN'];
  if (token !== undefined && token !== '') planeOptions.agentToken = token;
  let caPath: string | undefined;
  if (options.isTls) {
    planeOptions.tls = await serverTls(dirname(kubeconfigPath));
    caPath = join(dirname(kubeconfigPath), CA_FILE_NAME);
  }
  const stopSignal = waitForStopSignal();
  const plane = await startControlPlane(planeOptions);
  try {
    await plane.writeKubeconfig(kubeconfigPath, options.cluster);
    process.stdout.write(`control plane: ${plane.url}\n`);
    if (caPath !== undefined) process.stdout.write(`control plane CA: ${caPath}\n`);
    process.stdout.write(`KUBECONFIG=${kubeconfigPath}\n`);
    const signal = await stopSignal;
    logger.info({ signal }, 'stopping');
  } finally {
    await plane.close();
  }
}
