// The cluster-object backend against the sandbox API (ConfigMap + Secret, labels, reference-agent format,
// keys it does not own kept) and against a scripted API server for the 409 retry; plus the
// namespace-create review made with a candidate token.

import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { KubeStateBackend } from '../../../../src/cluster/state/kube-backend.js';
import { SelfSubjectAccessReviewer, TokenVerdict } from '../../../../src/cluster/identity/token-review.js';
import type { KubeClient } from '../../../../src/kube/kube-client.js';
import { kubeClientFromFile, tokenKubeClient } from '../../../helpers/kube-client.js';
import { startSandboxApi, type SandboxApi } from '../../../../src/local/sandbox-api/sandbox-server.js';

const NAMESPACES = { group: '', version: 'v1', resource: 'namespaces' };
const CONFIGMAPS = { group: '', version: 'v1', resource: 'configmaps' };
const SECRETS = { group: '', version: 'v1', resource: 'secrets' };
const B64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

let sandbox: SandboxApi;
let kube: KubeClient;

test.before(async () => {
  sandbox = await startSandboxApi();
  const path = join(mkdtempSync(join(tmpdir(), 'state-kube-')), 'kubeconfig');
  await sandbox.writeKubeconfig(path);
  kube = await kubeClientFromFile(path);
});

test.after.always(async () => {
  kube?.close();
  await sandbox?.close();
});

/** Each case works in its own namespace, so cases run concurrently. */
function backendIn(namespace: string): KubeStateBackend {
  sandbox.store.put(NAMESPACES, { metadata: { name: namespace } });
  return new KubeStateBackend({ kube, namespace, configMapName: 'pipeops-agent-state', secretName: 'pipeops-agent-secrets' });
}

function object(resource: typeof CONFIGMAPS, namespace: string, name: string): Record<string, unknown> | undefined {
  return sandbox.store.get({ ...resource, namespace, name }) as Record<string, unknown> | undefined;
}

test('write creates the labelled ConfigMap and Opaque Secret; read returns the record', async (t) => {
  const backend = backendIn('state-create');
  t.deepEqual(await backend.read(), {
    agentId: undefined,
    clusterId: undefined,
    gatewayUrl: undefined,
    clusterToken: undefined,
    clusterCertData: undefined,
  });
  const record = { agentId: 'agent-0a1b2c3d4e5f6071', clusterId: 'c-7788', gatewayUrl: 'wss://gw/ws', clusterToken: 'tok', clusterCertData: B64('PEM') };
  await backend.write(record);
  const configMap = object(CONFIGMAPS, 'state-create', 'pipeops-agent-state');
  t.like(configMap, {
    metadata: { labels: { 'app.kubernetes.io/name': 'pipeops-agent', 'app.kubernetes.io/component': 'state', 'app.kubernetes.io/managed-by': 'pipeops-agent' } },
    data: { agent_id: 'agent-0a1b2c3d4e5f6071', cluster_id: 'c-7788', gateway_ws_url: 'wss://gw/ws' },
  });
  const secret = object(SECRETS, 'state-create', 'pipeops-agent-secrets');
  t.like(secret, {
    type: 'Opaque',
    metadata: { labels: { 'app.kubernetes.io/component': 'secrets' } },
    data: { cluster_token: B64('tok'), cluster_cert_data: B64(B64('PEM')) },
  });
  t.deepEqual(await backend.read(), record);
});

test('a state written by the reference agent is read: extra keys, empty strings, no gateway, legacy token key', async (t) => {
  const namespace = 'state-reference';
  const backend = backendIn(namespace);
  sandbox.store.put(CONFIGMAPS, {
    metadata: { name: 'pipeops-agent-state', namespace },
    data: { agent_id: 'agent-ffeeddccbbaa9988', cluster_id: 'c-go', gateway_ws_url: '', cluster_token: 'legacy-token', registry_region: 'eu' },
  });
  t.deepEqual(await backend.read(), {
    agentId: 'agent-ffeeddccbbaa9988',
    clusterId: 'c-go',
    gatewayUrl: undefined,
    clusterToken: 'legacy-token',
    clusterCertData: undefined,
  });
  await backend.write({ agentId: 'agent-ffeeddccbbaa9988', clusterId: 'c-go', gatewayUrl: 'wss://gw/ws', clusterToken: 'legacy-token' });
  const data = (object(CONFIGMAPS, namespace, 'pipeops-agent-state')?.['data'] ?? {}) as Record<string, string>;
  t.deepEqual(data, { agent_id: 'agent-ffeeddccbbaa9988', cluster_id: 'c-go', gateway_ws_url: 'wss://gw/ws', registry_region: 'eu' }, 'token moved out of the ConfigMap, foreign key kept');
  t.like(object(SECRETS, namespace, 'pipeops-agent-secrets'), { data: { cluster_token: B64('legacy-token') } });
});

test('an unchanged record writes nothing; forgotten keys are removed', async (t) => {
  const namespace = 'state-idempotent';
  const backend = backendIn(namespace);
  await backend.write({ agentId: 'agent-1', clusterId: 'c-1', gatewayUrl: 'wss://gw/ws' });
  const version = () => (object(CONFIGMAPS, namespace, 'pipeops-agent-state')?.['metadata'] as { resourceVersion: string }).resourceVersion;
  const before = version();
  await backend.write({ agentId: 'agent-1', clusterId: 'c-1', gatewayUrl: 'wss://gw/ws' });
  t.is(version(), before);
  t.is(object(SECRETS, namespace, 'pipeops-agent-secrets'), undefined, 'no empty Secret');
  await backend.write({ agentId: 'agent-1' });
  t.deepEqual(object(CONFIGMAPS, namespace, 'pipeops-agent-state')?.['data'], { agent_id: 'agent-1' });
});

test('a missing namespace makes the write fail (the fallback rule decides what then)', async (t) => {
  const backend = new KubeStateBackend({ kube, namespace: 'does-not-exist', configMapName: 'pipeops-agent-state', secretName: 'pipeops-agent-secrets' });
  await t.throwsAsync(backend.write({ agentId: 'agent-1' }));
});

interface ScriptedApi {
  readonly kube: KubeClient;
  readonly calls: string[];
  readonly configMap: { resourceVersion: number; data: Record<string, string> };
}

/** A ConfigMap whose first update loses a race: someone else writes between our read and our replace. */
async function racingApi(t: ExecutionContext): Promise<ScriptedApi> {
  const configMap = { resourceVersion: 1, data: { agent_id: 'agent-1' } as Record<string, string> };
  const calls: string[] = [];
  let hasRaced = false;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      calls.push(`${request.method ?? ''} ${path}`);
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const current = () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'state', namespace: 'ns', resourceVersion: String(configMap.resourceVersion) }, data: configMap.data });
      if (path.endsWith('/secrets/secrets')) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
      if (path.endsWith('/secrets')) return send(201, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      if (request.method === 'GET') return send(200, current());
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { metadata: { resourceVersion?: string }; data: Record<string, string> };
      if (!hasRaced) {
        hasRaced = true;
        configMap.resourceVersion++;
        configMap.data = { ...configMap.data, written_by: 'someone-else' };
      }
      if (body.metadata.resourceVersion !== String(configMap.resourceVersion)) {
        return send(409, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Conflict', code: 409 });
      }
      configMap.resourceVersion++;
      configMap.data = body.data;
      return send(200, current());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const scripted = tokenKubeClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'agent-token', t);
  return { kube: scripted, calls, configMap };
}

test('an update that loses the resourceVersion race (409) is read again and retried, keeping the other write', async (t) => {
  const api = await racingApi(t);
  const backend = new KubeStateBackend({ kube: api.kube, namespace: 'ns', configMapName: 'state', secretName: 'secrets' });
  await backend.write({ agentId: 'agent-1', clusterId: 'c-1', clusterToken: 'tok' });
  t.deepEqual(
    api.calls.filter((call) => call.includes('configmaps')),
    ['GET /api/v1/namespaces/ns/configmaps/state', 'PUT /api/v1/namespaces/ns/configmaps/state', 'GET /api/v1/namespaces/ns/configmaps/state', 'PUT /api/v1/namespaces/ns/configmaps/state'],
  );
  t.deepEqual(api.configMap.data, { agent_id: 'agent-1', cluster_id: 'c-1', written_by: 'someone-else' });
});

/** An API that answers a SelfSubjectAccessReview by the bearer token it carries. */
async function reviewApi(t: ExecutionContext): Promise<{ kube: KubeClient; tokens: string[] }> {
  const tokens: string[] = [];
  const server = http.createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const token = (request.headers.authorization ?? '').replace(/^Bearer /, '');
      tokens.push(token);
      const json = (status: number, body: unknown) => response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      if (token === 'expired') return json(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 401 });
      if (token === 'no-review-api') return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 });
      json(201, { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: {}, status: { allowed: token === 'admin' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const kube = tokenKubeClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'agents-own', t);
  return { kube, tokens };
}

test('the namespace-create review is made with the candidate token, never the agent\'s own', async (t) => {
  const api = await reviewApi(t);
  const reviewer = new SelfSubjectAccessReviewer({ kube: api.kube });
  t.is(await reviewer.canCreateNamespaces('admin'), TokenVerdict.allowed);
  t.is(await reviewer.canCreateNamespaces('viewer'), TokenVerdict.denied);
  t.is(await reviewer.canCreateNamespaces('expired'), TokenVerdict.denied);
  t.is(await reviewer.canCreateNamespaces('no-review-api'), TokenVerdict.unknown);
  t.deepEqual(api.tokens, ['admin', 'viewer', 'expired', 'no-review-api']);
});
