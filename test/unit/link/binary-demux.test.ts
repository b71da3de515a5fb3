// The binary demux (§4.3 with the stream-frame extension, §15.2): which side an inbound binary frame goes
// to, decided once from the socket's state and the frame's first bytes.

import test from 'ava';
import { BinaryRoute, routeBinaryFrame } from '../../../src/link/binary-demux.js';
import { encodeRequestBodyFrame } from '../../../src/protocol/binary-frame.js';
import { encodeWsDataFrame, streamFrameId } from '../../../src/protocol/stream-frame.js';

const OPTED_IN = { isYamuxActive: false, isStreamFramesActive: true } as const;
const PLAIN = { isYamuxActive: false, isStreamFramesActive: false } as const;
const YAMUX = { isYamuxActive: true, isStreamFramesActive: true } as const;

test('the demux: yamux first, stream frames only when opted in, everything else to §4.3', (t) => {
  const frame = Buffer.from(encodeWsDataFrame(streamFrameId('s')!, 2, Buffer.from('x')));
  t.is(routeBinaryFrame(OPTED_IN, frame), BinaryRoute.streamFrame);
  t.is(routeBinaryFrame(PLAIN, frame), BinaryRoute.classic);
  t.is(routeBinaryFrame(YAMUX, frame), BinaryRoute.yamux);
  t.is(routeBinaryFrame(OPTED_IN, Buffer.from([0x00, 0x02, 0x72, 0x31])), BinaryRoute.classic);
});

test('while yamux is active every binary frame is yamux bytes, whatever it looks like', (t) => {
  for (const bytes of [Buffer.from('{"type":"ping"}'), Buffer.alloc(0), Buffer.from(encodeRequestBodyFrame('r1', Buffer.from('b')))]) {
    t.is(routeBinaryFrame(YAMUX, bytes), BinaryRoute.yamux);
    t.is(routeBinaryFrame({ isYamuxActive: true, isStreamFramesActive: false }, bytes), BinaryRoute.yamux);
  }
});

test('with stream frames on, a request body, JSON in binary and a 00 00 of another version stay §4.3 (classic)', (t) => {
  t.is(routeBinaryFrame(OPTED_IN, Buffer.from(encodeRequestBodyFrame('r1', Buffer.from('body')))), BinaryRoute.classic);
  t.is(routeBinaryFrame(OPTED_IN, Buffer.from('{"type":"proxy_cancel","request_id":"r1"}')), BinaryRoute.classic);
  t.is(routeBinaryFrame(OPTED_IN, Buffer.from([0x00, 0x00, 0x09, 0x01])), BinaryRoute.classic, 'unknown version');
  t.is(routeBinaryFrame(OPTED_IN, Buffer.from([0x00, 0x00])), BinaryRoute.classic, 'too short to carry a version');
  t.is(routeBinaryFrame(OPTED_IN, Buffer.alloc(0)), BinaryRoute.classic);
});
