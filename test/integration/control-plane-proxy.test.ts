// Local control plane, kubectl side: HTTP requests become proxy_request messages, and every answer form
// of the agent (base64, gzip, binary frame, streaming, proxy_error) becomes the right HTTP response.
// Expected frames and bodies are built by hand here, never with the shared codecs.

import test from 'ava';
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Envelope } from '../../src/protocol/envelope.js';
import { connectedStack } from '../helpers/control-plane-stack.js';

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function kubectlCall(url: string, method = 'GET', headers: OutgoingHttpHeaders = {}, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function statusJson(code: number, reason: string, message: string): string {
  return `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":${JSON.stringify(message)},"reason":"${reason}","code":${code}}`;
}

/** §10.2 by hand: | L u16 | id | status u32 | H u32 | headers JSON | body |. */
function responseFrame(id: string, status: number, headersJson: string, body: Buffer): Buffer {
  const idBytes = Buffer.from(id, 'utf8');
  const headerBytes = Buffer.from(headersJson, 'utf8');
  const fixed = Buffer.alloc(2 + idBytes.length + 8);
  fixed.writeUInt16BE(idBytes.length, 0);
  idBytes.copy(fixed, 2);
  fixed.writeUInt32BE(status, 2 + idBytes.length);
  fixed.writeUInt32BE(headerBytes.length, 6 + idBytes.length);
  return Buffer.concat([fixed, headerBytes, body]);
}

test('GET becomes the exact proxy_request: path and query verbatim, cluster token, no Host or Connection', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const query = 'labelSelector=app%3Dweb%2Ctier+in+(a,b)&limit=500';
  const pending = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/namespaces/default/pods?${query}`, 'GET', {
    Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
    'User-Agent': 'kubectl/v1.31.0',
    'x-multi': ['a', 'b'],
    Authorization: 'Bearer client-token-must-not-pass',
    'Keep-Alive': 'timeout=5',
    'Proxy-Authorization': 'Basic eDp5',
  });
  const message = await agent.next('proxy_request');
  t.is(message.requestId, 'cp-1');
  t.deepEqual(message.payload, {
    method: 'GET',
    path: '/api/v1/namespaces/default/pods',
    query,
    headers: {
      Accept: ['application/json;as=Table;v=v1;g=meta.k8s.io'],
      'User-Agent': ['kubectl/v1.31.0'],
      'X-Multi': ['a', 'b'],
      Authorization: ['Bearer sa-token-1'],
    },
    timeout: 120000,
  });
  agent.send('proxy_response', { status: 200, headers: null }, 'cp-1');
  const reply = await pending;
  t.is(reply.status, 200);
  t.is(reply.body.length, 0);
  t.is(reply.headers['content-length'], '0');
});

test('the clusterToken option wins over the registered token; no query means no query key', async (t) => {
  const { cp, agent } = await connectedStack(t, { clusterToken: 'admin-token', requestTimeoutMs: 30000 });
  const pending = kubectlCall(`${cp.clusterUrl('edge-lab')}/version`);
  const message = await agent.next('proxy_request');
  t.deepEqual(message.payload, { method: 'GET', path: '/version', headers: { Authorization: ['Bearer admin-token'] }, timeout: 30000 });
  agent.send('proxy_error', { error: 'kubernetes client not initialized' }, message.requestId);
  t.is((await pending).status, 502);
});

test('a POST body travels as base64 with body_encoding', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const body = Buffer.from('{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}\n');
  const pending = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/namespaces`, 'POST', { 'Content-Type': 'application/json' }, body);
  const message = await agent.next('proxy_request');
  t.deepEqual(message.payload, {
    method: 'POST',
    path: '/api/v1/namespaces',
    headers: { 'Content-Type': ['application/json'], 'Content-Length': [String(body.length)], Authorization: ['Bearer sa-token-1'] },
    body: body.toString('base64'),
    body_encoding: 'base64',
    timeout: 120000,
  });
  agent.send('proxy_response', { status: 201, headers: { 'Content-Type': ['application/json'] }, body: body.toString('base64'), encoding: 'base64' }, message.requestId);
  const reply = await pending;
  t.is(reply.status, 201);
  t.deepEqual(reply.body, body);
});

test('proxy_response with base64: status, headers (minus hop-by-hop), recomputed Content-Length', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const pending = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const { requestId } = await agent.next('proxy_request');
  const body = '{"kind":"PodList","items":[]}';
  agent.send(
    'proxy_response',
    {
      status: 200,
      headers: { 'Audit-Id': ['4f3c0d2a'], 'Content-Type': ['application/json'], 'Content-Length': ['9999'], 'Transfer-Encoding': ['chunked'], 'Set-Cookie': ['a=1', 'b=2'] },
      body: Buffer.from(body).toString('base64'),
      encoding: 'base64',
    },
    requestId,
  );
  const reply = await pending;
  t.is(reply.status, 200);
  t.is(reply.body.toString('utf8'), body);
  t.is(reply.headers['content-length'], String(body.length));
  t.is(reply.headers['audit-id'], '4f3c0d2a');
  t.is(reply.headers['content-type'], 'application/json');
  t.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
  t.is(reply.headers['transfer-encoding'], undefined);
});

test('proxy_response with gzip is gunzipped; without encoding the body is empty', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const body = Buffer.from(JSON.stringify({ kind: 'PodList', items: Array.from({ length: 40 }, (_, i) => ({ name: `pod-${i}` })) }));
  const first = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const a = await agent.next('proxy_request');
  agent.send('proxy_response', { status: 200, headers: { 'Content-Type': ['application/json'] }, body: gzipSync(body).toString('base64'), encoding: 'gzip' }, a.requestId);
  const gz = await first;
  t.deepEqual(gz.body, body);
  t.is(gz.headers['content-length'], String(body.length));
  t.is(gz.headers['content-encoding'], undefined);

  const second = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const b = await agent.next('proxy_request');
  agent.send('proxy_response', { status: 404, headers: null, body: 'aWdub3JlZA==' }, b.requestId);
  const empty = await second;
  t.is(empty.status, 404);
  t.is(empty.body.length, 0);
});

test('an upstream Content-Encoding passes through with its bytes untouched', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const upstream = gzipSync(Buffer.from('already compressed upstream'));
  const first = kubectlCall(`${cp.clusterUrl('edge-lab')}/metrics`);
  const a = await agent.next('proxy_request');
  agent.send('proxy_response', { status: 200, headers: { 'Content-Encoding': ['gzip'] }, body: upstream.toString('base64'), encoding: 'base64' }, a.requestId);
  const reply = await first;
  t.is(reply.headers['content-encoding'], 'gzip');
  t.deepEqual(reply.body, upstream);

  // even in a (non-conforming) binary frame, 1f 8b under an upstream Content-Encoding is the upstream's
  const second = kubectlCall(`${cp.clusterUrl('edge-lab')}/metrics`);
  const b = await agent.next('proxy_request');
  agent.sendRaw(responseFrame(b.requestId!, 200, '{"Content-Encoding":["gzip"]}', upstream), true);
  const framed = await second;
  t.is(framed.headers['content-encoding'], 'gzip');
  t.deepEqual(framed.body, upstream);
});

test('binary response frames: plain body, and gzip body recognised by 1f 8b', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const html = Buffer.from(`<html>${'x'.repeat(15 * 1024)}</html>`);
  const first = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/namespaces/a/services/web/proxy/`);
  const a = await agent.next('proxy_request');
  agent.sendRaw(responseFrame(a.requestId!, 200, '{"Content-Type":["text/html"]}', html), true);
  const plain = await first;
  t.is(plain.status, 200);
  t.is(plain.headers['content-type'], 'text/html');
  t.is(plain.headers['content-length'], String(html.length));
  t.deepEqual(plain.body, html);

  const second = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/namespaces/a/services/web/proxy/`);
  const b = await agent.next('proxy_request');
  agent.sendRaw(responseFrame(b.requestId!, 203, 'null', gzipSync(html)), true);
  const gz = await second;
  t.is(gz.status, 203);
  t.deepEqual(gz.body, html);
  t.is(gz.headers['content-encoding'], undefined);
});

test('a streamed response reaches the client chunk by chunk, before the end arrives', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const received: string[] = [];
  let onData: () => void = () => undefined;
  const done = new Promise<Reply>((resolve, reject) => {
    const req = request(`${cp.clusterUrl('edge-lab')}/api/v1/pods?watch=true`, (res) => {
      res.on('data', (chunk: Buffer) => {
        received.push(chunk.toString('utf8'));
        onData();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.from(received.join('')) }));
    });
    req.on('error', reject);
    req.end();
  });
  const { requestId } = await agent.next('proxy_request');
  const firstChunk = new Promise<void>((resolve) => (onData = resolve));
  agent.send('proxy_response_header', { status: 200, headers: { 'Content-Type': ['application/json'] } }, requestId);
  agent.send('proxy_response_chunk', { data: Buffer.from('{"type":"ADDED"}\n').toString('base64'), encoding: 'base64', size: 17 }, requestId);
  await firstChunk;
  t.deepEqual(received, ['{"type":"ADDED"}\n']);
  agent.send('proxy_response_chunk', { data: Buffer.from('{"type":"MODIFIED"}\n').toString('base64'), encoding: 'base64', size: 20 }, requestId);
  agent.send('proxy_response_end', {}, requestId);
  const reply = await done;
  t.is(reply.status, 200);
  t.is(reply.headers['transfer-encoding'], 'chunked');
  t.is(reply.body.toString('utf8'), '{"type":"ADDED"}\n{"type":"MODIFIED"}\n');
});

test('proxy_response_abort cuts a started stream; before the header it is a 502 Status', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const started = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods?watch=true`);
  const a = await agent.next('proxy_request');
  agent.send('proxy_response_header', { status: 200, headers: null }, a.requestId);
  agent.send('proxy_response_chunk', { data: 'eA==', encoding: 'base64', size: 1 }, a.requestId);
  agent.send('proxy_response_abort', { error: 'canceled' }, a.requestId);
  await t.throwsAsync(started, { message: /aborted|socket hang up/ });

  const early = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const b = await agent.next('proxy_request');
  agent.send('proxy_response_abort', { error: 'kubernetes API request failed: dial tcp: refused' }, b.requestId);
  const reply = await early;
  t.is(reply.status, 502);
  t.is(reply.body.toString('utf8'), statusJson(502, 'InternalError', 'agent: kubernetes API request failed: dial tcp: refused'));
});

test('proxy_error becomes 502 with a Status naming the agent error', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const pending = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const { requestId } = await agent.next('proxy_request');
  agent.send('proxy_error', { error: 'context deadline exceeded' }, requestId);
  const reply = await pending;
  t.is(reply.status, 502);
  t.is(reply.headers['content-type'], 'application/json');
  t.is(reply.body.toString('utf8'), statusJson(502, 'InternalError', 'agent: context deadline exceeded'));
});

test('unknown cluster is 404, a cluster without a live socket is 503', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const unknown = await kubectlCall(`${cp.clusterUrl('nope')}/api/v1/pods`);
  t.is(unknown.status, 404);
  t.is(unknown.body.toString('utf8'), statusJson(404, 'NotFound', 'cluster "nope" not found'));
  await agent.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const offline = await kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  t.is(offline.status, 503);
  t.is(offline.body.toString('utf8'), statusJson(503, 'ServiceUnavailable', 'cluster "edge-lab" is not connected'));
});

test('a client that goes away before the answer makes the control plane send proxy_cancel', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const req = request(`${cp.clusterUrl('edge-lab')}/api/v1/pods?watch=true`);
  req.on('error', () => undefined);
  req.end();
  const { requestId } = await agent.next('proxy_request');
  req.destroy();
  const cancel: Envelope = await agent.next('proxy_cancel');
  t.is(cancel.requestId, requestId);
  t.deepEqual(cancel.payload, {});
  // a late answer for the cancelled id is ignored and the session keeps working
  agent.send('proxy_response', { status: 200, headers: null }, requestId);
  const next = kubectlCall(`${cp.clusterUrl('edge-lab')}/version`);
  const second = await agent.next('proxy_request');
  agent.send('proxy_response', { status: 200, headers: null, body: 'b2s=', encoding: 'base64' }, second.requestId);
  t.is((await next).body.toString('utf8'), 'ok');
});

test('when the agent socket drops, pending requests end with 502 agent disconnected', async (t) => {
  const { cp, agent } = await connectedStack(t);
  const first = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const second = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/nodes`);
  await agent.next('proxy_request');
  await agent.next('proxy_request');
  agent.terminate();
  for (const reply of await Promise.all([first, second])) {
    t.is(reply.status, 502);
    t.is(reply.body.toString('utf8'), statusJson(502, 'InternalError', 'agent disconnected'));
  }
});

test('no answer within timeout + 5 s is 504, and the agent is told to cancel', async (t) => {
  const { cp, agent } = await connectedStack(t, { requestTimeoutMs: 100 });
  const started = Date.now();
  const pending = kubectlCall(`${cp.clusterUrl('edge-lab')}/api/v1/pods`);
  const { requestId, payload } = await agent.next('proxy_request');
  t.is(payload['timeout'], 100);
  const reply = await pending;
  t.true(Date.now() - started >= 5100);
  t.is(reply.status, 504);
  t.is(reply.body.toString('utf8'), statusJson(504, 'Timeout', 'agent did not answer within 5100 ms'));
  t.is((await agent.next('proxy_cancel')).requestId, requestId);
});
