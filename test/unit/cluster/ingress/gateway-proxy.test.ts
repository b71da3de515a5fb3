// The gateway proxy as the agent composes it (src/cluster/ingress/gateway-proxy.ts): off unless enabled,
// off without Kubernetes access or a usable kubeconfig; when on, the Ingress watch on the sandbox API and
// the route calls to a loopback control plane are wired so a session start publishes the cluster's routes
// (PROTOCOL.md §7.6). withSessionSync tells every sync about each session start and forwards the rest.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { createGatewayProxy, withSessionSync, type GatewayProxyOptions } from '../../../../src/cluster/ingress/gateway-proxy.js';
import type { SessionHandlers } from '../../../../src/link/control-plane-link.js';
import type { Connection } from '../../../../src/link/connection.js';
import { silentLogger } from '../../../../src/log.js';
import { systemClock } from '../../../../src/util/clock.js';
import { startSandboxApi } from '../../../../src/local/sandbox-api/sandbox-server.js';
import { testConfig } from '../../../helpers/agent-config.js';
import { eventually } from '../../../helpers/eventually.js';

const INGRESSES = { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' } as const;
const SERVICES = { group: '', version: 'v1', resource: 'services' } as const;

interface RouteCall {
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
}

/** A loopback stand-in for the control plane's route endpoints: records each call, answers 200. */
async function routesApi(t: ExecutionContext): Promise<{ url: string; calls: RouteCall[] }> {
  const calls: RouteCall[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      calls.push({ url: request.url ?? '', authorization: request.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown> });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

function options(overrides: { enabled: boolean; apiUrl?: string; kubeConfig?: KubeConfig | undefined; logger?: GatewayProxyOptions['logger'] }): GatewayProxyOptions {
  const base = testConfig({ apiUrl: overrides.apiUrl ?? 'http://127.0.0.1:1' });
  return {
    config: { ...base, agent: { ...base.agent, enableIngressSync: overrides.enabled } },
    kubeConfig: overrides.kubeConfig,
    tls: { rejectUnauthorized: true },
    token: () => 'agent-token-secret',
    clusterUuid: () => 'cluster-uuid-1',
    clock: systemClock,
    logger: overrides.logger ?? silentLogger(),
  };
}

/** A logger that keeps each line's message. */
function recordingLogger(): { logger: GatewayProxyOptions['logger']; messages: string[] } {
  const messages: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void messages.push(String((JSON.parse(line) as { msg?: string }).msg)) });
  return { logger, messages };
}

test('off by default: nothing is built, whatever the Kubernetes access', (t) => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser({ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }, { name: 'u' });
  t.is(createGatewayProxy(options({ enabled: false, kubeConfig })), undefined);
});

test('enabled without Kubernetes access, or with a kubeconfig that names no cluster, it stays off and says so', (t) => {
  const noAccess = recordingLogger();
  t.is(createGatewayProxy(options({ enabled: true, kubeConfig: undefined, logger: noAccess.logger })), undefined);
  t.true(noAccess.messages.some((message) => message.includes('no Kubernetes access')));
  const noCluster = recordingLogger();
  t.is(createGatewayProxy(options({ enabled: true, kubeConfig: new KubeConfig(), logger: noCluster.logger })), undefined);
  t.true(noCluster.messages.some((message) => message.includes('could not start')));
});

test('enabled: the Ingress watch and the route calls are wired, and a session start publishes the routes with the agent token', async (t) => {
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  sandbox.store.put(SERVICES, { metadata: { namespace: 'apps', name: 'web' }, spec: { type: 'ClusterIP', ports: [{ port: 8080 }] } });
  sandbox.store.put(INGRESSES, {
    metadata: { namespace: 'apps', name: 'shop', labels: { 'pipeops.io/managed': 'true' } },
    spec: { rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } }] } }] },
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(sandbox.kubeconfigYaml());
  const api = await routesApi(t);
  const sync = createGatewayProxy(options({ enabled: true, kubeConfig, apiUrl: api.url }));
  t.truthy(sync);
  t.teardown(() => sync?.stop());
  sync!.start();
  sync!.onSessionStart();
  await eventually(() => api.calls.some((call) => call.url === '/api/v1/gateway/routes/sync'), 'the route sync call');
  const call = api.calls.find((candidate) => candidate.url === '/api/v1/gateway/routes/sync')!;
  t.is(call.authorization, 'Bearer agent-token-secret');
  t.regex(JSON.stringify(call.body), /shop\.example\.com/);
  t.regex(JSON.stringify(call.body), /cluster-uuid-1/);
});

test('withSessionSync: each sync hears every session start after the handlers; frames and session ends pass through', (t) => {
  const seen: string[] = [];
  const handlers: SessionHandlers = {
    onSessionStart: () => seen.push('start'),
    onFrame: (_connection, data, isBinary) => seen.push(`frame ${data.toString()} ${isBinary}`),
    onSessionEnd: () => seen.push('end'),
  };
  t.is(withSessionSync(handlers), handlers, 'no sync: the handlers themselves');
  t.is(withSessionSync(handlers, undefined, undefined), handlers, 'syncs that are off count as none');
  const wrapped = withSessionSync(handlers, { onSessionStart: () => seen.push('sync a') }, undefined, { onSessionStart: () => seen.push('sync b') });
  const connection = {} as Connection;
  wrapped.onSessionStart(connection);
  wrapped.onFrame(connection, Buffer.from('x'), true);
  wrapped.onSessionEnd(connection);
  wrapped.onSessionStart(connection);
  t.deepEqual(seen, ['start', 'sync a', 'sync b', 'frame x true', 'end', 'start', 'sync a', 'sync b']);
});
