// The workerData a pool worker checks once before its first task: a whole config passes unchanged, and
// each bad field fails with AGENT_ERR_CONFIG_INVALID naming that field, never echoing a value.

import test from 'ava';
import { DEFAULT_WORKER_TUNING, type WorkerConfig } from '../../../src/config/agent-config.js';
import { ErrorCode } from '../../../src/errors.js';
import { parseWorkerConfig } from '../../../src/messages/worker-config.js';

const SECRET = 'sa-token-must-not-leak';

const config: WorkerConfig = {
  logLevel: 'debug',
  kubeconfig: undefined,
  kube: {
    server: 'https://127.0.0.1:6443',
    ca: undefined,
    caFile: '/var/run/secrets/ca.crt',
    rejectUnauthorized: true,
    tlsServerName: undefined,
    agentToken: SECRET,
    agentTokenFile: undefined,
  },
  compression: 'zlib',
  requestTimeoutMs: 30_000,
  dropAcceptEncoding: false,
  tuning: { ...DEFAULT_WORKER_TUNING, hostAliases: { 'db.apps.svc.cluster.local': '127.0.0.1' } },
};

function changed(path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(config) as unknown as Record<string, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy;
}

test('a whole config passes, also after a structured clone, and without kube access', (t) => {
  t.deepEqual(parseWorkerConfig(config), config);
  t.deepEqual(parseWorkerConfig(structuredClone(config)), config);
  t.deepEqual(parseWorkerConfig({ ...config, kube: undefined, kubeconfig: '/home/agent/.kube/config' }), { ...config, kube: undefined, kubeconfig: '/home/agent/.kube/config' });
});

const BAD: ReadonlyArray<{ readonly path: readonly string[]; readonly value: unknown; readonly name: string }> = [
  { path: ['logLevel'], value: 'loud', name: 'workerData.logLevel' },
  { path: ['kubeconfig'], value: 42, name: 'workerData.kubeconfig' },
  { path: ['kube'], value: 'https://127.0.0.1', name: 'workerData.kube' },
  { path: ['kube', 'server'], value: undefined, name: 'workerData.kube.server' },
  { path: ['kube', 'ca'], value: 7, name: 'workerData.kube.ca' },
  { path: ['kube', 'caFile'], value: true, name: 'workerData.kube.caFile' },
  { path: ['kube', 'rejectUnauthorized'], value: 'yes', name: 'workerData.kube.rejectUnauthorized' },
  { path: ['kube', 'tlsServerName'], value: {}, name: 'workerData.kube.tlsServerName' },
  { path: ['kube', 'agentToken'], value: 1, name: 'workerData.kube.agentToken' },
  { path: ['kube', 'agentTokenFile'], value: [], name: 'workerData.kube.agentTokenFile' },
  { path: ['compression'], value: 'brotli', name: 'workerData.compression' },
  { path: ['requestTimeoutMs'], value: '30s', name: 'workerData.requestTimeoutMs' },
  { path: ['requestTimeoutMs'], value: -1, name: 'workerData.requestTimeoutMs' },
  { path: ['dropAcceptEncoding'], value: undefined, name: 'workerData.dropAcceptEncoding' },
  { path: ['tuning'], value: undefined, name: 'workerData.tuning' },
  { path: ['tuning', 'hostAliases'], value: { 'db.apps': 127 }, name: 'workerData.tuning.hostAliases.db.apps' },
  { path: ['tuning', 'hostAliases'], value: undefined, name: 'workerData.tuning.hostAliases' },
  { path: ['tuning', 'isBinaryResponseEnabled'], value: 1, name: 'workerData.tuning.isBinaryResponseEnabled' },
  // Every numeric tuning field is checked, not only the first.
  ...Object.entries(DEFAULT_WORKER_TUNING)
    .filter(([, fallback]) => typeof fallback === 'number')
    .map(([key]) => ({ path: ['tuning', key], value: Number.NaN, name: `workerData.tuning.${key}` })),
];

for (const { path, value, name } of BAD) {
  test(`${name} = ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? 'absent')} is refused by name`, (t) => {
    const error = t.throws(() => parseWorkerConfig(changed(path, value)));
    t.is((error as { code?: unknown }).code, ErrorCode.configInvalid);
    t.true(error.message.includes(`${name} must be`), error.message);
  });
}

test('not an object at all is refused', (t) => {
  for (const value of [undefined, null, 'config', []]) {
    const error = t.throws(() => parseWorkerConfig(value));
    t.true(error.message.includes('workerData must be an object'), error.message);
  }
});

test('the error never carries a value from the config', (t) => {
  // The token sits next to the bad field, and a bad value is itself a secret-looking string.
  const error = t.throws(() => parseWorkerConfig(changed(['kube', 'rejectUnauthorized'], SECRET)));
  t.false(error.message.includes(SECRET), error.message);
  const bad = t.throws(() => parseWorkerConfig(changed(['requestTimeoutMs'], SECRET)));
  t.false(bad.message.includes(SECRET), bad.message);
});
