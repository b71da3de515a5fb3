// One raw-deflate context per stream with a sync flush at every chunk: each chunk's output alone completes
// that chunk at an inflater that has seen the earlier ones, and later chunks refer back to earlier ones.

import test from 'ava';
import { constants, createInflateRaw, deflateRawSync } from 'node:zlib';
import { StreamDeflate, isStreamCompressible } from '../../workers/lib/stream-deflate.js';
import { buildPodWatchEvents } from '../../bench/corpus.js';

test('every chunk is decodable on arrival, and the shared context beats a deflate per event', async (t) => {
  const events = buildPodWatchEvents(60, 12);
  const deflate = new StreamDeflate();
  t.teardown(() => deflate.close());
  const inflater = createInflateRaw();
  let output: Buffer[] = [];
  inflater.on('data', (bytes: Buffer) => output.push(bytes));
  let streamed = 0;
  let separate = 0;
  for (const [index, event] of events.entries()) {
    const { bytes, isStart } = await deflate.deflate(event);
    t.is(isStart, index === 0);
    streamed += bytes.length;
    separate += deflateRawSync(event).length;
    await new Promise<void>((resolve) => {
      inflater.write(bytes);
      inflater.flush(constants.Z_SYNC_FLUSH, () => resolve());
    });
    t.deepEqual(Buffer.concat(output), event, `event ${index} whole after its own frame`);
    output = [];
  }
  t.true(streamed < separate / 2, `one context ${streamed} bytes, one per event ${separate}`);
});

test('after close the next chunk starts a fresh context', async (t) => {
  const deflate = new StreamDeflate();
  t.true((await deflate.deflate(Buffer.from('a'.repeat(100)))).isStart);
  t.false((await deflate.deflate(Buffer.from('b'))).isStart);
  deflate.close();
  const again = await deflate.deflate(Buffer.from('c'));
  t.true(again.isStart);
  deflate.close();
});

test('§11 rules 2–4 decide which streams are deflated', (t) => {
  t.true(isStreamCompressible({ 'Content-Type': ['application/json'] }));
  t.true(isStreamCompressible({ 'Content-Type': ['text/plain'] }));
  t.false(isStreamCompressible({ 'Content-Type': ['application/json'], 'Content-Encoding': ['gzip'] }));
  t.false(isStreamCompressible({ 'Content-Type': ['application/octet-stream'] }));
  t.false(isStreamCompressible({ 'Content-Type': ['application/vnd.kubernetes.protobuf;stream=watch'] }));
  t.false(isStreamCompressible(null));
});
