// The inbound demux (§4.3, §15.2, stream-frame extension): each frame goes to exactly one side, decided
// once: control messages to the link, stream traffic to the router, yamux bytes to the socket's session,
// and what is none of these is counted and dropped.

import test from 'ava';
import pino from 'pino';
import { CONTROL_TYPES, InboundDemux, type StreamSide } from '../../../src/link/inbound-demux.js';
import type { Connection } from '../../../src/link/connection.js';
import { AgentMetrics } from '../../../src/metrics/agent-metrics.js';
import { encodeRequestBodyFrame, type RequestBodyFrame } from '../../../src/protocol/binary-frame.js';
import { encodeWsDataFrame, streamFrameId } from '../../../src/protocol/stream-frame.js';

interface Seen {
  readonly side: string;
  readonly detail: string;
}

function demuxWith(options: { isYamuxActive?: boolean; isStreamFramesActive?: boolean; pendingBody?: string } = {}) {
  const seen: Seen[] = [];
  const yamuxBytes: Buffer[] = [];
  const connection = {
    isYamuxActive: options.isYamuxActive ?? false,
    isStreamFramesActive: options.isStreamFramesActive ?? false,
    yamux: options.isYamuxActive === true ? { receive: (data: Buffer) => yamuxBytes.push(data) } : undefined,
  } as unknown as Connection;
  const streams: StreamSide = {
    onSessionStart: () => undefined,
    onSessionEnd: () => undefined,
    onEnvelope: (_connection, peek) => seen.push({ side: 'streams', detail: peek.type }),
    onStreamFrame: (_connection, data) => seen.push({ side: 'stream-frame', detail: String(data.length) }),
    takeRequestBody: (_connection, frame: RequestBodyFrame) => {
      if (frame.requestId !== options.pendingBody) return false;
      seen.push({ side: 'body', detail: frame.requestId });
      return true;
    },
  };
  const metrics = new AgentMetrics();
  const demux = new InboundDemux({
    onControl: (_connection, peek) => seen.push({ side: 'control', detail: peek.type }),
    streams,
    metrics,
    logger: pino({ level: 'silent' }),
  });
  return { demux, connection, seen, yamuxBytes, metrics };
}

const json = (type: string): Buffer => Buffer.from(JSON.stringify({ type, request_id: 'r1', payload: {} }));

test('text frames: control types stay with the link, every other type goes to the streams', (t) => {
  const { demux, connection, seen } = demuxWith();
  for (const type of [...CONTROL_TYPES, 'proxy_request', 'proxy_websocket_data', 'not_a_known_type']) demux.onFrame(connection, json(type), false);
  t.deepEqual(
    seen,
    [...[...CONTROL_TYPES].map((type) => ({ side: 'control', detail: type })), ...['proxy_request', 'proxy_websocket_data', 'not_a_known_type'].map((type) => ({ side: 'streams', detail: type }))],
  );
});

test('§4.3: JSON in binary is dispatched like text, control messages included', (t) => {
  const { demux, connection, seen } = demuxWith();
  demux.onFrame(connection, Buffer.concat([Buffer.from(' \n'), json('ping')]), true);
  demux.onFrame(connection, json('proxy_cancel'), true);
  t.deepEqual(seen, [
    { side: 'control', detail: 'ping' },
    { side: 'streams', detail: 'proxy_cancel' },
  ]);
});

test('§4.3 (a)–(d): a pending body first, then JSON, then an unmatched body and malformed frames are counted', async (t) => {
  const { demux, connection, seen, metrics } = demuxWith({ pendingBody: 'r1' });
  demux.onFrame(connection, Buffer.from(encodeRequestBodyFrame('r1', Buffer.from('body'))), true);
  demux.onFrame(connection, Buffer.from(encodeRequestBodyFrame('r2', Buffer.from('body'))), true);
  demux.onFrame(connection, Buffer.from([0xff]), true);
  demux.onFrame(connection, Buffer.from('{not json'), false);
  t.deepEqual(seen, [{ side: 'body', detail: 'r1' }]);
  t.is(await metrics.value('binaryBodyUnmatched'), 1);
  t.is(await metrics.value('binaryFrameMalformed'), 1);
  t.is(await metrics.value('inboundMalformed'), 1);
});

test('§15.2: while yamux is active every binary frame is the session\'s, JSON-looking or not; text is still JSON', (t) => {
  const { demux, connection, seen, yamuxBytes } = demuxWith({ isYamuxActive: true, pendingBody: 'r1' });
  demux.onFrame(connection, json('ping'), true);
  demux.onFrame(connection, Buffer.from(encodeRequestBodyFrame('r1', Buffer.from('b'))), true);
  demux.onFrame(connection, json('ping'), false);
  t.is(yamuxBytes.length, 2);
  t.deepEqual(seen, [{ side: 'control', detail: 'ping' }]);
});

test('stream frames go to the streams only on a socket that opted in', (t) => {
  const frame = Buffer.from(encodeWsDataFrame(streamFrameId('s1')!, 2, Buffer.from('x')));
  const optedIn = demuxWith({ isStreamFramesActive: true });
  optedIn.demux.onFrame(optedIn.connection, frame, true);
  t.deepEqual(optedIn.seen, [{ side: 'stream-frame', detail: String(frame.length) }]);
  const plain = demuxWith();
  plain.demux.onFrame(plain.connection, frame, true);
  t.deepEqual(plain.seen, []);
});
