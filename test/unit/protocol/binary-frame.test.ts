// Binary frame layouts (PROTOCOL.md §10) against the spec's own examples, written out byte by byte.

import test from 'ava';
import { decodeRequestBodyFrame, encodeResponseFrame } from '../../../src/protocol/binary-frame.js';

test('§10.1: request-body frame example and well-formedness', (t) => {
  t.deepEqual(decodeRequestBodyFrame(Buffer.from([0x00, 0x02, 0x72, 0x31, 0x68, 0x69])), { requestId: 'r1', body: Buffer.from('hi') });
  t.deepEqual(decodeRequestBodyFrame(Buffer.from([0x00, 0x02, 0x72, 0x31])), { requestId: 'r1', body: Buffer.alloc(0) });
  t.is(decodeRequestBodyFrame(Buffer.from([0x00])), undefined);
  t.is(decodeRequestBodyFrame(Buffer.from([0x00, 0x00, 0x41])), undefined, 'L = 0');
  t.is(decodeRequestBodyFrame(Buffer.from([0x00, 0x05, 0x41])), undefined, '2 + L > length');
});

test('§10.2: response frame example r-42 / 200 / text/plain / hello', (t) => {
  const frame = Buffer.from(encodeResponseFrame('r-42', 200, { 'Content-Type': ['text/plain'] }, Buffer.from('hello')));
  const expected = Buffer.concat([
    Buffer.from([0x00, 0x04, 0x72, 0x2d, 0x34, 0x32]),
    Buffer.from([0x00, 0x00, 0x00, 0xc8]),
    Buffer.from([0x00, 0x00, 0x00, 0x1f]),
    Buffer.from('{"Content-Type":["text/plain"]}'),
    Buffer.from('hello'),
  ]);
  t.deepEqual(frame, expected);
  const empty = Buffer.from(encodeResponseFrame('a', 204, null, Buffer.alloc(0)));
  t.deepEqual(empty, Buffer.from([0x00, 0x01, 0x61, 0, 0, 0, 204, 0, 0, 0, 4, ...Buffer.from('null')]));
});
