// The wait for register_success (§5.3) on a simulated clock: 30 s, +30 s per register_in_progress, never
// beyond 120 s after register; and the registration request id (§5.1).

import test from 'ava';
import { PendingRegistration, registrationRequestId } from '../../../src/link/pending-registration.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';

function pending(): { clock: SimulatedClock; registration: PendingRegistration; expiries: () => number } {
  const clock = new SimulatedClock();
  let count = 0;
  const registration = new PendingRegistration('req_1_agent', clock, () => count++);
  return { clock, registration, expiries: () => count };
}

test('without an answer the wait ends 30 s after register, once', (t) => {
  const { clock, registration, expiries } = pending();
  t.is(registration.deadlineMs, clock.now() + 30_000);
  clock.advance(29_999);
  t.is(expiries(), 0);
  clock.advance(1);
  t.is(expiries(), 1);
  clock.advance(300_000);
  t.is(expiries(), 1);
});

test('each register_in_progress pushes the deadline out by 30 s, and only the latest deadline fires', (t) => {
  const { clock, registration, expiries } = pending();
  const sentAt = clock.now();
  clock.advance(20_000);
  registration.extend();
  t.is(registration.deadlineMs, sentAt + 60_000);
  clock.advance(39_999);
  t.is(expiries(), 0);
  t.is(clock.pendingTimers, 1, 'the earlier timer was replaced');
  clock.advance(1);
  t.is(expiries(), 1);
});

test('extensions stop at 120 s after register', (t) => {
  const { clock, registration, expiries } = pending();
  const sentAt = clock.now();
  for (let i = 0; i < 6; i++) {
    clock.advance(10_000);
    registration.extend();
  }
  t.is(registration.deadlineMs, sentAt + 120_000);
  clock.advance(120_000 - 60_000 - 1);
  t.is(expiries(), 0);
  clock.advance(1);
  t.is(expiries(), 1);
});

test('an extension that comes after the cap was reached fires at the cap, not later', (t) => {
  const { clock, registration, expiries } = pending();
  const sentAt = clock.now();
  for (let i = 0; i < 3; i++) registration.extend();
  clock.advance(119_000);
  registration.extend();
  t.is(registration.deadlineMs, sentAt + 120_000);
  clock.advance(1_000);
  t.is(expiries(), 1);
});

test('cancel stops the wait: no expiry later', (t) => {
  const { clock, registration, expiries } = pending();
  registration.cancel();
  t.is(clock.pendingTimers, 0);
  clock.advance(200_000);
  t.is(expiries(), 0);
});

test('the request id is req_<unix ns>_<agent id>, from millisecond time', (t) => {
  t.is(registrationRequestId(1_700_000_000_123, 'agent-1'), 'req_1700000000123000000_agent-1');
  t.is(registrationRequestId(1_700_000_000_123.9, 'a'), 'req_1700000000123000000_a');
});
