// The real kubectl port-forwarding through the sandbox API: the WebSocket tunnel (SPDY inside
// WebSocket messages) and the plain SPDY fallback, 20 concurrent requests and a 50 MB download
// byte-identical, an upload echoed back, the kubelet's message for a port nothing listens on, pod
// deletion, the upgrade handshake itself, and every stream, socket and timer released afterwards.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { DEMO_GREETING, demoBytes } from '../../src/local/sandbox-api/streams/portforward/demo-pod-server.js';
import { portForwardStats } from '../../src/local/sandbox-api/streams/portforward/port-forward-handler.js';
import type { PortForwardStats } from '../../src/local/sandbox-api/streams/portforward/port-forward-service.js';
import { startSandboxApi, type SandboxApi } from '../../src/local/sandbox-api/sandbox-server.js';
import { eventually } from '../helpers/eventually.js';
import { KUBECTL, kubectl } from '../helpers/kubectl.js';

const FIFTY_MB = 50 * 1024 * 1024;
const IDLE: PortForwardStats = { connections: 0, pendingPairs: 0, timers: 0, relays: 0, sockets: 0, streams: 0 };

interface Sandbox {
  readonly api: SandboxApi;
  readonly env: Record<string, string>;
  readonly kubeconfig: string;
}

async function sandbox(t: ExecutionContext): Promise<Sandbox> {
  const api = await startSandboxApi({ port: 0 });
  t.teardown(() => api.close());
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-portforward-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await api.writeKubeconfig(kubeconfig);
  return { api, kubeconfig, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig } };
}

interface Forward {
  readonly child: ChildProcessWithoutNullStreams;
  readonly localPort: number;
  stdout(): string;
  stderr(): string;
  /** resolves with the exit code once kubectl has exited */
  readonly exited: Promise<number | null>;
}

/** Starts `kubectl port-forward pod/demo :<remote>` and waits for its "Forwarding from" line. */
async function portForward(t: ExecutionContext, box: Sandbox, remotePort: number, env: Record<string, string> = {}): Promise<Forward> {
  const child = spawn(KUBECTL, ['port-forward', 'pod/demo', `:${remotePort}`, '--address', '127.0.0.1'], { env: { ...box.env, ...env } });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(() => /Forwarding from 127\.0\.0\.1:\d+ ->/.test(out) || child.exitCode !== null, 'kubectl is forwarding', 20_000);
  const match = /Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/.exec(out);
  if (match === null) throw new Error(`kubectl port-forward did not start: ${err}`);
  t.is(match[2], String(remotePort));
  return { child, localPort: Number(match[1]), stdout: () => out, stderr: () => err, exited };
}

/** One request on its own connection (Connection: close), so each is one forwarded connection. */
function fetchOnce(port: number, path: string, body?: Buffer): Promise<{ status: number; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent: false, timeout: 30_000 }, (response) =>
      resolve({ status: response.statusCode ?? 0, response }),
    );
    request.on('timeout', () => request.destroy(new Error(`request for ${path} timed out`)));
    request.on('error', reject);
    request.end(body);
  });
}

/** Feeds every chunk of a response body to `take`; resolves at its end. */
function consume(response: IncomingMessage, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    response.on('data', function responseOnData(chunk: Buffer): void {
      take(chunk);
    });
    response.once('end', () => resolve());
    response.once('error', reject);
  });
}

async function readAll(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await consume(response, (chunk) => chunks.push(chunk));
  return Buffer.concat(chunks);
}

async function getText(port: number, path: string): Promise<string> {
  const { status, response } = await fetchOnce(port, path);
  const body = await readAll(response);
  if (status !== 200) throw new Error(`GET ${path}: ${status}`);
  return body.toString('utf8');
}

function expectedDigest(length: number): string {
  const hash = createHash('sha256');
  for (let offset = 0; offset < length; offset += 1 << 20) hash.update(demoBytes(offset, Math.min(1 << 20, length - offset)));
  return hash.digest('hex');
}

function stats(box: Sandbox): PortForwardStats | undefined {
  return portForwardStats(box.api.store);
}

async function released(box: Sandbox, connections: number): Promise<void> {
  await eventually(() => JSON.stringify(stats(box)) === JSON.stringify({ ...IDLE, connections }), `port-forward holds ${connections} connection(s) and nothing else`, 10_000);
}

test('20 concurrent requests and a 50 MB download through the WebSocket tunnel; kill releases everything', async (t) => {
  const box = await sandbox(t);
  const forward = await portForward(t, box, 8080, { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'true' });
  const bodies = await Promise.all(Array.from({ length: 20 }, () => getText(forward.localPort, '/')));
  t.deepEqual(bodies, Array.from({ length: 20 }, () => DEMO_GREETING));

  const { status, response } = await fetchOnce(forward.localPort, `/bytes?n=${FIFTY_MB}`);
  t.is(status, 200);
  const hash = createHash('sha256');
  let received = 0;
  await consume(response, (chunk) => {
    hash.update(chunk);
    received += chunk.length;
  });
  t.is(received, FIFTY_MB);
  t.is(hash.digest('hex'), expectedDigest(FIFTY_MB));

  const upload = demoBytes(12_345, 3 * 1024 * 1024);
  const echoed = await fetchOnce(forward.localPort, '/echo', upload);
  t.true((await readAll(echoed.response)).equals(upload));

  // every forwarded connection has closed on its own; only the tunnel remains
  await released(box, 1);
  t.is(box.api.activeStreamSessions() >= 1, true);
  forward.child.kill('SIGKILL');
  await forward.exited;
  await released(box, 0);
  t.regex(forward.stdout(), /Handling connection for \d+/);
});

test('with WebSockets disabled kubectl speaks plain SPDY and gets the same service', async (t) => {
  const box = await sandbox(t);
  const forward = await portForward(t, box, 8080, { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' });
  t.is(await getText(forward.localPort, '/'), DEMO_GREETING);
  const { response } = await fetchOnce(forward.localPort, '/bytes?n=1000000');
  t.true((await readAll(response)).equals(demoBytes(0, 1_000_000)));
  forward.child.kill('SIGINT');
  t.is(await forward.exited, 0);
  await released(box, 0);
});

test('a port nothing listens on: kubectl prints the kubelet message and loses the connection', async (t) => {
  const box = await sandbox(t);
  const forward = await portForward(t, box, 9999);
  const socket = connect({ host: '127.0.0.1', port: forward.localPort });
  socket.resume();
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  t.is(await forward.exited, 1);
  t.regex(forward.stderr(), /an error occurred forwarding \d+ -> 9999: error forwarding port 9999 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace \\"\/var\/run\/netns\/cni-[0-9a-f-]{36}\\": failed to connect to localhost:9999 inside namespace \\"[0-9a-f]{64}\\", IPv4: dial tcp4 127\.0\.0\.1:9999: connect: connection refused IPv6 dial tcp6 \[::1\]:9999: connect: connection refused /);
  t.regex(forward.stderr(), /error: lost connection to pod\n$/);
  await released(box, 0);
});

test('deleting the pod ends the forwarding session', async (t) => {
  const box = await sandbox(t);
  const forward = await portForward(t, box, 8080);
  t.is(await getText(forward.localPort, '/'), DEMO_GREETING);
  const deleted = await kubectl(['delete', 'pod', 'demo', '--wait=false'], { kubeconfig: box.kubeconfig, env: { HOME: box.env['HOME'] ?? '' } });
  t.is(deleted.code, 0);
  t.is(await forward.exited, 1);
  t.regex(forward.stderr(), /error: lost connection to pod/);
  await released(box, 0);
});

/** One field of a Status body. */
function statusField(body: string, field: string): unknown {
  const parsed: unknown = JSON.parse(body);
  return typeof parsed === 'object' && parsed !== null ? Object.entries(parsed).find(([key]) => key === field)?.[1] : undefined;
}

/** A raw upgrade request to the demo pod's portforward, answered with its status and headers. */
function upgradeRequest(box: Sandbox, headers: Record<string, string>, method = 'GET', query = ''): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${box.api.url}/api/v1/namespaces/default/pods/demo/portforward${query}`, { method, headers, ca: box.api.caPem, agent: false });
    request.on('upgrade', (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: '' });
    });
    request.on('response', (response) => {
      void readAll(response).then((body) => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: body.toString('utf8') }), reject);
    });
    request.on('error', reject);
    request.end();
  });
}

test('the upgrade handshake: 401 without the token, the tunneling protocol in the 101, the refusals kubectl falls back on', async (t) => {
  const box = await sandbox(t);
  const websocket = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  const auth = { Authorization: `Bearer ${box.api.token}` };

  const anonymous = await upgradeRequest(box, { ...websocket, 'Sec-WebSocket-Protocol': 'SPDY/3.1+portforward.k8s.io' });
  t.is(anonymous.status, 401);
  t.is(statusField(anonymous.body, 'reason'), 'Unauthorized');

  const tunnel = await upgradeRequest(box, { ...websocket, ...auth, 'Sec-WebSocket-Protocol': 'SPDY/3.1+portforward.k8s.io' });
  t.is(tunnel.status, 101);
  t.is(tunnel.headers['sec-websocket-protocol'], 'SPDY/3.1+portforward.k8s.io');
  t.is(tunnel.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');

  // without a tunneling subprotocol the apiserver hands the WebSocket to the kubelet's channel protocol,
  // which needs the ports in the query and serves v4.channel.k8s.io, v4.base64.channel.k8s.io or none
  const noPorts = await upgradeRequest(box, { ...websocket, ...auth, 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' });
  t.is(noPorts.status, 400);
  t.is(noPorts.body, 'query parameter "port" is required\n');
  const noServedProtocol = await upgradeRequest(box, { ...websocket, ...auth, 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' }, 'GET', '?ports=8080');
  t.is(noServedProtocol.status, 403);
  const channels = await upgradeRequest(box, { ...websocket, ...auth, 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io, v4.channel.k8s.io' }, 'GET', '?ports=8080');
  t.is(channels.status, 101);
  t.is(channels.headers['sec-websocket-protocol'], 'v4.channel.k8s.io');

  const spdy = { ...auth, Connection: 'Upgrade', Upgrade: 'SPDY/3.1' };
  const wrongProtocol = await upgradeRequest(box, { ...spdy, 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' }, 'POST');
  t.is(wrongProtocol.status, 403);
  t.is(wrongProtocol.headers['x-accepted-stream-protocol-versions'], 'portforward.k8s.io');
  const notUpgraded = await upgradeRequest(box, auth, 'POST');
  t.is(notUpgraded.status, 400);
  t.is(statusField(notUpgraded.body, 'message'), 'Upgrade request required');
  const switched = await upgradeRequest(box, { ...spdy, 'X-Stream-Protocol-Version': 'portforward.k8s.io' }, 'POST');
  t.is(switched.status, 101);
  t.is(switched.headers['upgrade'], 'SPDY/3.1');
  t.is(switched.headers['x-stream-protocol-version'], 'portforward.k8s.io');
  await released(box, 0);
});
