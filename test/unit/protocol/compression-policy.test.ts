// The compression decision table (PROTOCOL.md §11) and the buffered response mode (§9.8).

import test from 'ava';
import { compressionSkipReason, shouldUseBinaryFrame } from '../../../src/protocol/compression-policy.js';

test('C51: eligibility by size, Content-Encoding and Content-Type', (t) => {
  const rows: [number, string | undefined, string | undefined, string | undefined][] = [
    [1024, undefined, 'application/json', undefined],
    [1023, undefined, 'application/json', 'too_small'],
    [5000, 'gzip', 'application/json', 'already_encoded'],
    [5000, 'identity', 'application/json', undefined],
    [5000, ' Identity ', 'text/plain', undefined],
    [5000, 'br', 'text/plain', 'already_encoded'],
    [5000, undefined, 'Application/JSON; charset=utf-8', undefined],
    [5000, undefined, 'application/vnd.kubernetes.protobuf', 'content_type'],
    [5000, undefined, 'application/yaml', undefined],
    [5000, undefined, 'text/html', undefined],
    [5000, undefined, 'application/javascript', undefined],
    [5000, undefined, 'application/xml', undefined],
    [5000, undefined, 'image/svg+xml', 'content_type'],
    [5000, undefined, 'application/gzip', 'content_type'],
    [5000, undefined, 'application/zip', 'content_type'],
    [5000, undefined, 'application/x-compress', 'content_type'],
    [5000, undefined, 'video/mp4', 'content_type'],
    [5000, undefined, 'audio/ogg', 'content_type'],
    [5000, undefined, 'application/octet-stream', 'content_type'],
    [5000, undefined, undefined, 'content_type'],
  ];
  for (const [size, encoding, type, expected] of rows) {
    t.is(compressionSkipReason(size, encoding, type) as string | undefined, expected, `${size} ${String(encoding)} ${String(type)}`);
  }
});

test('§9.8: binary frames from 10 240 bytes, never for long ids, never for raw gzip-looking bodies', (t) => {
  t.true(shouldUseBinaryFrame(10_240, 'r', false, false));
  t.false(shouldUseBinaryFrame(10_239, 'r', false, false));
  t.false(shouldUseBinaryFrame(20_000, 'x'.repeat(65_536), false, false));
  t.true(shouldUseBinaryFrame(20_000, 'x'.repeat(65_535), false, false));
  t.false(shouldUseBinaryFrame(20_000, 'r', false, true), 'raw body starting 1f 8b');
  t.true(shouldUseBinaryFrame(20_000, 'r', true, true), 'the agent compressed it');
  t.false(shouldUseBinaryFrame(20_000, 'r', true, false, true), 'yamux active');
});
