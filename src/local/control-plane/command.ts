// `cli.js control-plane`: runs the local control plane alone until SIGINT/SIGTERM, writing a kubeconfig
// for one cluster. Owns flag parsing for this command; the agent token is the only env input.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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
const EXIT_USAGE = 2;

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

const USAGE = 'usage: control-plane [--port N] [--kubeconfig PATH] [--mode legacy|binary|streaming] [--cluster NAME] [--tls]';
const VALUE_FLAGS: ReadonlySet<string> = new Set(['--port', '--kubeconfig', '--mode', '--cluster']);

/** Parses the command's flags (`--flag value` or `--flag=value`); the message names the offending flag. */
export function parseControlPlaneArgs(argv: readonly string[]): ParsedArgs {
  let port = 0;
  let kubeconfig = DEFAULT_KUBECONFIG_PATH;
  let mode: WireMode | undefined;
  let cluster = DEFAULT_CLUSTER_NAME;
  let isTls = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const equals = arg.indexOf('=');
    const flag = arg.startsWith('--') && equals !== -1 ? arg.slice(0, equals) : arg;
    if (flag === '--tls') {
      if (equals !== -1) return { ok: false, message: `--tls takes no value (got "${arg}")` };
      isTls = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) return { ok: false, message: `unknown flag "${arg}"\n${USAGE}` };
    const value = equals !== -1 ? arg.slice(equals + 1) : argv[++i];
    if (value === undefined || value === '') return { ok: false, message: `${flag} needs a value` };
    switch (flag) {
      case '--port':
        if (!/^\d+$/.test(value) || Number(value) > 65535) return { ok: false, message: `--port must be an integer from 0 to 65535 (got "${value}")` };
        port = Number(value);
        break;
      case '--kubeconfig':
        kubeconfig = value;
        break;
      case '--mode':
        if (!Object.values(WireMode).some((known) => known === value)) {
          return { ok: false, message: `--mode must be one of legacy, binary, streaming (got "${value}")` };
        }
        mode = value as WireMode;
        break;
      default:
        cluster = value;
        break;
    }
  }
  return { ok: true, options: { port, kubeconfig, mode, cluster, isTls } };
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

/** Runs until SIGINT/SIGTERM. Invalid flags print a message on stderr and set exit code 2. */
export async function runControlPlaneCommand(argv: readonly string[]): Promise<void> {
  const parsed = parseControlPlaneArgs(argv);
  if (!parsed.ok) {
    process.stderr.write(`control-plane: ${parsed.message}\n`);
    process.exitCode = EXIT_USAGE;
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
