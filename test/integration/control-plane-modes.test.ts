// Local control plane wire modes: how request bodies (and response streaming) are asked of the agent
// in binary and streaming mode, plus the raw frames tests can push at an agent.

import test, { type ExecutionContext } from 'ava';
import { request } from 'node:http';
import { startControlPlane, WireMode, type ControlPlane, type ControlPlaneOptions } from '../../src/local/control-plane/control-plane-server.js';
import { DEFAULT_AGENT_TOKEN, ScriptedAgent } from '../helpers/scripted-agent.js';

async function connectedStack(t: ExecutionContext, options: ControlPlaneOptions): Promise<{ cp: ControlPlane; agent: ScriptedAgent }> {
  const cp = await startControlPlane({ agentToken: DEFAULT_AGENT_TOKEN, ...options });
  t.teardown(() => cp.close());
  const agent = await ScriptedAgent.connect({ url: cp.url });
  t.teardown(() => agent.terminate());
  await agent.register('edge-lab');
  await cp.waitForCluster('edge-lab', 2000);
  return { cp, agent };
}

function post(url: string, chunks: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

test('binary mode: the body follows the proxy_request as a request-body frame', async (t) => {
  const { cp, agent } = await connectedStack(t, { mode: WireMode.binary });
  const body = Buffer.from('hi there');
  const pending = post(`${cp.clusterUrl('edge-lab')}/api/v1/namespaces/a/configmaps`, [body]);
  const message = await agent.next('proxy_request');
  t.is(message.requestId, 'cp-1');
  t.is(message.payload['body_binary'], true);
  t.is(message.payload['body_size'], body.length);
  t.is(message.payload['body'], undefined);
  const frame = await agent.nextFrame((candidate) => candidate.isBinary);
  // | 00 04 | "cp-1" | body |
  t.deepEqual(frame.data, Buffer.concat([Buffer.from([0x00, 0x04]), Buffer.from('cp-1'), body]));
  agent.send('proxy_response', { status: 201, headers: null }, 'cp-1');
  t.is(await pending, 201);
});

test('streaming mode: responses are asked for as a stream and the body arrives in chunks', async (t) => {
  const { cp, agent } = await connectedStack(t, { mode: WireMode.streaming });
  const pending = post(`${cp.clusterUrl('edge-lab')}/api/v1/namespaces/a/configmaps`, [Buffer.from('part-1;')]);
  const message = await agent.next('proxy_request');
  t.is(message.payload['supports_response_streaming'], true);
  t.is(message.payload['use_streaming'], true);
  t.is(message.payload['body'], undefined);
  const chunks: string[] = [];
  for (;;) {
    const frame = await agent.nextFrame((candidate) => candidate.envelope !== undefined);
    const envelope = frame.envelope!;
    t.is(envelope.requestId, message.requestId);
    if (envelope.type === 'proxy_request_stream_end') break;
    t.is(envelope.type, 'proxy_request_chunk');
    chunks.push(Buffer.from(String(envelope.payload['data']), 'base64').toString('utf8'));
  }
  t.is(chunks.join(''), 'part-1;');
  agent.send('proxy_response_header', { status: 200, headers: null }, message.requestId);
  agent.send('proxy_response_end', {}, message.requestId);
  t.is(await pending, 200);

  // without a body there is no body stream, only the response-streaming request
  const get = post(`${cp.clusterUrl('edge-lab')}/api/v1/pods`, []);
  const plain = await agent.next('proxy_request');
  t.is(plain.payload['use_streaming'], undefined);
  t.is(plain.payload['supports_response_streaming'], true);
  agent.send('proxy_response_header', { status: 200, headers: null }, plain.requestId);
  agent.send('proxy_response_end', {}, plain.requestId);
  t.is(await get, 200);
});

test('sendToAgent pushes raw frames; agent messages are reported as events', async (t) => {
  const { cp, agent } = await connectedStack(t, {});
  const seen: string[] = [];
  cp.events.on('agent-message', (event: { cluster: string | undefined; type: string }) => seen.push(`${event.cluster ?? '-'}:${event.type}`));
  const binaries: number[] = [];
  cp.events.on('agent-binary', (event: { data: Uint8Array }) => binaries.push(event.data.length));
  cp.sendToAgent('edge-lab', '{"type":"gateway_hello","payload":{"use_yamux":true}}');
  cp.sendToAgent('edge-lab', new Uint8Array([0, 1, 0x41]), true);
  t.is((await agent.next('gateway_hello')).payload['use_yamux'], true);
  t.deepEqual((await agent.nextFrame((frame) => frame.isBinary)).data, Buffer.from([0, 1, 0x41]));
  agent.send('pong', { timestamp: 'now' }, 'p-1');
  agent.sendRaw(Buffer.from('{"type":"protocol_fallback","payload":{}}'), true);
  agent.sendRaw(Buffer.from([9, 9, 9]), true);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(seen, ['edge-lab:pong', 'edge-lab:protocol_fallback']);
  t.deepEqual(binaries, [41, 3]);
  t.throws(() => cp.sendToAgent('other', 'x'), { message: 'cluster "other" is not connected' });
});

test('invalid options are refused at start with a message naming them', async (t) => {
  await t.throwsAsync(startControlPlane({ port: 70000, mode: 'fast' as WireMode }), {
    message: 'invalid control plane options: port must be an integer from 0 to 65535 (got 70000); mode must be one of legacy, binary, streaming (got "fast")',
  });
});
