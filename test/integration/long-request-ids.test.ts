// Request ids longer than the 16-bit id length of the binary frames (PROTOCOL.md §9.3, §9.8, §10; checklist
// C41, C48): a large buffered response goes out as JSON, and body_binary is refused at once as malformed
// (a request-body frame could never name the request).

import test from 'ava';
import { startHarness } from '../helpers/agent-harness.js';
import { eventually } from '../helpers/eventually.js';

const LONG_ID = `r-${'é'.repeat(32_767)}`; // 65,536 UTF-8 bytes, 32,769 characters

test('C48: a 15 KiB body for a request id over 65,535 UTF-8 bytes is one JSON proxy_response, never a binary frame', async (t) => {
  t.is(Buffer.byteLength(LONG_ID, 'utf8'), 65_536);
  const { plane, kube, agent } = await startHarness(t);
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  const html = Buffer.from(`<html>${'<p>hello tunnel</p>'.repeat(900)}</html>`);
  kube.handler = (_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': String(html.length) });
    response.end(html);
  };
  socket.send({ type: 'proxy_request', request_id: LONG_ID, payload: { method: 'GET', path: '/api/v1/page' } });
  const response = await socket.next('proxy_response', 15_000, (m) => m.request_id === LONG_ID);
  t.is(response.payload['status'], 200);
  t.is(response.payload['encoding'], 'gzip');
  await eventually(() => agent.router.activeRequests === 0, 'request finished');
  t.is(socket.binaries.all.length, 0);
});

test('C41: body_binary with a request id over 65,535 UTF-8 bytes gets "invalid proxy_request: …" at once', async (t) => {
  const { plane, kube, agent } = await startHarness(t, { workerTuning: { binaryBodyTimeoutMs: 600_000 } });
  const socket = await plane.nextSocket();
  await socket.acceptRegistration({ cluster_id: 'c-1' });
  await socket.next('heartbeat');
  socket.send({ type: 'proxy_request', request_id: LONG_ID, payload: { method: 'POST', path: '/api/v1/things', body_binary: true } });
  const error = await socket.next('proxy_error', 15_000, (m) => m.request_id === LONG_ID);
  t.regex(error.payload['error'] as string, /^invalid proxy_request: /);
  await eventually(() => agent.router.activeRequests === 0, 'request finished');
  t.is(kube.proxied().length, 0);
  t.deepEqual(
    socket.messages.all.filter((m) => m.request_id === LONG_ID).map((m) => m.type),
    ['proxy_error'],
  );
});
