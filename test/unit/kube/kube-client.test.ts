// The agent's own Kubernetes calls against a loopback HTTPS API: the verbs and bodies the callers use,
// one kept-alive connection, answers outside 2xx as KubeStatusError (status and reason, never the body),
// and a bounded call that aborts its request.

import test from 'ava';
import { AgentError, ErrorCode } from '../../../src/errors.js';
import { boundedKubeCall } from '../../../src/kube/bounded-call.js';
import { KubeClient, PatchType } from '../../../src/kube/kube-client.js';
import { isKubeStatus, KubeStatusError, kubeFailureOf } from '../../../src/kube/kube-failure.js';
import type { KubeAccess } from '../../../src/kube/kubeconfig.js';
import { eventually } from '../../helpers/eventually.js';
import { kubeAccessOf } from '../../helpers/kube-client.js';
import { sendJson, sendStatus, startScriptedKubeApi, type ScriptedKubeApi } from '../../helpers/scripted-kube-api.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';

function accessTo(api: ScriptedKubeApi, server = api.url): KubeAccess {
  return kubeAccessOf(server, 'agent-token', api.caPem);
}

test('get, list with a query, create, replace, patch and delete send the verb, path, body and content type', async (t) => {
  const api = await startScriptedKubeApi(t, (request, response) => sendJson(response, request.method === 'POST' ? 201 : 200, { echo: request.method }));
  const client = new KubeClient(accessTo(api, `${api.url}/k8s/clusters/c-1/`));
  t.teardown(() => client.close());
  const body = { metadata: { name: 'state' }, data: { a: 'b' } };
  t.deepEqual(await client.get('/api/v1/namespaces/ns/configmaps/state'), { echo: 'GET' });
  await client.get('/api/v1/services', { labelSelector: 'app in (a,b)', limit: 1, continue: undefined });
  t.deepEqual(await client.create('/api/v1/namespaces/ns/configmaps', body), { echo: 'POST' });
  await client.replace('/api/v1/namespaces/ns/configmaps/state', body);
  await client.patch('/api/v1/namespaces/ns/configmaps/state', { data: { a: 'c' } }, PatchType.merge);
  await client.delete('/api/v1/namespaces/ns/configmaps/state');
  t.deepEqual(
    api.requests.map((request) => [request.method, request.path, request.query.toString(), request.contentType, request.body]),
    [
      ['GET', '/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps/state', '', undefined, ''],
      ['GET', '/k8s/clusters/c-1/api/v1/services', 'labelSelector=app+in+%28a%2Cb%29&limit=1', undefined, ''],
      ['POST', '/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps', '', 'application/json', JSON.stringify(body)],
      ['PUT', '/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps/state', '', 'application/json', JSON.stringify(body)],
      ['PATCH', '/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps/state', '', 'application/merge-patch+json', '{"data":{"a":"c"}}'],
      ['DELETE', '/k8s/clusters/c-1/api/v1/namespaces/ns/configmaps/state', '', undefined, ''],
    ],
  );
  t.true(api.requests.every((request) => request.authorization === 'Bearer agent-token'));
  t.is(new Set(api.requests.map((request) => request.remotePort)).size, 1, 'every call went over one kept-alive connection');
});

test('an answer outside 2xx is a KubeStatusError with the status and reason, never the body; a 2xx body that is not JSON is not quoted either', async (t) => {
  const api = await startScriptedKubeApi(t, (request, response) => {
    if (request.path.endsWith('/missing')) return sendStatus(response, 404, 'NotFound', 'secrets "missing" not found: s3cr3t-payload');
    if (request.path.endsWith('/conflict')) return sendStatus(response, 409, 'Conflict', 'the object has been modified');
    if (request.path === '/healthz') return void response.writeHead(200, { 'Content-Type': 'text/plain' }).end('s3cr3t-payload');
    response.writeHead(500, { 'Content-Type': 'text/plain' }).end('s3cr3t-payload');
  });
  const client = new KubeClient(accessTo(api));
  t.teardown(() => client.close());
  const missing = await t.throwsAsync(client.get('/api/v1/namespaces/ns/secrets/missing'), { instanceOf: KubeStatusError });
  t.is(missing.statusCode, 404);
  t.is(missing.reason, 'NotFound');
  t.is(missing.code, ErrorCode.upstreamFailed);
  t.true(isKubeStatus(missing, 404));
  t.deepEqual(kubeFailureOf(missing), { code: 'KUBE_STATUS', status: 404 });
  t.false(missing.message.includes('s3cr3t'));
  const conflict = await t.throwsAsync(client.replace('/api/v1/namespaces/ns/configmaps/conflict', {}), { instanceOf: KubeStatusError });
  t.true(isKubeStatus(conflict, 409));
  t.is(conflict.reason, 'Conflict');
  const broken = await t.throwsAsync(client.get('/version'), { instanceOf: KubeStatusError });
  t.is(broken.statusCode, 500);
  t.is(broken.reason, undefined);
  t.false(broken.message.includes('s3cr3t'));
  const notJson = await t.throwsAsync(client.get('/healthz'), { instanceOf: AgentError });
  t.is(notJson.code, ErrorCode.upstreamFailed);
  t.false(JSON.stringify(kubeFailureOf(notJson)).includes('s3cr3t'));
  t.false(notJson.message.includes('s3cr3t'));
});

test('a bounded call past its bound rejects with UPSTREAM_TIMEOUT and its request is aborted (the socket closes)', async (t) => {
  const sockets: { isClosed: boolean }[] = [];
  const api = await startScriptedKubeApi(t, (_, response) => {
    const entry = { isClosed: false };
    sockets.push(entry);
    response.socket?.on('close', () => (entry.isClosed = true));
  });
  const client = new KubeClient(accessTo(api));
  t.teardown(() => client.close());
  const clock = new SimulatedClock();
  const call = boundedKubeCall(clock, 5_000, 'version', (signal) => client.get('/version', undefined, signal));
  await eventually(() => api.requests.length === 1, 'the request reached the API server');
  clock.advance(5_000);
  const error = await t.throwsAsync(call, { instanceOf: AgentError });
  t.is(error.code, ErrorCode.upstreamTimeout);
  await eventually(() => sockets[0]?.isClosed === true, 'the aborted request closed its socket');
});

test('an AbortSignal already aborted, or aborted mid-call, rejects the call', async (t) => {
  const api = await startScriptedKubeApi(t, () => undefined);
  const client = new KubeClient(accessTo(api));
  t.teardown(() => client.close());
  await t.throwsAsync(client.get('/version', undefined, AbortSignal.abort()), { name: 'AbortError' });
  const controller = new AbortController();
  const call = client.get('/version', undefined, controller.signal);
  await eventually(() => api.requests.length === 1, 'the request reached the API server');
  controller.abort();
  await t.throwsAsync(call, { name: 'AbortError' });
});

test('withToken keeps the server and trust and sends only the given token', async (t) => {
  const api = await startScriptedKubeApi(t, (_, response) => sendJson(response, 201, { status: { allowed: true } }));
  const client = new KubeClient(accessTo(api));
  const candidate = client.withToken('candidate-token');
  t.teardown(() => {
    client.close();
    candidate.close();
  });
  t.deepEqual(await candidate.create('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {}), { status: { allowed: true } });
  t.is(api.requests[0]?.authorization, 'Bearer candidate-token');
});
