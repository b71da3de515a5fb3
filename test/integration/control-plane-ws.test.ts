// Local control plane, kubectl WebSocket sessions: the upgrade becomes proxy_websocket_start, frames are
// relayed both ways byte for byte, and every way a session can end reaches the other side exactly once.
// Frame data is built by hand ([type][payload] in base64), never with the shared codecs.

import test, { type ExecutionContext } from 'ava';
import { request } from 'node:http';
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import type { ControlPlane, SessionEvent } from '../../src/local/control-plane/control-plane-server.js';
import { connectedStack, framed, type ControlPlaneStack } from '../helpers/control-plane-stack.js';
import { eventually } from '../helpers/eventually.js';

const EXEC_PATH = '/api/v1/namespaces/default/pods/web-0/exec';
const EXEC_QUERY = 'command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&tty=false';

interface ClientMessage {
  readonly isBinary: boolean;
  readonly data: Buffer;
}

/** A kubectl stand-in: a real ws client recording what it receives. */
class Client {
  readonly ws: WebSocket;
  readonly messages: ClientMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(t: ExecutionContext, url: string, protocols: string[], options: ClientOptions = {}) {
    this.ws = new WebSocket(url, protocols, options);
    t.teardown(() => this.ws.terminate());
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
    this.ws.on('message', (data: RawData, isBinary: boolean) => this.messages.push({ isBinary, data: Buffer.from(data as Buffer) }));
    this.ws.on('error', () => undefined);
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode ?? 0}`)));
    });
  }
}

async function openSession(t: ExecutionContext, stack: ControlPlaneStack, options: ClientOptions = {}): Promise<Client> {
  const url = `${stack.cp.clusterUrl('edge-lab').replace(/^http/, 'ws')}${EXEC_PATH}?${EXEC_QUERY}`;
  const client = new Client(t, url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], options);
  await client.opened();
  await stack.agent.next('proxy_websocket_start');
  return client;
}

function sessionEvents(cp: ControlPlane, name: string): SessionEvent[] {
  const seen: SessionEvent[] = [];
  cp.events.on(name, (event: SessionEvent) => seen.push(event));
  return seen;
}

test('the upgrade becomes the exact proxy_websocket_start; the client gets its first subprotocol', async (t) => {
  const stack = await connectedStack(t);
  const started = sessionEvents(stack.cp, 'session-started');
  const url = `${stack.cp.clusterUrl('edge-lab').replace(/^http/, 'ws')}${EXEC_PATH}?${EXEC_QUERY}`;
  const client = new Client(t, url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], {
    // perMessageDeflate stays on (the ws default) so the client offers Sec-WebSocket-Extensions
    headers: { Authorization: 'Bearer client-token-must-not-pass', 'User-Agent': 'kubectl/v1.32.4', 'X-Trace': 'a', 'Proxy-Authorization': 'Basic eDp5' },
  });
  await client.opened();
  t.is(client.ws.protocol, 'v5.channel.k8s.io');
  t.is(client.ws.extensions, '');
  const start = await stack.agent.next('proxy_websocket_start');
  t.is(start.requestId, 'ws-1');
  t.deepEqual(start.payload, {
    stream_id: 'ws-1',
    method: 'GET',
    path: EXEC_PATH,
    query: EXEC_QUERY,
    headers: {
      'User-Agent': ['kubectl/v1.32.4'],
      'X-Trace': ['a'],
      'Sec-Websocket-Protocol': ['v5.channel.k8s.io,v4.channel.k8s.io'],
      Authorization: ['Bearer sa-token-1'],
    },
  });
  t.false('protocol' in start.payload);
  t.deepEqual(started, [{ cluster: 'edge-lab', streamId: 'ws-1' }]);
  t.is(stack.cp.cluster('edge-lab')?.activeSessions, 1);
});

test('frames keep their type and bytes both ways, including a leading 0x00 and the ws_data alias', async (t) => {
  const stack = await connectedStack(t);
  const client = await openSession(t, stack);
  const stdin = Buffer.from([0x00, 0x6c, 0x73, 0x0a]);
  client.ws.send(stdin, { binary: true });
  client.ws.send('héllo\n');
  client.ws.send(Buffer.alloc(0), { binary: true });
  const data = [];
  for (let i = 0; i < 3; i++) data.push(await stack.agent.next('proxy_websocket_data'));
  t.deepEqual(data.map((message) => message.requestId), ['ws-1', 'ws-1', 'ws-1']);
  t.deepEqual(data[0]!.payload, { stream_id: 'ws-1', data: framed(2, stdin) });
  t.deepEqual(data[1]!.payload, { stream_id: 'ws-1', data: framed(1, 'héllo\n') });
  t.deepEqual(data[2]!.payload, { stream_id: 'ws-1', data: 'Ag==' });

  const stdout = Buffer.from([0x01, 0x00, 0xff, 0x68, 0x69]);
  stack.agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: framed(2, stdout) }, 'ws-1');
  stack.agent.send('ws_data', { stream_id: 'ws-1', data: framed(1, 'plain text ✓') }, 'ws-1');
  // ping and pong frames are per hop and never reach the client
  stack.agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: framed(9, 'x') }, 'ws-1');
  stack.agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: Buffer.from([0x00]).toString('base64'), message_type: 2 }, 'ws-1');
  await eventually(() => client.messages.length === 3, 'three messages reach the client');
  t.deepEqual(client.messages, [
    { isBinary: true, data: stdout },
    { isBinary: false, data: Buffer.from('plain text ✓') },
    { isBinary: true, data: Buffer.from([0x00]) },
  ]);
});

test('1,000 small frames keep their order in both directions', async (t) => {
  const stack = await connectedStack(t);
  const client = await openSession(t, stack);
  for (let i = 0; i < 1000; i++) client.ws.send(Buffer.from(`\u0000${i}`), { binary: true });
  for (let i = 0; i < 1000; i++) stack.agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: framed(2, `\u0001${i}`) }, 'ws-1');
  for (let i = 0; i < 1000; i++) {
    const message = await stack.agent.next('proxy_websocket_data');
    t.is(message.payload['data'], framed(2, `\u0000${i}`));
  }
  await eventually(() => client.messages.length === 1000, 'all frames reach the client');
  t.true(client.messages.every((message, i) => message.isBinary && message.data.toString('utf8') === `\u0001${i}`));
});

test('an agent close closes the client with 1000 and sends nothing back', async (t) => {
  const stack = await connectedStack(t);
  const ended = sessionEvents(stack.cp, 'session-ended');
  const client = await openSession(t, stack);
  stack.agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: framed(2, 'last') }, 'ws-1');
  stack.agent.send('proxy_websocket_close', { stream_id: 'ws-1' }, 'ws-1');
  t.deepEqual(await client.closed, { code: 1000, reason: '' });
  t.deepEqual(client.messages, [{ isBinary: true, data: Buffer.from('last') }]);
  t.deepEqual(ended, [{ cluster: 'edge-lab', streamId: 'ws-1' }]);
  t.is(stack.cp.cluster('edge-lab')?.activeSessions, 0);
  // a second session (ws_close alias, close frame with a code) proves nothing was sent for the first
  const second = await openSession(t, stack);
  const closeFrame = Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('gone away')]);
  stack.agent.send('ws_data', { stream_id: 'ws-2', data: framed(8, closeFrame) }, 'ws-2');
  t.deepEqual(await second.closed, { code: 4000, reason: 'gone away' });
  t.is(stack.agent.countOf('proxy_websocket_close'), 0);
});

test('a client close sends exactly one proxy_websocket_close; the echo is ignored', async (t) => {
  const stack = await connectedStack(t);
  const ended = sessionEvents(stack.cp, 'session-ended');
  const client = await openSession(t, stack);
  client.ws.close(1000);
  const close = await stack.agent.next('proxy_websocket_close');
  t.is(close.requestId, 'ws-1');
  t.deepEqual(close.payload, { stream_id: 'ws-1' });
  await client.closed;
  stack.agent.send('proxy_websocket_close', { stream_id: 'ws-1' }, 'ws-1');
  stack.agent.send('proxy_websocket_data', { stream_id: 'ws-1', data: framed(2, 'late') }, 'ws-1');
  // a later session is the barrier: everything about ws-1 was handled before its start went out
  await openSession(t, stack);
  t.is(stack.agent.countOf('proxy_websocket_close'), 1);
  t.deepEqual(ended, [{ cluster: 'edge-lab', streamId: 'ws-1' }]);
});

test('proxy_error closes the client with 1011 and the error text, cut to 123 bytes', async (t) => {
  const stack = await connectedStack(t);
  const client = await openSession(t, stack);
  const error = 'failed to connect to K8s API: unexpected server response (status: 403)';
  stack.agent.send('proxy_error', { request_id: 'ws-1', error }, 'ws-1');
  t.deepEqual(await client.closed, { code: 1011, reason: error });

  const second = await openSession(t, stack);
  const long = `stream input queue overflow ${'é'.repeat(100)}`;
  // matched by the envelope request_id alone
  stack.agent.send('proxy_error', { error: long }, 'ws-2');
  const { code, reason } = await second.closed;
  t.is(code, 1011);
  t.true(long.startsWith(reason));
  t.true(Buffer.byteLength(reason) <= 123 && Buffer.byteLength(reason) >= 122);
  stack.agent.send('proxy_websocket_close', { stream_id: 'ws-2' }, 'ws-2');
  await openSession(t, stack);
  t.is(stack.agent.countOf('proxy_websocket_close'), 0);
});

test('when the agent socket drops, every session closes with 1011 agent disconnected', async (t) => {
  const stack = await connectedStack(t);
  const ended = sessionEvents(stack.cp, 'session-ended');
  const first = await openSession(t, stack);
  const second = await openSession(t, stack);
  t.is(stack.cp.cluster('edge-lab')?.activeSessions, 2);
  stack.agent.terminate();
  t.deepEqual(await first.closed, { code: 1011, reason: 'agent disconnected' });
  t.deepEqual(await second.closed, { code: 1011, reason: 'agent disconnected' });
  t.deepEqual(ended.map((event) => event.streamId).sort(), ['ws-1', 'ws-2']);
});

test('a SPDY upgrade gets a 400 Status that says how to get a WebSocket session', async (t) => {
  const { cp } = await connectedStack(t);
  const reply = await new Promise<{ status: number; contentType: string | undefined; body: string }>((resolve, reject) => {
    const req = request(`${cp.clusterUrl('edge-lab')}${EXEC_PATH}?${EXEC_QUERY}`, {
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('upgrade', () => reject(new Error('SPDY upgrade was accepted')));
    req.on('error', reject);
    req.end();
  });
  t.is(reply.status, 400);
  t.is(reply.contentType, 'application/json');
  t.deepEqual(JSON.parse(reply.body), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      'SPDY upgrades are not tunnelled by the local control plane; use kubectl >= 1.31 with WebSocket sessions (unset KUBECTL_REMOTE_COMMAND_WEBSOCKETS / KUBECTL_PORT_FORWARD_WEBSOCKETS)',
    reason: 'BadRequest',
    code: 400,
  });
});

test('WebSocket upgrades for an unknown or disconnected cluster are refused with a Status', async (t) => {
  const stack = await connectedStack(t);
  const base = stack.cp.url.replace(/^http/, 'ws');
  const unknown = new Client(t, `${base}/clusters/nope${EXEC_PATH}`, ['v5.channel.k8s.io']);
  await t.throwsAsync(unknown.opened(), { message: 'upgrade refused: 404' });
  await stack.agent.close();
  await eventually(() => stack.cp.cluster('edge-lab')?.isConnected === false, 'the cluster is disconnected');
  const offline = new Client(t, `${base}/clusters/edge-lab${EXEC_PATH}`, ['v5.channel.k8s.io']);
  await t.throwsAsync(offline.opened(), { message: 'upgrade refused: 503' });
});
