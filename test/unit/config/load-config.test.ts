// loadConfig against plain env objects and an in-memory file system: precedence, aliases, every
// validation message verbatim, token secrecy and the frozen result.

import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import test from 'ava';
import { AgentError, ErrorCode } from '../../../src/errors.js';
import { ENV_SPEC, parseDurationMs } from '../../../src/config/env-spec.js';
import { DEFAULT_CONFIG_PATH, loadConfig, type LoadedConfig } from '../../../src/config/load-config.js';

const TOKEN = 'tok-9f2c71d0e4a8b6c3';
const BASE_ENV = {
  PIPEOPS_API_URL: 'https://cp.example.test',
  PIPEOPS_TOKEN: TOKEN,
  PIPEOPS_CLUSTER_NAME: 'Edge Lab',
};

type Env = Record<string, string | undefined>;

function fakeFs(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

function load(env: Env, argv: readonly string[] = [], files: Record<string, string> = {}): LoadedConfig {
  return loadConfig({ env, argv, readFile: fakeFs(files) });
}

/** The problem lines of the thrown configInvalid error (the header line dropped). */
function problemsOf(env: Env, argv: readonly string[] = [], files: Record<string, string> = {}): string[] {
  try {
    load(env, argv, files);
  } catch (err) {
    if (!(err instanceof AgentError)) throw err;
    if (err.code !== ErrorCode.configInvalid) throw err;
    const [header, ...lines] = err.message.split('\n');
    const count = lines.length;
    if (header !== `Invalid configuration (${count} ${count === 1 ? 'problem' : 'problems'}):`) {
      throw new Error(`unexpected header ${String(header)}`);
    }
    return lines;
  }
  throw new Error('expected loadConfig to throw');
}

test('defaults apply when only the required settings are given', (t) => {
  const { config, warnings } = load(BASE_ENV);
  const workers = Math.min(64, availableParallelism());
  const sessionWorkers = Math.ceil(workers / 2);
  t.deepEqual(warnings, []);
  t.deepEqual(config, {
    pipeops: {
      apiUrl: 'https://cp.example.test',
      token: TOKEN,
      tokenFile: undefined,
      tls: { caFile: undefined, certFile: undefined, keyFile: undefined, insecureSkipVerify: false },
    },
    agent: {
      id: undefined,
      clusterName: 'Edge Lab',
      port: 8080,
      bindAddress: '0.0.0.0',
      readyLenient: false,
      workers,
      tasksPerWorker: 64,
      maxQueue: 1024,
      // derived (resolve-config.ts)
      sessionWorkers,
      sessionTasksPerWorker: 256,
      lanes: { short: { slots: workers * 64, maxQueue: 1024 }, long: { slots: sessionWorkers * 256, maxQueue: 1024 } },
      advertisedPort: 8080,
      dispatch: 'auto',
      compression: 'zlib',
      enableIngressSync: false,
      heartbeatIntervalMs: 30_000,
      drainTimeoutMs: 20_000,
      labels: {},
    },
    kubernetes: { kubeconfig: undefined, serviceToken: undefined, caCertData: undefined, http2: true },
    state: {
      backend: 'auto',
      namespace: undefined,
      podNamespace: undefined,
      configMapName: 'pipeops-agent-state',
      secretName: 'pipeops-agent-secrets',
      file: '~/.pipeops-agent/state.json',
    },
    registration: {
      factsTimeoutMs: 5_000,
      publicIpUrl: undefined,
      geoipUrl: undefined,
      skipGeoip: false,
      skipMetadata: true,
    },
    tunnel: { enabled: true, inboundCapBytes: 67_108_864, requestTimeoutMs: 120_000, dropAcceptEncoding: true, tunnels: [], maxStreams: 1024, udpIdleTimeoutMs: 60_000 },
    logging: { level: 'info' },
  });
});

test('every default is a value its own parser accepts unchanged', (t) => {
  for (const row of ENV_SPEC) {
    if (row.default === undefined) continue;
    const result = row.parse(row.default);
    t.true(result.ok, row.key);
    if (result.ok) t.deepEqual(result.value, row.default, row.key);
  }
});

test('precedence is flag > env > file > default', (t) => {
  const files = { '/cfg.yaml': 'agent:\n  port: 7000\n  workers: 3\n  max_queue: 50\n' };
  const argv = ['--config', '/cfg.yaml', '--port', '9000'];
  const env = { ...BASE_ENV, AGENT_PORT: '8000', AGENT_WORKERS: '5' };
  const { config } = load(env, argv, files);
  t.is(config.agent.port, 9000);
  t.is(config.agent.workers, 5);
  t.is(config.agent.maxQueue, 50);
  t.is(config.agent.tasksPerWorker, 64);
});

test('flags accept both --flag value and --flag=value, and ignore positionals', (t) => {
  const argv = ['run', '--port=0', '--workers', '0', '--log-level=DEBUG', '--compression', 'off', '--', '--bogus'];
  const { config } = load(BASE_ENV, argv);
  t.is(config.agent.port, 0);
  t.is(config.agent.workers, 0);
  t.is(config.logging.level, 'debug');
  t.is(config.agent.compression, 'off');
});

test('every flag reaches its setting', (t) => {
  const argv = [
    '--api-url=wss://cp.example.test/x', '--cluster-name=prod', '--agent-id=agent-0123456789abcdef',
    '--kubeconfig=/kube', '--heartbeat-interval=45s',
  ];
  const { config } = load({ PIPEOPS_TOKEN: TOKEN }, argv);
  t.is(config.pipeops.apiUrl, 'wss://cp.example.test/x');
  t.is(config.agent.clusterName, 'prod');
  t.is(config.agent.id, 'agent-0123456789abcdef');
  t.is(config.kubernetes.kubeconfig, '/kube');
  t.is(config.agent.heartbeatIntervalMs, 45_000);
});

test('aliases are read, and the canonical name wins with a warning', (t) => {
  const aliased = load({ ...BASE_ENV, ENABLE_GATEWAY_PROXY: 'yes', PIPEOPS_LOG_LEVEL: 'warn' });
  t.true(aliased.config.agent.enableIngressSync);
  t.is(aliased.config.logging.level, 'warn');
  t.deepEqual(aliased.warnings, []);

  const both = load({ ...BASE_ENV, LOG_LEVEL: 'error', PIPEOPS_LOG_LEVEL: 'trace' });
  t.is(both.config.logging.level, 'error');
  t.deepEqual(both.warnings, ['PIPEOPS_LOG_LEVEL is ignored because LOG_LEVEL is set']);
});

test('an alias names itself in its error', (t) => {
  t.deepEqual(problemsOf({ ...BASE_ENV, ENABLE_GATEWAY_PROXY: 'maybe' }), [
    'agent.enable_ingress_sync (ENABLE_GATEWAY_PROXY): must be true, false, 1, 0, yes or no, got "maybe"',
  ]);
});

test('booleans accept true/false/1/0/yes/no in any case', (t) => {
  const cases: Array<[string, boolean]> = [['TRUE', true], ['1', true], ['Yes', true], ['false', false], ['0', false], ['NO', false]];
  for (const [text, expected] of cases) {
    t.is(load({ ...BASE_ENV, TUNNEL_ENABLED: text }).config.tunnel.enabled, expected, text);
  }
});

test('empty env values count as unset', (t) => {
  const { config } = load({ ...BASE_ENV, AGENT_PORT: '', KUBECONFIG: ' ' });
  t.is(config.agent.port, 8080);
  t.is(config.kubernetes.kubeconfig, undefined);
});

test('durations accept milliseconds and unit strings', (t) => {
  const cases: Array<[unknown, number | undefined]> = [
    ['30000', 30_000], [45_000, 45_000], ['30s', 30_000], ['1m30s', 90_000], ['1.5s', 1500], ['250ms', 250],
    ['2m', 120_000], ['1h', 3_600_000], [' 10s ', 10_000], ['1.1s', 1100],
    ['abc', undefined], ['30', 30], ['10 s', undefined], ['-5s', undefined], ['s', undefined], [true, undefined],
    // the protocol's Go-duration parser reads them: its units, no sign
    ['2000us', 2], ['1h0m0.5s', 3_600_500], ['+5s', undefined],
  ];
  for (const [raw, expected] of cases) t.is(parseDurationMs(raw), expected, String(raw));
  t.is(load({ ...BASE_ENV, AGENT_HEARTBEAT_INTERVAL_MS: '1m' }).config.agent.heartbeatIntervalMs, 60_000);
  t.is(load({ ...BASE_ENV, AGENT_REQUEST_TIMEOUT_MS: '5s' }).config.tunnel.requestTimeoutMs, 5000);
  t.is(load({ ...BASE_ENV, AGENT_DRAIN_TIMEOUT: '45s' }).config.agent.drainTimeoutMs, 45_000);
  t.is(load({ ...BASE_ENV, AGENT_DRAIN_TIMEOUT: '0' }).config.agent.drainTimeoutMs, 0);
  t.throws(() => load({ ...BASE_ENV, AGENT_DRAIN_TIMEOUT: '1h' }), { message: /agent\.drain_timeout \(AGENT_DRAIN_TIMEOUT\): must be a duration between 0 and 600000 ms/ });
});

const INVALID: Array<[Env, string]> = [
  [{ PIPEOPS_API_URL: 'ftp://cp.example.test' }, 'pipeops.api_url (PIPEOPS_API_URL): must be an absolute URL with scheme http, https, ws or wss, got "ftp://cp.example.test"'],
  [{ PIPEOPS_API_URL: 'cp.example.test' }, 'pipeops.api_url (PIPEOPS_API_URL): must be an absolute URL with scheme http, https, ws or wss, got "cp.example.test"'],
  [{ PIPEOPS_API_URL: 'https://u:pw@cp.example.test' }, 'pipeops.api_url (PIPEOPS_API_URL): must not contain a user name or password'],
  [{ PIPEOPS_CLUSTER_NAME: 'a\u0007b' }, 'agent.cluster_name (PIPEOPS_CLUSTER_NAME): must be 1-253 characters without control characters, got "a\\u0007b"'],
  [{ PIPEOPS_CLUSTER_NAME: 'x'.repeat(254) }, `agent.cluster_name (PIPEOPS_CLUSTER_NAME): must be 1-253 characters without control characters, got "${'x'.repeat(77)}..."`],
  [{ PIPEOPS_AGENT_ID: 'agent one' }, 'agent.id (PIPEOPS_AGENT_ID): must be 1-253 characters without whitespace, got "agent one"'],
  [{ AGENT_PORT: 'abc' }, 'agent.port (AGENT_PORT): must be an integer between 0 and 65535, got "abc"'],
  [{ AGENT_PORT: '65536' }, 'agent.port (AGENT_PORT): must be an integer between 0 and 65535, got "65536"'],
  [{ AGENT_PORT: '80.5' }, 'agent.port (AGENT_PORT): must be an integer between 0 and 65535, got "80.5"'],
  [{ AGENT_BIND_ADDRESS: 'not an address' }, 'agent.bind_address (AGENT_BIND_ADDRESS): must be an IP address or a host name, got "not an address"'],
  [{ AGENT_WORKERS: '65' }, 'agent.workers (AGENT_WORKERS): must be an integer between 0 and 64, got "65"'],
  [{ AGENT_TASKS_PER_WORKER: '0' }, 'agent.tasks_per_worker (AGENT_TASKS_PER_WORKER): must be an integer between 1 and 10000, got "0"'],
  [{ AGENT_MAX_QUEUE: '1000001' }, 'agent.max_queue (AGENT_MAX_QUEUE): must be an integer between 1 and 1000000, got "1000001"'],
  [{ AGENT_COMPRESSION: 'gzip' }, 'agent.compression (AGENT_COMPRESSION): must be one of zlib, fflate, off, got "gzip"'],
  [{ ENABLE_INGRESS_SYNC: 'on' }, 'agent.enable_ingress_sync (ENABLE_INGRESS_SYNC): must be true, false, 1, 0, yes or no, got "on"'],
  [{ AGENT_HEARTBEAT_INTERVAL_MS: '500ms' }, 'agent.heartbeat_interval (AGENT_HEARTBEAT_INTERVAL_MS): must be a duration between 1000 and 2147483647 ms, such as 30s, 1m30s or 30000, got "500ms"'],
  [{ AGENT_HEARTBEAT_INTERVAL_MS: 'soon' }, 'agent.heartbeat_interval (AGENT_HEARTBEAT_INTERVAL_MS): must be a duration between 1000 and 2147483647 ms, such as 30s, 1m30s or 30000, got "soon"'],
  [{ PIPEOPS_LABELS: 'team' }, 'agent.labels (PIPEOPS_LABELS): must be a mapping (YAML) or k=v,k2=v2 (env) with keys of 1-253 characters without whitespace, "=" or ",", got "team"'],
  [{ PIPEOPS_LABELS: 'a b=c' }, 'agent.labels (PIPEOPS_LABELS): must be a mapping (YAML) or k=v,k2=v2 (env) with keys of 1-253 characters without whitespace, "=" or ",", got "a b=c"'],
  [{ TUNNEL_ENABLED: 'nope' }, 'tunnel.enabled (TUNNEL_ENABLED): must be true, false, 1, 0, yes or no, got "nope"'],
  [{ AGENT_INBOUND_CAP_BYTES: '1023' }, 'tunnel.inbound_cap_bytes (AGENT_INBOUND_CAP_BYTES): must be an integer of at least 1024, got "1023"'],
  [{ AGENT_REQUEST_TIMEOUT_MS: '0' }, 'tunnel.request_timeout (AGENT_REQUEST_TIMEOUT_MS): must be a duration between 1 and 2147483647 ms, such as 30s, 1m30s or 30000, got "0"'],
  [{ AGENT_REQUEST_TIMEOUT_MS: '25d' }, 'tunnel.request_timeout (AGENT_REQUEST_TIMEOUT_MS): must be a duration between 1 and 2147483647 ms, such as 30s, 1m30s or 30000, got "25d"'],
  [{ AGENT_DROP_ACCEPT_ENCODING: '2' }, 'tunnel.drop_accept_encoding (AGENT_DROP_ACCEPT_ENCODING): must be true, false, 1, 0, yes or no, got "2"'],
  [{ LOG_LEVEL: 'loud' }, 'logging.level (LOG_LEVEL): must be one of trace, debug, info, warn, error, silent, got "loud"'],
  [{ PIPEOPS_TOKEN: 'two words' }, 'pipeops.token (PIPEOPS_TOKEN): must be a non-empty string without whitespace'],
  [{ PIPEOPS_K8S_SERVICE_TOKEN: 'a\tb' }, 'kubernetes.service_token (PIPEOPS_K8S_SERVICE_TOKEN): must be a non-empty string without whitespace'],
  [{ PIPEOPS_TLS_CA_FILE: '/missing/ca.pem' }, 'pipeops.tls.ca_file (PIPEOPS_TLS_CA_FILE): cannot read "/missing/ca.pem" (ENOENT)'],
  [{ PIPEOPS_TLS_INSECURE_SKIP_VERIFY: 'sure' }, 'pipeops.tls.insecure_skip_verify (PIPEOPS_TLS_INSECURE_SKIP_VERIFY): must be true, false, 1, 0, yes or no, got "sure"'],
  [{ PIPEOPS_API_URL: undefined }, 'pipeops.api_url (PIPEOPS_API_URL): is required'],
  [{ PIPEOPS_CLUSTER_NAME: undefined }, 'agent.cluster_name (PIPEOPS_CLUSTER_NAME): is required'],
  [{ PIPEOPS_TOKEN: undefined }, 'pipeops.token (PIPEOPS_TOKEN): is required unless pipeops.token_file (PIPEOPS_TOKEN_FILE) is set'],
];

for (const [override, expected] of INVALID) {
  test(`reports ${expected}`, (t) => {
    t.deepEqual(problemsOf({ ...BASE_ENV, ...override }), [expected]);
  });
}

test('file values are validated with the same messages, naming key and env var', (t) => {
  const files = { [DEFAULT_CONFIG_PATH]: 'agent:\n  port: -1\n  labels: [a]\nlogging:\n  level: 3\n' };
  t.deepEqual(problemsOf(BASE_ENV, [], files), [
    'agent.port (AGENT_PORT): must be an integer between 0 and 65535, got -1',
    'agent.labels (PIPEOPS_LABELS): must be a mapping (YAML) or k=v,k2=v2 (env) with keys of 1-253 characters without whitespace, "=" or ",", got a list',
    'logging.level (LOG_LEVEL): must be one of trace, debug, info, warn, error, silent, got 3',
  ]);
});

test('all problems are reported together, in table order after argv problems', (t) => {
  const env = { PIPEOPS_API_URL: 'mailto:x', AGENT_PORT: 'abc', AGENT_COMPRESSION: 'brotli', PIPEOPS_TLS_CERT_FILE: '/c.pem' };
  const argv = ['--prot', '1', '--workers'];
  t.deepEqual(problemsOf(env, argv, { '/c.pem': 'PEM' }), [
    'unknown flag --prot (did you mean --port?)',
    '--workers: requires a value',
    'pipeops.api_url (PIPEOPS_API_URL): must be an absolute URL with scheme http, https, ws or wss, got "mailto:x"',
    'agent.cluster_name (PIPEOPS_CLUSTER_NAME): is required',
    'agent.port (AGENT_PORT): must be an integer between 0 and 65535, got "abc"',
    'agent.compression (AGENT_COMPRESSION): must be one of zlib, fflate, off, got "brotli"',
    'pipeops.token (PIPEOPS_TOKEN): is required unless pipeops.token_file (PIPEOPS_TOKEN_FILE) is set',
    'pipeops.tls.key_file (PIPEOPS_TLS_KEY_FILE): is required when pipeops.tls.cert_file is set',
  ]);
});

test('the token value never appears in an error or a warning', (t) => {
  const secret = 'sEcReT value';
  const yaml = `pipeops:\n  token: ${TOKEN}\n  tokn: ${TOKEN}\n  api_url: [${TOKEN}\n`;
  const attempts: Array<() => unknown> = [
    () => load({ ...BASE_ENV, PIPEOPS_TOKEN: secret }),
    () => load({ ...BASE_ENV, PIPEOPS_K8S_SERVICE_TOKEN: secret }),
    () => load(BASE_ENV, ['--token', TOKEN]),
    () => load(BASE_ENV, [`--pipeops-token=${TOKEN}`]),
    () => load({ ...BASE_ENV, AGENT_PORT: 'x' }, ['--config', '/c.yaml'], { '/c.yaml': yaml }),
  ];
  for (const attempt of attempts) {
    const err = t.throws(attempt, { instanceOf: AgentError });
    t.false(err?.message.includes(TOKEN) ?? true, err?.message);
    t.false(err?.message.includes('sEcReT') ?? true, err?.message);
  }
  t.deepEqual(problemsOf(BASE_ENV, ['--token', TOKEN]), [
    '--token: tokens are not accepted on the command line (visible in ps and shell history); set PIPEOPS_TOKEN or PIPEOPS_TOKEN_FILE',
  ]);
  const { warnings } = load(BASE_ENV, ['--config', '/c.yaml'], { '/c.yaml': `pipeops:\n  tokn: ${TOKEN}\n` });
  t.deepEqual(warnings, ['config file "/c.yaml": unknown key pipeops.tokn (did you mean pipeops.token?)']);
});

test('invalid YAML reports position and code only', (t) => {
  t.deepEqual(problemsOf(BASE_ENV, ['--config=/c.yaml'], { '/c.yaml': `pipeops:\n  token: "${TOKEN}\n` }), [
    'config file "/c.yaml": invalid YAML at line 3, column 1 (MISSING_CHAR)',
  ]);
});

test('the result is deeply frozen', (t) => {
  const loaded = load({ ...BASE_ENV, PIPEOPS_LABELS: 'env=prod, team=edge,' });
  const { config } = loaded;
  t.deepEqual(config.agent.labels, { env: 'prod', team: 'edge' });
  for (const part of [loaded, loaded.warnings, config, config.pipeops, config.pipeops.tls, config.agent, config.agent.labels, config.kubernetes, config.tunnel, config.logging]) {
    t.true(Object.isFrozen(part));
  }
  t.throws(() => {
    (config.agent as { port: number }).port = 1;
  }, { instanceOf: TypeError });
  const defaultLabels = ENV_SPEC.find((r) => r.key === 'agent.labels')?.default;
  t.false(Object.isFrozen(defaultLabels), 'the shared default object is copied, not frozen');
});

test('a token file replaces the token and must be readable and non-empty', (t) => {
  const env = { ...BASE_ENV, PIPEOPS_TOKEN: undefined, PIPEOPS_TOKEN_FILE: '/run/secrets/token' };
  const { config, warnings } = load(env, [], { '/run/secrets/token': `${TOKEN}\n` });
  t.is(config.pipeops.token, '');
  t.is(config.pipeops.tokenFile, '/run/secrets/token');
  t.deepEqual(warnings, []);

  t.deepEqual(problemsOf(env), ['pipeops.token_file (PIPEOPS_TOKEN_FILE): cannot read "/run/secrets/token" (ENOENT)']);
  t.deepEqual(problemsOf(env, [], { '/run/secrets/token': ' \n' }), [
    'pipeops.token_file (PIPEOPS_TOKEN_FILE): file "/run/secrets/token" is empty',
  ]);

  const both = load({ ...env, PIPEOPS_TOKEN: TOKEN }, [], { '/run/secrets/token': TOKEN });
  t.is(both.config.pipeops.token, '');
  t.deepEqual(both.warnings, ['pipeops.token is ignored because pipeops.token_file is set; the token is read from the file']);
});

test('TLS files must exist and cert and key go together', (t) => {
  const files = { '/ca.pem': 'CA', '/cert.pem': 'CERT', '/key.pem': 'KEY' };
  const tls = { PIPEOPS_TLS_CA_FILE: '/ca.pem', PIPEOPS_TLS_CERT_FILE: '/cert.pem', PIPEOPS_TLS_KEY_FILE: '/key.pem' };
  const { config } = load({ ...BASE_ENV, ...tls }, [], files);
  t.deepEqual(config.pipeops.tls, { caFile: '/ca.pem', certFile: '/cert.pem', keyFile: '/key.pem', insecureSkipVerify: false });
  t.deepEqual(problemsOf({ ...BASE_ENV, PIPEOPS_TLS_KEY_FILE: '/key.pem' }, [], files), [
    'pipeops.tls.cert_file (PIPEOPS_TLS_CERT_FILE): is required when pipeops.tls.key_file is set',
  ]);
  t.deepEqual(problemsOf({ ...BASE_ENV, ...tls, PIPEOPS_TLS_KEY_FILE: '/nokey.pem' }, [], files), [
    'pipeops.tls.key_file (PIPEOPS_TLS_KEY_FILE): cannot read "/nokey.pem" (ENOENT)',
  ]);
});

test('YAML file: nested keys, labels map, unknown keys warned, nulls unset', (t) => {
  const yaml = [
    'pipeops:', '  api_url: wss://file.example.test', '  tls:', '    insecure_skip_verify: yes',
    'agent:', '  cluster_name: 42', '  heartbeat_interval: 1m', '  labels: {env: prod, tier: 2}', '  prot: 1', '  workers:',
    'kubernetes:', '  kubeconfig: ~', 'extra: true',
  ].join('\n');
  const { config, warnings } = load({ PIPEOPS_TOKEN: TOKEN }, [], { [DEFAULT_CONFIG_PATH]: yaml });
  t.is(config.pipeops.apiUrl, 'wss://file.example.test');
  t.true(config.pipeops.tls.insecureSkipVerify);
  t.is(config.agent.clusterName, '42');
  t.is(config.agent.heartbeatIntervalMs, 60_000);
  t.deepEqual(config.agent.labels, { env: 'prod', tier: '2' });
  t.is(config.agent.workers, Math.min(64, availableParallelism()));
  t.is(config.kubernetes.kubeconfig, undefined);
  t.deepEqual(warnings, [
    `config file "${DEFAULT_CONFIG_PATH}": unknown key agent.prot (did you mean agent.port?)`,
    `config file "${DEFAULT_CONFIG_PATH}": unknown key extra`,
    'pipeops.tls.insecure_skip_verify is on: the control plane certificate is not verified',
  ]);
});

test('PIPEOPS_LABELS replaces the file mapping', (t) => {
  const files = { '/c.yaml': 'agent:\n  labels:\n    a: "1"\n    b: "2"\n' };
  t.deepEqual(load({ ...BASE_ENV, PIPEOPS_LABELS: 'c=3' }, ['--config', '/c.yaml'], files).config.agent.labels, { c: '3' });
});

test('config file: the default path is optional, an explicit path is not, and shape errors are named', (t) => {
  t.notThrows(() => load(BASE_ENV));
  t.deepEqual(problemsOf(BASE_ENV, ['--config', '/nope.yaml']), ['config file "/nope.yaml": cannot read (ENOENT)']);
  t.deepEqual(problemsOf(BASE_ENV, ['--config', '/c.yaml'], { '/c.yaml': '- a\n- b\n' }), [
    'config file "/c.yaml": must be a mapping with sections pipeops, agent, kubernetes, state, registration, tunnel, logging',
  ]);
  t.deepEqual(problemsOf(BASE_ENV, ['--config', '/c.yaml'], { '/c.yaml': 'agent: 5\n' }), [
    'config file "/c.yaml": agent must be a mapping',
  ]);
  const readFile = (path: string): string => {
    throw Object.assign(new Error(`EACCES: ${path}`), { code: 'EACCES' });
  };
  t.throws(() => loadConfig({ env: BASE_ENV, argv: [], readFile }), {
    message: `Invalid configuration (1 problem):\nconfig file "${DEFAULT_CONFIG_PATH}": cannot read (EACCES)`,
  });
});

test('unknown AGENT_* variables are warned about, with a suggestion when close', (t) => {
  const { warnings } = load({ ...BASE_ENV, AGENT_PROT: '1', AGENT_WORKER: '2', AGENT_FOO: 'x', OTHER_THING: 'y' });
  t.deepEqual(warnings, [
    'unknown environment variable AGENT_FOO',
    'unknown environment variable AGENT_PROT (did you mean AGENT_PORT?)',
    'unknown environment variable AGENT_WORKER (did you mean AGENT_WORKERS?)',
  ]);
});

test('plain http to a non-loopback control plane is warned about', (t) => {
  t.deepEqual(load({ ...BASE_ENV, PIPEOPS_API_URL: 'http://cp.example.test' }).warnings, [
    'pipeops.api_url uses http: the token crosses the network unencrypted',
  ]);
  t.deepEqual(load({ ...BASE_ENV, PIPEOPS_API_URL: 'ws://127.0.0.1:9000' }).warnings, []);
});

test('unknown flags are errors with a suggestion', (t) => {
  t.deepEqual(problemsOf(BASE_ENV, ['--log-levl=debug', '--zzz']), [
    'unknown flag --log-levl (did you mean --log-level?)',
    'unknown flag --zzz',
  ]);
});

test('tunnel.tunnels: a YAML list or JSON in AGENT_TUNNELS, defaults filled and the id rule applied; bad entries are refused by index', (t) => {
  const yaml = [
    'tunnel:',
    '  tunnels:',
    '    - protocol: tcp',
    '      service_name: postgres',
    '      service_namespace: databases',
    '      service_port: 5432',
    '      gateway_port: 5432',
    '    - {protocol: UDP, id: dns, service_name: dns-echo, service_port: 5353, gateway_port: 53, routing_mode: dual}',
  ].join('\n');
  const { config } = load(BASE_ENV, ['--config', '/c.yaml'], { '/c.yaml': yaml });
  t.deepEqual(config.tunnel.tunnels, [
    {
      tunnelId: 'tun-' + createHash('sha256').update('tcp|default|postgres|5432|databases|postgres').digest('hex').slice(0, 20),
      protocol: 'tcp', gatewayName: 'postgres', gatewayNamespace: 'default', gatewayPort: 5432,
      serviceName: 'postgres', serviceNamespace: 'databases', servicePort: 5432, routingMode: 'tunnel', source: 'config',
    },
    {
      tunnelId: 'dns', protocol: 'udp', gatewayName: 'dns-echo', gatewayNamespace: 'default', gatewayPort: 53,
      serviceName: 'dns-echo', serviceNamespace: 'default', servicePort: 5353, routingMode: 'dual', source: 'config',
    },
  ]);
  const fromEnv = load({ ...BASE_ENV, AGENT_TUNNELS: '[{"protocol":"tcp","service_name":"redis","service_port":"6379","gateway_port":6379}]' });
  t.like(fromEnv.config.tunnel.tunnels[0], { serviceName: 'redis', servicePort: 6379, gatewayPort: 6379 });
  t.deepEqual(problemsOf({ ...BASE_ENV, AGENT_TUNNELS: '[{"protocol":"sctp","service_name":"a","service_port":1,"gateway_port":1}]' }), [
    'tunnel.tunnels (AGENT_TUNNELS): entry 0: protocol must be tcp or udp, got "[{\\"protocol\\":\\"sctp\\",\\"service_name\\":\\"a\\",\\"service_port\\":1,\\"gateway_port\\":1}]"',
  ]);
  const twice = 'tunnel:\n  tunnels:\n    - {protocol: tcp, service_name: a, service_port: 1, gateway_port: 2}\n    - {protocol: tcp, service_name: a, service_port: 3, gateway_port: 2}\n';
  t.deepEqual(problemsOf(BASE_ENV, ['--config', '/c.yaml'], { '/c.yaml': twice }), ['tunnel.tunnels (AGENT_TUNNELS): entry 1: declares the same tunnel as an earlier entry, got a list']);
  t.deepEqual(problemsOf(BASE_ENV, ['--config', '/c.yaml'], { '/c.yaml': 'tunnel:\n  tunnels:\n    - {protocol: tcp, service_name: a, service_port: 70000, gateway_port: 2}\n' }), [
    'tunnel.tunnels (AGENT_TUNNELS): entry 0: service_port must be an integer from 1 to 65535, got a list',
  ]);
});
