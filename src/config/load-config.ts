// Builds the frozen AgentConfig from flags, env, the YAML file and defaults (in that precedence), using the
// env-spec.ts rows. The only module that reads environment variables; it never logs and never echoes a
// secret value, so its errors and warnings are safe to print.

import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { AgentError, ErrorCode } from '../errors.js';
import type { AgentConfig, ResolvedAgentConfig } from './agent-config.js';
import { resolveAgentConfig } from './resolve-config.js';
import { describeFlagProblem, FlagProblemKind, parseFlags, suggestion, type FlagProblem, type FlagSpec } from '../command-line.js';
import { ENV_SPEC, parseBoolean, type SettingKey, type SettingRow, type SettingValue } from './env-spec.js';

export const DEFAULT_CONFIG_PATH = '/etc/pipeops/config.yaml';

export interface LoadConfigInput {
  /** Usually `process.env`; tests pass plain objects. Empty values count as unset. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Arguments after the subcommand; positional arguments are ignored. */
  readonly argv: readonly string[];
  /** Reads a UTF-8 file, throwing (with `code`, e.g. ENOENT) when it cannot. Defaults to readFileSync. */
  readonly readFile?: (path: string) => string;
}

export interface LoadedConfig {
  /** Derived values resolved (resolve-config.ts). */
  readonly config: ResolvedAgentConfig;
  /** Unknown YAML keys and AGENT_* variables, ignored aliases, risky settings. */
  readonly warnings: readonly string[];
}

type Row = SettingRow<SettingKey, unknown>;
const ROWS: readonly Row[] = ENV_SPEC;
const YAML_KEYS: readonly string[] = ROWS.map((r) => r.key);
/** Every proper prefix of a key (`pipeops`, `pipeops.tls`, …): mappings the file may nest. */
const YAML_SECTIONS: ReadonlySet<string> = new Set(
  YAML_KEYS.flatMap((key) => {
    const parts = key.split('.');
    return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('.'));
  }),
);
const ENV_NAMES = ROWS.flatMap((r) => r.env);

/** A valid value, with the env name (alias included) that later messages about it should show. */
interface Resolved {
  readonly envName: string;
  readonly value: unknown;
}

/**
 * Reads every setting once and validates it. Throws one AgentError(configInvalid) listing every problem,
 * one per line as `<yaml key> (<ENV_VAR>): <problem>, got "<value>"`.
 */
export function loadConfig(input: LoadConfigInput): LoadedConfig {
  const readFile = input.readFile ?? ((path: string) => readFileSync(path, 'utf8'));
  const problems: string[] = [];
  const warnings: string[] = [];

  const args = parseRunFlags(input.argv);
  problems.push(...args.problems);
  const fileValues = readConfigFile(args.configPath, readFile, problems, warnings);
  warnUnknownEnv(input.env, warnings);

  const resolved = new Map<SettingKey, Resolved>();
  const given = new Set<SettingKey>();
  for (const row of ROWS) {
    const canonical = row.env[0] ?? '';
    const source = pickSource(row, args.flags, input.env, fileValues, warnings);
    if (source === undefined) {
      if (row.isRequired) problems.push(`${row.key} (${canonical}): is required`);
      if (row.default !== undefined) resolved.set(row.key, { envName: canonical, value: row.default });
      continue;
    }
    given.add(row.key);
    const result = row.parse(source.raw);
    if (result.ok) {
      resolved.set(row.key, { envName: source.envName, value: result.value });
    } else {
      const shown = row.isSecret || result.isValueHidden === true ? '' : `, got ${describe(source.raw)}`;
      problems.push(`${row.key} (${source.envName}): ${result.problem}${shown}`);
    }
  }

  const get = <K extends SettingKey>(key: K): SettingValue<K> | undefined =>
    // Sound: the value stored under K came from the K row's parser or default.
    resolved.get(key)?.value as SettingValue<K> | undefined;
  const labelOf = (key: SettingKey) => {
    const row = ROWS.find((r) => r.key === key);
    return `${key} (${resolved.get(key)?.envName ?? row?.env[0] ?? ''})`;
  };
  // Contents are only checked for emptiness, never kept or echoed: the token file is re-read at every dial.
  const checkReadable = (key: SettingKey, path: string | undefined, mustHaveContent: boolean) => {
    if (path === undefined) return;
    let text: string;
    try {
      text = readFile(path);
    } catch (err) {
      problems.push(`${labelOf(key)}: cannot read "${path}" (${errorCode(err)})`);
      return;
    }
    if (mustHaveContent && text.trim() === '') problems.push(`${labelOf(key)}: file "${path}" is empty`);
  };

  const tokenFile = get('pipeops.token_file');
  if (!given.has('pipeops.token') && !given.has('pipeops.token_file')) {
    problems.push(`${labelOf('pipeops.token')}: is required unless pipeops.token_file (PIPEOPS_TOKEN_FILE) is set`);
  }
  if (tokenFile !== undefined && resolved.has('pipeops.token')) {
    warnings.push('pipeops.token is ignored because pipeops.token_file is set; the token is read from the file');
  }
  checkReadable('pipeops.token_file', tokenFile, true);
  checkReadable('pipeops.tls.ca_file', get('pipeops.tls.ca_file'), false);
  checkReadable('pipeops.tls.cert_file', get('pipeops.tls.cert_file'), false);
  checkReadable('pipeops.tls.key_file', get('pipeops.tls.key_file'), false);
  const certFile = get('pipeops.tls.cert_file');
  const keyFile = get('pipeops.tls.key_file');
  if (certFile !== undefined && keyFile === undefined) {
    problems.push(`${labelOf('pipeops.tls.key_file')}: is required when pipeops.tls.cert_file is set`);
  }
  if (keyFile !== undefined && certFile === undefined) {
    problems.push(`${labelOf('pipeops.tls.cert_file')}: is required when pipeops.tls.key_file is set`);
  }

  if (problems.length > 0) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    const message = `Invalid configuration (${problems.length} ${noun}):\n${problems.join('\n')}`;
    throw new AgentError(ErrorCode.configInvalid, message);
  }

  const apiUrl = need(get('pipeops.api_url'));
  if (get('pipeops.tls.insecure_skip_verify') === true) {
    warnings.push('pipeops.tls.insecure_skip_verify is on: the control plane certificate is not verified');
  }
  const { protocol, hostname } = new URL(apiUrl);
  if ((protocol === 'http:' || protocol === 'ws:') && !['localhost', '127.0.0.1', '[::1]'].includes(hostname)) {
    warnings.push(`pipeops.api_url uses ${protocol.slice(0, -1)}: the token crosses the network unencrypted`);
  }

  // CI skips GeoIP as the reference agent does, unless SKIP_GEOIP (or the file) says otherwise explicitly.
  const ciVerdict = parseBoolean(input.env['CI'] ?? '');
  const skipGeoip = given.has('registration.skip_geoip')
    ? need(get('registration.skip_geoip'))
    : ciVerdict.ok && ciVerdict.value;

  const config: AgentConfig = {
    pipeops: {
      apiUrl,
      token: tokenFile === undefined ? need(get('pipeops.token')) : '',
      tokenFile,
      tls: {
        caFile: get('pipeops.tls.ca_file'),
        certFile,
        keyFile,
        insecureSkipVerify: need(get('pipeops.tls.insecure_skip_verify')),
      },
    },
    agent: {
      id: get('agent.id'),
      clusterName: need(get('agent.cluster_name')),
      port: need(get('agent.port')),
      bindAddress: need(get('agent.bind_address')),
      readyLenient: need(get('agent.ready_lenient')),
      workers: need(get('agent.workers')),
      tasksPerWorker: need(get('agent.tasks_per_worker')),
      maxQueue: need(get('agent.max_queue')),
      sessionWorkers: get('agent.session_workers'),
      sessionTasksPerWorker: get('agent.session_tasks_per_worker'),
      dispatch: need(get('agent.dispatch')),
      compression: need(get('agent.compression')),
      enableIngressSync: need(get('agent.enable_ingress_sync')),
      heartbeatIntervalMs: need(get('agent.heartbeat_interval')),
      drainTimeoutMs: need(get('agent.drain_timeout')),
      labels: { ...need(get('agent.labels')) },
    },
    kubernetes: {
      kubeconfig: get('kubernetes.kubeconfig'),
      serviceToken: get('kubernetes.service_token'),
      caCertData: get('kubernetes.ca_cert_data'),
      http2: need(get('kubernetes.http2')),
    },
    state: {
      backend: need(get('state.backend')),
      namespace: get('state.namespace'),
      podNamespace: get('state.pod_namespace'),
      configMapName: need(get('state.configmap_name')),
      secretName: need(get('state.secret_name')),
      file: need(get('state.file')),
    },
    registration: {
      factsTimeoutMs: need(get('registration.facts_timeout')),
      publicIpUrl: get('registration.public_ip_url'),
      geoipUrl: get('registration.geoip_url'),
      skipGeoip,
      skipMetadata: need(get('registration.skip_metadata')),
    },
    tunnel: {
      enabled: need(get('tunnel.enabled')),
      inboundCapBytes: need(get('tunnel.inbound_cap_bytes')),
      requestTimeoutMs: need(get('tunnel.request_timeout')),
      dropAcceptEncoding: need(get('tunnel.drop_accept_encoding')),
      tunnels: need(get('tunnel.tunnels')),
      maxStreams: need(get('tunnel.max_streams')),
      udpIdleTimeoutMs: need(get('tunnel.udp_idle_timeout')),
    },
    logging: { level: need(get('logging.level')) },
  };
  return deepFreeze({ config: resolveAgentConfig(config), warnings });
}

/** For rows with a default or a required check that already passed. */
function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('unreachable: a defaulted or required setting is missing');
  return value;
}

interface Args {
  readonly flags: ReadonlyMap<string, string>;
  /** Explicit `--config` path; undefined means "DEFAULT_CONFIG_PATH if it exists". */
  readonly configPath: string | undefined;
}

/** The run command's flags: one per env-spec row that has one, plus --config. */
export const RUN_FLAGS: readonly FlagSpec[] = [
  ...ROWS.flatMap((row) => (row.flag === undefined ? [] : [{ name: row.flag, value: placeholderOf(row.flag), description: row.description }])),
  { name: '--config', value: 'PATH', description: `YAML config file with the keys of config.example.yaml (default ${DEFAULT_CONFIG_PATH} when it exists)` },
];

/** `--heartbeat-interval` → `INTERVAL`: the last word of the flag names its value. */
function placeholderOf(flag: string): string {
  return (flag.split('-').pop() ?? 'value').toUpperCase();
}

/**
 * The run command's flags, parsed by the one command-line parser; positionals are ignored. Problems are in
 * argument order, one line each. A token-looking flag is refused without its value ever being read.
 */
export function parseRunFlags(argv: readonly string[]): Args & { readonly problems: readonly string[] } {
  const parsed = parseFlags(RUN_FLAGS, argv, { isPositionalIgnored: true });
  const flags = new Map<string, string>();
  for (const [name, value] of parsed.values) if (typeof value === 'string' && name !== '--config') flags.set(name, value);
  const config = parsed.values.get('--config');
  return { flags, configPath: typeof config === 'string' ? config : undefined, problems: parsed.problems.map(describeRunFlagProblem) };
}

/** A token-looking flag is refused with the reason, never with its value. */
export function describeRunFlagProblem(problem: FlagProblem): string {
  return problem.kind === FlagProblemKind.unknown && /token/i.test(problem.arg)
    ? `${problem.arg}: tokens are not accepted on the command line (visible in ps and shell history); ` +
        'set PIPEOPS_TOKEN or PIPEOPS_TOKEN_FILE'
    : describeFlagProblem(problem, RUN_FLAGS);
}

interface Source {
  readonly raw: unknown;
  readonly envName: string;
}

function pickSource(
  row: Row,
  flags: ReadonlyMap<string, string>,
  env: Readonly<Record<string, string | undefined>>,
  fileValues: ReadonlyMap<string, unknown>,
  warnings: string[],
): Source | undefined {
  const canonical = row.env[0] ?? '';
  const flagValue = row.flag === undefined ? undefined : flags.get(row.flag);
  if (flagValue !== undefined) return { raw: flagValue, envName: canonical };
  const setNames = row.env.filter((name) => (env[name] ?? '').trim() !== '');
  const [first, ...rest] = setNames;
  if (first !== undefined) {
    for (const other of rest) {
      if (env[other] !== env[first]) warnings.push(`${other} is ignored because ${first} is set`);
    }
    return { raw: env[first], envName: first };
  }
  return fileValues.has(row.key) ? { raw: fileValues.get(row.key), envName: canonical } : undefined;
}

/** Known keys' values from the YAML file (nulls count as unset); unknown keys become warnings. */
function readConfigFile(
  explicitPath: string | undefined,
  readFile: (path: string) => string,
  problems: string[],
  warnings: string[],
): Map<string, unknown> {
  const values = new Map<string, unknown>();
  const path = explicitPath ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    const code = errorCode(err);
    if (explicitPath !== undefined || (code !== 'ENOENT' && code !== 'ENOTDIR')) {
      problems.push(`config file "${path}": cannot read (${code})`);
    }
    return values;
  }
  const doc = parseDocument(text);
  // yaml's own messages quote the offending line, which may hold the token: report position and code only.
  for (const err of doc.errors) {
    const pos = err.linePos?.[0];
    const where = pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`;
    problems.push(`config file "${path}": invalid YAML${where} (${err.code})`);
  }
  if (doc.errors.length > 0) return values;
  const root: unknown = doc.toJS();
  if (root === null || root === undefined) return values;
  if (!isMapping(root)) {
    problems.push(`config file "${path}": must be a mapping with sections pipeops, agent, kubernetes, state, registration, tunnel, logging`);
    return values;
  }
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [name, value] of Object.entries(node)) {
      const key = prefix === '' ? name : `${prefix}.${name}`;
      if (YAML_KEYS.includes(key)) {
        if (value !== null && value !== undefined) values.set(key, value);
      } else if (YAML_SECTIONS.has(key)) {
        if (isMapping(value)) walk(value, key);
        else if (value !== null) problems.push(`config file "${path}": ${key} must be a mapping`);
      } else {
        const candidates = [...YAML_KEYS, ...YAML_SECTIONS];
        warnings.push(`config file "${path}": unknown key ${key}${suggestion(key, candidates)}`);
      }
    }
  };
  walk(root, '');
  return values;
}

/** Only AGENT_* names are ours to judge; the rest of the environment belongs to others. */
function warnUnknownEnv(env: Readonly<Record<string, string | undefined>>, warnings: string[]): void {
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('AGENT_') || ENV_NAMES.includes(name)) continue;
    warnings.push(`unknown environment variable ${name}${suggestion(name, ENV_NAMES)}`);
  }
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw);
  if (Array.isArray(raw)) return 'a list';
  if (isMapping(raw)) return 'a mapping';
  return String(raw);
}

function errorCode(err: unknown): string {
  const code = isMapping(err) ? err['code'] : undefined;
  return typeof code === 'string' ? code : 'unreadable';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
