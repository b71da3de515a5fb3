import test from 'ava';
import { canonicalHeaderName, responseHeadersFromRaw, upstreamRequestHeaders, readHeaderMap } from '../../../src/protocol/headers.js';

test('C11: output header names are canonical', (t) => {
  t.is(canonicalHeaderName('content-type'), 'Content-Type');
  t.is(canonicalHeaderName('audit-id'), 'Audit-Id');
  t.is(canonicalHeaderName('sec-websocket-accept'), 'Sec-Websocket-Accept');
  t.is(canonicalHeaderName('WWW-AUTHENTICATE'), 'Www-Authenticate');
  t.is(canonicalHeaderName('etag'), 'Etag');
  t.is(canonicalHeaderName('x weird'), 'x weird');
});

test('C11 C46: repeated headers keep their order; hop-by-hop removed; Connection/Upgrade kept for 101; empty is null', (t) => {
  const raw = ['set-cookie', 'a=1', 'Connection', 'keep-alive', 'Set-Cookie', 'b=2', 'Transfer-Encoding', 'chunked', 'upgrade', 'websocket', 'Keep-Alive', 'timeout=5'];
  t.deepEqual(responseHeadersFromRaw(raw, 200), { 'Set-Cookie': ['a=1', 'b=2'] });
  t.deepEqual(responseHeadersFromRaw(raw, 101), { 'Set-Cookie': ['a=1', 'b=2'], Connection: ['keep-alive'], Upgrade: ['websocket'] });
  t.is(responseHeadersFromRaw(['Connection', 'close'], 200), null);
});

test('C42 §9.6: request hop-by-hop headers, Connection-listed names, Host, Content-Length and Accept-Encoding are not sent upstream', (t) => {
  const headers = readHeaderMap({
    Authorization: 'Bearer x',
    Connection: ['close, X-Private'],
    'x-private': ['1'],
    Host: 'h',
    'Content-Length': '5',
    'accept-encoding': 'gzip',
    TE: 'trailers',
    Accept: ['application/json', 'text/plain'],
    Bad: [1, 'ok'],
  });
  t.deepEqual(upstreamRequestHeaders(headers, true), { Authorization: ['Bearer x'], Accept: ['application/json', 'text/plain'], Bad: ['ok'] });
  t.deepEqual(upstreamRequestHeaders(headers, false)['accept-encoding'], ['gzip']);
});
