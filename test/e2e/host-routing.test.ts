// C44 and PROTOCOL.md §9.5 steps 1 and 4 end to end: local control plane → agent → the stand-in ingress
// controller the ingress sync found in the sandbox. A request that names a host but no service reaches the
// controller with its Host kept; a non-Kubernetes path without service fields does too; a request with
// service fields, and a Kubernetes API path, do not.

import test, { type ExecutionContext } from 'ava';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { ControlPlaneEvent, startControlPlane, type AgentMessageEvent, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { STAND_IN_HOST_NAME, seedIngressStandIn, startIngressStandIn, type IngressStandIn } from '../../src/local/ingress-stand-in.js';
import { startSandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';

const CLUSTER = 'host-routing';
const TOKEN = 'agent-token-secret';
const SHOP = 'shop.example.com';

interface Stack {
  readonly plane: ControlPlane;
  readonly standIn: IngressStandIn;
  readonly agent: Agent;
  /** Port of a loopback `web.apps` service that is not the controller. */
  readonly webPort: number;
  readonly webHits: string[];
}

async function startStack(t: ExecutionContext, workers: number): Promise<Stack> {
  const standIn = await startIngressStandIn([SHOP]);
  t.teardown(() => standIn.close());
  const webHits: string[] = [];
  const web = createServer((req, res) => {
    webHits.push(`${req.headers.host ?? ''} ${req.url ?? ''}`);
    req.resume();
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('web service\n');
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => web.close(() => resolve())));
  const sandbox = await startSandboxApi({ logger: silentLogger() });
  t.teardown(() => sandbox.close());
  seedIngressStandIn(sandbox.store, standIn.port, [SHOP]);
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'host-routing-')), 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const plane = await startControlPlane({ agentToken: TOKEN, logger: silentLogger() });
  t.teardown(() => plane.close());
  const base = testConfig({ apiUrl: plane.url, kubeconfig, token: TOKEN, clusterName: CLUSTER, workers });
  const agent = await Agent.start({
    config: { ...base, agent: { ...base.agent, enableIngressSync: true } },
    logger: silentLogger(),
    stateStore: new MemoryStateStore(),
    workerTuning: { hostAliases: { [STAND_IN_HOST_NAME]: '127.0.0.1', 'web.apps.svc.cluster.local': '127.0.0.1' } },
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(CLUSTER, 20_000);
  await eventually(() => agent.ingressSync?.routes.lookup(SHOP) !== undefined && agent.ingressSync.routes.controller !== undefined, 'the ingress route cache');
  return { plane, standIn, agent, webPort: (web.address() as AddressInfo).port, webHits };
}

async function appRequest(plane: ControlPlane, path: string, host: string): Promise<{ status: number; text: string }> {
  // fetch forbids setting Host; node:http does not.
  const { request } = await import('node:http');
  const url = new URL(`${plane.url}/apps/${CLUSTER}${path}`);
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { Host: host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends a raw proxy_request on the cluster's session and waits for its proxy_response. */
async function rawRequest(plane: ControlPlane, requestId: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
  const answer = new Promise<Record<string, unknown>>((resolve) => {
    const eventsOnMessage = (event: AgentMessageEvent): void => {
      if (event.envelope.requestId !== requestId || event.type !== 'proxy_response') return;
      plane.events.off(ControlPlaneEvent.agentMessage, eventsOnMessage);
      resolve(event.envelope.payload as Record<string, unknown>);
    };
    plane.events.on(ControlPlaneEvent.agentMessage, eventsOnMessage);
  });
  plane.sendToAgent(CLUSTER, JSON.stringify({ type: 'proxy_request', request_id: requestId, payload }));
  return answer;
}

for (const workers of [0, 2]) {
  test(`C44: a host-routed request reaches the stand-in ingress controller with its Host; service fields and K8s paths do not (workers=${workers})`, async (t) => {
    const { plane, standIn, webPort, webHits } = await startStack(t, workers);

    // Step 1: Host matches a managed Ingress route (exactly, then without :port) ⇒ the controller, Host kept.
    const shop = await appRequest(plane, '/cart?item=7', SHOP);
    t.is(shop.status, 200, shop.text);
    t.deepEqual(JSON.parse(shop.text), { served_by: 'stand-in-ingress', host: SHOP, method: 'GET', path: '/cart?item=7' });
    const withPort = await appRequest(plane, '/', `${SHOP}:8443`);
    t.is(withPort.status, 200, withPort.text);
    t.deepEqual(standIn.requests.map((request) => request.host), [SHOP, SHOP]);

    // Step 4: no route for the host, no service field, not a K8s path ⇒ still the controller (its default backend answers).
    const unknown = await appRequest(plane, '/landing', 'other.example.com');
    t.is(unknown.status, 404);
    t.is(unknown.text, 'default backend - 404\n');
    t.is(standIn.requests.length, 3);

    // A K8s API path with an unrouted host goes to the Kubernetes API, not the controller (application
    // requests carry no cluster token, so the API server refuses it: its Status proves who answered).
    const kube = await appRequest(plane, '/api/v1/namespaces/apps', 'other.example.com');
    t.is(kube.status, 401, kube.text);
    t.like(JSON.parse(kube.text), { kind: 'Status', reason: 'Unauthorized' });
    t.is(standIn.requests.length, 3);

    // Service fields win over the Host (step 3): the named service gets it, the controller does not.
    const named = await rawRequest(plane, 'svc-1', {
      method: 'GET',
      path: '/orders',
      headers: { Host: [SHOP] },
      service_name: 'web',
      namespace: 'apps',
      service_port: webPort,
    });
    t.is(named['status'], 200);
    t.deepEqual(webHits, [`${SHOP} /orders`]);
    t.is(standIn.requests.length, 3);
  });
}
