// The sender's credit window (STYLE §1 Credits): bytes taken before posting, granted back after the socket
// took them, and the one waiting sender woken when the window opens again.

import test from 'ava';
import { CreditWindow, DEFAULT_STREAM_CREDIT_BYTES } from '../../workers/lib/credit-window.js';

test('a window starts with the default credit and is exhausted once the sender took all of it', (t) => {
  const window = new CreditWindow();
  t.is(window.available, DEFAULT_STREAM_CREDIT_BYTES);
  t.false(window.isExhausted);
  window.take(DEFAULT_STREAM_CREDIT_BYTES - 1);
  t.false(window.isExhausted);
  window.take(1);
  t.true(window.isExhausted);
  t.is(window.available, 0);
});

test('a sender may overdraw with one large post; the window stays closed until grants cover the debt', (t) => {
  const window = new CreditWindow(10);
  window.take(25);
  t.is(window.available, -15);
  let wakes = 0;
  window.whenAvailable(() => wakes++);
  window.grant(15);
  t.true(window.isExhausted, 'zero credit is still exhausted');
  t.is(wakes, 0);
  window.grant(1);
  t.is(wakes, 1);
  t.is(window.available, 1);
});

test('whenAvailable runs at once while credit is left, else once on the grant that opens the window', (t) => {
  const window = new CreditWindow(4);
  let isImmediate = false;
  window.whenAvailable(() => (isImmediate = true));
  t.true(isImmediate);
  window.take(4);
  let wakes = 0;
  window.whenAvailable(() => wakes++);
  t.is(wakes, 0);
  window.grant(2);
  t.is(wakes, 1);
  // the callback is used up: later grants while open, or a later reopening, do not call it again
  window.grant(2);
  window.take(4);
  window.grant(4);
  t.is(wakes, 1);
});

test('only the latest waiting callback is woken (one sender per window)', (t) => {
  const window = new CreditWindow(1);
  window.take(1);
  const woken: string[] = [];
  window.whenAvailable(() => woken.push('first'));
  window.whenAvailable(() => woken.push('second'));
  window.grant(1);
  t.deepEqual(woken, ['second']);
});
