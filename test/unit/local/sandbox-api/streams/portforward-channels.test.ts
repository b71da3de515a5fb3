// Port-forward over the plain WebSocket channel protocol (the kubelet's websocket.go, which
// kube-apiserver reaches for a WebSocket without SPDY tunneling), on the wire with a raw client: the
// port as a little-endian uint16 first on the data and the error channel of each port, bytes both ways
// on channel 2i, two ports on one connection, the base64 text variant, the kubelet's message for a port
// nothing listens on, the normal close once every port's connection has ended, and nothing left behind.

import test, { type ExecutionContext } from 'ava';
import WebSocket from 'ws';
import { DEMO_GREETING } from '../../../../../src/local/sandbox-api/streams/portforward/demo-pod-server.js';
import { portForwardStats } from '../../../../../src/local/sandbox-api/streams/portforward/port-forward-handler.js';
import { startSandboxApi, type SandboxApi } from '../../../../../src/local/sandbox-api/sandbox-server.js';
import { eventually } from '../../../../helpers/eventually.js';

const PORTFORWARD = '/api/v1/namespaces/default/pods/demo/portforward';
const GET_AND_CLOSE = 'GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n';

async function sandbox(t: ExecutionContext): Promise<SandboxApi> {
  const api = await startSandboxApi({ port: 0 });
  t.teardown(() => api.close());
  return api;
}

interface ChannelClient {
  readonly ws: WebSocket;
  readonly protocol: string;
  /** every message until the server closed: [channel, payload] */
  readonly done: Promise<{ messages: [number, Buffer][]; code: number }>;
}

function connectChannels(api: SandboxApi, query: string, protocols: string[]): Promise<ChannelClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${api.url.replace('https', 'wss')}${PORTFORWARD}?${query}`, protocols, { ca: api.caPem, headers: { Authorization: `Bearer ${api.token}` } });
    const messages: [number, Buffer][] = [];
    const done = new Promise<{ messages: [number, Buffer][]; code: number }>((resolveDone) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) messages.push([data[0] ?? -1, data.subarray(1)]);
        else messages.push([(data[0] ?? 0) - 0x30, Buffer.from(data.subarray(1).toString('latin1'), 'base64')]);
      });
      ws.once('close', (code) => resolveDone({ messages, code }));
    });
    ws.once('open', () => resolve({ ws, protocol: ws.protocol, done }));
    ws.once('error', reject);
  });
}

function channelBytes(messages: readonly [number, Buffer][], channel: number): Buffer[] {
  return messages.filter(([candidate]) => candidate === channel).map(([, payload]) => payload);
}

function port(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16LE(value);
  return bytes;
}

async function idle(api: SandboxApi): Promise<void> {
  await eventually(() => {
    const stats = portForwardStats(api.store);
    return stats !== undefined && stats.connections === 0 && stats.relays === 0 && stats.sockets === 0;
  }, 'no port-forward connection, relay or socket is left');
}

test('v4.channel.k8s.io: the port prefix on both channels, an HTTP exchange on channel 0, a normal close', async (t) => {
  const api = await sandbox(t);
  const client = await connectChannels(api, 'ports=8080', ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
  t.is(client.protocol, 'v4.channel.k8s.io');
  client.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(GET_AND_CLOSE)]));
  const { messages, code } = await client.done;
  t.is(code, 1000);
  const data = channelBytes(messages, 0);
  t.deepEqual(data[0], port(8080));
  t.deepEqual(channelBytes(messages, 1), [port(8080)], 'the error channel carries only the port: no failure');
  const response = Buffer.concat(data.slice(1)).toString('utf8');
  t.regex(response, /^HTTP\/1\.1 200 OK\r\n/);
  t.true(response.endsWith(`\r\n\r\n${DEMO_GREETING}`));
  await idle(api);
});

test('two ports on one connection, the base64 text variant, and the kubelet message for a closed port', async (t) => {
  const api = await sandbox(t);
  const client = await connectChannels(api, 'ports=8080,9999', ['v4.base64.channel.k8s.io']);
  t.is(client.protocol, 'v4.base64.channel.k8s.io');
  client.ws.send(`0${Buffer.from(GET_AND_CLOSE).toString('base64')}`);
  const { messages, code } = await client.done;
  t.is(code, 1000);
  t.deepEqual(channelBytes(messages, 0)[0], port(8080));
  t.deepEqual(channelBytes(messages, 1), [port(8080)]);
  t.regex(Buffer.concat(channelBytes(messages, 0).slice(1)).toString('utf8'), /hello from the sandbox demo pod/);
  t.deepEqual(channelBytes(messages, 2), [port(9999)], 'nothing comes on the data channel of a closed port but its prefix');
  const errors = channelBytes(messages, 3);
  t.deepEqual(errors[0], port(9999));
  t.regex(Buffer.concat(errors.slice(1)).toString('utf8'), /^error forwarding port 9999 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace .*connect: connection refused/);
  await idle(api);
});

test('no subprotocol offered: binary channels as wsstream does for ""; closing the WebSocket ends the forward', async (t) => {
  const api = await sandbox(t);
  const client = await connectChannels(api, 'ports=8080', []);
  t.is(client.protocol, '');
  // an open HTTP connection: the forward lasts until the client goes away
  client.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.1\r\nHost: demo\r\n\r\n')]));
  await eventually(() => (portForwardStats(api.store)?.sockets ?? 0) === 1, 'the pod port is connected');
  client.ws.close(1000);
  await client.done;
  await idle(api);
});
