// The local control plane as the §15 gateway, end to end on loopback: sandbox API, local control plane in
// gateway mode and a real agent; a TCP client on the gateway's tunnel port talks to a line-echo service and a
// UDP client to a datagram echo, both reached by the agent through host aliases.

import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/log.js';
import { startControlPlane, type ControlPlane } from '../../src/local/control-plane/control-plane-server.js';
import { startSandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { testConfig } from '../helpers/agent-config.js';
import { failOnFault } from '../helpers/agent-harness.js';
import { udpEcho } from '../helpers/yamux-gateway.js';

const CLUSTER = 'tunnels';
const ALIASES = { 'lines.apps.svc.cluster.local': '127.0.0.1', 'echo-udp.apps.svc.cluster.local': '127.0.0.1' };

async function stack(t: ExecutionContext, tunnelEnabled = true): Promise<{ plane: ControlPlane; agent: Agent }> {
  const dir = await mkdtemp(join(tmpdir(), 'tunnel-gateway-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const sandbox = await startSandboxApi({ port: 0, logger: silentLogger() });
  t.teardown(() => sandbox.close());
  const kubeconfig = join(dir, 'kubeconfig');
  await sandbox.writeKubeconfig(kubeconfig);
  const plane = await startControlPlane({ agentToken: 'tunnel-token', gateway: true, logger: silentLogger() });
  t.teardown(() => plane.close());
  const agent = await Agent.start({
    config: testConfig({ apiUrl: plane.url, token: 'tunnel-token', kubeconfig, clusterName: CLUSTER, tunnelEnabled }),
    logger: silentLogger(),
    workerTuning: { hostAliases: ALIASES },
    onFault: failOnFault(t),
  });
  t.teardown(() => agent.stop());
  await plane.waitForCluster(CLUSTER, 20_000);
  return { plane, agent };
}

/** A line-echo service: answers every line with `echo: <line>`; ends its side after the client's. */
async function lineEcho(t: ExecutionContext): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.push(socket);
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        socket.write(`echo: ${pending.slice(0, newline)}\n`);
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

test('a TCP client on the gateway port talks to the line-echo service through the agent, with half-close', async (t) => {
  const { plane, agent } = await stack(t);
  const servicePort = await lineEcho(t);
  const gateway = await plane.startTunnelGateway(CLUSTER);
  t.true(agent.link.sessionConnection?.isYamuxActive);
  const listener = await gateway.openTunnelListener({ protocol: 'tcp', tunnelId: 't-lines', serviceName: 'lines', serviceNamespace: 'apps', servicePort });
  const client = connect({ host: '127.0.0.1', port: listener.port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve) => client.on('end', () => resolve()));
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  client.write('hello\nworld\n');
  client.end(); // half-close: the answers still come back
  await ended;
  t.is(Buffer.concat(chunks).toString(), 'echo: hello\necho: world\n');
  client.destroy();
  t.is(await agent.metrics.value('tunnelStreamsOpened', { protocol: 'tcp' }), 1);
});

test('a UDP client on the gateway port gets its datagrams echoed through the agent', async (t) => {
  const { plane } = await stack(t);
  const echo = await udpEcho(t);
  const gateway = await plane.startTunnelGateway(CLUSTER);
  const listener = await gateway.openTunnelListener({ protocol: 'udp', tunnelId: 't-udp', serviceName: 'echo-udp', serviceNamespace: 'apps', servicePort: echo.port });
  const client = createSocket('udp4');
  t.teardown(() => client.close());
  const replies: string[] = [];
  client.on('message', (message) => replies.push(message.toString()));
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
  for (const datagram of ['ping-1', 'ping-2']) {
    client.send(datagram, listener.port, '127.0.0.1');
    const deadline = Date.now() + 15_000;
    while (!replies.includes(datagram) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.deepEqual(replies, ['ping-1', 'ping-2']);
});

test('an agent with tunnel.enabled false advertises no supports_yamux: the gateway refuses to start', async (t) => {
  const { plane } = await stack(t, false);
  await t.throwsAsync(plane.startTunnelGateway(CLUSTER), { message: 'the agent socket did not advertise supports_yamux' });
});

test('a truncated or unknown stream header closes only that stream; the tunnel listener keeps serving', async (t) => {
  const { plane } = await stack(t);
  const servicePort = await lineEcho(t);
  const gateway = await plane.startTunnelGateway(CLUSTER);
  const listener = await gateway.openTunnelListener({ protocol: 'tcp', tunnelId: 't-lines', serviceName: 'lines', serviceNamespace: 'apps', servicePort });
  const ends: Promise<string>[] = [];
  for (const bytes of [Buffer.from([1, 1, 0x15]), Buffer.from([7, 1, 0, 80, 0, 0, 0, 0, 0, 0])]) {
    const stream = gateway.session.open();
    ends.push(new Promise((resolve) => (stream.onClose = (end) => resolve(end))));
    stream.write(bytes);
    stream.end(); // a FIN inside the header: truncated
  }
  t.deepEqual(await Promise.all(ends), ['reset', 'reset']);
  const client = connect({ host: '127.0.0.1', port: listener.port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  const ended = new Promise<void>((resolve) => client.on('end', () => resolve()));
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  client.end('after the bad ones\n');
  await ended;
  t.is(Buffer.concat(chunks).toString(), 'echo: after the bad ones\n');
  client.destroy();
  t.false(gateway.session.isClosed);
});
