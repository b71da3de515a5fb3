// The §8 message catalogue: known inbound types (aliases included), the exact protocol_fallback list
// (§8.3), and the features register advertises (§5.1).

import test from 'ava';
import { InboundType, REGISTER_FEATURES, SUPPORTED_TYPES, isKnownInboundType } from '../../../src/protocol/message-types.js';

test('every catalogued inbound type is known, aliases included; others and case variants are not', (t) => {
  for (const type of Object.values(InboundType)) t.true(isKnownInboundType(type), type);
  for (const type of ['ws_start', 'ws_data', 'ws_close', 'gateway_hello', 'udp_tunnel_data']) t.true(isKnownInboundType(type), type);
  for (const type of ['', 'PROXY_REQUEST', 'proxy_response', 'heartbeat', 'register', 'toString', '__proto__']) t.false(isKnownInboundType(type), type);
});

test('§8.3: supported_types is exactly the seventeen types, in order, frozen, and all of them known', (t) => {
  t.is(SUPPORTED_TYPES.length, 17);
  t.is(SUPPORTED_TYPES[0], 'register_success');
  t.is(SUPPORTED_TYPES[16], 'error');
  t.is(new Set(SUPPORTED_TYPES).size, 17);
  t.true(Object.isFrozen(SUPPORTED_TYPES));
  for (const type of SUPPORTED_TYPES) t.true(isKnownInboundType(type), type);
});

test('§5.1: register advertises exactly six features, all true, and the object cannot change', (t) => {
  t.deepEqual(Object.keys(REGISTER_FEATURES).sort(), [
    'supports_binary_protocol',
    'supports_compression',
    'supports_gateway',
    'supports_response_streaming',
    'supports_streaming',
    'supports_websocket_proxy',
  ]);
  t.true(Object.values(REGISTER_FEATURES).every((value) => value === true));
  t.true(Object.isFrozen(REGISTER_FEATURES));
});
