// A complete upstream response encoded for the control plane (§9.8–§9.10, §11): one JSON proxy_response or
// one binary frame, gzip only for eligible bodies and only when strictly smaller.

import test from 'ava';
import { gunzipSync } from 'node:zlib';
import { encodeBufferedResponse } from '../../workers/lib/buffered-response.js';
import { gzipEngine, type GzipEngine } from '../../workers/lib/gzip-engine.js';
import { decodeResponseFrame } from '../../src/protocol/binary-frame.js';

const zlib = gzipEngine('zlib');
const JSON_HEADERS = { 'Content-Type': ['application/json'] };
const jsonBody = (bytes: number): Buffer => Buffer.from(JSON.stringify({ items: 'a'.repeat(bytes) })).subarray(0, bytes);

test('a small body goes as JSON base64, uncompressed, with the reason', (t) => {
  const body = Buffer.from('{"kind":"Status"}');
  const encoded = encodeBufferedResponse('r1', 200, JSON_HEADERS, body, zlib);
  t.is(encoded.kind, 'json');
  if (encoded.kind !== 'json') return;
  t.deepEqual(encoded.payload, { status: 200, headers: JSON_HEADERS, body: body.toString('base64'), encoding: 'base64' });
  t.deepEqual(encoded.compression, { rawBytes: body.length, wireBytes: body.length, skipReason: 'too_small' });
});

test('an eligible mid-size body goes as JSON gzip, and it gunzips to the body', (t) => {
  const body = jsonBody(4000);
  const encoded = encodeBufferedResponse('r1', 200, JSON_HEADERS, body, zlib);
  t.is(encoded.kind, 'json');
  if (encoded.kind !== 'json') return;
  t.is(encoded.payload['encoding'], 'gzip');
  t.deepEqual(gunzipSync(Buffer.from(encoded.payload['body'] as string, 'base64')), body);
  t.is(encoded.compression.skipReason, undefined);
  t.true(encoded.compression.wireBytes < encoded.compression.rawBytes);
});

test('a large body goes in one binary frame, gzipped when eligible', (t) => {
  const body = jsonBody(20_000);
  const encoded = encodeBufferedResponse('r-big', 201, JSON_HEADERS, body, zlib);
  t.is(encoded.kind, 'binary');
  if (encoded.kind !== 'binary') return;
  const frame = decodeResponseFrame(encoded.frame);
  t.is(frame?.requestId, 'r-big');
  t.is(frame?.status, 201);
  t.deepEqual(frame?.headers, JSON_HEADERS);
  t.deepEqual(gunzipSync(Buffer.from(frame?.body ?? [])), body);
});

test('binary off, or yamux active, keeps even a large body in JSON', (t) => {
  const body = jsonBody(20_000);
  t.is(encodeBufferedResponse('r1', 200, JSON_HEADERS, body, zlib, false).kind, 'json');
  t.is(encodeBufferedResponse('r1', 200, JSON_HEADERS, body, zlib, true, true).kind, 'json');
});

test('a body gzip does not make smaller is sent raw, counted as not_smaller', (t) => {
  const inflating: GzipEngine = { name: 'zlib', gzip: (body) => new Uint8Array(body.length + 1) };
  const body = jsonBody(4000);
  const encoded = encodeBufferedResponse('r1', 200, JSON_HEADERS, body, inflating);
  t.is(encoded.kind === 'json' ? encoded.payload['encoding'] : undefined, 'base64');
  t.deepEqual(encoded.compression, { rawBytes: 4000, wireBytes: 4000, skipReason: 'not_smaller' });
});

test('with the engine off an eligible body is sent raw, counted as disabled', (t) => {
  const encoded = encodeBufferedResponse('r1', 200, JSON_HEADERS, jsonBody(4000), gzipEngine('off'));
  t.is(encoded.compression.skipReason, 'disabled');
  t.is(encoded.kind === 'json' ? encoded.payload['encoding'] : undefined, 'base64');
});

test('an upstream gzip body without our compression stays JSON (the control plane would gunzip a frame)', (t) => {
  const body = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(20_000, 7)]);
  const encoded = encodeBufferedResponse('r1', 200, { 'Content-Encoding': ['gzip'], 'Content-Type': ['application/json'] }, body, zlib);
  t.is(encoded.kind, 'json');
  t.is(encoded.compression.skipReason, 'already_encoded');
  t.is(encoded.kind === 'json' ? encoded.payload['encoding'] : undefined, 'base64');
});

test('an empty body has neither body nor encoding; null headers pass through', (t) => {
  const encoded = encodeBufferedResponse('r1', 204, null, new Uint8Array(0), zlib);
  t.deepEqual(encoded.kind === 'json' ? encoded.payload : undefined, { status: 204, headers: null });
});

test('a large body that starts like gzip goes in a frame only when the agent gzipped it', (t) => {
  const body = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from(JSON.stringify({ items: 'b'.repeat(20_000) }))]);
  t.is(encodeBufferedResponse('r1', 200, JSON_HEADERS, body, zlib).kind, 'binary');
  t.is(encodeBufferedResponse('r1', 200, JSON_HEADERS, body, gzipEngine('off')).kind, 'json');
});
