// The SPDY/3 framer of the sandbox's port-forward, byte for byte: the dictionary, the name/value
// block, header compression through zlib with that dictionary, every frame layout, and the parser fed
// the way kubectl really writes (bytes captured from kubectl 1.32, one WebSocket message per field).

import { constants, deflateSync, inflateSync } from 'node:zlib';
import test from 'ava';
import { decodeHeaderBlock, encodeHeaderBlock } from '../../../../../src/local/sandbox-api/streams/portforward/header-block.js';
import { HeaderDeflater, HeaderInflater } from '../../../../../src/local/sandbox-api/streams/portforward/header-zlib.js';
import { SPDY3_HEADER_DICTIONARY } from '../../../../../src/local/sandbox-api/streams/portforward/spdy-dictionary.js';
import { FrameParser, SpdyProtocolError, encodeFrame, type SpdyFrame } from '../../../../../src/local/sandbox-api/streams/portforward/spdy-framer.js';

const hex = (bytes: Buffer): string => bytes.toString('hex');
const bytes = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/**
 * What kubectl 1.32 sent for one forwarded connection, one WebSocket message per entry: SYN_STREAM 1
 * (error stream, header block compressed by Go's zlib), FIN on stream 1, SYN_STREAM 3 (data stream).
 */
const KUBECTL_MESSAGES = [
  '8003', '0001', '0000003e', '00000001', '00000000', '00', '00',
  '78f9e3c6a7c202253a060606ce2248fc6482d22da30138e59514a526e6420b17d65450d0430aea22709eb030b03000000000ffff',
  '00000001', '01000000', '',
  '8003', '0001', '0000001c', '00000003', '00000000', '00', '00', '826a46550a2a8712b1a844b302000000ffff',
].map((text) => Buffer.from(text, 'hex'));

test('the SPDY/3 dictionary is the 1423 bytes whose Adler-32 every SPDY/3 zlib stream names', (t) => {
  t.is(SPDY3_HEADER_DICTIONARY.length, 1423);
  t.is(hex(SPDY3_HEADER_DICTIONARY.subarray(0, 11)), '000000076f7074696f6e73');
  t.is(SPDY3_HEADER_DICTIONARY.subarray(-6).toString('latin1'), 'enq=0.');
  // a zlib stream primed with a dictionary carries its Adler-32 (DICTID) in bytes 2..5
  const stream = deflateSync(Buffer.alloc(1), { dictionary: SPDY3_HEADER_DICTIONARY, level: 9 });
  t.is(hex(stream.subarray(0, 6)), '78f9e3c6a7c2');
});

test('the name/value block uses 32-bit counts and lengths and joins values with NUL', (t) => {
  t.is(
    hex(encodeHeaderBlock([['port', ['8080']]])),
    '00000001' + '00000004' + hex(Buffer.from('port')) + '00000004' + hex(Buffer.from('8080')),
  );
  const block = encodeHeaderBlock([['StreamType', ['data']], ['x', ['a', 'b']]]);
  t.is(hex(block.subarray(0, 8)), '000000020000000a');
  t.deepEqual([...decodeHeaderBlock(block)], [['streamtype', ['data']], ['x', ['a', 'b']]]);
  t.is(hex(encodeHeaderBlock([])), '00000000');
  t.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), { instanceOf: SpdyProtocolError });
  t.throws(() => decodeHeaderBlock(Buffer.concat([block, Buffer.alloc(1)])), { instanceOf: SpdyProtocolError });
});

test('header blocks round-trip through one shared zlib context per direction, sync-flushed', async (t) => {
  const deflater = new HeaderDeflater();
  const inflater = new HeaderInflater();
  t.teardown(() => {
    deflater.close();
    inflater.close();
  });
  const blocks = [
    encodeHeaderBlock([['streamtype', ['error']], ['port', ['8080']], ['requestid', ['0']]]),
    encodeHeaderBlock([['streamtype', ['data']], ['port', ['8080']], ['requestid', ['0']]]),
    encodeHeaderBlock([]),
  ];
  const compressed = await Promise.all(blocks.map((block) => deflater.compress(block)));
  // the first block opens the zlib stream (level 9, FDICT, the SPDY/3 DICTID); every block ends in a sync flush
  t.is(hex(compressed[0]?.subarray(0, 6) ?? Buffer.alloc(0)), '78f9e3c6a7c2');
  for (const block of compressed) t.is(hex(block.subarray(-4)), '0000ffff');
  // later blocks refer back to earlier ones, so the second is much smaller than the first
  t.true((compressed[1]?.length ?? 0) < (compressed[0]?.length ?? 0) / 2);
  t.deepEqual(await Promise.all(compressed.map((block) => inflater.decompress(block))), blocks);
  // an independent inflater over the whole direction sees the same bytes
  const whole = inflateSync(Buffer.concat(compressed), { dictionary: SPDY3_HEADER_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
  t.deepEqual(whole, Buffer.concat(blocks));
});

test('a block from the middle of a direction cannot be read without the blocks before it', async (t) => {
  const deflater = new HeaderDeflater();
  const fresh = new HeaderInflater();
  t.teardown(() => {
    deflater.close();
    fresh.close();
  });
  await deflater.compress(encodeHeaderBlock([['port', ['8080']]]));
  const second = await deflater.compress(encodeHeaderBlock([['port', ['8080']]]));
  await t.throwsAsync(fresh.decompress(second));
});

test('frame layouts, control frames with version 3 in the first word', (t) => {
  const block = bytes('01020304');
  const cases: Array<[SpdyFrame, string]> = [
    [{ kind: 'synStream', flags: 0x01, streamId: 5, associatedToStreamId: 3, priority: 7, slot: 2, headerBlock: block }, '80030001 0100000e 00000005 00000003 e0 02 01020304'],
    [{ kind: 'synReply', flags: 0, streamId: 3, headerBlock: block }, '80030002 00000008 00000003 01020304'],
    [{ kind: 'rstStream', streamId: 3, status: 5 }, '80030003 00000008 00000003 00000005'],
    [{ kind: 'settings', flags: 1, entries: [{ flags: 1, id: 7, value: 65_536 }] }, '80030004 0100000c 00000001 01000007 00010000'],
    [{ kind: 'ping', id: 1 }, '80030006 00000004 00000001'],
    [{ kind: 'goAway', lastGoodStreamId: 7, status: 0 }, '80030007 00000008 00000007 00000000'],
    [{ kind: 'headers', flags: 1, streamId: 9, headerBlock: block }, '80030008 01000008 00000009 01020304'],
    [{ kind: 'windowUpdate', streamId: 3, deltaWindowSize: 1024 }, '80030009 00000008 00000003 00000400'],
    [{ kind: 'data', streamId: 3, flags: 0, data: Buffer.from('hello') }, '00000003 00000005 68656c6c6f'],
    [{ kind: 'data', streamId: 1, flags: 1, data: Buffer.alloc(0) }, '00000001 01000000'],
  ];
  for (const [frame, expected] of cases) {
    const encoded = encodeFrame(frame);
    t.is(hex(encoded), expected.replace(/\s+/g, ''), frame.kind);
    t.deepEqual(new FrameParser().push(encoded), [frame], `${frame.kind} parses back`);
  }
});

test('the parser buffers across message boundaries: kubectl writes each field as its own message', async (t) => {
  const parser = new FrameParser();
  const frames = KUBECTL_MESSAGES.flatMap((message) => parser.push(message));
  t.is(parser.bufferedBytes, 0);
  t.deepEqual(
    frames.map((frame) => [frame.kind, 'streamId' in frame ? frame.streamId : 0, 'flags' in frame ? frame.flags : 0]),
    [['synStream', 1, 0], ['data', 1, 1], ['synStream', 3, 0]],
  );
  const inflater = new HeaderInflater();
  t.teardown(() => inflater.close());
  const headers = [];
  for (const frame of frames) if (frame.kind === 'synStream') headers.push(decodeHeaderBlock(await inflater.decompress(frame.headerBlock)));
  t.deepEqual(Object.fromEntries(headers[0] ?? []), { requestid: ['0'], streamtype: ['error'], port: ['8080'] });
  t.deepEqual(Object.fromEntries(headers[1] ?? []), { streamtype: ['data'], port: ['8080'], requestid: ['0'] });
  // byte by byte, or all at once, the same frames come out
  const whole = Buffer.concat(KUBECTL_MESSAGES);
  const byteWise = new FrameParser();
  const trickled = [...whole].flatMap((byte) => byteWise.push(Buffer.from([byte])));
  t.deepEqual(trickled, frames);
  t.deepEqual(new FrameParser().push(whole), frames);
});

test('the parser keeps a partial frame and rejects what is not SPDY', (t) => {
  const parser = new FrameParser();
  const ping = encodeFrame({ kind: 'ping', id: 3 });
  t.deepEqual(parser.push(Buffer.concat([ping, ping.subarray(0, 5)])), [{ kind: 'ping', id: 3 }]);
  t.is(parser.bufferedBytes, 5);
  t.deepEqual(parser.push(ping.subarray(5)), [{ kind: 'ping', id: 3 }]);
  t.deepEqual(new FrameParser().push(bytes('8003000a 00000002 abcd')), [{ kind: 'unknownControl', type: 10, flags: 0, payload: bytes('abcd') }]);
  t.throws(() => new FrameParser().push(bytes('00000000 00000000')), { instanceOf: SpdyProtocolError });
  t.throws(() => new FrameParser().push(bytes('80030003 00000004 00000001')), { instanceOf: SpdyProtocolError });
  t.throws(() => new FrameParser().push(bytes('80030004 00000008 00000002 00000000')), { instanceOf: SpdyProtocolError });
});
