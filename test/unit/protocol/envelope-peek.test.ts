import test from 'ava';
import { peekEnvelope } from '../../../src/protocol/envelope-peek.js';

const peek = (text: string) => peekEnvelope(Buffer.from(text, 'utf8'));

test('C7: keys match case-insensitively, the last one wins, unknown keys are ignored', (t) => {
  const result = peek('{"Type":"ping","REQUEST_ID":"a","request_id":"b","extra":{"type":"x"},"payload":{"stream_id":"s","request_id":"pr"}}');
  t.deepEqual(result, { type: 'ping', requestId: 'b', payloadStreamId: 's', payloadRequestId: 'pr', payloadKind: 'object', payloadBodyBinary: false, request: undefined });
});

test('C6: timestamp is never looked at', (t) => {
  for (const timestamp of ['null', '12', '"garbage"', '""', '{"a":1}']) {
    t.is(peek(`{"type":"ping","timestamp":${timestamp}}`)?.type, 'ping');
  }
});

test('C8: non-JSON, non-objects and missing or non-string types are rejected', (t) => {
  for (const text of ['not json', '[]', '"s"', '{"payload":{}}', '{"type":""}', '{"type":5}', '{"type":"x"', '{"type":"x"} tail', '{"type":"x",}']) {
    t.is(peek(text), undefined, text);
  }
});

test('payload kind: absent and null count as an object, anything else does not', (t) => {
  t.is(peek('{"type":"proxy_request"}')?.payloadKind, 'object');
  t.is(peek('{"type":"proxy_request","payload":null}')?.payloadKind, 'object');
  t.is(peek('{"type":"proxy_request","payload":"x"}')?.payloadKind, 'other');
  t.is(peek('{"type":"proxy_request","payload":[1]}')?.payloadKind, 'other');
  t.is(peek('{"type":"proxy_request","payload":5}')?.payloadKind, 'other');
});

test('bodies are skipped without being decoded, escapes included', (t) => {
  const body = 'x'.repeat(100_000) + '\\"}{[' + '\\\\';
  const result = peek(`{"payload":{"body":"${body}","nested":[{"a":"}"}]},"type":"proxy_request","request_id":"r\\u0031"}`);
  t.deepEqual(result, {
    type: 'proxy_request',
    requestId: 'r1',
    payloadStreamId: undefined,
    payloadRequestId: undefined,
    payloadKind: 'object',
    payloadBodyBinary: false,
    request: {
      isWebSocket: false,
      isLongLived: false,
      isStreamingResponse: false,
      isKubeSession: false,
      deadline: undefined,
      method: '',
      path: '',
      timeout: undefined,
      hasServiceName: false,
      hasAnyServiceField: false,
      isKubeApiPath: false,
      routingHost: undefined,
    },
  });
});

test('a non-string request_id counts as absent (§4.2 rule 5)', (t) => {
  t.is(peek('{"type":"proxy_request","request_id":7}')?.requestId, undefined);
  t.is(peek('{"type":"proxy_request","request_id":""}')?.requestId, undefined);
});

test('body_binary is seen only when it is literally true', (t) => {
  t.true(peek('{"type":"proxy_request","payload":{"body_binary":true}}')!.payloadBodyBinary);
  t.false(peek('{"type":"proxy_request","payload":{"body_binary":"true"}}')!.payloadBodyBinary);
  t.false(peek('{"type":"proxy_request","payload":{"x":{"body_binary":true}}}')!.payloadBodyBinary);
});

const traits = (payload: Record<string, unknown>) => peek(JSON.stringify({ type: 'proxy_request', request_id: 'r', payload }))?.request;

test('request traits: watches and follows are long-lived, with Go ParseBool values as kube-apiserver reads them', (t) => {
  for (const value of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
    t.true(traits({ path: '/api/v1/pods', query: `watch=${value}` })?.isLongLived, `watch=${value}`);
    t.true(traits({ path: '/api/v1/namespaces/d/pods/p/log', query: `follow=${value}&container=c` })?.isLongLived, `follow=${value}`);
  }
  for (const value of ['0', 'false', 'yes', '']) t.false(traits({ path: '/api/v1/pods', query: `watch=${value}` })?.isLongLived, `watch=${value}`);
  t.true(traits({ path: '/api/v1/watch/namespaces/d/pods' })?.isLongLived, 'the legacy /watch/ path');
  t.true(traits({ path: '/apis/apps/v1/deployments', query: '?labelSelector=a%3Db&watch=1' })?.isLongLived, 'one leading ? is removed');
  t.false(traits({ path: '/api/v1/namespaces/d/pods/p/log', query: 'follow=false' })?.isLongLived);
  t.false(traits({ path: '/api/v1/pods', query: 'limit=500' })?.isLongLived);
});

test('request traits: WebSocket upgrades by flag, protocol or headers (§9.2); kubectl sessions by path and service info (§9.5)', (t) => {
  t.true(traits({ path: '/api/v1/x', is_websocket: true })?.isWebSocket);
  t.true(traits({ path: '/api/v1/x', isWebSocket: true })?.isWebSocket);
  t.true(traits({ path: '/x', protocol: 'v5.channel.k8s.io' })?.isWebSocket);
  t.true(traits({ path: '/x', headers: { upgrade: ['WebSocket'] } })?.isWebSocket);
  t.true(traits({ path: '/x', headers: { 'Sec-WebSocket-Key': 'abc' } })?.isWebSocket);
  t.false(traits({ path: '/x', headers: { Upgrade: 'h2c', Connection: ['Upgrade'] } })?.isWebSocket);
  t.false(traits({ path: '/x', is_websocket: 'true' })?.isWebSocket, 'a string is not the boolean');
  t.true(traits({ path: '/api/v1/namespaces/d/pods/p/exec', is_websocket: true })?.isKubeSession);
  t.false(traits({ path: '/api/v1/x', is_websocket: true, service_name: 's', namespace: 'n', service_port: 80 })?.isKubeSession);
  t.true(traits({ path: '/api/v1/x', is_websocket: true, service_name: 's', namespace: 'n' })?.isKubeSession, 'incomplete service info');
  t.false(traits({ path: '/chat', is_websocket: true })?.isKubeSession);
});

test('request traits: deadline, timeout and response streaming are read as sent', (t) => {
  t.deepEqual(traits({ timeout: 1500, deadline: '2026-01-02T03:04:05Z', supports_response_streaming: true }), {
    isWebSocket: false,
    isLongLived: false,
    isStreamingResponse: true,
    isKubeSession: false,
    deadline: '2026-01-02T03:04:05Z',
    method: '',
    path: '',
    timeout: 1500,
    hasServiceName: false,
    hasAnyServiceField: false,
    isKubeApiPath: false,
    routingHost: undefined,
  });
  t.is(traits({ timeout: '8760h' })?.timeout, '8760h');
  t.is(peek('{"type":"ping","payload":{"timeout":5}}')?.request, undefined, 'only proxy_request carries traits');
});

test('request traits for §9.5 host routing: Host (else X-Forwarded-Host) as a string or list, service fields, K8s API paths', (t) => {
  t.is(traits({ path: '/', headers: { Host: 'shop.example.com' } })?.routingHost, 'shop.example.com');
  t.is(traits({ path: '/', headers: { host: ['', 'a.example.com:8080', 'b'] } })?.routingHost, 'a.example.com:8080', 'the first non-empty value');
  t.is(traits({ path: '/', headers: { 'X-Forwarded-Host': ['x.example.com'] } })?.routingHost, 'x.example.com');
  t.is(traits({ path: '/', headers: { 'X-Forwarded-Host': 'x.example.com', Host: 'h.example.com' } })?.routingHost, 'h.example.com', 'Host wins');
  t.is(traits({ path: '/', headers: { Host: 5 } })?.routingHost, undefined);
  t.true(traits({ path: '/', service_name: 'web' })?.hasServiceName);
  t.false(traits({ path: '/', service_name: '', namespace: 'apps' })?.hasServiceName);
  t.true(traits({ path: '/', service_name: '', namespace: 'apps' })?.hasAnyServiceField);
  t.true(traits({ path: '/', service_port: 80 })?.hasAnyServiceField);
  t.false(traits({ path: '/', service_port: null })?.hasAnyServiceField);
  for (const path of ['/api', '/apis', '/api/v1/pods', '/apis/apps/v1', '/healthz', '/readyz/ping', '/livez', '/version', '/openapi/v3']) t.true(traits({ path })?.isKubeApiPath, path);
  for (const path of ['/', '/apix', '/application', '/shop/api/v1']) t.false(traits({ path })?.isKubeApiPath, path);
});

test('a quote ends a skipped string only after an even run of backslashes', (t) => {
  for (const [tail, shouldAccept] of [['\\\\', true], ['\\\\\\\\', true], ['\\', false], ['\\\\\\', false]] as const) {
    const text = `{"type":"proxy_request","payload":{"body":"abc${tail}"},"request_id":"r"}`;
    t.is(peek(text)?.requestId, shouldAccept ? 'r' : undefined, text);
  }
  t.is(peek('{"type":"proxy_request","payload":{"body":"a\\"},\\"b"},"request_id":"r"}')?.requestId, 'r');
});

test('unterminated strings and containers inside a skipped payload are rejected', (t) => {
  for (const text of ['{"type":"proxy_request","payload":{"body":"abc}', '{"type":"proxy_request","payload":{"body":["a","b"}', '{"type":"x","payload":{"a":"\\"}']) {
    t.is(peek(text), undefined, text);
  }
});

test('keys and the fields it reads are checked for control characters; skipped bodies are left to the actor', (t) => {
  t.is(peek('{"type":"pi\u0001ng"}'), undefined);
  t.is(peek('{"type":"proxy_request","request_id":"r\u0002"}'), undefined);
  t.is(peek('{"type":"proxy_request","payload":{"body":"a\u0001b"}}')?.type, 'proxy_request');
});

test('a Uint8Array view into a larger buffer is read at its own offset', (t) => {
  const text = '{"type":"proxy_request","request_id":"r9","payload":{"path":"/api/v1/pods","query":"watch=1","body":"eA=="}}';
  const backing = new Uint8Array(text.length + 20).fill(0x7b);
  backing.set(Buffer.from(text), 10);
  const view = new Uint8Array(backing.buffer, 10, text.length);
  const result = peekEnvelope(view);
  t.is(result?.requestId, 'r9');
  t.true(result?.request?.isLongLived);
});

test('a megabyte body is skipped, with the fields after it still read', (t) => {
  const body = 'QUJD'.repeat(300_000);
  const result = peek(`{"type":"proxy_request","payload":{"body":"${body}","path":"/api/v1/pods/p/log","query":"follow=true","request_id":"pr"},"request_id":"r"}`);
  t.is(result?.payloadRequestId, 'pr');
  t.true(result?.request?.isLongLived);
});

test('request traits: method and path are read as sent, for the dispatch policy', (t) => {
  const result = peek('{"type":"proxy_request","request_id":"r","payload":{"method":"GET","path":"/api/v1/namespaces/a/pods","body":"eA=="}}');
  t.is(result?.request?.method, 'GET');
  t.is(result?.request?.path, '/api/v1/namespaces/a/pods');
});
