// The heartbeat carries the monitoring endpoints the agent discovered in the cluster (PROTOCOL.md §6.4,
// CLUSTER.md §3), read with the agent's own token, and none while nothing is known.

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { fakeSecret, fakeService } from '../helpers/fake-kube-api.js';
import type { FakeSocket, JsonMessage } from '../helpers/fake-control-plane.js';
import type { SimulatedClock } from '../helpers/simulated-clock.js';

const NS = 'pipeops-monitoring';
const HEARTBEAT_INTERVAL_MS = 30_000;

/**
 * Heartbeats, one per interval, until one carries every key. The first discovery starts beside
 * registration and may see the cluster before (or while) the test scripts it, then holds that answer for
 * 5 minutes, so this allows one cache period plus a few intervals for the refresh to land.
 */
async function heartbeatWith(socket: FakeSocket, clock: SimulatedClock, keys: readonly string[]): Promise<JsonMessage> {
  for (let interval = 0; interval < 16; interval++) {
    clock.advance(HEARTBEAT_INTERVAL_MS);
    const heartbeat = await socket.next('heartbeat');
    if (keys.every((key) => key in heartbeat.payload)) return heartbeat;
  }
  throw new Error(`no heartbeat with ${keys.join(', ')}`);
}

test('the heartbeat carries the discovered Prometheus, Loki and Grafana with the real Grafana credentials', async (t) => {
  const { plane, kube, clock } = await startHarness(t);
  kube.objects.services.set(`${NS}/kube-prometheus-stack-prometheus`, fakeService(NS, 'kube-prometheus-stack-prometheus', [{ name: 'http-web', port: 9090 }]));
  kube.objects.services.set(`${NS}/loki`, fakeService(NS, 'loki', [{ name: 'http-metrics', port: 3100 }]));
  kube.objects.services.set(`${NS}/kube-prometheus-stack-grafana`, fakeService(NS, 'kube-prometheus-stack-grafana', [{ name: 'http-web', port: 80 }]));
  kube.objects.secrets.set(
    `${NS}/kube-prometheus-stack-grafana`,
    fakeSecret(NS, 'kube-prometheus-stack-grafana', { 'admin-user': 'admin', 'admin-password': 'from-the-secret' }),
  );
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-7788' });
  await socket.next('heartbeat');
  const heartbeat = await heartbeatWith(socket, clock, ['prometheus_url', 'loki_url', 'grafana_url']);
  const { metadata: _metadata, ...payload } = heartbeat.payload;
  t.deepEqual(payload, {
    cluster_id: 'c-7788',
    agent_id: 'agent-0a1b2c3d4e5f6071',
    status: 'healthy',
    tunnel_status: 'connected',
    prometheus_url: 'http://kube-prometheus-stack-prometheus.pipeops-monitoring.svc.cluster.local:9090',
    prometheus_username: '',
    prometheus_password: '',
    prometheus_ssl: false,
    loki_url: 'http://loki.pipeops-monitoring.svc.cluster.local:3100',
    loki_username: '',
    loki_password: '',
    loki_ssl: false,
    grafana_url: 'http://kube-prometheus-stack-grafana.pipeops-monitoring.svc.cluster.local:80',
    grafana_username: 'admin',
    grafana_password: 'from-the-secret',
    grafana_ssl: false,
  });
  // Discovery uses the agent's own identity, never a proxied one, and is not counted as proxied traffic.
  const reads = kube.ownObjectReads();
  t.true(reads.length > 0);
  t.true(reads.every((request) => request.headers.authorization === `Bearer ${kube.token}`));
  t.is(kube.proxied().length, 0);
});

test('nothing installed: no monitoring keys in any heartbeat', async (t) => {
  const { plane, clock } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  const heartbeats = [await socket.next('heartbeat')];
  for (let interval = 0; interval < 3; interval++) {
    clock.advance(HEARTBEAT_INTERVAL_MS);
    heartbeats.push(await socket.next('heartbeat'));
  }
  for (const heartbeat of heartbeats) {
    t.deepEqual(Object.keys(heartbeat.payload).sort(), ['agent_id', 'cluster_id', 'metadata', 'status', 'tunnel_status']);
  }
});
