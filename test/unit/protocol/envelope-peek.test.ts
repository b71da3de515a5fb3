import test from 'ava';
import { peekEnvelope } from '../../../src/protocol/envelope-peek.js';

const peek = (text: string) => peekEnvelope(Buffer.from(text, 'utf8'));

test('C7: keys match case-insensitively, the last one wins, unknown keys are ignored', (t) => {
  const result = peek('{"Type":"ping","REQUEST_ID":"a","request_id":"b","extra":{"type":"x"},"payload":{"stream_id":"s","request_id":"pr"}}');
  t.deepEqual(result, { type: 'ping', requestId: 'b', payloadStreamId: 's', payloadRequestId: 'pr', payloadKind: 'object', payloadBodyBinary: false });
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
  t.deepEqual(result, { type: 'proxy_request', requestId: 'r1', payloadStreamId: undefined, payloadRequestId: undefined, payloadKind: 'object', payloadBodyBinary: false });
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
