// The restart schedule both informer watches use: 1 s doubling to 60 s, reset by a sign of life, one
// restart pending at a time, cancel() leaving nothing behind.

import test from 'ava';
import { InformerRestart, RESTART_INITIAL_MS, RESTART_MAX_MS } from '../../../src/kube/informer-restart.js';
import { SimulatedClock } from '../../helpers/simulated-clock.js';

test('waits double from 1 s up to 60 s, and reset() starts them afresh', (t) => {
  const restart = new InformerRestart(new SimulatedClock());
  const waits = Array.from({ length: 8 }, () => restart.nextDelayMs());
  t.deepEqual(waits, [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  t.is(waits[0], RESTART_INITIAL_MS);
  t.is(waits.at(-1), RESTART_MAX_MS);
  restart.reset();
  t.is(restart.nextDelayMs(), 1_000);
});

test('a scheduled restart is pending until it runs; cancel() drops it', (t) => {
  const clock = new SimulatedClock();
  const restart = new InformerRestart(clock);
  let runs = 0;
  restart.schedule(1_000, () => runs++);
  t.true(restart.isPending);
  clock.advance(999);
  t.is(runs, 0);
  clock.advance(1);
  t.is(runs, 1);
  t.false(restart.isPending);
  restart.schedule(1_000, () => runs++);
  restart.cancel();
  t.false(restart.isPending);
  t.is(clock.pendingTimers, 0);
  clock.advance(5_000);
  t.is(runs, 1);
});
