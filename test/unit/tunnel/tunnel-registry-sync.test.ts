// The registry sync while the Gateway API is not ready (a watch that keeps failing, or is slow to list):
// config-declared tunnels are registered one by one after a grace time, and the full sync, which replaces the
// platform's list, waits for the discovered tunnels.

import test from 'ava';
import { silentLogger } from '../../../src/log.js';
import type { GatewayApiEvents, GatewayApiSource } from '../../../src/tunnel/discovery/gateway-api-watch.js';
import { parseConfigTunnels } from '../../../src/tunnel/discovery/tunnel-entry.js';
import { RegistryOutcome, type RegistryAnswer, type TunnelRegistryClient } from '../../../src/tunnel/discovery/tunnel-registry-client.js';
import { DECLARED_GRACE_MS, TunnelRegistrySync } from '../../../src/tunnel/discovery/tunnel-registry-sync.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';

function recordingClient(): TunnelRegistryClient & { readonly calls: string[] } {
  const calls: string[] = [];
  const ok: RegistryAnswer = { outcome: RegistryOutcome.ok, status: 200, body: {} };
  return {
    calls,
    register: async (_cluster, body) => (calls.push(`register ${body.tunnel_id}`), ok),
    sync: async (_cluster, tunnels) => (calls.push(`sync ${tunnels.map((tunnel) => tunnel.tunnel_id).join(',')}`), { ...ok, body: { accepted: tunnels.map((tunnel) => tunnel.tunnel_id), rejected: [] } }),
    remove: async (_cluster, tunnelId) => (calls.push(`delete ${tunnelId}`), ok),
    close: () => undefined,
  };
}

function sourceNotReadyYet(): GatewayApiSource & { ready(): void } {
  let events: GatewayApiEvents | undefined;
  return {
    start: (given) => (events = given),
    gateways: () => [],
    tcpRoutes: () => [],
    udpRoutes: () => [],
    stop: async () => undefined,
    ready: () => events?.onReady(),
  };
}

test('a Gateway API that is not ready does not hold back config-declared tunnels; the full sync waits for it', async (t) => {
  const declared = parseConfigTunnels([{ protocol: 'tcp', service_name: 'db', service_namespace: 'apps', service_port: 5432, gateway_port: 5432 }]);
  if (!declared.ok) throw new Error(declared.problem);
  const [entry] = declared.value;
  const client = recordingClient();
  const source = sourceNotReadyYet();
  const clock = new SimulatedClock();
  const sync = new TunnelRegistrySync({ declared: declared.value, source, client, clusterUuid: () => 'c-1', clock, metrics: undefined, logger: silentLogger() });
  sync.start();
  sync.onSessionStart();
  await sync.settled();
  t.deepEqual(client.calls, [], 'a healthy watch gets its grace time to list');
  clock.advance(DECLARED_GRACE_MS);
  await sync.settled();
  t.deepEqual(client.calls, [`register ${entry?.tunnelId}`], 'then registered one by one, no sync that would drop discovered tunnels');
  sync.onSessionStart();
  await sync.settled();
  clock.advance(DECLARED_GRACE_MS);
  await sync.settled();
  t.deepEqual(client.calls, [`register ${entry?.tunnelId}`, `register ${entry?.tunnelId}`], 'registered again on a new session');
  source.ready();
  await sync.settled();
  t.deepEqual(client.calls.at(-1), `sync ${entry?.tunnelId}`, 'the full sync once discovery is ready');
  await sync.stop();
});
