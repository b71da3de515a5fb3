// A cluster without the Gateway API CRDs (discovery answers 404): tunnel discovery logs that once per kind,
// stays idle, looks again only after 10 minutes, and the config-declared tunnels are still synced.

import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent } from '../../src/agent.js';
import { LinkStatus } from '../../src/link/control-plane-link.js';
import { MemoryStateStore } from '../../src/link/link-state.js';
import { startControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { NOT_SERVED_RETRY_MS } from '../../src/tunnel/discovery/gateway-api-watch.js';
import { testConfig } from '../helpers/agent-config.js';
import { eventually } from '../helpers/eventually.js';
import { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { SimulatedClock } from '../helpers/simulated-clock.js';

const TOKEN = 'agent-token-secret';

test('404 Gateway API: one log line per kind, no crash, a rare retry, and config tunnels still synced', async (t) => {
  const kube = await FakeKubeApi.start();
  t.teardown(() => kube.close());
  const lines: { level: number; msg: string; kind?: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const plane = await startControlPlane({ agentToken: TOKEN });
  t.teardown(() => plane.close());
  const base = testConfig({
    apiUrl: plane.url,
    kubeconfig: kube.kubeconfigPath,
    token: TOKEN,
    clusterName: 'no-gateway-api',
    tunnels: [{ tunnelId: 'pg', protocol: 'tcp', gatewayName: 'pg', gatewayNamespace: 'default', gatewayPort: 5432, serviceName: 'postgres', serviceNamespace: 'default', servicePort: 5432, routingMode: 'tunnel', source: 'config' }],
  });
  const clock = new SimulatedClock();
  // The registry's own clock: its 10 minutes must not trip the link's 60 s silence limit.
  const registryClock = new SimulatedClock();
  const agent = await Agent.start({
    config: base,
    logger: pino({ level: 'info' }, sink),
    clock,
    tunnelRegistryClock: registryClock,
    random: () => 0,
    stateStore: new MemoryStateStore(),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster('no-gateway-api', 20_000);

  const gatewayApiRequests = (): string[] => kube.requests.filter((request) => request.url.startsWith('/apis/gateway.networking.k8s.io')).map((request) => request.url);
  await eventually(() => plane.tunnels.calls().length >= 1, 'the first sync');
  t.deepEqual(plane.tunnels.calls().map((call) => `${call.kind} ${call.status}`), ['sync 200']);
  t.deepEqual((plane.tunnels.calls()[0]!.body?.['tunnels'] as { tunnel_id: string }[]).map((entry) => entry.tunnel_id), ['pg']);
  // Only the discovery documents were asked for; no list or watch of a kind that is not there.
  t.deepEqual([...gatewayApiRequests()].sort(), ['/apis/gateway.networking.k8s.io/v1', '/apis/gateway.networking.k8s.io/v1alpha2', '/apis/gateway.networking.k8s.io/v1alpha2']);
  const notServed = (): string[] => lines.filter((line) => line.msg.startsWith('Gateway API kind not served')).map((line) => line.kind ?? '');
  t.deepEqual(notServed().sort(), ['gateways', 'tcproutes', 'udproutes']);

  // Nothing more until 10 minutes have passed; then one more look per kind, without a new log line.
  registryClock.advance(NOT_SERVED_RETRY_MS - 1);
  await agent.tunnelRegistry?.settled();
  t.is(gatewayApiRequests().length, 3);
  registryClock.advance(1);
  await eventually(() => gatewayApiRequests().length === 6, 'the second look');
  t.is(notServed().length, 3);
  t.deepEqual(lines.filter((line) => line.level >= 50), [], 'no error logged');
  t.is(agent.link.status, LinkStatus.connected);
});
