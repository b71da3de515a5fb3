// Timers armed from control-plane values beyond the timer range (PROTOCOL.md §9.4; checklist C97). The
// step size is shrunk so the split into steps can be watched; probes are ordinary timers armed at the same
// moment, and Node fires timers in order of their due time.

import test from 'ava';
import { MAX_TIMER_DELAY_MS, setLongTimeout } from '../../../src/protocol/long-timeout.js';
import { eventually } from '../../helpers/eventually.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('C97: a delay longer than one step fires once, not before the delay', async (t) => {
  let calls = 0;
  setLongTimeout(() => calls++, 95, 10);
  await sleep(90); // due before the 10th step of 9.5 → 10 ms
  t.is(calls, 0);
  await eventually(() => calls === 1, 'fired');
  await sleep(40);
  t.is(calls, 1, 'and only once');
});

test('C97: clearTimeout cancels a long timeout between its steps', async (t) => {
  let calls = 0;
  const timer = setLongTimeout(() => calls++, 60, 10);
  await sleep(25);
  clearTimeout(timer);
  await sleep(80);
  t.is(calls, 0);
});

test('C97: short delays are plain timers; NaN and negative delays fire at once; infinity never', async (t) => {
  const fired: string[] = [];
  setLongTimeout(() => fired.push('short'), 5);
  setLongTimeout(() => fired.push('nan'), Number.NaN);
  setLongTimeout(() => fired.push('negative'), -100);
  const never = setLongTimeout(() => fired.push('infinite'), Infinity, 10);
  t.teardown(() => clearTimeout(never));
  await sleep(60);
  t.deepEqual([...fired].sort(), ['nan', 'negative', 'short']);
  t.is(MAX_TIMER_DELAY_MS, 2_147_483_647);
});

test('C97: a year does not fire within the first step of the timer range', async (t) => {
  let calls = 0;
  const timer = setLongTimeout(() => calls++, 365 * 24 * 3_600_000);
  t.teardown(() => clearTimeout(timer));
  await sleep(30); // a plain setTimeout of a year would have fired after 1 ms
  t.is(calls, 0);
});
