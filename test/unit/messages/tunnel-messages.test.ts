// The guards on the router ⇄ tunnel actor port: each variant's fields are checked, not only its `type`.

import test from 'ava';
import { isTunnelInbound, isTunnelOutbound, type TunnelInbound, type TunnelOutbound } from '../../../src/messages/tunnel-messages.js';

const bytes = new Uint8Array([7]);

const inbound: readonly TunnelInbound[] = [
  { type: 'data', data: bytes },
  { type: 'end' },
  { type: 'credit', bytes: 4096 },
  { type: 'cancel', reason: 'connection_lost' },
];

const outbound: readonly TunnelOutbound[] = [
  { type: 'connected' },
  { type: 'data', data: bytes },
  { type: 'consumed', bytes: 1 },
  { type: 'end' },
  { type: 'reset', kind: 'dial' },
  { type: 'done', bytesToTarget: 1, bytesFromTarget: 2, error: undefined },
  { type: 'done', bytesToTarget: 0, bytesFromTarget: 0, error: 'refused' },
];

test('every variant passes', (t) => {
  for (const message of inbound) t.true(isTunnelInbound(message), message.type);
  for (const message of outbound) t.true(isTunnelOutbound(message), message.type);
});

test('a router → tunnel actor message with a missing or mistyped field is refused', (t) => {
  t.false(isTunnelInbound(undefined));
  t.false(isTunnelInbound({ type: 'connected' }), 'an outbound-only type');
  t.false(isTunnelInbound({ type: 'data' }), 'data without bytes');
  t.false(isTunnelInbound({ type: 'data', data: 'text' }), 'data as a string');
  t.false(isTunnelInbound({ type: 'credit', bytes: -4 }), 'negative credit');
  t.false(isTunnelInbound({ type: 'credit' }), 'credit without bytes');
  t.false(isTunnelInbound({ type: 'cancel', reason: 'whim' }), 'unknown cancel reason');
});

test('a tunnel actor → router message with a missing or mistyped field is refused', (t) => {
  t.false(isTunnelOutbound({ type: 'credit', bytes: 1 }), 'an inbound-only type');
  t.false(isTunnelOutbound({ type: 'data', data: null }), 'data as null');
  t.false(isTunnelOutbound({ type: 'consumed', bytes: Number.POSITIVE_INFINITY }), 'infinite consumed');
  t.false(isTunnelOutbound({ type: 'reset', kind: 'oops' }), 'unknown reset kind');
  t.false(isTunnelOutbound({ type: 'reset' }), 'reset without kind');
  t.false(isTunnelOutbound({ type: 'done', bytesToTarget: 1, error: undefined }), 'done without bytesFromTarget');
  t.false(isTunnelOutbound({ type: 'done', bytesToTarget: 1, bytesFromTarget: '2', error: undefined }), 'done bytes as a string');
  t.false(isTunnelOutbound({ type: 'done', bytesToTarget: 1, bytesFromTarget: 2, error: 'nope' }), 'unknown done error');
});
