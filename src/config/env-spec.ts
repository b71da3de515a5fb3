// The one table of settings: env var names, YAML key, flag, default and parser of each. It never reads the
// environment or a file; load-config.ts applies these rows, and a meta test checks docs/config.md and
// config.example.yaml against them.

import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { CompressionEngine, Dispatch, StateBackend } from './agent-config.js';
import { parseConfigTunnels, type TunnelEntry } from '../tunnel/discovery/tunnel-entry.js';
import { parseGoDuration } from '../protocol/go-duration.js';
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HTTP_DEADLINE_MS,
  DEFAULT_INBOUND_CAP_BYTES,
} from '../protocol/constants.js';

/** A parser's verdict. `problem` never contains the raw value; load-config.ts appends it unless hidden. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string; readonly isValueHidden?: true };

export interface SettingRow<K extends string = string, T = unknown> {
  /** Dotted YAML key, e.g. `pipeops.api_url`. */
  readonly key: K;
  /** Env var names; the first is canonical, the rest are aliases it wins over. */
  readonly env: readonly string[];
  readonly flag: string | undefined;
  /** Already valid; undefined means "not set" (or required, see isRequired). */
  readonly default: NoInfer<T> | undefined;
  /** Default as shown in docs, when the value alone would mislead. */
  readonly defaultText?: string;
  readonly description: string;
  /** Secret values are never echoed in errors or warnings. */
  readonly isSecret: boolean;
  readonly isRequired: boolean;
  /** Accepts a string (flag, env) or any YAML value. */
  readonly parse: (raw: unknown) => ParseResult<T>;
}

export const DEFAULT_AGENT_PORT = 8080;
export const DEFAULT_BIND_ADDRESS = '0.0.0.0';
export const MAX_WORKERS = 64;
export const DEFAULT_TASKS_PER_WORKER = 64;
export const DEFAULT_MAX_QUEUE = 1024;
/** §7.7: the manifests' terminationGracePeriodSeconds must stay above it. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 20_000;
const MAX_DRAIN_TIMEOUT_MS = 10 * 60_000;
export const MIN_HEARTBEAT_INTERVAL_MS = 1000;
export const MIN_INBOUND_CAP_BYTES = 1024;
export const DEFAULT_STATE_CONFIGMAP_NAME = 'pipeops-agent-state';
export const DEFAULT_STATE_SECRET_NAME = 'pipeops-agent-secrets';
export const DEFAULT_STATE_FILE = '~/.pipeops-agent/state.json';
export const DEFAULT_REGISTRATION_FACTS_TIMEOUT_MS = 5_000;
export const DEFAULT_TUNNEL_MAX_STREAMS = 1024;
export const DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS = 60_000;
/** Registration itself waits 30 s for its reply; the facts gathered before it must stay well inside that. */
export const MAX_REGISTRATION_FACTS_TIMEOUT_MS = 30_000;
/** setTimeout clamps larger delays to 1 ms, so no duration may exceed it. */
export const MAX_TIMER_MS = 2_147_483_647;
const MAX_NAME_CHARS = 253;

const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value });
const fail = (problem: string): ParseResult<never> => ({ ok: false, problem });

/** Strings as given, numbers as their decimal text (YAML reads `cluster_name: 42` as a number). */
function textOf(raw: unknown): string | undefined {
  if (typeof raw === 'string') return raw.trim();
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  return undefined;
}

function integerIn(min: number, max?: number): (raw: unknown) => ParseResult<number> {
  const problem =
    max === undefined ? `must be an integer of at least ${min}` : `must be an integer between ${min} and ${max}`;
  return (raw) => {
    const text = textOf(raw);
    const n = text !== undefined && /^\d+$/.test(text) ? Number(text) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min && (max === undefined || n <= max) ? ok(n) : fail(problem);
  };
}

const TRUE_WORDS: readonly string[] = ['true', '1', 'yes'];
const FALSE_WORDS: readonly string[] = ['false', '0', 'no'];

export function parseBoolean(raw: unknown): ParseResult<boolean> {
  if (typeof raw === 'boolean') return ok(raw);
  const word = textOf(raw)?.toLowerCase();
  if (word !== undefined && TRUE_WORDS.includes(word)) return ok(true);
  if (word !== undefined && FALSE_WORDS.includes(word)) return ok(false);
  return fail('must be true, false, 1, 0, yes or no');
}

function oneOf<const V extends string>(values: readonly V[]): (raw: unknown) => ParseResult<V> {
  const problem = `must be one of ${values.join(', ')}`;
  return (raw) => {
    const word = textOf(raw)?.toLowerCase();
    const found = values.find((v) => v === word);
    return found === undefined ? fail(problem) : ok(found);
  };
}

/**
 * Milliseconds from a number (already ms), a digit string (ms) or a Go duration such as `30s`, `1m30s`,
 * `1.5s`, `250ms` (the one Go-duration parser, protocol/go-duration.ts); undefined when it is none of
 * those or is signed. Rounded to whole milliseconds.
 */
export function parseDurationMs(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? Math.round(raw) : undefined;
  if (typeof raw !== 'string') return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text);
  // A settings value is a length of time: a sign (which Go accepts) is refused rather than clamped.
  if (text.startsWith('-') || text.startsWith('+')) return undefined;
  const ms = parseGoDuration(text);
  return ms === undefined ? undefined : Math.round(ms);
}

function durationIn(min: number, max: number): (raw: unknown) => ParseResult<number> {
  const problem = `must be a duration between ${min} and ${max} ms, such as 30s, 1m30s or 30000`;
  return (raw) => {
    const ms = parseDurationMs(raw);
    return ms !== undefined && ms >= min && ms <= max ? ok(ms) : fail(problem);
  };
}

function controlPlaneUrl(raw: unknown): ParseResult<string> {
  const problem = 'must be an absolute URL with scheme http, https, ws or wss';
  const text = textOf(raw);
  if (text === undefined || !URL.canParse(text)) return fail(problem);
  const url = new URL(text);
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) return fail(problem);
  // The value would carry the credential into the error text, so it is not echoed.
  if (url.username !== '' || url.password !== '') {
    return { ok: false, problem: 'must not contain a user name or password', isValueHidden: true };
  }
  return ok(text);
}

function clusterName(raw: unknown): ParseResult<string> {
  const text = textOf(raw);
  return text !== undefined && /^[^\p{Cc}]{1,253}$/u.test(text)
    ? ok(text)
    : fail(`must be 1-${MAX_NAME_CHARS} characters without control characters`);
}

/** Lenient on purpose: operators may pin any id, not only the derived `agent-<16 hex>` form. */
function agentId(raw: unknown): ParseResult<string> {
  const text = textOf(raw);
  return text !== undefined && /^[^\s\p{Cc}]{1,253}$/u.test(text)
    ? ok(text)
    : fail(`must be 1-${MAX_NAME_CHARS} characters without whitespace`);
}

function bindAddress(raw: unknown): ParseResult<string> {
  const text = textOf(raw);
  const isHostName = text !== undefined && /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i.test(text);
  return text !== undefined && (isIP(text) !== 0 || isHostName)
    ? ok(text)
    : fail('must be an IP address or a host name');
}

function filePath(raw: unknown): ParseResult<string> {
  const text = textOf(raw);
  return text !== undefined && text !== '' && !/\p{Cc}/u.test(text) ? ok(text) : fail('must be a file path');
}

/** Tokens go into an Authorization header, so whitespace or control characters would break framing. */
function secretToken(raw: unknown): ParseResult<string> {
  return typeof raw === 'string' && /^[^\s\p{Cc}]+$/u.test(raw.trim())
    ? ok(raw.trim())
    : fail('must be a non-empty string without whitespace');
}

/** http(s) URL of a lookup service. */
function lookupUrl(raw: unknown): ParseResult<string> {
  const problem = 'must be an absolute http or https URL';
  const text = textOf(raw);
  if (text === undefined || !URL.canParse(text)) return fail(problem);
  const url = new URL(text);
  return url.protocol === 'http:' || url.protocol === 'https:' ? ok(text) : fail(problem);
}

/** Namespace names are DNS-1123 labels. */
function namespaceName(raw: unknown): ParseResult<string> {
  const text = textOf(raw);
  return text !== undefined && /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)
    ? ok(text)
    : fail('must be a namespace name: 1-63 lowercase letters, digits or "-", starting and ending alphanumeric');
}

/** ConfigMap and Secret names are DNS-1123 subdomains. */
function objectName(raw: unknown): ParseResult<string> {
  const text = textOf(raw);
  return text !== undefined && /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(text)
    ? ok(text)
    : fail('must be 1-253 lowercase letters, digits, "-" or ".", starting and ending alphanumeric');
}

const PEM_MARKER = '-----BEGIN ';

/** A PEM bundle, given as is or base64-encoded; kept base64-encoded, the form cluster_cert_data uses. */
function caCertData(raw: unknown): ParseResult<string> {
  const problem = 'must be a PEM certificate bundle or its base64 encoding';
  if (typeof raw !== 'string' || raw.trim() === '') return fail(problem);
  const text = raw.trim();
  if (text.includes(PEM_MARKER)) return ok(Buffer.from(`${text}\n`, 'utf8').toString('base64'));
  if (!/^[A-Za-z0-9+/=\s]+$/.test(text)) return fail(problem);
  const compact = text.replace(/\s+/g, '');
  return Buffer.from(compact, 'base64').toString('utf8').includes(PEM_MARKER) ? ok(compact) : fail(problem);
}

const LABEL_KEY = /^[^\s\p{Cc}=,]{1,253}$/u;
const LABEL_VALUE = /^[^\p{Cc}]{0,253}$/u;

/** A YAML mapping, or `k=v,k2=v2` from PIPEOPS_LABELS. */
function labels(raw: unknown): ParseResult<Readonly<Record<string, string>>> {
  const problem =
    'must be a mapping (YAML) or k=v,k2=v2 (env) with keys of 1-253 characters without whitespace, "=" or ","';
  const out: Record<string, string> = {};
  if (typeof raw === 'string') {
    for (const pair of raw.split(',')) {
      if (pair.trim() === '') continue;
      const eq = pair.indexOf('=');
      if (eq === -1) return fail(problem);
      out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
  } else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return fail(problem);
      out[k] = String(v);
    }
  } else {
    return fail(problem);
  }
  const isValid = Object.entries(out).every(([k, v]) => LABEL_KEY.test(k) && LABEL_VALUE.test(v));
  return isValid ? ok(out) : fail(problem);
}

/**
 * Keeps K literal and T inferred per row, so load-config.ts can read values back with their types. A row is
 * neither secret nor required unless it says so.
 */
function row<const K extends string, T>(
  spec: Omit<SettingRow<K, T>, 'isSecret' | 'isRequired'> & Partial<Pick<SettingRow<K, T>, 'isSecret' | 'isRequired'>>,
): SettingRow<K, T> {
  return { ...spec, isSecret: spec.isSecret ?? false, isRequired: spec.isRequired ?? false };
}

const NO_FLAG = undefined;

export const ENV_SPEC = [
  row({
    key: 'pipeops.api_url', env: ['PIPEOPS_API_URL'], flag: '--api-url', default: undefined,
    description: 'Control plane base URL (http, https, ws or wss)',
    isRequired: true, parse: controlPlaneUrl,
  }),
  row({
    key: 'pipeops.token', env: ['PIPEOPS_TOKEN'], flag: NO_FLAG, default: undefined,
    description: 'Agent token; required unless pipeops.token_file is set; never accepted as a flag',
    isSecret: true, parse: secretToken,
  }),
  row({
    key: 'pipeops.token_file', env: ['PIPEOPS_TOKEN_FILE'], flag: NO_FLAG, default: undefined,
    description: 'File holding the agent token (Secret mount); must exist and be non-empty at start',
    parse: filePath,
  }),
  row({
    key: 'pipeops.tls.ca_file', env: ['PIPEOPS_TLS_CA_FILE'], flag: NO_FLAG, default: undefined,
    description: 'PEM bundle trusted for the control plane in addition to the system store',
    parse: filePath,
  }),
  row({
    key: 'pipeops.tls.cert_file', env: ['PIPEOPS_TLS_CERT_FILE'], flag: NO_FLAG, default: undefined,
    description: 'Client certificate (PEM) for the control plane; needs pipeops.tls.key_file',
    parse: filePath,
  }),
  row({
    key: 'pipeops.tls.key_file', env: ['PIPEOPS_TLS_KEY_FILE'], flag: NO_FLAG, default: undefined,
    description: 'Client private key (PEM); needs pipeops.tls.cert_file',
    parse: filePath,
  }),
  row({
    key: 'pipeops.tls.insecure_skip_verify', env: ['PIPEOPS_TLS_INSECURE_SKIP_VERIFY'], flag: NO_FLAG,
    default: false, description: 'Skip verification of the control plane certificate (testing only)',
    parse: parseBoolean,
  }),
  row({
    key: 'agent.cluster_name', env: ['PIPEOPS_CLUSTER_NAME'], flag: '--cluster-name', default: undefined,
    description: 'Cluster name shown in PipeOps (1-253 characters, no control characters)',
    isRequired: true, parse: clusterName,
  }),
  row({
    key: 'agent.id', env: ['PIPEOPS_AGENT_ID'], flag: '--agent-id', default: undefined,
    defaultText: 'persisted, else derived',
    description: 'Fixed agent id (1-253 characters, no whitespace); otherwise persisted or derived',
    parse: agentId,
  }),
  row({
    key: 'agent.port', env: ['AGENT_PORT'], flag: '--port', default: DEFAULT_AGENT_PORT,
    description: 'Port of /health, /ready, /version, /metrics (0 picks a free port)',
    parse: integerIn(0, 65_535),
  }),
  row({
    key: 'agent.bind_address', env: ['AGENT_BIND_ADDRESS'], flag: NO_FLAG, default: DEFAULT_BIND_ADDRESS,
    description: 'Address the health/metrics server listens on',
    parse: bindAddress,
  }),
  row({
    key: 'agent.ready_lenient', env: ['AGENT_READY_LENIENT'], flag: NO_FLAG, default: false,
    description: 'Lenient /ready: 200 while the link is connecting, reconnecting or connected, heartbeat age ignored',
    parse: parseBoolean,
  }),
  row({
    key: 'agent.workers', env: ['AGENT_WORKERS'], flag: '--workers',
    default: Math.min(MAX_WORKERS, availableParallelism()), defaultText: `number of CPUs (at most ${MAX_WORKERS})`,
    description: 'Actor threads (0-64); 0 runs actors inline on the main thread',
    parse: integerIn(0, MAX_WORKERS),
  }),
  row({
    key: 'agent.tasks_per_worker', env: ['AGENT_TASKS_PER_WORKER'], flag: NO_FLAG, default: DEFAULT_TASKS_PER_WORKER,
    description: 'Concurrent actors per worker thread (1-10000)',
    parse: integerIn(1, 10_000),
  }),
  row({
    key: 'agent.max_queue', env: ['AGENT_MAX_QUEUE'], flag: NO_FLAG, default: DEFAULT_MAX_QUEUE,
    description: 'Actors waiting for a thread before new ones are refused (1-1000000)',
    parse: integerIn(1, 1_000_000),
  }),
  row({
    key: 'agent.session_workers', env: ['AGENT_SESSION_WORKERS'], flag: NO_FLAG,
    default: undefined, defaultText: 'half of agent.workers, rounded up (0 when it is 0)',
    description: 'Threads of the session pool (watches, follows, kubectl sessions, relays), 0-64; 0 runs them on the main thread',
    parse: integerIn(0, MAX_WORKERS),
  }),
  row({
    key: 'agent.session_tasks_per_worker', env: ['AGENT_SESSION_TASKS_PER_WORKER'], flag: NO_FLAG,
    default: undefined, defaultText: `4 × agent.tasks_per_worker`,
    description: 'Concurrent long-lived streams per session thread (1-100000); the long lane holds session threads (at least 1) times this',
    parse: integerIn(1, 100_000),
  }),
  row({
    key: 'agent.dispatch', env: ['AGENT_DISPATCH'], flag: NO_FLAG, default: Dispatch.auto,
    description: 'Where actors run when there are workers: auto (small requests and byte relays such as kubectl sessions inline on the main thread, large or compressible requests and watches on workers) or workers (all on workers)',
    parse: oneOf(Object.values(Dispatch)),
  }),
  row({
    key: 'agent.compression', env: ['AGENT_COMPRESSION'], flag: '--compression', default: CompressionEngine.zlib,
    description: 'Response compression engine: zlib, fflate or off',
    parse: oneOf(Object.values(CompressionEngine)),
  }),
  row({
    key: 'agent.enable_ingress_sync', env: ['ENABLE_INGRESS_SYNC', 'ENABLE_GATEWAY_PROXY'], flag: NO_FLAG,
    default: false, description: 'Gateway proxy / ingress route sync (opt-in)',
    parse: parseBoolean,
  }),
  row({
    key: 'agent.heartbeat_interval', env: ['AGENT_HEARTBEAT_INTERVAL_MS'], flag: '--heartbeat-interval',
    default: DEFAULT_HEARTBEAT_INTERVAL_MS, defaultText: `${DEFAULT_HEARTBEAT_INTERVAL_MS} (30s)`,
    description: 'Heartbeat period: milliseconds or a duration such as 30s (at least 1s)',
    parse: durationIn(MIN_HEARTBEAT_INTERVAL_MS, MAX_TIMER_MS),
  }),
  row({
    key: 'agent.drain_timeout', env: ['AGENT_DRAIN_TIMEOUT'], flag: NO_FLAG,
    default: DEFAULT_DRAIN_TIMEOUT_MS, defaultText: `${DEFAULT_DRAIN_TIMEOUT_MS} (20s)`,
    description: 'Drain limit at shutdown: how long in-flight requests and sessions may finish after SIGTERM (0-10m)',
    parse: durationIn(0, MAX_DRAIN_TIMEOUT_MS),
  }),
  row({
    key: 'agent.labels', env: ['PIPEOPS_LABELS'], flag: NO_FLAG, default: {}, defaultText: '{} (none)',
    description: 'Labels reported to the control plane: a YAML mapping, or k=v,k2=v2 in the env var',
    parse: labels,
  }),
  row({
    key: 'kubernetes.kubeconfig', env: ['KUBECONFIG'], flag: '--kubeconfig', default: undefined,
    defaultText: 'in-cluster service account',
    description: 'Kubeconfig file for runs outside a pod',
    parse: filePath,
  }),
  row({
    key: 'kubernetes.service_token', env: ['PIPEOPS_K8S_SERVICE_TOKEN'], flag: NO_FLAG, default: undefined,
    description: 'Token handed to the control plane as k8s_service_token (else the service account token)',
    isSecret: true, parse: secretToken,
  }),
  row({
    key: 'kubernetes.ca_cert_data', env: ['PIPEOPS_K8S_CERT_DATA'], flag: NO_FLAG, default: undefined,
    defaultText: 'persisted, else the service-account ca.crt',
    description: 'Cluster CA bundle recorded as cluster_cert_data: PEM or base64 PEM',
    parse: caCertData,
  }),
  row({
    key: 'kubernetes.http2', env: ['AGENT_KUBE_HTTP2'], flag: NO_FLAG, default: true,
    description: 'Watches and followed logs go to the Kubernetes API over HTTP/2 when it offers h2, many streams per connection (HTTP/1.1 otherwise, and for every other call)',
    isSecret: false, isRequired: false, parse: parseBoolean,
  }),
  row({
    key: 'state.backend', env: ['AGENT_STATE_BACKEND'], flag: NO_FLAG, default: StateBackend.auto,
    description: 'Where state lives: auto, cluster, file or memory',
    parse: oneOf(Object.values(StateBackend)),
  }),
  row({
    key: 'state.namespace', env: ['PIPEOPS_STATE_NAMESPACE'], flag: NO_FLAG, default: undefined,
    defaultText: 'service-account namespace, else state.pod_namespace, else pipeops-system',
    description: 'Namespace of the state ConfigMap and Secret',
    parse: namespaceName,
  }),
  row({
    key: 'state.pod_namespace', env: ['PIPEOPS_POD_NAMESPACE'], flag: NO_FLAG, default: undefined,
    description: 'The pod namespace (downward API); used for state when no service-account namespace file exists',
    parse: namespaceName,
  }),
  row({
    key: 'state.configmap_name', env: ['PIPEOPS_STATE_CONFIGMAP_NAME'], flag: NO_FLAG,
    default: DEFAULT_STATE_CONFIGMAP_NAME, description: 'ConfigMap holding agent_id, cluster_id and gateway_ws_url',
    parse: objectName,
  }),
  row({
    key: 'state.secret_name', env: ['PIPEOPS_STATE_SECRET_NAME'], flag: NO_FLAG,
    default: DEFAULT_STATE_SECRET_NAME, description: 'Secret holding cluster_token and cluster_cert_data',
    parse: objectName,
  }),
  row({
    key: 'state.file', env: ['AGENT_STATE_FILE'], flag: NO_FLAG, default: DEFAULT_STATE_FILE,
    description: 'Local state file (mode 600) used outside a pod when the cluster objects are unusable',
    parse: filePath,
  }),
  row({
    key: 'registration.facts_timeout', env: ['AGENT_REGISTRATION_FACTS_TIMEOUT_MS'], flag: NO_FLAG,
    default: DEFAULT_REGISTRATION_FACTS_TIMEOUT_MS, defaultText: `${DEFAULT_REGISTRATION_FACTS_TIMEOUT_MS} (5s)`,
    description: 'One deadline over the region, provider and public-IP lookups done before register',
    parse: durationIn(1, MAX_REGISTRATION_FACTS_TIMEOUT_MS),
  }),
  row({
    key: 'registration.public_ip_url', env: ['AGENT_PUBLIC_IP_URL'], flag: NO_FLAG, default: undefined,
    defaultText: 'none: the primary interface IP',
    description: 'Public-IP echo service answering plain text or {"ip": ...}, e.g. https://api.ipify.org',
    parse: lookupUrl,
  }),
  row({
    key: 'registration.geoip_url', env: ['AGENT_GEOIP_URL'], flag: NO_FLAG, default: undefined,
    defaultText: 'none: no GeoIP lookup',
    description: 'GeoIP service asked about the caller (the region fallback), e.g. https://ipapi.co/json/',
    parse: lookupUrl,
  }),
  row({
    key: 'registration.skip_geoip', env: ['SKIP_GEOIP'], flag: NO_FLAG, default: false,
    defaultText: 'false (true when CI is true)',
    description: 'Skip the GeoIP lookup',
    parse: parseBoolean,
  }),
  row({
    key: 'registration.skip_metadata', env: ['SKIP_METADATA'], flag: NO_FLAG, default: true,
    description: 'Skip the cloud metadata probes (169.254.169.254 etc.); false opts in',
    parse: parseBoolean,
  }),
  row({
    key: 'tunnel.enabled', env: ['TUNNEL_ENABLED'], flag: NO_FLAG, default: true,
    description: 'Advertise supports_yamux and carry TCP/UDP tunnels over yamux when the gateway asks (gateway_hello)',
    parse: parseBoolean,
  }),
  row({
    key: 'tunnel.inbound_cap_bytes', env: ['AGENT_INBOUND_CAP_BYTES'], flag: NO_FLAG,
    default: DEFAULT_INBOUND_CAP_BYTES, defaultText: `${DEFAULT_INBOUND_CAP_BYTES} (64 MiB)`,
    description: 'Largest inbound WebSocket message in bytes (at least 1024); larger closes with 1009',
    parse: integerIn(MIN_INBOUND_CAP_BYTES),
  }),
  row({
    key: 'tunnel.request_timeout', env: ['AGENT_REQUEST_TIMEOUT_MS'], flag: NO_FLAG,
    default: DEFAULT_HTTP_DEADLINE_MS, defaultText: `${DEFAULT_HTTP_DEADLINE_MS} (2m)`,
    description: 'Deadline of a proxied request that carries none: milliseconds or a duration such as 2m',
    parse: durationIn(1, MAX_TIMER_MS),
  }),
  row({
    key: 'tunnel.drop_accept_encoding', env: ['AGENT_DROP_ACCEPT_ENCODING'], flag: NO_FLAG, default: true,
    description: 'Strip Accept-Encoding from proxied requests so the agent compresses instead',
    parse: parseBoolean,
  }),
  row({
    key: 'tunnel.tunnels', env: ['AGENT_TUNNELS'], flag: NO_FLAG, default: [] as readonly TunnelEntry[], defaultText: '[] (none)',
    description: 'TCP/UDP tunnels declared by hand, registered like the Gateway API ones: a YAML list, or JSON in the env var',
    parse: parseConfigTunnels,
  }),
  row({
    key: 'tunnel.max_streams', env: ['AGENT_TUNNEL_MAX_STREAMS'], flag: NO_FLAG, default: DEFAULT_TUNNEL_MAX_STREAMS,
    description: 'TCP/UDP tunnel streams open at once over yamux; more are reset',
    parse: integerIn(1, 1_000_000),
  }),
  row({
    key: 'tunnel.udp_idle_timeout', env: ['AGENT_TUNNEL_UDP_IDLE_TIMEOUT_MS'], flag: NO_FLAG, default: DEFAULT_TUNNEL_UDP_IDLE_TIMEOUT_MS, defaultText: '60000 (1m)',
    description: 'A UDP tunnel stream ends after this long without a datagram either way',
    parse: durationIn(1, MAX_TIMER_MS),
  }),
  row({
    key: 'logging.level', env: ['LOG_LEVEL', 'PIPEOPS_LOG_LEVEL'], flag: '--log-level', default: 'info' as LogLevel,
    description: 'trace, debug, info, warn, error or silent',
    parse: oneOf(LOG_LEVELS),
  }),
] as const;

export type SettingKey = (typeof ENV_SPEC)[number]['key'];
export type SettingValue<K extends SettingKey> =
  Extract<(typeof ENV_SPEC)[number], { readonly key: K }> extends SettingRow<K, infer T> ? T : never;
