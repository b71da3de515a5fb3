// The /ready verdict from link status and heartbeat age, in both modes, at the age boundaries.

import test from 'ava';
import { LinkStatus } from '../../../src/link/control-plane-link.js';
import { readinessOf, type ReadinessInput } from '../../../src/http/readiness.js';

const NOW_MS = 1_000_000;
const STRICT: ReadinessInput = {
  status: LinkStatus.connected,
  lastHeartbeatMs: NOW_MS,
  nowMs: NOW_MS,
  heartbeatIntervalMs: 30_000,
  isLenient: false,
};

test('strict: connected with a fresh heartbeat is ready', (t) => {
  t.deepEqual(readinessOf(STRICT), {
    isReady: true,
    body: { status: 'ready', mode: 'strict', link: 'connected', last_heartbeat_age_seconds: 0 },
  });
});

test('strict: a heartbeat exactly two intervals old is still ready, one millisecond more is not', (t) => {
  t.true(readinessOf({ ...STRICT, lastHeartbeatMs: NOW_MS - 60_000 }).isReady);
  t.deepEqual(readinessOf({ ...STRICT, lastHeartbeatMs: NOW_MS - 60_001 }), {
    isReady: false,
    body: { status: 'not ready', mode: 'strict', link: 'connected', reason: 'last heartbeat 60 s ago', last_heartbeat_age_seconds: 60 },
  });
  t.is(readinessOf({ ...STRICT, lastHeartbeatMs: NOW_MS - 95_400 }).body.reason, 'last heartbeat 95 s ago');
});

test('strict: connected before any heartbeat is not ready', (t) => {
  t.deepEqual(readinessOf({ ...STRICT, lastHeartbeatMs: undefined }), {
    isReady: false,
    body: { status: 'not ready', mode: 'strict', link: 'connected', reason: 'no heartbeat yet' },
  });
});

test('strict: any status but connected is not ready, whatever the heartbeat', (t) => {
  for (const status of [LinkStatus.disconnected, LinkStatus.connecting, LinkStatus.reconnecting]) {
    const readiness = readinessOf({ ...STRICT, status });
    t.false(readiness.isReady);
    t.is(readiness.body.reason, 'not connected');
  }
  t.is(readinessOf({ ...STRICT, status: LinkStatus.reconnecting }).body.link, 'reconnecting');
});

test('lenient: ready while connecting, reconnecting or connected, even with a stale heartbeat', (t) => {
  const lenient = { ...STRICT, isLenient: true, lastHeartbeatMs: NOW_MS - 600_000 };
  for (const status of [LinkStatus.connecting, LinkStatus.reconnecting, LinkStatus.connected]) {
    const readiness = readinessOf({ ...lenient, status });
    t.true(readiness.isReady);
    t.is(readiness.body.mode, 'lenient');
  }
  t.deepEqual(readinessOf({ ...lenient, status: LinkStatus.disconnected, lastHeartbeatMs: undefined }), {
    isReady: false,
    body: { status: 'not ready', mode: 'lenient', link: 'disconnected', reason: 'not connected' },
  });
});

test('a clock stepping backwards reports age 0, not a negative age', (t) => {
  t.is(readinessOf({ ...STRICT, lastHeartbeatMs: NOW_MS + 5_000 }).body.last_heartbeat_age_seconds, 0);
});
