// The gateway proxy as the agent composes it (src/cluster/ingress/gateway-proxy.ts): off unless enabled,
// off without Kubernetes access; when on, the Ingress watch on the sandbox API and the route calls to a
// loopback control plane are wired so a session start publishes the cluster's routes (PROTOCOL.md §7.6).

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createGatewayProxy, type GatewayProxyOptions } from '../../../../src/cluster/ingress/gateway-proxy.js';
import type { KubeClient } from '../../../../src/kube/kube-client.js';
import { silentLogger } from '../../../../src/log.js';
import { systemClock } from '../../../../src/util/clock.js';
import { startSandboxApi } from '../../../../src/local/sandbox-api/sandbox-server.js';
import { testConfig } from '../../../helpers/agent-config.js';
import { eventually } from '../../../helpers/eventually.js';
import { kubeClientOf, tokenKubeClient } from '../../../helpers/kube-client.js';

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

function options(overrides: { enabled: boolean; apiUrl?: string; kube?: KubeClient | undefined; logger?: GatewayProxyOptions['logger'] }): GatewayProxyOptions {
  const base = testConfig({ apiUrl: overrides.apiUrl ?? 'http://127.0.0.1:1' });
  return {
    config: { ...base, agent: { ...base.agent, enableIngressSync: overrides.enabled } },
    kube: overrides.kube,
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
  t.is(createGatewayProxy(options({ enabled: false, kube: tokenKubeClient('https://127.0.0.1:1', 'kube-token', t) })), undefined);
});

test('enabled without Kubernetes access, it stays off and says so', (t) => {
  const noAccess = recordingLogger();
  t.is(createGatewayProxy(options({ enabled: true, kube: undefined, logger: noAccess.logger })), undefined);
  t.true(noAccess.messages.some((message) => message.includes('no Kubernetes access')));
});

test('enabled: the Ingress watch and the route calls are wired, and a session start publishes the routes with the agent token', async (t) => {
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  sandbox.store.put(SERVICES, { metadata: { namespace: 'apps', name: 'web' }, spec: { type: 'ClusterIP', ports: [{ port: 8080 }] } });
  sandbox.store.put(INGRESSES, {
    metadata: { namespace: 'apps', name: 'shop', labels: { 'pipeops.io/managed': 'true' } },
    spec: { rules: [{ host: 'shop.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 8080 } } } }] } }] },
  });
  const api = await routesApi(t);
  const sync = createGatewayProxy(options({ enabled: true, kube: kubeClientOf(sandbox.kubeconfigYaml(), t), apiUrl: api.url }));
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
