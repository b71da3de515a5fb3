// Request bodies streamed as proxy_request_chunk (PROTOCOL.md §9.15; checklist C64, C65): the upstream call
// starts with the proxy_request, before any chunk, and a chunk whose JSON breaks deeper in the message than
// the router's peek reads fails the request instead of vanishing.

import test, { type ExecutionContext } from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startHarness, type Harness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';
import type { FakeSocket } from '../helpers/fake-control-plane.js';
import type { WorkerTuning } from '../../src/config/agent-config.js';

interface Stack extends Harness {
  readonly socket: FakeSocket;
  readonly port: number;
  /** Requests whose head the service has seen, body or not. */
  readonly heads: http.IncomingMessage[];
  /** Requests whose connection has closed. */
  readonly closed: http.IncomingMessage[];
}

/** A loopback service that records each request head on arrival and echoes the body once it ends. */
async function stack(t: ExecutionContext, tuning: Partial<WorkerTuning> = {}): Promise<Stack> {
  const heads: http.IncomingMessage[] = [];
  const closed: http.IncomingMessage[] = [];
  const server = http.createServer((request, response) => {
    heads.push(request);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.socket.on('close', () => closed.push(request));
    request.on('end', () => {
      response.writeHead(201, { 'Content-Type': 'application/octet-stream' });
      response.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const harness = await startHarness(t, { workerTuning: { hostAliases: { 'web.apps.svc.cluster.local': '127.0.0.1' }, ...tuning } });
  const socket = await harness.plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  return { ...harness, socket, port, heads, closed };
}

function streamedRequest(s: Stack, id: string): void {
  s.socket.send({
    type: 'proxy_request',
    request_id: id,
    payload: { method: 'POST', path: '/upload', use_streaming: true, service_name: 'web', namespace: 'apps', service_port: s.port },
  });
}

test('§9.15: with use_streaming the upstream sees the request head before the first chunk is sent', async (t) => {
  const s = await stack(t);
  streamedRequest(s, 'early');
  await eventually(() => s.heads.length === 1, 'the request head at the service before any chunk');
  t.is(s.heads[0]!.method, 'POST');
  t.is(s.heads[0]!.headers['transfer-encoding'], 'chunked');
  s.socket.send({ type: 'proxy_request_chunk', request_id: 'early', payload: { data: Buffer.from('late body').toString('base64') } });
  s.socket.send({ type: 'proxy_request_stream_end', request_id: 'early', payload: {} });
  const response = await s.socket.next('proxy_response', 15_000, (m) => m.request_id === 'early');
  t.is(response.payload['status'], 201);
  t.is(Buffer.from(response.payload['body'] as string, 'base64').toString(), 'late body');
});

const brokenDeeper: [string, string][] = [
  ['an array with a hole', '{"type":"proxy_request_chunk","request_id":"broken","payload":{"data":"aGk=","extra":[1,,2]}}'],
  ['an invalid escape', '{"type":"proxy_request_chunk","request_id":"broken","payload":{"data":"aG\\qk="}}'],
  ['a broken stream end', '{"type":"proxy_request_stream_end","request_id":"broken","payload":{"x":[,]}}'],
];

for (const [what, frame] of brokenDeeper) {
  test(`§9.15: a body chunk whose JSON is invalid past the peek (${what}) fails the request with "invalid request body chunk"`, async (t) => {
    const s = await stack(t);
    streamedRequest(s, 'broken');
    s.socket.send({ type: 'proxy_request_chunk', request_id: 'broken', payload: { data: Buffer.from('first').toString('base64') } });
    await eventually(() => s.heads.length === 1, 'the upstream call under way');
    s.socket.send(frame);
    const error = await s.socket.next('proxy_error', 15_000, (m) => m.request_id === 'broken');
    t.deepEqual(error.payload, { error: 'invalid request body chunk' });
    await eventually(() => s.agent.router.activeRequests === 0, 'request finished');
    await eventually(() => s.closed.length === 1, 'the upstream call aborted');
    t.deepEqual(
      s.socket.messages.all.filter((m) => m.request_id === 'broken').map((m) => m.type),
      ['proxy_error'],
    );
  });
}

test('C65: queue overflow and a chunk gap each end the request with proxy_error and close the upstream call already under way', async (t) => {
  const s = await stack(t, { bodyQueueBytes: 4096, bodyStreamGapMs: 300 });
  streamedRequest(s, 'flood');
  await eventually(() => s.heads.length === 1, 'the first call under way');
  s.socket.send({ type: 'proxy_request_chunk', request_id: 'flood', payload: { data: Buffer.alloc(8192, 1).toString('base64') } });
  t.deepEqual((await s.socket.next('proxy_error', 15_000, (m) => m.request_id === 'flood')).payload, { error: 'request body stream overflow' });
  await eventually(() => s.closed.includes(s.heads[0]!), 'the first call closed');
  streamedRequest(s, 'gap');
  await eventually(() => s.heads.length === 2, 'the second call under way');
  t.deepEqual((await s.socket.next('proxy_error', 15_000, (m) => m.request_id === 'gap')).payload, { error: 'request body stream timed out' });
  await eventually(() => s.closed.includes(s.heads[1]!), 'the second call closed');
  t.deepEqual(
    s.socket.messages.all.filter((m) => m.request_id === 'flood' || m.request_id === 'gap').map((m) => m.type),
    ['proxy_error', 'proxy_error'],
  );
});
