// The local control plane as the gateway of what agents register (§15, §17.3): a managed Gateway with a
// TCPRoute and a UDPRoute in the sandbox become registered tunnels, each gets a loopback listener carried
// over the agent's yamux session; a deleted route closes its listener, and after the agent's socket is lost
// the tunnels are opened again on the new socket.

import test, { type ExecutionContext } from 'ava';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, type ControlPlane, type RegisteredTunnel } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { LINE_ECHO_SERVICE, TUNNEL_DEMO_HOSTS, TUNNEL_DEMO_NAMESPACE, seedTunnelDemo, startTunnelDemoServices } from '../../src/local/tunnel-demo-services.js';
import { testConfig } from '../helpers/agent-config.js';
import { failOnFault } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

const CLUSTER = 'listeners';

async function stack(t: ExecutionContext): Promise<{ plane: ControlPlane; sandbox: SandboxApi }> {
  const dir = await mkdtemp(join(tmpdir(), 'tunnel-listeners-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const services = await startTunnelDemoServices();
  t.teardown(() => services.close());
  const sandbox = await startSandboxApi({ port: 0, logger: silentLogger() });
  t.teardown(() => sandbox.close());
  seedTunnelDemo(sandbox.store, services);
  const kubeconfig = join(dir, 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const plane = await startControlPlane({ agentToken: 'listeners-token', gateway: true, tunnelListeners: true, logger: silentLogger() });
  t.teardown(() => plane.close());
  const agent = await Agent.start({
    config: testConfig({ apiUrl: plane.url, token: 'listeners-token', kubeconfig, clusterName: CLUSTER }),
    logger: silentLogger(),
    workerTuning: { hostAliases: Object.fromEntries(TUNNEL_DEMO_HOSTS.map((host) => [host, '127.0.0.1'])) },
    onFault: failOnFault(t),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(CLUSTER, 20_000);
  return { plane, sandbox };
}

function tunnels(plane: ControlPlane): RegisteredTunnel[] {
  return plane.tunnels.clusters().flatMap((cluster) => cluster.tunnels);
}

/** The listening port of the cluster's tunnel of `protocol`, once it has one. */
async function listeningPort(plane: ControlPlane, protocol: 'tcp' | 'udp', other?: number): Promise<number> {
  let port = 0;
  await eventually(() => {
    port = tunnels(plane).find((tunnel) => tunnel.protocol === protocol)?.tunnel_port ?? 0;
    return port > 0 && port !== other;
  }, `${protocol} tunnel listening`);
  return port;
}

function tcpEcho(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.end(text);
  });
}

function udpEcho(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no datagram back within 10 s'));
    }, 10_000);
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(message.toString());
    });
    socket.send(text, port, '127.0.0.1');
  });
}

test('registered tunnels get listeners through yamux; a deleted route closes its listener; a new socket opens them again', async (t) => {
  const { plane, sandbox } = await stack(t);
  const tcpPort = await listeningPort(plane, 'tcp');
  const udpPort = await listeningPort(plane, 'udp');
  t.is(await tcpEcho(tcpPort, 'one\ntwo\n'), 'echo: one\necho: two\n');
  t.is(await udpEcho(udpPort, 'ping'), 'ping');

  sandbox.store.delete({ group: 'gateway.networking.k8s.io', version: 'v1alpha2', resource: 'tcproutes', namespace: TUNNEL_DEMO_NAMESPACE, name: LINE_ECHO_SERVICE });
  await eventually(() => tunnels(plane).every((tunnel) => tunnel.protocol !== 'tcp'), 'the TCP tunnel unregistered');
  const refused = await tcpEcho(tcpPort, 'gone\n').then(
    () => 'connected',
    (error: NodeJS.ErrnoException) => error.code,
  );
  t.is(refused, 'ECONNREFUSED', 'the deleted tunnel no longer listens');

  plane.dropAgent(CLUSTER);
  const reopened = await listeningPort(plane, 'udp', udpPort);
  t.is(await udpEcho(reopened, 'again'), 'again');
});
