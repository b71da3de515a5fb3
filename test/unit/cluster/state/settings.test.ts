// The state and identity settings as load-config builds them: names, namespaces, the CA in either form.

import test from 'ava';
import { loadConfig } from '../../../../src/config/load-config.js';

const BASE_ENV = { PIPEOPS_API_URL: 'https://cp.example.test', PIPEOPS_TOKEN: 'tok', PIPEOPS_CLUSTER_NAME: 'edge' };
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----';
const noFiles = (path: string): string => {
  throw Object.assign(new Error(path), { code: 'ENOENT' });
};

function configOf(env: Record<string, string>) {
  return loadConfig({ env: { ...BASE_ENV, ...env }, argv: [], readFile: noFiles }).config;
}

function problemOf(env: Record<string, string>): string {
  try {
    configOf(env);
  } catch (error) {
    return (error as Error).message.split('\n').slice(1).join('\n');
  }
  return 'no problem';
}

test('state objects, namespaces and backend from the env', (t) => {
  t.like(
    configOf({
      AGENT_STATE_BACKEND: 'file',
      PIPEOPS_STATE_NAMESPACE: 'agents',
      PIPEOPS_POD_NAMESPACE: 'pipeops',
      PIPEOPS_STATE_CONFIGMAP_NAME: 'my-state',
      PIPEOPS_STATE_SECRET_NAME: 'my.secrets',
      AGENT_STATE_FILE: '/var/lib/agent/state.json',
    }).state,
    { backend: 'file', namespace: 'agents', podNamespace: 'pipeops', configMapName: 'my-state', secretName: 'my.secrets', file: '/var/lib/agent/state.json' },
  );
  t.is(
    problemOf({ PIPEOPS_STATE_NAMESPACE: 'Pipeops_System' }),
    'state.namespace (PIPEOPS_STATE_NAMESPACE): must be a namespace name: 1-63 lowercase letters, digits or "-", starting and ending alphanumeric, got "Pipeops_System"',
  );
  t.is(problemOf({ AGENT_STATE_BACKEND: 'etcd' }), 'state.backend (AGENT_STATE_BACKEND): must be one of auto, cluster, file, memory, got "etcd"');
});

test('the CA may be given as PEM or base64 PEM and is kept base64', (t) => {
  const fromPem = configOf({ PIPEOPS_K8S_CERT_DATA: PEM }).kubernetes.caCertData;
  t.is(Buffer.from(fromPem ?? '', 'base64').toString('utf8'), `${PEM}\n`);
  const encoded = Buffer.from(PEM).toString('base64');
  t.is(configOf({ PIPEOPS_K8S_CERT_DATA: encoded }).kubernetes.caCertData, encoded);
  t.regex(problemOf({ PIPEOPS_K8S_CERT_DATA: 'bm90IGEgY2VydA==' }), /^kubernetes\.ca_cert_data \(PIPEOPS_K8S_CERT_DATA\): must be a PEM certificate bundle or its base64 encoding/);
});
