// gateway_hello parsing (PROTOCOL.md §15.1): optional yamux_config keys, non-positive or non-numeric ignored.

import test from 'ava';
import { parseGatewayHello } from '../../../src/protocol/gateway-hello.js';

test('the spec example: every key read, seconds turned into milliseconds', (t) => {
  const hello = parseGatewayHello({
    use_yamux: true,
    yamux_config: { max_stream_window_size: 1048576, keep_alive_interval_seconds: 15, connection_timeout_seconds: 5 },
  });
  t.deepEqual(hello, { useYamux: true, maxStreamWindowBytes: 1048576, keepAliveIntervalMs: 15_000, connectionTimeoutMs: 5_000 });
});

test('absent, non-positive and non-numeric values fall back to the defaults; use_yamux must be exactly true', (t) => {
  const defaults = { maxStreamWindowBytes: 262144, keepAliveIntervalMs: 30_000, connectionTimeoutMs: 30_000 };
  t.deepEqual(parseGatewayHello({ use_yamux: true }), { useYamux: true, ...defaults });
  t.deepEqual(
    parseGatewayHello({ use_yamux: 'true', yamux_config: { max_stream_window_size: -1, keep_alive_interval_seconds: '30', connection_timeout_seconds: 0 } }),
    { useYamux: false, ...defaults },
  );
  t.deepEqual(parseGatewayHello({ yamux_config: [] }), { useYamux: false, ...defaults });
  // a positive window below 256 KiB is kept: the session then refuses it and no ack is sent (§15.2)
  t.is(parseGatewayHello({ use_yamux: true, yamux_config: { max_stream_window_size: 1024 } }).maxStreamWindowBytes, 1024);
});
