// Response modes, compression, streaming and request bodies on the wire (PROTOCOL.md §9.8–§9.15, §10,
// §11; checklist C47–C54, C57, C58, C60–C66). Expected frames are taken apart by hand, not with the
// agent's own decoder.

import test, { type ExecutionContext } from 'ava';
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { startHarness, type Harness, type HarnessOptions } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import type { RecordedRequest } from '../helpers/fake-kube-api.js';
import type { ServerResponse } from 'node:http';

interface Session extends Harness {
  readonly socket: FakeSocket;
}

async function connected(t: ExecutionContext, options: HarnessOptions = {}): Promise<Session> {
  const harness = await startHarness(t, options);
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket };
}

function serve(session: Session, contentType: string, body: Buffer, extra: Record<string, string> = {}): void {
  session.kube.handler = (_request: RecordedRequest, response: ServerResponse) => {
    response.writeHead(200, { 'Content-Type': contentType, 'Content-Length': String(body.length), ...extra });
    response.end(body);
  };
}

/** §10.2 taken apart byte by byte. */
function splitResponseFrame(frame: Buffer): { id: string; status: number; headers: unknown; body: Buffer } {
  const idLength = frame.readUInt16BE(0);
  const id = frame.subarray(2, 2 + idLength).toString('utf8');
  const status = frame.readUInt32BE(2 + idLength);
  const headerLength = frame.readUInt32BE(2 + idLength + 4);
  const headerStart = 2 + idLength + 8;
  return {
    id,
    status,
    headers: JSON.parse(frame.subarray(headerStart, headerStart + headerLength).toString('utf8')),
    body: frame.subarray(headerStart + headerLength),
  };
}

const request = (socket: FakeSocket, id: string, payload: Record<string, unknown> = {}) =>
  socket.send({ type: 'proxy_request', request_id: id, payload: { method: 'GET', path: '/api/v1/things', ...payload } });

async function noMoreFor(session: Session, id: string): Promise<void> {
  session.socket.send({ type: 'ping', request_id: `after-${id}`, payload: {} });
  await session.socket.next('pong', 15_000, (m) => m.request_id === `after-${id}`);
  await eventually(() => session.agent.router.activeRequests === 0, 'request finished');
}

test('C47: a small body gives one proxy_response; an empty body has neither body nor encoding', async (t) => {
  const session = await connected(t);
  serve(session, 'application/json', Buffer.from('{"kind":"PodList","items":[]}'));
  request(session.socket, 'small');
  const small = await session.socket.next('proxy_response');
  t.is(small.payload['encoding'], 'base64');
  t.is(Buffer.from(small.payload['body'] as string, 'base64').toString(), '{"kind":"PodList","items":[]}');
  serve(session, 'application/json', Buffer.alloc(0));
  request(session.socket, 'empty');
  const empty = await session.socket.next('proxy_response');
  t.false('body' in empty.payload);
  t.false('encoding' in empty.payload);
  await noMoreFor(session, 'empty');
  t.is(session.socket.binaries.all.length, 0);
});

test('C48 C49: a 15 KiB text/html body is one binary frame (§10.2) with a smaller gzip body, and no JSON message', async (t) => {
  const session = await connected(t);
  const html = Buffer.from(`<html>${'<p>hello tunnel</p>'.repeat(900)}</html>`);
  t.true(html.length > 15 * 1024 && html.length < 20 * 1024);
  serve(session, 'text/html; charset=utf-8', html, { 'Audit-Id': 'x1' });
  request(session.socket, 'r-42');
  const frame = splitResponseFrame(await session.socket.nextBinary());
  t.is(frame.id, 'r-42');
  t.is(frame.status, 200);
  t.deepEqual((frame.headers as Record<string, string[]>)['Audit-Id'], ['x1']);
  t.deepEqual((frame.headers as Record<string, string[]>)['Content-Type'], ['text/html; charset=utf-8']);
  t.deepEqual([frame.body[0], frame.body[1]], [0x1f, 0x8b]);
  t.true(frame.body.length < html.length);
  t.deepEqual(gunzipSync(frame.body), html);
  await noMoreFor(session, 'r-42');
  t.is(session.socket.messages.all.filter((m) => m.request_id === 'r-42').length, 0);
});

test('C49: an incompressible or ineligible large body goes raw in the binary frame', async (t) => {
  const session = await connected(t);
  const noise = randomBytes(20_000);
  serve(session, 'application/octet-stream', noise);
  request(session.socket, 'raw');
  const frame = splitResponseFrame(await session.socket.nextBinary());
  t.deepEqual(frame.body, noise);
  const textNoise = Buffer.from(randomBytes(15_000).toString('latin1'), 'latin1');
  serve(session, 'text/plain', textNoise);
  request(session.socket, 'raw-text');
  const second = splitResponseFrame(await session.socket.nextBinary());
  t.true(second.body.length <= textNoise.length);
  t.deepEqual(second.body[0] === 0x1f && second.body[1] === 0x8b ? gunzipSync(second.body) : second.body, textNoise);
});

test('C50 C51: 2 KiB JSON is gzipped in proxy_response; small or image bodies are not', async (t) => {
  const session = await connected(t);
  const json = Buffer.from(JSON.stringify({ items: Array.from({ length: 60 }, (_, i) => ({ name: `pod-${i}`, phase: 'Running' })) }));
  t.true(json.length > 2048 && json.length < 10_240);
  serve(session, 'Application/JSON', json);
  request(session.socket, 'gz');
  const gz = await session.socket.next('proxy_response');
  t.is(gz.payload['encoding'], 'gzip');
  t.deepEqual(gunzipSync(Buffer.from(gz.payload['body'] as string, 'base64')), json);
  serve(session, 'application/json', json.subarray(0, 1000));
  request(session.socket, 'tiny');
  t.is((await session.socket.next('proxy_response')).payload['encoding'], 'base64');
  const png = Buffer.alloc(5000, 7);
  serve(session, 'image/png', png);
  request(session.socket, 'png');
  const image = await session.socket.next('proxy_response');
  t.is(image.payload['encoding'], 'base64');
  t.deepEqual(Buffer.from(image.payload['body'] as string, 'base64'), png);
});

test('C52: a body the API server already gzipped is not compressed again and never goes in a binary frame', async (t) => {
  const session = await connected(t);
  const { gzipSync } = await import('node:zlib');
  const compressed = gzipSync(randomBytes(30_000).toString('hex'));
  t.true(compressed.length > 10_240);
  serve(session, 'application/json', compressed, { 'Content-Encoding': 'gzip' });
  request(session.socket, 'pre');
  const response = await session.socket.next('proxy_response');
  t.is(response.payload['encoding'], 'base64');
  t.deepEqual(Buffer.from(response.payload['body'] as string, 'base64'), compressed);
  t.deepEqual((response.payload['headers'] as Record<string, string[]>)['Content-Encoding'], ['gzip']);
  t.is(session.socket.binaries.all.length, 0);
});

test('C53: streaming gives header, ordered chunks with sizes and exactly one end', async (t) => {
  const session = await connected(t);
  const parts = [Buffer.from('{"type":"ADDED"}\n'), randomBytes(300 * 1024), Buffer.from('{"type":"MODIFIED"}\n')];
  session.kube.handler = (_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    let index = 0;
    const next = (): void => {
      if (index === parts.length) {
        response.end();
        return;
      }
      response.write(parts[index++]!);
      setTimeout(next, 20);
    };
    next();
  };
  request(session.socket, 'w-9', { supports_response_streaming: true, query: 'watch=1' });
  const header = await session.socket.next('proxy_response_header');
  t.is(header.payload['status'], 200);
  t.deepEqual((header.payload['headers'] as Record<string, string[]>)['Content-Type'], ['application/json']);
  await session.socket.next('proxy_response_end', 10_000);
  const chunks = session.socket.messages.all.filter((m) => m.type === 'proxy_response_chunk' && m.request_id === 'w-9');
  const received = Buffer.concat(
    chunks.map((chunk) => {
      const data = Buffer.from(chunk.payload['data'] as string, 'base64');
      t.is(chunk.payload['encoding'], 'base64');
      t.is(chunk.payload['size'], data.length);
      t.true(data.length <= 256 * 1024);
      return data;
    }),
  );
  t.deepEqual(received, Buffer.concat(parts));
  await noMoreFor(session, 'w-9');
  t.is(session.socket.messages.all.filter((m) => m.type === 'proxy_response_end').length, 1);
  t.is(session.socket.binaries.all.length, 0, 'no binary frames in streaming mode');
});

test('C54: an upstream failure in streaming mode is proxy_response_abort without header and without end', async (t) => {
  const session = await connected(t);
  await session.kube.close();
  request(session.socket, 's-down', { supports_response_streaming: true });
  const abort = await session.socket.next('proxy_response_abort');
  t.regex(abort.payload['error'] as string, /^kubernetes API request failed: /);
  await noMoreFor(session, 's-down');
  t.deepEqual(
    session.socket.messages.all.filter((m) => m.request_id === 's-down').map((m) => m.type),
    ['proxy_response_abort'],
  );
});

test('C54: an upstream that breaks mid-stream ends with proxy_response_abort after the header', async (t) => {
  const session = await connected(t);
  session.kube.handler = (_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.write('partial line\n');
    setTimeout(() => response.socket?.destroy(), 50);
  };
  request(session.socket, 's-break', { supports_response_streaming: true });
  await session.socket.next('proxy_response_abort');
  const types = session.socket.messages.all.filter((m) => m.request_id === 's-break').map((m) => m.type);
  t.is(types[0], 'proxy_response_header');
  t.is(types.at(-1), 'proxy_response_abort');
  t.false(types.includes('proxy_response_end'));
});

test('C58: proxy_cancel mid-stream closes the upstream and ends with abort "canceled"', async (t) => {
  const session = await connected(t);
  let upstreamClosed = false;
  session.kube.handler = (_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.write('{"type":"ADDED"}\n');
    response.on('close', () => (upstreamClosed = true));
  };
  request(session.socket, 'watch-1', { supports_response_streaming: true, timeout: '1h' });
  await session.socket.next('proxy_response_chunk');
  session.socket.send({ type: 'proxy_cancel', request_id: 'watch-1', payload: {} });
  const abort = await session.socket.next('proxy_response_abort');
  t.deepEqual(abort.payload, { error: 'canceled' });
  await eventually(() => upstreamClosed, 'upstream connection closed');
  await noMoreFor(session, 'watch-1');
  t.is(session.socket.messages.all.filter((m) => m.type === 'proxy_response_end').length, 0);
});

test('C60 C61: binary bodies match by id in any position, two pending in reverse order', async (t) => {
  const session = await connected(t);
  session.kube.handler = (recorded, response) => {
    response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    response.end(Buffer.concat([Buffer.from(`${recorded.url}:`), recorded.body]));
  };
  request(session.socket, 'first', { method: 'PUT', path: '/api/v1/a', body_binary: true, body_size: 3 });
  request(session.socket, 'second', { method: 'PUT', path: '/api/v1/b', body_binary: true, body_size: 900 * 1024 });
  session.socket.send({ type: 'ping', request_id: 'between', payload: {} });
  const big = randomBytes(900 * 1024);
  session.socket.send(Buffer.concat([Buffer.from([0x00, 0x06]), Buffer.from('second'), big]), true);
  session.socket.send(Buffer.from([0x00, 0x02, 0x72, 0x31, 0x68, 0x69]), true); // unrelated id r1: dropped
  session.socket.send(Buffer.concat([Buffer.from([0x00, 0x05]), Buffer.from('first'), Buffer.from('abc')]), true);
  const bodies = new Map<string, Buffer>();
  const second = splitResponseFrame(await session.socket.nextBinary());
  t.is(second.id, 'second');
  bodies.set('second', second.body);
  const first = await session.socket.next('proxy_response', 15_000, (m) => m.request_id === 'first');
  bodies.set('first', Buffer.from(first.payload['body'] as string, 'base64'));
  t.deepEqual(bodies.get('first'), Buffer.from('/api/v1/a:abc'));
  t.deepEqual(bodies.get('second'), Buffer.concat([Buffer.from('/api/v1/b:'), big]));
  t.is(await session.agent.metrics.value('binaryBodyUnmatched'), 1);
});

test('C62: a pending binary body without its frame fails with "binary body not received"', async (t) => {
  const session = await connected(t, { workerTuning: { binaryBodyTimeoutMs: 300 } });
  request(session.socket, 'lonely', { method: 'POST', body_binary: true });
  const error = await session.socket.next('proxy_error');
  t.deepEqual(error.payload, { error: 'binary body not received' });
  await noMoreFor(session, 'lonely');
  t.is(session.kube.proxied().length, 0);
  session.socket.send(Buffer.concat([Buffer.from([0x00, 0x06]), Buffer.from('lonely'), Buffer.from('late')]), true);
  await noMoreFor(session, 'lonely-late');
  t.is(await session.agent.metrics.value('binaryBodyUnmatched'), 1);
});

test('C64: a streamed body is assembled from data/chunk in order and ended by proxy_request_stream_end', async (t) => {
  const session = await connected(t);
  session.kube.handler = (recorded, response) => {
    response.writeHead(201, { 'Content-Type': 'application/octet-stream' });
    response.end(recorded.body);
  };
  request(session.socket, 'up', { method: 'POST', use_streaming: true });
  const pieces = [Buffer.from('alpha-'), Buffer.from(''), randomBytes(100_000), Buffer.from('-omega')];
  pieces.forEach((piece, index) =>
    session.socket.send({
      type: 'proxy_request_chunk',
      request_id: 'up',
      payload: index % 2 === 0 ? { data: piece.toString('base64') } : { chunk: piece.toString('base64') },
    }),
  );
  session.socket.send({ type: 'proxy_request_stream_end', request_id: 'up', payload: {} });
  const frame = splitResponseFrame(await session.socket.nextBinary());
  t.is(frame.status, 201);
  t.deepEqual(frame.body, Buffer.concat(pieces));
  const upstream = session.kube.proxied().find((r) => r.method === 'POST')!;
  t.is(upstream.headers['transfer-encoding'], 'chunked');
});

test('C65: queue overflow and a chunk gap fail the request with proxy_error and abort the upstream call', async (t) => {
  const session = await connected(t, { workerTuning: { bodyQueueBytes: 4096, bodyStreamGapMs: 300 } });
  let closed = 0;
  session.kube.handler = (_recorded, response) => response.on('close', () => closed++);
  request(session.socket, 'flood', { method: 'POST', use_streaming: true });
  session.socket.send({ type: 'proxy_request_chunk', request_id: 'flood', payload: { data: randomBytes(8192).toString('base64') } });
  t.deepEqual((await session.socket.next('proxy_error')).payload, { error: 'request body stream overflow' });
  request(session.socket, 'gap', { method: 'POST', use_streaming: true });
  session.socket.send({ type: 'proxy_request_chunk', request_id: 'gap', payload: { data: 'aGk=' } });
  t.deepEqual((await session.socket.next('proxy_error', 15_000, (m) => m.request_id === 'gap')).payload, { error: 'request body stream timed out' });
  request(session.socket, 'bad', { method: 'POST', use_streaming: true });
  session.socket.send({ type: 'proxy_request_chunk', request_id: 'bad', payload: { data: '***' } });
  t.deepEqual((await session.socket.next('proxy_error', 15_000, (m) => m.request_id === 'bad')).payload, { error: 'invalid request body chunk' });
  await noMoreFor(session, 'bad');
});

test('C66: chunks for unknown or finished requests are dropped and counted', async (t) => {
  const session = await connected(t);
  session.socket.send({ type: 'proxy_request_chunk', request_id: 'ghost', payload: { data: 'aGk=' } });
  session.socket.send({ type: 'proxy_request_stream_end', request_id: 'ghost', payload: {} });
  serve(session, 'text/plain', Buffer.from('ok'));
  request(session.socket, 'done-already');
  await session.socket.next('proxy_response');
  await noMoreFor(session, 'done-already');
  session.socket.send({ type: 'proxy_request_chunk', request_id: 'done-already', payload: { data: 'aGk=' } });
  await noMoreFor(session, 'late');
  t.is(await session.agent.metrics.value('requestChunkUnknown'), 2);
  t.is(await session.agent.metrics.value('lateMessage'), 1);
});
