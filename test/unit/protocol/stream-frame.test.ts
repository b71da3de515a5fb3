// The binary stream frame codec (docs/protocol.md, extension): byte layout, round trips, and that no
// truncated or garbage input throws or decodes; the JSON a frame stands for once yamux takes over.

import test from 'ava';
import { decodeRequestBodyFrame, decodeResponseFrame } from '../../../src/protocol/binary-frame.js';
import { peekEnvelope } from '../../../src/protocol/envelope-peek.js';
import {
  StreamFrameKind,
  encodeStreamFrame,
  encodeWsDataFrame,
  isStreamFrame,
  readStreamFrameHeader,
  streamFrameId,
} from '../../../src/protocol/stream-frame.js';
import { streamFrameAsJson } from '../../../src/router/stream-frame-fallback.js';
import { seededRandom } from '../../../bench/chaos/seeded-random.js';

test('layout: 00 00, version 1, kind, u16 id length, id, payload', (t) => {
  const frame = Buffer.from(encodeWsDataFrame(streamFrameId('s-7')!, 1, Buffer.from('hello\n')));
  t.deepEqual(frame, Buffer.from([0x00, 0x00, 0x01, 0x03, 0x00, 0x03, 0x73, 0x2d, 0x37, 0x01, ...Buffer.from('hello\n')]));
  t.deepEqual(readStreamFrameHeader(frame), { kind: StreamFrameKind.wsData, streamId: 's-7', payloadOffset: 9 });
});

test('round trip of every kind, an empty payload, a multi-byte id and the longest id', (t) => {
  for (const kind of Object.values(StreamFrameKind)) {
    for (const streamId of ['w', 'cp-123', 'strom-ß-流', 'x'.repeat(65_535)]) {
      for (const payload of [Buffer.alloc(0), Buffer.from([0, 1, 2, 255])]) {
        const frame = Buffer.from(encodeStreamFrame(kind, streamFrameId(streamId)!, payload));
        const header = readStreamFrameHeader(frame);
        t.deepEqual({ kind: header?.kind, streamId: header?.streamId }, { kind, streamId });
        t.deepEqual(frame.subarray(header!.payloadOffset), payload);
      }
    }
  }
  t.is(streamFrameId(''), undefined);
  t.is(streamFrameId('x'.repeat(65_536)), undefined, 'too long for the header: the stream keeps JSON');
});

test('never a §10.1 request-body frame, a §10.2 response frame or JSON in binary', (t) => {
  const frame = Buffer.from(encodeStreamFrame(StreamFrameKind.chunk, streamFrameId('r1')!, Buffer.from('{"type":"ping"}')));
  t.is(decodeRequestBodyFrame(frame), undefined);
  t.is(decodeResponseFrame(frame)?.requestId ?? '', '', 'a response frame never has an empty id');
  t.is(peekEnvelope(frame), undefined);
  t.false(isStreamFrame(Buffer.from('{"type":"ping"}')));
  t.false(isStreamFrame(Buffer.from([0x00, 0x02, 0x72, 0x31, 0x68, 0x69])), 'the §10.1 example');
});

test('truncated, unknown-kind, empty-id, bad-UTF-8 and random frames decode to nothing without throwing', (t) => {
  const whole = Buffer.from(encodeWsDataFrame(streamFrameId('abc')!, 2, Buffer.from('x')));
  for (let length = 0; length < 9; length++) t.is(readStreamFrameHeader(whole.subarray(0, length)), undefined, `first ${length} bytes`);
  t.is(readStreamFrameHeader(Buffer.from([0, 0, 1, 0, 0, 1, 0x41])), undefined, 'kind 0');
  t.is(readStreamFrameHeader(Buffer.from([0, 0, 1, 5, 0, 1, 0x41])), undefined, 'kind 5');
  t.is(readStreamFrameHeader(Buffer.from([0, 0, 2, 3, 0, 1, 0x41])), undefined, 'version 2');
  t.is(readStreamFrameHeader(Buffer.from([0, 0, 1, 3, 0, 0, 0x41])), undefined, 'empty id');
  t.is(readStreamFrameHeader(Buffer.from([0, 0, 1, 3, 0, 2, 0xc3, 0x28])), undefined, 'invalid UTF-8 id');
  const random = seededRandom(7);
  let decoded = 0;
  for (let i = 0; i < 5000; i++) {
    const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 24) }, () => Math.floor(random() * 256)));
    if (i % 2 === 0 && bytes.length >= 3) bytes.set([0, 0, 1]); // half of them start like a stream frame
    if (i % 4 === 0 && bytes.length >= 6) bytes.set([1 + Math.floor(random() * 4), 0, Math.floor(random() * 8)], 3); // a quarter with a plausible header
    let header: ReturnType<typeof readStreamFrameHeader>;
    t.notThrows(() => (header = readStreamFrameHeader(bytes)));
    if (header !== undefined) {
      decoded++;
      t.true(header.payloadOffset <= bytes.length && header.streamId.length > 0);
    }
  }
  t.true(decoded > 0, 'some random frames are well-formed');
});

test('a frame built before the switch to yamux becomes the JSON message it stands for', (t) => {
  const json = (kind: StreamFrameKind, payload: Buffer, isAppRelay = false): unknown =>
    JSON.parse(streamFrameAsJson(encodeStreamFrame(kind, streamFrameId('w-1')!, payload), isAppRelay, Date.parse('2026-01-02T03:04:05Z'))!);
  t.like(json(StreamFrameKind.chunk, Buffer.from('hi')), { type: 'proxy_response_chunk', request_id: 'w-1', payload: { data: 'aGk=', encoding: 'base64', size: 2 } });
  t.like(json(StreamFrameKind.deflatedChunkStart, Buffer.from([1, 2])), { type: 'proxy_response_chunk', payload: { data: 'AQI=', encoding: 'deflate', deflate_start: true } });
  t.deepEqual((json(StreamFrameKind.wsData, Buffer.from([1, 0x68, 0x69])) as { payload: unknown }).payload, { stream_id: 'w-1', data: 'AWhp' });
  t.deepEqual((json(StreamFrameKind.wsData, Buffer.from([1, 0x68, 0x69]), true) as { payload: unknown }).payload, { request_id: 'w-1', stream_id: 'w-1', data: 'AWhp', message_type: 1 });
  t.is(streamFrameAsJson(Buffer.from([0, 0, 1]), false, 0), undefined);
});
