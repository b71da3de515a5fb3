// The §15.4 tunnel stream header, from the spec's example bytes.

import test from 'ava';
import { encodeTunnelHeader, parseTunnelHeader } from '../../../src/protocol/tunnel-header.js';

const EXAMPLE = Buffer.from('0101153800026462000461707073000274 31'.replace(/ /g, ''), 'hex');

test('the spec example parses to TCP db.apps:5432, tunnel t1, and encodes back to the same bytes', (t) => {
  const parsed = parseTunnelHeader(Buffer.concat([EXAMPLE, Buffer.from('payload')]));
  t.deepEqual(parsed, {
    kind: 'header',
    header: { protocol: 'tcp', servicePort: 5432, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't1' },
    headerBytes: EXAMPLE.length,
  });
  t.deepEqual(encodeTunnelHeader({ protocol: 'tcp', servicePort: 5432, serviceName: 'db', serviceNamespace: 'apps', tunnelId: 't1' }), EXAMPLE);
});

test('every proper prefix of a header is incomplete', (t) => {
  for (let length = 0; length < EXAMPLE.length; length++) t.deepEqual(parseTunnelHeader(EXAMPLE.subarray(0, length)), { kind: 'incomplete' });
});

test('unknown version or protocol is invalid as soon as its byte is there', (t) => {
  t.deepEqual(parseTunnelHeader(Buffer.from([2])), { kind: 'invalid', problem: 'unknown_version' });
  t.deepEqual(parseTunnelHeader(Buffer.from([1, 3])), { kind: 'invalid', problem: 'unknown_protocol' });
  t.deepEqual(parseTunnelHeader(Buffer.from([1, 0])), { kind: 'invalid', problem: 'unknown_protocol' });
});

test('UDP and zero-length strings are allowed', (t) => {
  const bytes = Buffer.from([1, 2, 0, 53, 0, 0, 0, 0, 0, 0]);
  t.deepEqual(parseTunnelHeader(bytes), {
    kind: 'header',
    header: { protocol: 'udp', servicePort: 53, serviceName: '', serviceNamespace: '', tunnelId: '' },
    headerBytes: 10,
  });
});

test('invalid UTF-8 in a name is invalid', (t) => {
  t.deepEqual(parseTunnelHeader(Buffer.from([1, 1, 0, 80, 0, 1, 0xff, 0, 0, 0, 0])), { kind: 'invalid', problem: 'invalid_utf8' });
});
