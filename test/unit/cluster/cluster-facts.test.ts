// The Kubernetes reads behind `register` and `heartbeat` (version, node and pod counts) are bounded: a hanging
// API server yields the protocol's fallback values at the bound, and the abandoned request's socket is closed.

import test from 'ava';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FACTS_CALL_TIMEOUT_MS } from '../../../src/cluster/cluster-facts.js';
import type { KubeClient } from '../../../src/kube/kube-client.js';
import { tokenKubeClient } from '../../helpers/kube-client.js';
import { testClusterFacts } from '../../helpers/cluster-facts.js';
import { eventually } from '../../helpers/eventually.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';

interface HangingApi {
  readonly kube: KubeClient;
  /** Paths of the requests received, none of which is ever answered. */
  readonly paths: string[];
  /** Sockets of those requests, and whether each has closed. */
  readonly sockets: Map<Socket, { isClosed: boolean }>;
  close(): Promise<void>;
}

/** A loopback API server that reads every request and never answers it. */
async function startHangingApi(): Promise<HangingApi> {
  const paths: string[] = [];
  const sockets = new Map<Socket, { isClosed: boolean }>();
  const server = createServer((request: IncomingMessage) => {
    paths.push(new URL(request.url ?? '/', 'http://x').pathname);
    const socket = request.socket;
    if (sockets.has(socket)) return;
    const entry = { isClosed: false };
    sockets.set(socket, entry);
    socket.on('close', () => (entry.isClosed = true));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kube = tokenKubeClient(`http://127.0.0.1:${port}`, 'test-token');
  return {
    kube,
    paths,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        kube.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('a hanging version read is aborted at its bound: its socket closes and the fallback version is reported', async (t) => {
  const api = await startHangingApi();
  t.teardown(() => api.close());
  const clock = new SimulatedClock();
  const version = testClusterFacts({ kube: api.kube, callClock: clock }).k8sVersion();
  await eventually(() => api.paths.includes('/version'), 'the version request reached the API server');
  t.deepEqual(clock.pendingDelays(), [FACTS_CALL_TIMEOUT_MS]);
  t.false([...api.sockets.values()].some((socket) => socket.isClosed), 'the request is in flight before the bound');
  clock.advance(FACTS_CALL_TIMEOUT_MS);
  t.is(await version, 'v1.28.0+k3s1');
  await eventually(() => [...api.sockets.values()].every((socket) => socket.isClosed), 'the aborted request closed its socket');
  t.is(api.sockets.size, 1);
});

test('hanging node and pod counts are aborted at their bound: both sockets close and the counts are 0', async (t) => {
  const api = await startHangingApi();
  t.teardown(() => api.close());
  const clock = new SimulatedClock();
  const counts = testClusterFacts({ kube: api.kube, callClock: clock }).counts();
  await eventually(() => api.paths.includes('/api/v1/nodes') && api.paths.includes('/api/v1/pods'), 'both list requests reached the API server');
  t.deepEqual(clock.pendingDelays(), [FACTS_CALL_TIMEOUT_MS, FACTS_CALL_TIMEOUT_MS]);
  t.false([...api.sockets.values()].some((socket) => socket.isClosed), 'the requests are in flight before the bound');
  clock.advance(FACTS_CALL_TIMEOUT_MS);
  t.deepEqual(await counts, { nodes: 0, pods: 0 });
  await eventually(() => [...api.sockets.values()].every((socket) => socket.isClosed), 'the aborted requests closed their sockets');
  t.is(api.sockets.size, 2);
});
