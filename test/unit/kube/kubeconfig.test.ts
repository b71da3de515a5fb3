// The agent's own kubeconfig reader against a loopback HTTPS API: tokens (fixed and file, re-read as it
// rotates), client certificates, CA data and files (relative to the kubeconfig), the current context, the
// in-cluster settings, and the full-client fallback for users it does not read (an exec plugin).

import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../../src/kube/kube-client.js';
import { resolveKubeTarget } from '../../../src/kube/kube-endpoint.js';
import {
  inClusterAccess,
  KubeAccessSource,
  KubeconfigError,
  loadKubeAccess,
  parseKubeconfig,
  SERVICE_ACCOUNT_CA_FILE,
  SERVICE_ACCOUNT_NAMESPACE_FILE,
  SERVICE_ACCOUNT_TOKEN_FILE,
} from '../../../src/kube/kubeconfig.js';
import { loopbackTlsFor } from '../../../src/local/tls/local-ca.js';
import { sendJson, startScriptedKubeApi } from '../../helpers/scripted-kube-api.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const indent = (text: string, spaces: number): string => text.split('\n').map((line) => `${' '.repeat(spaces)}${line}`).join('\n');

/** A kubeconfig with one cluster entry per `clusters`, one user per `users`, and contexts pairing them. */
function kubeconfigYaml(parts: {
  clusters: Record<string, string>;
  users: Record<string, string>;
  contexts: Record<string, { cluster: string; user: string; namespace?: string }>;
  current?: string;
}): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    ...Object.entries(parts.clusters).map(([name, body]) => `- name: ${name}\n  cluster:\n${indent(body, 4)}`),
    'users:',
    ...Object.entries(parts.users).map(([name, body]) => `- name: ${name}\n  user:\n${indent(body, 4)}`),
    'contexts:',
    ...Object.entries(parts.contexts).map(
      ([name, context]) => `- name: ${name}\n  context:\n    cluster: ${context.cluster}\n    user: ${context.user}${context.namespace === undefined ? '' : `\n    namespace: ${context.namespace}`}`,
    ),
    ...(parts.current === undefined ? [] : [`current-context: ${parts.current}`]),
    '',
  ].join('\n');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'kubeconfig-'));
}

test('a token user with CA data: the request carries the token and trusts only that CA', async (t) => {
  const api = await startScriptedKubeApi(t, (_, response) => sendJson(response, 200, { gitVersion: 'v1.32.0' }));
  const yaml = (caPem: string) =>
    kubeconfigYaml({
      clusters: { c: `server: ${api.url}\ncertificate-authority-data: ${b64(caPem)}` },
      users: { u: 'token: fixed-token' },
      contexts: { ctx: { cluster: 'c', user: 'u' } },
      current: 'ctx',
    });
  const trusted = new KubeClient(parseKubeconfig(yaml(api.caPem), tempDir()).access);
  t.teardown(() => trusted.close());
  t.deepEqual(await trusted.get('/version'), { gitVersion: 'v1.32.0' });
  t.is(api.requests[0]?.authorization, 'Bearer fixed-token');
  const other = new KubeClient(parseKubeconfig(yaml(loopbackTlsFor('some-other-api').caPem), tempDir()).access);
  t.teardown(() => other.close());
  const error = await t.throwsAsync(other.get('/version'));
  t.regex(String((error as { code?: unknown }).code), /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/);
  t.is(api.requests.length, 1, 'the untrusted server got no request');
});

test('client certificate and key files, CA file and token file are read relative to the kubeconfig; the token file is re-read', async (t) => {
  const api = await startScriptedKubeApi(t, (_, response) => sendJson(response, 200, {}));
  const user = loopbackTlsFor('kubeconfig-user').server;
  const dir = tempDir();
  writeFileSync(join(dir, 'ca.crt'), api.caPem);
  writeFileSync(join(dir, 'user.crt'), user.certPem);
  writeFileSync(join(dir, 'user.key'), user.keyPem);
  writeFileSync(join(dir, 'token'), 'first-token\n');
  const path = join(dir, 'config');
  writeFileSync(
    path,
    kubeconfigYaml({
      clusters: { c: `server: ${api.url}\ncertificate-authority: ca.crt` },
      users: { u: 'client-certificate: user.crt\nclient-key: user.key\ntokenFile: token' },
      contexts: { ctx: { cluster: 'c', user: 'u' } },
      current: 'ctx',
    }),
  );
  const access = await loadKubeAccess(path);
  t.is(access.source, KubeAccessSource.kubeconfig);
  t.is(access.caFile, join(dir, 'ca.crt'));
  const client = new KubeClient(access);
  t.teardown(() => client.close());
  await client.get('/api');
  writeFileSync(join(dir, 'token'), 'rotated-token\n');
  await client.get('/api');
  t.deepEqual(
    api.requests.map((request) => [request.authorization, request.clientCommonName]),
    [
      ['Bearer first-token', 'kubeconfig-user'],
      ['Bearer rotated-token', 'kubeconfig-user'],
    ],
  );
});

test('client certificate data inline, and insecure-skip-tls-verify without a CA', async (t) => {
  const api = await startScriptedKubeApi(t, (_, response) => sendJson(response, 200, {}));
  const user = loopbackTlsFor('inline-user').server;
  const parsed = parseKubeconfig(
    kubeconfigYaml({
      clusters: { c: `server: ${api.url}\ninsecure-skip-tls-verify: true` },
      users: { u: `client-certificate-data: ${b64(user.certPem)}\nclient-key-data: ${b64(user.keyPem)}` },
      contexts: { ctx: { cluster: 'c', user: 'u' } },
      current: 'ctx',
    }),
    tempDir(),
  );
  t.is(parsed.fullClientReason, undefined);
  t.false(parsed.access.rejectUnauthorized);
  const client = new KubeClient(parsed.access);
  t.teardown(() => client.close());
  await client.get('/api');
  t.is(api.requests[0]?.clientCommonName, 'inline-user');
  t.is(api.requests[0]?.authorization, undefined);
});

test('the current context picks the cluster, user and namespace; the server is kept as written', (t) => {
  const yaml = kubeconfigYaml({
    clusters: { one: 'server: https://one.example:6443/', two: 'server: https://Two.Example:443/k8s/clusters/c-1\ntls-server-name: api.two' },
    users: { a: 'token: token-a', b: 'token: token-b' },
    contexts: { first: { cluster: 'one', user: 'a' }, second: { cluster: 'two', user: 'b', namespace: 'apps' } },
    current: 'second',
  });
  const { access } = parseKubeconfig(yaml, tempDir());
  t.is(access.server, 'https://Two.Example:443/k8s/clusters/c-1');
  t.is(access.token, 'token-b');
  t.is(access.namespace, 'apps');
  t.is(access.tlsServerName, 'api.two');
  t.is(parseKubeconfig(yaml.replace('current-context: second', 'current-context: first'), tempDir()).access.server, 'https://one.example:6443');
  t.throws(() => parseKubeconfig(yaml.replace('current-context: second', ''), tempDir()), { instanceOf: KubeconfigError, message: /current-context/ });
  t.throws(() => parseKubeconfig(yaml.replace('current-context: second', 'current-context: third'), tempDir()), { instanceOf: KubeconfigError, message: /third/ });
});

test('in a pod: the service host and port, the mounted CA and namespace, and the rotating token file', (t) => {
  const files: Record<string, string> = { [SERVICE_ACCOUNT_CA_FILE]: 'PEM', [SERVICE_ACCOUNT_NAMESPACE_FILE]: 'pipeops-system\n' };
  const readFile = (path: string): string => {
    const text = files[path];
    if (text === undefined) throw new Error(`no ${path}`);
    return text;
  };
  const access = inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.43.0.1', KUBERNETES_SERVICE_PORT: '443' }, readFile);
  t.is(access.source, KubeAccessSource.inCluster);
  t.is(access.server, 'https://10.43.0.1:443');
  t.is(access.ca, 'PEM');
  t.is(access.caFile, SERVICE_ACCOUNT_CA_FILE);
  t.is(access.tokenFile, SERVICE_ACCOUNT_TOKEN_FILE);
  t.is(access.namespace, 'pipeops-system');
  t.is(inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, readFile).server, 'https://[fd00::1]:6443');
  t.is(inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.43.0.1', KUBERNETES_SERVICE_PORT: '8080' }, readFile).server, 'http://10.43.0.1:8080');
  t.throws(() => inClusterAccess({}, readFile), { instanceOf: KubeconfigError });
  const target = resolveKubeTarget(access);
  t.deepEqual(target, {
    server: 'https://10.43.0.1',
    ca: 'PEM',
    caFile: SERVICE_ACCOUNT_CA_FILE,
    rejectUnauthorized: true,
    tlsServerName: undefined,
    agentToken: undefined,
    agentTokenFile: SERVICE_ACCOUNT_TOKEN_FILE,
  });
});

test('an exec credential plugin loads the full client once, says why, and its token is used for every request', async (t) => {
  const api = await startScriptedKubeApi(t, (_, response) => sendJson(response, 200, {}));
  const dir = tempDir();
  const plugin = join(dir, 'credential.cjs');
  writeFileSync(
    plugin,
    `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec-plugin' } }));\n`,
  );
  const path = join(dir, 'config');
  writeFileSync(
    path,
    kubeconfigYaml({
      clusters: { c: `server: ${api.url}\ncertificate-authority-data: ${b64(api.caPem)}` },
      users: {
        u: ['exec:', '  apiVersion: client.authentication.k8s.io/v1', `  command: ${JSON.stringify(process.execPath)}`, '  args:', `  - ${JSON.stringify(plugin)}`, '  interactiveMode: Never'].join('\n'),
      },
      contexts: { ctx: { cluster: 'c', user: 'u' } },
      current: 'ctx',
    }),
  );
  const reasons: string[] = [];
  const access = await loadKubeAccess(path, { onFullClient: (reason) => reasons.push(reason) });
  t.deepEqual(reasons, ['exec credential plugin']);
  t.is(access.source, KubeAccessSource.fullClient);
  const client = new KubeClient(access);
  t.teardown(() => client.close());
  await client.get('/api');
  t.is(api.requests[0]?.authorization, 'Bearer from-exec-plugin');
  t.is(resolveKubeTarget(access).agentToken, undefined, 'no fixed token is handed to the actor threads');
});
