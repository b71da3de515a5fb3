// Parsing of proxy_request payloads (PROTOCOL.md §9.1–§9.3), bytes and values in, description out.

import test from 'ava';
import { parseProxyRequest, decodeBase64Strict, type ProxyRequest } from '../../workers/lib/proxy-request.js';
import { parseGoDuration } from '../../src/protocol/go-duration.js';

const NOW = Date.parse('2026-01-02T03:04:05.000Z');
const DEFAULT_MS = 120_000;

function parse(payload: unknown): ProxyRequest {
  const result = parseProxyRequest(payload, NOW, DEFAULT_MS);
  if (!result.ok) throw new Error(result.reason);
  return result.request;
}

test('C36: method is upper-cased (empty ⇒ GET), path defaults to /, one leading ? is removed from the query', (t) => {
  t.is(parse({ method: 'patch' }).method, 'PATCH');
  t.is(parse({}).method, 'GET');
  t.is(parse({}).path, '/');
  t.is(parse({ query: '?a=1&b=%2F' }).query, 'a=1&b=%2F');
  t.is(parse({ query: '??a' }).query, '?a');
});

test('C37: base64 only when body_encoding says so (any case); objects and arrays become compact JSON', (t) => {
  t.deepEqual(parse({ body: 'aGk=', body_encoding: 'Base64' }).body, { kind: 'bytes', bytes: Buffer.from('hi') });
  t.deepEqual(parse({ body: 'aGk=' }).body, { kind: 'bytes', bytes: Buffer.from('aGk=') });
  t.deepEqual(parse({ body: { b: [1, { c: null }] } }).body, { kind: 'bytes', bytes: Buffer.from('{"b":[1,{"c":null}]}') });
  t.deepEqual(parse({ body: [1, 2] }).body, { kind: 'bytes', bytes: Buffer.from('[1,2]') });
  t.deepEqual(parse({ body: '' }).body, { kind: 'none' });
  t.deepEqual(parse({ body: null }).body, { kind: 'none' });
});

test('strict base64: bad characters, wrong padding and impossible lengths are refused', (t) => {
  t.deepEqual(decodeBase64Strict('aGk'), Buffer.from('hi'));
  for (const bad of ['a', 'aGk*', 'aG=k', 'aGk==', 'a b=']) t.is(decodeBase64Strict(bad), undefined, bad);
  t.deepEqual(parseProxyRequest({ body: '!!', body_encoding: 'base64' }, NOW, DEFAULT_MS), { ok: false, reason: 'body is not valid base64' });
});

test('C38: streaming/isWebSocket/useZeroCopy/headData aliases are honoured or ignored as specified', (t) => {
  t.deepEqual(parse({ streaming: true }).body, { kind: 'stream' });
  t.deepEqual(parse({ use_streaming: true }).body, { kind: 'stream' });
  t.true(parse({ isWebSocket: true }).isWebSocket);
  t.notThrows(() => parse({ useZeroCopy: true, headData: 'x', rate_limit_bps: 5, cluster_uuid: 'u', supports_streaming: true }));
  t.deepEqual(parseProxyRequest({ streaming: true, body_binary: true }, NOW, DEFAULT_MS), {
    ok: false,
    reason: 'body_binary cannot be combined with a streamed body',
  });
});

test('C39: protocol sets Sec-WebSocket-Protocol when absent and makes the request an upgrade', (t) => {
  const request = parse({ protocol: 'v5.channel.k8s.io', headers: { Authorization: 'Bearer x' } });
  t.true(request.isWebSocket);
  t.deepEqual(request.headers['Sec-WebSocket-Protocol'], ['v5.channel.k8s.io']);
  const kept = parse({ protocol: 'a', headers: { 'sec-websocket-protocol': ['b'] } });
  t.deepEqual(kept.headers['sec-websocket-protocol'], ['b']);
  t.false('Sec-WebSocket-Protocol' in kept.headers);
  t.true(parse({ headers: { Upgrade: 'WebSocket' } }).isWebSocket);
  t.true(parse({ headers: { 'Sec-WebSocket-Key': 'k' } }).isWebSocket);
  t.false(parse({ headers: { Connection: 'Upgrade' } }).isWebSocket);
  t.false(parse({ headers: { Upgrade: 'h2c' } }).isWebSocket);
});

test('C40: numeric timeout is ms, a string is a Go duration, deadline wins, default 2 min, bad values ignored', (t) => {
  t.is(parse({ timeout: 1500 }).deadlineMs, NOW + 1500);
  t.is(parse({ timeout: '1m30s' }).deadlineMs, NOW + 90_000);
  t.is(parse({ timeout: '300ms' }).deadlineMs, NOW + 300);
  t.is(parse({ timeout: 5000, deadline: '2026-01-02T03:05:05Z' }).deadlineMs, NOW + 60_000);
  t.is(parse({}).deadlineMs, NOW + DEFAULT_MS);
  for (const timeout of [0, -5, 'soon', '', '5']) t.is(parse({ timeout }).deadlineMs, NOW + DEFAULT_MS, String(timeout));
  t.is(parse({ deadline: 'tomorrow', timeout: 10 }).deadlineMs, NOW + 10);
});

test('Go durations', (t) => {
  t.is(parseGoDuration('1.5h'), 5_400_000);
  t.is(parseGoDuration('45s'), 45_000);
  t.is(parseGoDuration('2us'), 0.002);
  t.is(parseGoDuration('1h2m3s4ms'), 3_723_004);
  t.is(parseGoDuration('0'), 0);
  for (const bad of ['', '5', 'h', '1x', '1s ', '-']) t.is(parseGoDuration(bad), undefined, bad);
});

test('§9.5: service routing needs all three fields', (t) => {
  t.deepEqual(parse({ service_name: 'web', namespace: 'apps', service_port: 8080, scheme: 'HTTPS' }).service, {
    name: 'web',
    namespace: 'apps',
    port: 8080,
    isHttps: true,
  });
  const partial = parse({ service_name: 'web' });
  t.is(partial.service, undefined);
  t.true(partial.hasPartialService);
});
