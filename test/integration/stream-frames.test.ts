// Binary stream frames, the project's negotiated extension (docs/protocol.md): a control plane that never
// sends `stream_frames_hello` sees exactly today's JSON; one that opts in gets an ack, then streaming
// chunks (deflated with one context per stream, each decodable on arrival) and session data as frames,
// while every terminal reply stays JSON. Bad frames from the control plane are counted, never fatal.

import test, { type ExecutionContext } from 'ava';
import { constants, createInflateRaw } from 'node:zlib';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import { FakeKubeWsApi, type FakeWsSession } from '../helpers/fake-kube-ws-api.js';
import type { FakeKubeApi } from '../helpers/fake-kube-api.js';
import { StreamFrameKind, encodeWsDataFrame, readStreamFrameHeader, streamFrameId } from '../../src/protocol/stream-frame.js';
import { Connection } from '../../src/link/connection.js';

// Stands in for the yamux work, which makes Connection.isYamuxActive true once a yamux session exists: here
// it is true for the sockets of the control planes whose port a test puts in this set.
const yamuxPlanePorts = new Set<string>();
Object.defineProperty(Connection.prototype, 'isYamuxActive', {
  configurable: true,
  get(this: Connection): boolean {
    return yamuxPlanePorts.has(new URL(this.url).port);
  },
});

interface Stack extends Harness {
  readonly socket: FakeSocket;
}

async function connected(t: ExecutionContext, workers: number, kubeconfig?: string): Promise<Stack> {
  const harness = await startHarness(t, { config: { workers, ...(kubeconfig === undefined ? {} : { kubeconfig }) } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket };
}

async function optIn(socket: FakeSocket): Promise<void> {
  socket.send({ type: 'stream_frames_hello', payload: { versions: [1] } });
  const ack = await socket.next('stream_frames_ack');
  if (ack.payload['version'] !== 1 || ack.request_id !== undefined) throw new Error(`unexpected ack ${JSON.stringify(ack)}`);
}

const EVENTS = Array.from({ length: 6 }, (_, i) =>
  Buffer.from(`${JSON.stringify({ type: 'MODIFIED', object: { kind: 'Pod', metadata: { name: 'web-0', namespace: 'default', resourceVersion: String(1000 + i), labels: { app: 'web' } }, status: { phase: 'Running', podIP: '10.42.0.7', ready: i % 2 === 0 } } })}\n`),
);

/** A watch whose events the test releases one at a time: each must reach the control plane before the next exists. */
function serveWatch(kube: FakeKubeApi, contentType: string): { readonly next: () => void } {
  let release: (() => void) | undefined;
  kube.handler = (_request, response) => {
    response.writeHead(200, { 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' });
    response.flushHeaders();
    let index = 0;
    release = () => {
      if (index < EVENTS.length) response.write(EVENTS[index++]);
      else response.end();
    };
  };
  return { next: () => release?.() };
}

function watchRequest(socket: FakeSocket, id: string): void {
  socket.send({ type: 'proxy_request', request_id: id, payload: { method: 'GET', path: '/api/v1/pods', query: 'watch=true', supports_response_streaming: true, timeout: 60_000 } });
}

for (const workers of [0, 2]) {
  test(`without stream_frames_hello a watch and its end travel as JSON only, no binary frame (workers=${workers})`, async (t) => {
    const stack = await connected(t, workers);
    const watch = serveWatch(stack.kube, 'application/json');
    watchRequest(stack.socket, 'w-1');
    await stack.socket.next('proxy_response_header');
    await eventually(() => stack.kube.proxied().length === 1, 'the watch reached the API server');
    for (const event of EVENTS) {
      watch.next();
      const chunk = await stack.socket.next('proxy_response_chunk');
      t.deepEqual(Buffer.from(chunk.payload['data'] as string, 'base64'), event);
    }
    watch.next();
    await stack.socket.next('proxy_response_end');
    t.is(stack.socket.binaries.pending.length, 0);
    t.is(stack.socket.messages.all.filter((m) => m.type === 'stream_frames_ack').length, 0);
  });

  test(`opted in: watch events arrive as deflated frames, each decodable on arrival with one context; the end is JSON (workers=${workers})`, async (t) => {
    const stack = await connected(t, workers);
    await optIn(stack.socket);
    const watch = serveWatch(stack.kube, 'application/json');
    watchRequest(stack.socket, 'w-2');
    await stack.socket.next('proxy_response_header');
    await eventually(() => stack.kube.proxied().length === 1, 'the watch reached the API server');
    const inflater = createInflateRaw();
    let inflated: Buffer[] = [];
    inflater.on('data', (bytes: Buffer) => inflated.push(bytes));
    let wire = 0;
    for (const [index, event] of EVENTS.entries()) {
      watch.next();
      const frame = await stack.socket.nextBinary();
      const header = readStreamFrameHeader(frame)!;
      t.is(header.streamId, 'w-2');
      t.is(header.kind, index === 0 ? StreamFrameKind.deflatedChunkStart : StreamFrameKind.deflatedChunk);
      wire += frame.length;
      // the event is whole after this one frame: the agent flushed at the chunk boundary
      await new Promise<void>((resolve) => {
        inflater.write(frame.subarray(header.payloadOffset));
        inflater.flush(constants.Z_SYNC_FLUSH, () => resolve());
      });
      t.deepEqual(Buffer.concat(inflated), event);
      inflated = [];
    }
    t.true(wire < EVENTS.reduce((sum, event) => sum + event.length, 0) / 2, `${wire} bytes on the wire`);
    watch.next();
    await stack.socket.next('proxy_response_end');
    t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_response_chunk').length, 0);
    t.is(await stack.agent.metrics.value('streamFrames', { direction: 'out' }), EVENTS.length);
  });
}

test('opted in: a body that §11 does not allow to compress goes as raw chunk frames', async (t) => {
  const stack = await connected(t, 0);
  await optIn(stack.socket);
  const watch = serveWatch(stack.kube, 'application/octet-stream');
  watchRequest(stack.socket, 'raw-1');
  await stack.socket.next('proxy_response_header');
  await eventually(() => stack.kube.proxied().length === 1, 'the request reached the API server');
  watch.next();
  const frame = await stack.socket.nextBinary();
  const header = readStreamFrameHeader(frame)!;
  t.is(header.kind, StreamFrameKind.chunk);
  t.deepEqual(frame.subarray(header.payloadOffset), EVENTS[0]);
});

test('a hello without version 1 gets no ack and the socket stays JSON-only', async (t) => {
  const stack = await connected(t, 0);
  stack.socket.send({ type: 'stream_frames_hello', payload: { versions: [2] } });
  stack.socket.send({ type: 'stream_frames_hello', payload: {} });
  // a frame that would be a stream frame had the hello been accepted is malformed (§4.3 d)
  stack.socket.send(Buffer.from(encodeWsDataFrame(streamFrameId('x')!, 2, Buffer.from('hi'))), true);
  stack.socket.send({ type: 'ping', request_id: 'after', payload: {} });
  await stack.socket.next('pong', 15_000, (m) => m.request_id === 'after');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'stream_frames_ack' || m.type === 'protocol_fallback').length, 0);
  t.is(await stack.agent.metrics.value('binaryFrameMalformed'), 1);
});

const EXEC_PATH = '/api/v1/namespaces/default/pods/web-0/exec';

async function sessionStack(t: ExecutionContext, workers: number): Promise<Stack & { readonly api: FakeKubeWsApi }> {
  const api = await FakeKubeWsApi.start();
  t.teardown(() => api.close());
  const stack = await connected(t, workers, api.kubeconfigPath);
  return { ...stack, api };
}

function startSession(socket: FakeSocket, streamId: string): void {
  socket.send({
    type: 'proxy_websocket_start',
    request_id: streamId,
    payload: { stream_id: streamId, method: 'GET', path: EXEC_PATH, query: 'command=sh&stdin=true&stdout=true', headers: { 'Sec-WebSocket-Protocol': ['v5.channel.k8s.io'] } },
  });
}

async function firstSession(api: FakeKubeWsApi): Promise<FakeWsSession> {
  await eventually(() => api.sessions.length > 0, 'the API server accepted the session');
  return api.sessions[0]!;
}

for (const workers of [0, 2]) {
  test(`opted in: session data travels as frames both ways; garbage and unknown streams are counted, the close stays JSON (workers=${workers})`, async (t) => {
    const stack = await sessionStack(t, workers);
    await optIn(stack.socket);
    startSession(stack.socket, 's-1');
    const id = streamFrameId('s-1')!;
    stack.socket.send(Buffer.from(encodeWsDataFrame(id, 2, Buffer.from([0x00, 0x6c, 0x73, 0x0a]))), true);
    const session = await firstSession(stack.api);
    await eventually(() => session.received.length === 1, 'stdin reached the API server');
    t.deepEqual(session.received[0]!.data, Buffer.from([0x00, 0x6c, 0x73, 0x0a]));
    t.true(session.received[0]!.isBinary);

    session.socket.send(Buffer.from([0x01, ...Buffer.from('out\n')]));
    const frame = await stack.socket.nextBinary();
    const header = readStreamFrameHeader(frame)!;
    t.deepEqual({ kind: header.kind, streamId: header.streamId }, { kind: StreamFrameKind.wsData, streamId: 's-1' });
    t.deepEqual(frame.subarray(header.payloadOffset), Buffer.from([0x02, 0x01, ...Buffer.from('out\n')]));

    // truncated, unknown kind, agent-only kind, invalid UTF-8 id: malformed; a well-formed frame for no stream: unknown stream
    const whole = Buffer.from(encodeWsDataFrame(id, 2, Buffer.from('x')));
    stack.socket.send(whole.subarray(0, 5), true);
    stack.socket.send(Buffer.from([0x00, 0x00, 0x01, 0x09, 0x00, 0x01, 0x41]), true);
    stack.socket.send(Buffer.from([0x00, 0x00, 0x01, StreamFrameKind.chunk, 0x00, 0x01, 0x41, 0x42]), true);
    stack.socket.send(Buffer.from([0x00, 0x00, 0x01, StreamFrameKind.wsData, 0x00, 0x01, 0xff, 0x02]), true);
    stack.socket.send(Buffer.from(encodeWsDataFrame(streamFrameId('ghost')!, 2, Buffer.from('x'))), true);
    stack.socket.send({ type: 'ping', request_id: 'alive', payload: {} });
    await stack.socket.next('pong', 15_000, (m) => m.request_id === 'alive');
    t.is(await stack.agent.metrics.value('binaryFrameMalformed'), 4);
    t.is(await stack.agent.metrics.value('wsDataUnknownStream'), 1);
    t.is(await stack.agent.metrics.value('streamFrames', { direction: 'in' }), 1);
    t.is(session.received.length, 1);

    session.socket.close(1000);
    const closed = await stack.socket.next('proxy_websocket_close');
    t.deepEqual(closed.payload, { stream_id: 's-1' });
    await eventually(() => stack.agent.router.activeSessions === 0, 'the session ended');
    t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_websocket_data').length, 0);
  });
}

test('once yamux is active, stream data is JSON again: a deflated chunk in flight keeps its bytes as encoding "deflate", later ones are base64', async (t) => {
  const stack = await connected(t, 2);
  await optIn(stack.socket);
  const watch = serveWatch(stack.kube, 'application/json');
  watchRequest(stack.socket, 'w-y');
  await stack.socket.next('proxy_response_header');
  await eventually(() => stack.kube.proxied().length === 1, 'the watch reached the API server');
  let inflater = createInflateRaw();
  let output: Buffer[] = [];
  const inflate = (bytes: Buffer, isStart: boolean): Promise<Buffer> => {
    if (isStart) inflater = createInflateRaw();
    inflater.on('data', (chunk: Buffer) => output.push(chunk));
    return new Promise((resolve) => {
      inflater.write(bytes);
      inflater.flush(constants.Z_SYNC_FLUSH, () => {
        inflater.removeAllListeners('data');
        resolve(Buffer.concat(output));
        output = [];
      });
    });
  };
  watch.next();
  const first = await stack.socket.nextBinary();
  const header = readStreamFrameHeader(first)!;
  t.is(header.kind, StreamFrameKind.deflatedChunkStart);
  t.deepEqual(await inflate(first.subarray(header.payloadOffset), true), EVENTS[0]);

  yamuxPlanePorts.add(new URL(stack.plane.url).port);
  t.teardown(() => yamuxPlanePorts.delete(new URL(stack.plane.url).port));
  const encodings: string[] = [];
  for (const event of EVENTS.slice(1)) {
    watch.next();
    const chunk = await stack.socket.next('proxy_response_chunk');
    const bytes = Buffer.from(chunk.payload['data'] as string, 'base64');
    const encoding = chunk.payload['encoding'] as string;
    encodings.push(encoding);
    t.deepEqual(encoding === 'deflate' ? await inflate(bytes, chunk.payload['deflate_start'] === true) : bytes, event);
  }
  // the actor had compressed the first chunk after the switch before it learned of it; the rest are plain
  t.deepEqual(encodings, ['deflate', 'base64', 'base64', 'base64', 'base64']);
  watch.next();
  await stack.socket.next('proxy_response_end');
  t.is(stack.socket.binaries.pending.length, 0);
  // and a hello while yamux is active is not acknowledged
  stack.socket.send({ type: 'stream_frames_hello', payload: { versions: [1] } });
  stack.socket.send({ type: 'ping', request_id: 'y', payload: {} });
  await stack.socket.next('pong', 15_000, (m) => m.request_id === 'y');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'stream_frames_ack').length, 1);
});

test('opted in: proxy_cancel mid-watch ends it with one proxy_response_abort "canceled", and no frame follows it', async (t) => {
  const stack = await connected(t, 0);
  await optIn(stack.socket);
  const watch = serveWatch(stack.kube, 'application/json');
  watchRequest(stack.socket, 'w-c');
  await stack.socket.next('proxy_response_header');
  await eventually(() => stack.kube.proxied().length === 1, 'the watch reached the API server');
  watch.next();
  await stack.socket.nextBinary();
  watch.next(); // in flight while the cancel arrives
  stack.socket.send({ type: 'proxy_cancel', request_id: 'w-c', payload: {} });
  const abort = await stack.socket.next('proxy_response_abort');
  t.deepEqual(abort.payload, { error: 'canceled' });
  const framesAtAbort = stack.socket.binaries.all.length;
  await eventually(() => stack.agent.router.activeRequests === 0 && stack.agent.host.activeActors === 0, 'the watch ended');
  stack.socket.send({ type: 'ping', request_id: 'c', payload: {} });
  await stack.socket.next('pong', 15_000, (m) => m.request_id === 'c');
  t.is(stack.socket.binaries.all.length, framesAtAbort, 'nothing after the terminal reply');
  t.is(stack.socket.messages.all.filter((m) => m.type === 'proxy_response_abort' || m.type === 'proxy_response_end').length, 1);
});
